"""The webhook ingress end to end: signed deliveries over HTTP → Temporal (dev server) →
worker → sandbox emulators."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import forget_workflows, outbox, running_worker
from tests.webhooks.conftest import Api, serve
from webhooks import sample_events as samples
from webhooks.ledger import DeliveryLedger
from webhooks.sample_events import SignedRequest


async def wait_for_emails(sandbox: SandboxHandle, n: int, within_s: float = 15) -> list[Any]:
    deadline = time.monotonic() + within_s
    while True:
        emails: list[Any] = (await outbox(sandbox))["emails"]
        if len(emails) >= n or time.monotonic() > deadline:
            return emails
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def worker_and_cleanup(
    env: WorkflowEnvironment, settings: Settings, *customers: str
) -> AsyncIterator[None]:
    try:
        async with running_worker(env, settings, task_queue=settings.temporal_task_queue):
            yield
    finally:
        for customer in customers:
            with contextlib.suppress(Exception):
                await env.client.get_workflow_handle(f"onboarding-{customer}").terminate("test")


def deal_won(api: Api, deal_id: str, **kw: Any) -> SignedRequest:
    return samples.signed_hubspot(
        [samples.hubspot_event(object_id=deal_id, **kw)],
        secret=api.secret("hubspot_client_secret"),
        public_url=api.hubspot_url,
    )


async def test_deal_won_starts_onboarding_and_a_redelivery_is_a_no_op(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    async with worker_and_cleanup(dev_server_env, api.settings, "1004"):
        event = samples.hubspot_event(object_id="3004", event_id=7001)
        first = samples.signed_hubspot(
            [event], secret=api.secret("hubspot_client_secret"), public_url=api.hubspot_url
        )
        resp = await api.post(first)
        assert resp.status_code == 200, resp.text
        (result,) = resp.json()["results"]
        assert result["outcome"] == "accepted"
        assert result["workflow_id"] == "onboarding-1004"
        assert result["customer_id"] == "1004"
        emails = await wait_for_emails(clean_sandbox, 1)
        assert [e["template"] for e in emails] == ["welcome"]
        assert emails[0]["to"] == ["olivia.hughes@quillco.example.com"]

        # HubSpot redelivers: same event id, new signature and timestamp.
        again = samples.signed_hubspot(
            [event], secret=api.secret("hubspot_client_secret"), public_url=api.hubspot_url
        )
        resp = await api.post(again)
        assert resp.status_code == 200
        assert resp.json()["results"][0]["outcome"] == "duplicate"
        assert resp.json()["results"][0]["workflow_id"] == "onboarding-1004"
        await asyncio.sleep(1)
        assert len((await outbox(clean_sandbox))["emails"]) == 1

    desc = await dev_server_env.client.get_workflow_handle("onboarding-1004").describe()
    summary = await desc.static_summary()
    assert summary and "hubspot" in summary


async def test_redelivery_after_the_api_restarts_is_recognised(
    api_settings: Settings, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    async def connect() -> Client:
        return dev_server_env.client

    # Other tests on the shared dev server run onboarding-1003 too: count this test's runs.
    await forget_workflows(dev_server_env.client, "onboarding-1003")
    await asyncio.sleep(1)
    started = datetime.now(UTC).replace(microsecond=0)
    async with worker_and_cleanup(dev_server_env, api_settings, "1003"):
        event = samples.hubspot_event(object_id="3003", event_id=7002)
        async with serve(api_settings, connect) as first_api:
            resp = await first_api.post(
                samples.signed_hubspot(
                    [event],
                    secret=first_api.secret("hubspot_client_secret"),
                    public_url=first_api.hubspot_url,
                )
            )
            assert resp.json()["results"][0]["outcome"] == "accepted"
        await wait_for_emails(clean_sandbox, 1)
        # A new API process on the same ledger file.
        async with serve(api_settings, connect) as second_api:
            resp = await second_api.post(
                samples.signed_hubspot(
                    [event],
                    secret=second_api.secret("hubspot_client_secret"),
                    public_url=second_api.hubspot_url,
                )
            )
        assert resp.json()["results"][0]["outcome"] == "duplicate"
        await asyncio.sleep(1)
        box = await outbox(clean_sandbox)
        assert [e["template"] for e in box["emails"]] == ["welcome"]
    query = f"WorkflowId = 'onboarding-1003' AND StartTime >= '{started.isoformat()}'"
    runs = [w async for w in dev_server_env.client.list_workflows(query)]
    assert len(runs) == 1


async def test_a_batch_of_100_with_invalid_entries(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    customers = [str(1001 + i) for i in range(8)]
    events: list[dict[str, Any]] = [
        samples.hubspot_event(object_id=str(3001 + i), event_id=8000 + i) for i in range(8)
    ]
    events += [
        samples.hubspot_event(
            object_id="1001",
            subscription_type="company.propertyChange",
            property_name=f"custom_{i}",
            property_value="x",
            event_id=8100 + i,
        )
        for i in range(89)
    ]
    broken = [dict(events[0], eventId=8201), dict(events[1], eventId=8202), {"eventId": 8203}]
    del broken[0]["occurredAt"]
    broken[1]["objectId"] = {"not": "an id"}
    events[40:40] = broken
    assert len(events) == 100
    async with worker_and_cleanup(dev_server_env, api.settings, *customers):
        resp = await api.post(
            samples.signed_hubspot(
                events, secret=api.secret("hubspot_client_secret"), public_url=api.hubspot_url
            )
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["counts"] == {"accepted": 8, "ignored": 89, "invalid": 3}
        invalid = [r for r in body["results"] if r["outcome"] == "invalid"]
        assert "[40].occurredAt" in invalid[0]["detail"]
        assert "[41].objectId" in invalid[1]["detail"]
        assert invalid[2]["event_id"] == "8203"
        emails = await wait_for_emails(clean_sandbox, 8)
        assert sorted(e["headers"]["X-Cshub-Customer-Id"] for e in emails) == customers


async def test_an_older_event_arriving_late_does_not_move_state_back(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    now = int(time.time() * 1000)
    newer = samples.hubspot_event(
        object_id="3006", property_value="closedlost", occurred_at_ms=now, event_id=9001
    )
    older = samples.hubspot_event(
        object_id="3006", property_value="closedwon", occurred_at_ms=now - 60_000, event_id=9002
    )
    async with worker_and_cleanup(dev_server_env, api.settings, "1006"):
        for event, outcome in ((newer, "ignored"), (older, "stale")):
            resp = await api.post(
                samples.signed_hubspot(
                    [event], secret=api.secret("hubspot_client_secret"), public_url=api.hubspot_url
                )
            )
            assert resp.json()["results"][0]["outcome"] == outcome, resp.text
        query = "WorkflowId = 'onboarding-1006' AND ExecutionStatus = 'Running'"
        assert [w async for w in dev_server_env.client.list_workflows(query)] == []


async def test_product_events_signal_the_customers_onboarding(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    async with worker_and_cleanup(dev_server_env, api.settings, "1003"):
        event = samples.product_event(customer_id="1003", type="workflow_created")
        signed = samples.signed_product(event, secret=api.secret("product_webhook_secret"))
        resp = await api.post(signed)
        assert resp.status_code == 202, resp.text
        assert resp.json()["outcome"] == "accepted"
        assert resp.json()["workflow_id"] == "onboarding-1003"
        # The onboarding was started by the event (tier read from the CRM) and the event
        # reached the first milestone: welcome + celebration.
        emails = await wait_for_emails(clean_sandbox, 2)
        assert sorted(e["template"] for e in emails) == ["milestone_celebration", "welcome"]
        resp = await api.post(signed)
        assert resp.status_code == 200
        assert resp.json()["outcome"] == "duplicate"


async def test_events_without_a_workflow_yet_are_ignored_with_202(api: Api) -> None:
    stripe = samples.signed_stripe(
        samples.stripe_event(type="charge.refunded", customer_id="1001"),
        secret=api.secret("stripe_webhook_secret"),
    )
    zendesk = samples.signed_zendesk(
        samples.zendesk_event(ticket_id="5001", type="ticket.tags_changed"),
        secret=api.secret("zendesk_webhook_secret"),
    )
    for request in (stripe, zendesk):
        resp = await api.post(request)
        assert resp.status_code == 202, resp.text
        assert resp.json()["outcome"] == "ignored"
    resp = await api.post(stripe)
    assert resp.json()["outcome"] == "duplicate"


async def test_bad_input_gets_a_clear_error_and_no_side_effect(api: Api) -> None:
    secret = api.secret("product_webhook_secret")
    from webhooks.signing import sign_product

    def signed(body: bytes) -> SignedRequest:
        return SignedRequest("/webhooks/product", body, sign_product(secret=secret, body=body))

    resp = await api.post(signed(b"{not json"))
    assert resp.status_code == 422
    assert resp.json()["error"] == "invalid_payload"

    no_customer = json.dumps({"event_id": "e1", "type": "share"}).encode()
    resp = await api.post(signed(no_customer))
    assert resp.status_code == 422
    assert [d["field"] for d in resp.json()["detail"]] == ["customer_id"]

    bad_type = json.dumps({"event_id": "e2", "type": "teleport", "customer_id": "1001"}).encode()
    resp = await api.post(signed(bad_type))
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["field"] == "type"

    huge = json.dumps({"event_id": "e3", "pad": "x" * (1024 * 1024)}).encode()
    resp = await api.post(signed(huge))
    assert resp.status_code == 413

    assert DeliveryLedger(api.settings.cshub_api_db).count() == 0


BAD_SIGNATURES = ["tampered_body", "wrong_secret", "stale_timestamp", "missing_header"]


def _bad_request(api: Api, source: str, how: str) -> SignedRequest:
    secret_name = {
        "hubspot": "hubspot_client_secret",
        "stripe": "stripe_webhook_secret",
        "zendesk": "zendesk_webhook_secret",
        "product": "product_webhook_secret",
    }[source]
    secret = "not-the-secret" if how == "wrong_secret" else api.secret(secret_name)
    old = time.time() - 600
    from webhooks import signing

    if source == "hubspot":
        body = json.dumps([samples.hubspot_event(object_id="3002")]).encode()
        headers = signing.sign_hubspot_v3(
            secret=secret,
            method="POST",
            url=api.hubspot_url,
            body=body,
            timestamp_ms=int(old * 1000) if how == "stale_timestamp" else None,
        )
    elif source == "stripe":
        body = json.dumps(samples.stripe_event(type="invoice.paid", customer_id="1002")).encode()
        headers = signing.sign_stripe(
            secret=secret, body=body, timestamp=int(old) if how == "stale_timestamp" else None
        )
    elif source == "zendesk":
        body = json.dumps(samples.zendesk_event(ticket_id="5002")).encode()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(old))
        headers = signing.sign_zendesk(
            secret=secret, body=body, timestamp=stamp if how == "stale_timestamp" else None
        )
    else:
        body = json.dumps(samples.product_event(customer_id="1002", type="share")).encode()
        headers = signing.sign_product(
            secret=secret, body=body, timestamp=int(old) if how == "stale_timestamp" else None
        )
    if how == "tampered_body":
        body = body.replace(b"100", b"101", 1) if b"100" in body else body + b" "
    if how == "missing_header":
        headers = {}
    return SignedRequest(f"/webhooks/{source}", body, headers)


@pytest.mark.parametrize("how", BAD_SIGNATURES)
@pytest.mark.parametrize("source", ["hubspot", "stripe", "zendesk", "product"])
async def test_unsigned_or_badly_signed_deliveries_get_401_and_start_nothing(
    api_settings: Settings, source: str, how: str
) -> None:
    connects = 0

    async def connect() -> Client:
        nonlocal connects
        connects += 1
        raise AssertionError("Temporal must not be reached")

    async with serve(api_settings, connect) as api:
        resp = await api.post(_bad_request(api, source, how))
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"] == "invalid_signature"
    assert api.secret(
        {"hubspot": "hubspot_client_secret", "stripe": "stripe_webhook_secret",
         "zendesk": "zendesk_webhook_secret", "product": "product_webhook_secret"}[source]
    ) not in resp.text  # fmt: skip
    assert connects == 0
    assert DeliveryLedger(api_settings.cshub_api_db).count() == 0


async def test_health_and_openapi(api: Api) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        health = await http.get(f"{api.url}/healthz")
        spec = (await http.get(f"{api.url}/openapi.json")).json()
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "temporal": "ok",
        "store": "ok",
        "backlog": 0,
        "oldest_pending_s": 0.0,
    }
    assert {"/webhooks/hubspot", "/webhooks/stripe", "/webhooks/zendesk", "/webhooks/product",
            "/healthz"} <= set(spec["paths"])  # fmt: skip
    assert "ProductWebhookEvent" in spec["components"]["schemas"]
