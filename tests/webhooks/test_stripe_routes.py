"""Each Stripe route end to end: a signed webhook → the ingress → Temporal (dev server)
→ the renewal / dunning / win-back workflows and their effects."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from temporalio.testing import WorkflowEnvironment

from domain.survey_links import exit_survey_links
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox, running_worker
from tests.webhooks.conftest import Api
from webhooks import sample_events as samples


def _epoch(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, 12, tzinfo=UTC).timestamp())


@contextlib.asynccontextmanager
async def hub(env: WorkflowEnvironment, api: Api, *ids: str) -> AsyncIterator[None]:
    try:
        async with running_worker(env, api.settings, task_queue=api.settings.temporal_task_queue):
            yield
    finally:
        for wid in ids:
            with contextlib.suppress(Exception):
                await env.client.get_workflow_handle(wid).terminate("test done")


def stripe(api: Api, type: str, customer: str, **obj: Any) -> samples.SignedRequest:
    event = samples.stripe_event(type=type, customer_id=customer, **obj)
    return samples.signed_stripe(event, secret=api.secret("stripe_webhook_secret"))


async def progress(env: WorkflowEnvironment, workflow_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await env.client.get_workflow_handle(workflow_id).query("progress")
    return result


async def test_subscription_events_drive_the_renewal_countdown(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    first = date.today() + timedelta(days=200)
    moved = first + timedelta(days=30)
    async with hub(dev_server_env, api, "renewal-1004", "winback-1004"):
        resp = await api.post(
            stripe(
                api,
                "customer.subscription.created",
                "1004",
                status="active",
                current_period_end=_epoch(first),
            )
        )
        assert resp.status_code == 202, resp.text
        assert resp.json()["workflow_id"] == "renewal-1004"

        async def starts_with_first() -> None:
            assert (await progress(dev_server_env, "renewal-1004"))["renewal_date"] == str(first)

        await eventually(starts_with_first)

        # The date moves (newer Stripe API: period end on the items).
        resp = await api.post(
            stripe(
                api,
                "customer.subscription.updated",
                "1004",
                status="active",
                items={"data": [{"current_period_end": _epoch(moved)}]},
            )
        )
        assert resp.json()["outcome"] == "accepted", resp.text

        async def follows_the_move() -> None:
            assert (await progress(dev_server_env, "renewal-1004"))["renewal_date"] == str(moved)

        await eventually(follows_the_move)

        # The subscription is cancelled: the countdown stops and the win-back starts.
        resp = await api.post(stripe(api, "customer.subscription.deleted", "1004"))
        assert resp.json()["outcome"] == "accepted", resp.text

        async def winback_running() -> None:
            desc = await dev_server_env.client.get_workflow_handle("winback-1004").describe()
            assert desc.workflow_type == "WinBackWorkflow"

        await eventually(winback_running)


async def test_a_period_roll_over_is_an_auto_renewal(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    current = date.today() + timedelta(days=100)
    following = current + timedelta(days=365)
    async with hub(dev_server_env, api, "renewal-1005"):
        resp = await api.post(
            stripe(
                api,
                "customer.subscription.created",
                "1005",
                status="active",
                current_period_end=_epoch(current),
            )
        )
        assert resp.status_code == 202
        event = samples.stripe_event(
            type="customer.subscription.updated",
            customer_id="1005",
            status="active",
            current_period_end=_epoch(following),
        )
        event["data"]["previous_attributes"] = {"current_period_end": _epoch(current)}
        resp = await api.post(
            samples.signed_stripe(event, secret=api.secret("stripe_webhook_secret"))
        )
        assert resp.json()["type"] == "stripe.customer.subscription.renewed", resp.text
        assert resp.json()["outcome"] == "accepted"

        async def next_term() -> None:
            state = await progress(dev_server_env, "renewal-1005")
            assert state["term"] == 2 and state["renewal_date"] == str(following)

        await eventually(next_term)


async def test_failed_payment_starts_dunning_and_paid_invoice_stops_it(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    async with hub(dev_server_env, api, "dunning-1006", "churn-1006"):
        failed = stripe(
            api,
            "invoice.payment_failed",
            "1006",
            object_id="in_1006",
            amount_due=9900,
            currency="usd",
            attempt_count=1,
        )
        resp = await api.post(failed)
        assert resp.status_code == 202, resp.text
        assert resp.json()["workflow_id"] == "dunning-1006"
        assert (await api.post(failed)).json()["outcome"] == "duplicate"

        async def failure_recorded() -> None:
            state = await progress(dev_server_env, "dunning-1006")
            assert state["payment_failures"] == 1 and state["open_invoices"] == ["in_1006"]

        await eventually(failure_recorded)
        resp = await api.post(stripe(api, "invoice.paid", "1006", object_id="in_1006"))
        assert resp.json()["outcome"] == "accepted", resp.text

        async def stopped() -> None:
            # (Its thank-you e-mail may still wait for the end of the customer's night.)
            state = await progress(dev_server_env, "dunning-1006")
            assert state["status"] == "paid" and state["open_invoices"] == []

        await eventually(stopped)
    # A paid invoice with no dunning running is simply ignored.
    resp = await api.post(stripe(api, "invoice.paid", "1007", object_id="in_1007"))
    assert resp.json()["outcome"] == "ignored"


async def test_an_exit_survey_click_is_recorded_on_the_company(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    async with hub(dev_server_env, api, "winback-1002"):
        await dev_server_env.client.start_workflow(
            "WinBackWorkflow",
            {"customer_id": "1002", "reason": "test"},
            id="winback-1002",
            task_queue=api.settings.temporal_task_queue,
        )
        secret = api.secret("survey_link_secret")
        expires = int(time.time()) + 3600
        links = exit_survey_links(api.url, secret, "1002", "camp1", expires=expires)
        async with httpx.AsyncClient() as http:
            page = await http.get(links["too_expensive"])
            assert page.status_code == 200 and "Thank you" in page.text
            # A mail scanner (or a second thought) opening the other links of the same
            # e-mail records nothing more: one answer per e-mail.
            for reason in ("missing_features", "other"):
                again = await http.get(links[reason])
                assert again.status_code == 200 and "already" in again.text.lower()
            # A link past its expiry time (genuine otherwise) is refused as expired.
            old = exit_survey_links(api.url, secret, "1002", "camp0", expires=expires - 7200)
            stale = await http.get(old["other"])
            assert stale.status_code == 403 and "expired" in stale.text.lower()
            moved = links["other"].replace(f"exp={expires}", f"exp={expires + 86400}")
            assert (await http.get(moved)).status_code == 403
            forged = links["missing_features"].replace("1002", "1003")
            assert (await http.get(forged)).status_code == 403
            query = parse_qs(urlparse(links["other"]).query)
            query["reason"] = ["too_expensive"]  # a signature for another answer
            tampered = f"{api.url}/survey/exit?" + "&".join(f"{k}={v[0]}" for k, v in query.items())
            assert (await http.get(tampered)).status_code == 403

        async def recorded() -> None:
            box = await outbox(clean_sandbox)
            updates = [u for u in box["crm_updates"] if u["id"] == "1002"]
            assert any(u["properties"].get("cshub_exit_reason") == "too_expensive" for u in updates)

        await eventually(recorded)
        box = await outbox(clean_sandbox)
        reasons = {
            u["properties"].get("cshub_exit_reason")
            for u in box["crm_updates"]
            if u["id"] == "1002" and u["properties"].get("cshub_exit_reason")
        }
        assert reasons == {"too_expensive"}
