"""Product usage snapshots end to end: a signed ``usage_snapshot`` → the ingress →
Temporal (dev server) → UsageSnapshotWorkflow → the CRM company properties the health
model reads (HubSpot emulator)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from cshub import send_test_event
from domain.health_model import inputs_from_properties
from domain.tiers import ProductEventType
from domain.usage import (
    USAGE_PROPERTIES,
    UsageFigures,
    UsageSnapshot,
    UsageSnapshotInput,
    usage_workflow_id,
)
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import eventually, running_worker
from tests.webhooks.conftest import Api, drained, serve
from webhooks import sample_events as samples
from webhooks import signatures, signing
from webhooks.ledger import DeliveryLedger
from webhooks.routing import ROUTES, route_for

FULL = {
    "active_users": 14,
    "licensed_seats": 20,
    "features_adopted": 7,
    "features_available": 12,
    "workflow_runs": 420,
    "workflow_limit": 1000,
    "login_days_30d": 18,
}
FULL_PROPERTIES = {
    "cshub_active_users": "14",
    "cshub_licensed_seats": "20",
    "cshub_features_adopted": "7",
    "cshub_features_available": "12",
    "cshub_workflow_runs": "420",
    "cshub_workflow_limit": "1000",
    "cshub_login_days_30d": "18",
}
NOTHING: dict[str, str | None] = dict.fromkeys(USAGE_PROPERTIES)


def _at(minutes_ago: float) -> datetime:
    """A whole-second time (so the ISO form written back is predictable)."""
    now = datetime.now(UTC).replace(microsecond=0)
    return now - timedelta(minutes=minutes_ago)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def snapshot(
    api: Api | Settings,
    customer: str,
    usage: dict[str, Any],
    occurred_at: datetime,
    event_id: str | None = None,
) -> samples.SignedRequest:
    settings = api.settings if isinstance(api, Api) else api
    assert settings.product_webhook_secret is not None
    event = samples.usage_snapshot_event(
        customer_id=customer, usage=usage, occurred_at=occurred_at, event_id=event_id
    )
    return samples.signed_product(event, secret=settings.product_webhook_secret.get_secret_value())


async def company_usage(sandbox: SandboxHandle, customer: str) -> dict[str, str | None]:
    """The usage properties of the company, as the HubSpot emulator holds them."""
    async with httpx.AsyncClient() as http:
        resp = await http.get(
            f"{sandbox.http_url}/crm/v3/objects/companies/{customer}",
            params={"properties": ",".join(USAGE_PROPERTIES)},
            headers={"Authorization": "Bearer test"},
        )
    resp.raise_for_status()
    props = resp.json()["properties"]
    return {name: props.get(name) for name in USAGE_PROPERTIES}


async def progress(env: WorkflowEnvironment, customer: str) -> dict[str, Any]:
    handle = env.client.get_workflow_handle(usage_workflow_id(customer))
    result: dict[str, Any] = await handle.query("progress")
    return result


@contextlib.asynccontextmanager
async def hub(env: WorkflowEnvironment, api: Api, *customers: str) -> AsyncIterator[None]:
    try:
        async with running_worker(env, api.settings, task_queue=api.settings.temporal_task_queue):
            yield
    finally:
        for customer in customers:
            with contextlib.suppress(Exception):
                await env.client.get_workflow_handle(usage_workflow_id(customer)).terminate(
                    "test done"
                )


def test_usage_snapshots_have_their_own_route_and_onboarding_keeps_its_own() -> None:
    route = route_for("product.usage_snapshot")
    assert route is not None
    assert (route.workflow, route.workflow_id("1001"), route.signal, route.recurring) == (
        "UsageSnapshotWorkflow",
        "usage-1001",
        "snapshot",
        True,
    )
    onboarding = {k for k, r in ROUTES.items() if r.workflow == "OnboardingWorkflow"}
    assert {k for k in onboarding if k.startswith("product.")} == {
        f"product.{t.value}" for t in ProductEventType
    }
    assert "usage_snapshot" not in {t.value for t in ProductEventType}


async def test_a_snapshot_lands_on_the_company_and_an_older_one_leaves_it(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    taken, began = _at(10), _at(0)
    assert await company_usage(clean_sandbox, "1001") == NOTHING
    async with hub(dev_server_env, api, "1001"):
        first = snapshot(api, "1001", FULL, taken)
        resp = await api.post(first)
        assert resp.status_code == 202, resp.text
        body = resp.json()
        assert (body["outcome"], body["type"], body["workflow_id"]) == (
            "accepted",
            "product.usage_snapshot",
            "usage-1001",
        )
        expected = {**FULL_PROPERTIES, "cshub_usage_as_of": _iso(taken)}

        async def written() -> None:
            assert await company_usage(clean_sandbox, "1001") == expected

        await eventually(written)
        # The health model reads them as its product-usage inputs.
        inputs = inputs_from_properties(expected)
        assert (inputs.active_users, inputs.licensed_seats, inputs.login_days_last_30) == (
            14,
            20,
            18,
        )
        # A redelivery is a duplicate.
        resp = await api.post(first)
        assert (resp.status_code, resp.json()["outcome"]) == (200, "duplicate")

        # An older snapshot, delivered late: dropped at the ingress, nothing written.
        late = snapshot(api, "1001", {**FULL, "active_users": 3}, taken - timedelta(hours=1))
        resp = await api.post(late)
        assert (resp.status_code, resp.json()["outcome"]) == (202, "stale"), resp.text

        # A newer partial one: only its figures (and the time) change.
        newer = taken + timedelta(minutes=5)
        resp = await api.post(snapshot(api, "1001", {"active_users": 15}, newer))
        assert resp.json()["outcome"] == "accepted", resp.text
        expected = {**expected, "cshub_active_users": "15", "cshub_usage_as_of": _iso(newer)}

        async def updated() -> None:
            assert await company_usage(clean_sandbox, "1001") == expected
            state = await progress(dev_server_env, "1001")
            assert (state["applied"], state["skipped"], state["failed"]) == (2, 0, 0)

        await eventually(updated)
        # Onboarding is not involved.
        query = f"WorkflowId = 'onboarding-1001' AND StartTime >= '{_iso(began)}'"
        assert [w async for w in dev_server_env.client.list_workflows(query)] == []


async def test_the_workflow_skips_an_older_snapshot_the_ingress_did_not_know(
    api: Api,
    api_settings: Settings,
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    tmp_path: Path,
) -> None:
    """Two API replicas with their own ledgers: the second accepts the older snapshot,
    and the activity's comparison with cshub_usage_as_of keeps the newer figures."""

    async def connect() -> Client:
        return dev_server_env.client

    other_settings = api_settings.model_copy(update={"cshub_api_db": tmp_path / "other.db"})
    newer, older = _at(5), _at(30)
    async with hub(dev_server_env, api, "1003"), serve(other_settings, connect) as other:
        resp = await api.post(snapshot(api, "1003", FULL, newer))
        assert resp.json()["outcome"] == "accepted", resp.text
        expected = {**FULL_PROPERTIES, "cshub_usage_as_of": _iso(newer)}

        async def written() -> None:
            assert await company_usage(clean_sandbox, "1003") == expected

        await eventually(written)
        stale = {name: 1 for name in FULL}
        resp = await other.post(snapshot(other_settings, "1003", stale, older))
        assert (resp.status_code, resp.json()["outcome"]) == (202, "accepted"), resp.text

        async def skipped() -> None:
            state = await progress(dev_server_env, "1003")
            assert (state["applied"], state["skipped"]) == (1, 1)
            assert state["recent"][-1]["outcome"] == "skipped"
            assert "older than the CRM's usage" in state["recent"][-1]["detail"]

        await eventually(skipped)
        assert await company_usage(clean_sandbox, "1003") == expected


