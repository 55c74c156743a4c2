"""Stripe as it sends today, from real payloads (invoices in the 2023 and 2025 API
shapes, one-off invoices, subscriptions created / renewed / deleted), signed as Stripe
signs, through the ingress to the dunning and renewal workflows. The customer is found
wherever a team keeps it: the event's metadata, the subscription's, the Stripe
Customer's (read from the sandbox's Stripe with the official library), or a CRM
property holding the Stripe customer id."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import stripe as stripe_sdk
from temporalio.testing import WorkflowEnvironment

from connectors.hubspot import HubSpotCrm
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox, running_worker
from tests.webhooks.conftest import Api
from tests.webhooks.real_payloads import stripe, stripe_event


@contextlib.asynccontextmanager
async def hub(env: WorkflowEnvironment, api: Api, *ids: str) -> AsyncIterator[None]:
    try:
        async with running_worker(env, api.settings, task_queue=api.settings.temporal_task_queue):
            yield
    finally:
        for wid in ids:
            with contextlib.suppress(Exception):
                await env.client.get_workflow_handle(wid).terminate("test done")


INVOICE_2025 = "in_1SVC87HOQNg4XnOMdHAlqDva"


def stripe_api(sandbox: SandboxHandle) -> Any:
    return stripe_sdk.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.http_url})


def failure_recorded(env: WorkflowEnvironment, customer: str, invoice: str) -> Any:
    """The dunning counts the failed invoice (its first e-mail may wait for the end of the
    customer's night: the send window, not this test's business)."""

    async def check() -> None:
        handle = env.client.get_workflow_handle(f"dunning-{customer}")
        state: dict[str, Any] = await handle.query("progress")
        assert state["payment_failures"] == 1 and state["open_invoices"] == [invoice], state

    return check


async def test_a_2023_invoice_finds_its_customer_in_subscription_details(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    async with hub(dev_server_env, api, "dunning-1004"):
        resp = await api.post(stripe(api, stripe_event("invoice_payment_failed_2023.json")))
        assert resp.status_code == 202, resp.text
        assert (resp.json()["outcome"], resp.json()["workflow_id"]) == ("accepted", "dunning-1004")
        await eventually(failure_recorded(dev_server_env, "1004", "in_1NiCgEd5CwBEGVMCY8ONkwuF"))


async def test_a_2025_invoice_finds_its_customer_through_the_subscription_or_the_customer(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    client = stripe_api(clean_sandbox)
    # Helios (1005) tags its subscriptions; Cobalt (1006) tags only the Stripe Customer.
    helios = await asyncio.to_thread(client.v1.customers.create, {"email": "ap@helios.example"})
    sub = await asyncio.to_thread(
        client.v1.subscriptions.create,
        {"customer": helios.id, "metadata": {"cshub_customer_id": "1005"}},
    )
    cobalt = await asyncio.to_thread(
        client.v1.customers.create,
        {"email": "ap@cobalt.example", "metadata": {"cshub_customer_id": "1006"}},
    )
    tagged_subscription = stripe_event(
        "invoice_payment_failed_2025.json",
        customer=helios.id,
        parent={"subscription_details": {"metadata": {}, "subscription": sub.id}},
    )
    tagged_customer = stripe_event("invoice_payment_failed_2025.json", customer=cobalt.id)
    async with hub(dev_server_env, api, "dunning-1005", "dunning-1006"):
        for event, customer in ((tagged_subscription, "1005"), (tagged_customer, "1006")):
            resp = await api.post(stripe(api, event))
            body = resp.json()
            assert (body["outcome"], body["workflow_id"]) == ("accepted", f"dunning-{customer}")
        for customer in ("1005", "1006"):
            await eventually(failure_recorded(dev_server_env, customer, INVOICE_2025))
        # Cobalt pays (invoice.paid, found the same way): its dunning stops.
        paid = stripe_event("invoice_paid_2025.json", customer=cobalt.id)
        resp = await api.post(stripe(api, paid))
        assert (resp.json()["outcome"], resp.json()["workflow_id"]) == ("accepted", "dunning-1006")

        async def stopped() -> None:
            handle = dev_server_env.client.get_workflow_handle("dunning-1006")
            state: dict[str, Any] = await handle.query("progress")
            assert state["status"] == "paid" and state["open_invoices"] == [], state

        await eventually(stopped)


async def test_a_one_off_invoice_finds_its_customer_only_through_the_crm_property(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    client = stripe_api(clean_sandbox)
    atlas = await asyncio.to_thread(client.v1.customers.create, {"email": "ap@atlas.example"})
    event = stripe_event("invoice_one_off_payment_failed_2025.json", customer=atlas.id)
    async with hub(dev_server_env, api, "dunning-1007"):
        # Nobody knows yet: answered 202 customer_not_found, and not recorded as final ...
        resp = await api.post(stripe(api, event))
        assert (resp.status_code, resp.json()["outcome"]) == (202, "customer_not_found")
        assert "cshub_stripe_customer_id" in resp.json()["detail"]
        # ... so Stripe's redelivery after the CRM knows the Stripe id is acted on.
        crm = HubSpotCrm("sandbox", clean_sandbox.http_url)
        await asyncio.to_thread(crm.update_company, "1007", {"cshub_stripe_customer_id": atlas.id})
        resp = await api.post(stripe(api, event))
        body = resp.json()
        assert (body["outcome"], body["workflow_id"]) == ("accepted", "dunning-1007"), body
        await eventually(failure_recorded(dev_server_env, "1007", "in_1SWa2aHOQNg4XnOM7yTt3uVw"))


async def test_subscription_created_renewed_and_deleted(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    now = int(time.time())
    period = {"current_period_start": now, "current_period_end": now + 200 * 86400}
    created = stripe_event("customer_subscription_created_2025.json")
    created["data"]["object"]["items"]["data"][0].update(period)
    renewed = stripe_event("customer_subscription_updated_renewed_2025.json")
    renewed["data"]["object"]["items"]["data"][0]["current_period_end"] = now + 565 * 86400
    renewed["data"]["previous_attributes"]["items"]["data"][0].update(period)
    deleted = stripe_event("customer_subscription_deleted_2025.json")
    async with hub(dev_server_env, api, "renewal-1005", "winback-1005"):
        expected: list[tuple[dict[str, Any], str]] = [
            (created, "stripe.customer.subscription.created"),
            (renewed, "stripe.customer.subscription.renewed"),
        ]
        for event, kind in expected:
            resp = await api.post(stripe(api, event))
            body = resp.json()
            assert (body["outcome"], body["type"], body["workflow_id"]) == (
                "accepted",
                kind,
                "renewal-1005",
            ), body

        async def renewed_date() -> None:
            handle = dev_server_env.client.get_workflow_handle("renewal-1005")
            progress: dict[str, Any] = await handle.query("progress")
            assert progress["renewal_date"] == time.strftime(
                "%Y-%m-%d", time.gmtime(now + 565 * 86400)
            ), progress

        await eventually(renewed_date)
        resp = await api.post(stripe(api, deleted))
        assert resp.json()["outcome"] == "accepted", resp.text

        async def winback() -> None:
            desc = await dev_server_env.client.get_workflow_handle("winback-1005").describe()
            assert desc.workflow_type == "WinBackWorkflow"

        await eventually(winback)

        async def csm_told() -> None:
            messages = (await outbox(clean_sandbox))["slack_messages"]
            churned = [m for m in messages if "churned" in m["text"] and "Helios" in m["text"]]
            assert len(churned) == 1, [m["text"] for m in messages]
            assert "cancelled in Stripe" in str(churned[0]["blocks"])

        await eventually(csm_told)