async def test_invalid_snapshots_get_422_and_nothing_is_written(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    secret = api.secret("product_webhook_secret")
    taken = _at(1)

    def signed(event: dict[str, Any]) -> samples.SignedRequest:
        body = json.dumps(event).encode()
        return samples.SignedRequest(
            "/webhooks/product", body, signing.sign_product(secret=secret, body=body)
        )

    def event(**changes: Any) -> dict[str, Any]:
        base = samples.usage_snapshot_event(customer_id="1002", usage=FULL, occurred_at=taken)
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    cases: list[tuple[dict[str, Any], list[str]]] = [
        (
            event(usage={**FULL, "active_users": -1, "login_days_30d": 40}),
            ["usage.active_users", "usage.login_days_30d"],
        ),
        (event(usage={"login_days_30d": 40}), ["usage.login_days_30d"]),
        (event(usage={"workflow_runs": -0.5}), ["usage.workflow_runs"]),
        (event(usage={"active_users": "14"}), ["usage.active_users"]),
        (event(usage={"active_users": True}), ["usage.active_users"]),
        (event(usage={}), ["usage"]),
        (event(usage={"monthly_visits": 9}), ["usage"]),  # no figure the hub knows
        (event(usage=None), ["usage"]),
        (event(occurred_at=None), ["occurred_at"]),
        (event(occurred_at=in_an_hour), ["occurred_at"]),
        (event(type="usage_snapshots"), ["type"]),
    ]
    for body, fields in cases:
        resp = await api.post(signed(body))
        assert resp.status_code == 422, (body, resp.text)
        assert resp.json()["error"] == "invalid_payload"
        assert [d["field"] for d in resp.json()["detail"]] == fields, resp.text
    assert DeliveryLedger(api.settings.cshub_api_db).count() == 0
    with pytest.raises(RPCError):
        await dev_server_env.client.get_workflow_handle("usage-1002").describe()
    assert await company_usage(clean_sandbox, "1002") == NOTHING

    # The bound is inclusive, and figures the hub does not know are ignored.
    async with hub(dev_server_env, api, "1002"):
        resp = await api.post(signed(event(usage={"login_days_30d": 31, "monthly_visits": 9})))
        assert resp.json()["outcome"] == "accepted", resp.text
        expected = {**NOTHING, "cshub_login_days_30d": "31", "cshub_usage_as_of": _iso(taken)}

        async def written() -> None:
            assert await company_usage(clean_sandbox, "1002") == expected

        await eventually(written)


BAD_SIGNATURES = ["tampered_body", "wrong_secret", "stale_timestamp", "missing_header"]


@pytest.mark.parametrize("how", BAD_SIGNATURES)
async def test_badly_signed_snapshots_get_401_and_reach_nothing(
    api_settings: Settings, clean_sandbox: SandboxHandle, how: str
) -> None:
    async def connect() -> Client:
        raise AssertionError("Temporal must not be reached")

    assert api_settings.product_webhook_secret is not None
    right = api_settings.product_webhook_secret.get_secret_value()
    body = json.dumps(
        samples.usage_snapshot_event(customer_id="1004", usage=FULL, occurred_at=_at(1))
    ).encode()
    headers = signing.sign_product(
        secret="not-the-secret" if how == "wrong_secret" else right,
        body=body,
        timestamp=int(time.time() - 600) if how == "stale_timestamp" else None,
    )
    if how == "tampered_body":
        tampered = body.replace(b'"active_users": 14', b'"active_users": 41')
        assert tampered != body
        body = tampered
    if how == "missing_header":
        headers = {}
    async with serve(api_settings, connect) as api:
        resp = await api.post(samples.SignedRequest("/webhooks/product", body, headers))
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"] == "invalid_signature"
    assert DeliveryLedger(api_settings.cshub_api_db).count() == 0
    assert await company_usage(clean_sandbox, "1004") == NOTHING


async def test_temporal_unreachable_the_snapshot_is_stored_and_forwarded_when_it_is_back(
    api_settings: Settings, dev_server_env: WorkflowEnvironment
) -> None:
    """Answered 202 once stored; nothing is decided while Temporal is down; once it is
    back the forwarder hands the snapshot over, once."""
    down = True

    async def connect() -> Client:
        if down:
            raise OSError("connection refused")
        return dev_server_env.client

    request = snapshot(api_settings, "1007", FULL, _at(2))
    settings = api_settings.model_copy(update={"cshub_forward_max_backoff_s": 0.5})
    ledger = DeliveryLedger(api_settings.cshub_api_db)
    try:
        async with serve(settings, connect) as api:
            resp = await api.post(request)
            assert (resp.status_code, resp.json()["outcome"]) == (202, "accepted"), resp.text
            assert "forwarding is retried" in resp.json()["detail"]
            assert ledger.count() == 0 and ledger.backlog().pending == 1
            assert (await api.post(request)).json()["outcome"] == "duplicate"
            down = False
            await drained(ledger)
            forwarded = ledger.forwarded(f"product:{json.loads(request.body)['event_id']}")
            assert forwarded is not None and forwarded.outcome.value == "accepted"
            assert forwarded.workflow_id == "usage-1007"
            assert (await api.post(request)).json()["outcome"] == "duplicate"
    finally:
        ledger.close()
        with contextlib.suppress(Exception):
            await dev_server_env.client.get_workflow_handle("usage-1007").terminate("test done")


async def test_the_workflow_ends_when_idle_and_the_next_snapshot_starts_it_again(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    client = dev_server_env.client
    first, second = _at(20), _at(10)
    async with hub(dev_server_env, api, "1005"):
        handle = await client.start_workflow(
            "UsageSnapshotWorkflow",
            UsageSnapshotInput(customer_id="1005", idle_seconds=1),
            id="usage-1005",
            task_queue=api.settings.temporal_task_queue,
            start_signal="snapshot",
            start_signal_args=[
                UsageSnapshot(
                    occurred_at=first, figures=UsageFigures(workflow_runs=850), event_id="e1"
                )
            ],
        )
        result = await asyncio.wait_for(handle.result(), timeout=30)
        assert (result["applied"], result["last_applied_as_of"]) == (1, _iso(first))
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
        # The closed workflow does not swallow the next snapshot: a new run takes it.
        resp = await api.post(snapshot(api, "1005", {"workflow_runs": 900}, second))
        assert resp.json()["outcome"] == "accepted", resp.text

        async def written() -> None:
            assert await company_usage(clean_sandbox, "1005") == {
                **NOTHING,
                "cshub_workflow_runs": "900",
                "cshub_usage_as_of": _iso(second),
            }

        await eventually(written)
        described = await client.get_workflow_handle("usage-1005").describe()
        assert described.run_id != handle.result_run_id
        assert described.status == WorkflowExecutionStatus.RUNNING


async def test_a_burst_is_applied_in_order_across_continue_as_new(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    """30 snapshots signalled at once (the dev server suggests continue-as-new after 60
    history events): none is lost, the newest wins, a repeated event id is ignored."""
    client = dev_server_env.client
    base = _at(60)
    burst = [
        UsageSnapshot(
            occurred_at=base + timedelta(minutes=i),
            figures=UsageFigures(active_users=i, licensed_seats=50),
            event_id=f"burst-{i}",
        )
        for i in range(30)
    ]
    async with hub(dev_server_env, api, "1006"):
        handle = await client.start_workflow(
            "UsageSnapshotWorkflow",
            UsageSnapshotInput(customer_id="1006"),
            id="usage-1006",
            task_queue=api.settings.temporal_task_queue,
            start_signal="snapshot",
            start_signal_args=[burst[0]],
        )
        for item in [*burst[1:], burst[5]]:
            await client.get_workflow_handle("usage-1006").signal("snapshot", item)

        async def all_applied() -> None:
            state = await progress(dev_server_env, "1006")
            assert (state["applied"], state["skipped"], state["failed"]) == (30, 0, 0)
            assert state["queued"] == 0
            assert state["recent"][-1]["outcome"] == "duplicate"

        await eventually(all_applied, within_s=60)
        assert await company_usage(clean_sandbox, "1006") == {
            **NOTHING,
            "cshub_active_users": "29",
            "cshub_licensed_seats": "50",
            "cshub_usage_as_of": _iso(burst[-1].occurred_at),
        }
        described = await client.get_workflow_handle("usage-1006").describe()
        assert described.run_id != handle.first_execution_run_id  # continued as new


async def test_send_test_event_posts_a_usage_snapshot(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    request = send_test_event.build(
        api.settings,
        "product",
        "usage-snapshot",
        base_url=api.url,
        customer="1001",
        ticket=None,
        percent=87.0,
    )
    assert request.path == "/webhooks/product"
    signatures.verify_product(
        secret=api.secret("product_webhook_secret"),
        body=request.body,
        signature=request.headers.get(signatures.PRODUCT_SIGNATURE_HEADER),
        timestamp=request.headers.get(signatures.PRODUCT_TIMESTAMP_HEADER),
    )
    built = json.loads(request.body)
    assert (built["type"], built["customer_id"], built["usage"]) == (
        "usage_snapshot",
        "1001",
        samples.SAMPLE_USAGE,
    )
    with pytest.raises(send_test_event.TestEventError, match="--customer"):
        send_test_event.build(
            api.settings,
            "product",
            "usage-snapshot",
            base_url=api.url,
            customer=None,
            ticket=None,
            percent=87.0,
        )
    async with hub(dev_server_env, api, "1001"):
        before = datetime.now(UTC) - timedelta(milliseconds=1)
        status, text = await asyncio.to_thread(
            send_test_event.send,
            api.settings,
            "product",
            "usage-snapshot",
            customer="1001",
            url=api.url,
        )
        after = datetime.now(UTC)
        assert status == 202, text
        assert json.loads(text)["workflow_id"] == "usage-1001"

        async def written() -> None:
            props = await company_usage(clean_sandbox, "1001")
            assert {k: v for k, v in props.items() if k != "cshub_usage_as_of"} == {
                f"cshub_{k}": str(v) for k, v in samples.SAMPLE_USAGE.items()
            }
            as_of = props["cshub_usage_as_of"]
            assert as_of is not None and as_of.endswith("Z")
            assert before <= datetime.fromisoformat(as_of) <= after

        await eventually(written)
