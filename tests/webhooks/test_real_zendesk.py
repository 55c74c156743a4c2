"""Zendesk as it sends today, from real payloads: event-subscription webhooks and the
admin-written bodies of triggers and automations, signed as Zendesk signs, through the
ingress to the ticket's SLA workflow. A ticket the hub cannot read parks: one ops alert,
its later events recorded, not restarted into failure."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from temporalio.testing import WorkflowEnvironment

from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox, running_worker
from tests.webhooks.conftest import Api
from tests.webhooks.real_payloads import zendesk_event, zendesk_trigger
from tests.zendesk_tickets import create_ticket

STARTER_REQUESTER = 8103  # Northwind Analytics, company 1003 (starter)


@contextlib.asynccontextmanager
async def hub(env: WorkflowEnvironment, api: Api, *ids: str) -> AsyncIterator[None]:
    try:
        async with running_worker(env, api.settings, task_queue=api.settings.temporal_task_queue):
            yield
    finally:
        for wid in ids:
            with contextlib.suppress(Exception):
                await env.client.get_workflow_handle(wid).terminate("test done")


async def sla(env: WorkflowEnvironment, ticket: str) -> dict[str, Any]:
    handle = env.client.get_workflow_handle(f"ticket-sla-{ticket}")
    result: dict[str, Any] = await handle.query("sla_status")
    return result


async def test_event_subscription_payloads_run_the_sla(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    ticket = await create_ticket(clean_sandbox, STARTER_REQUESTER, "high")
    async with hub(dev_server_env, api, f"ticket-sla-{ticket}"):
        resp = await api.post(zendesk_event(api, "event_ticket_created.json", ticket))
        assert (resp.status_code, resp.json()["outcome"]) == (202, "accepted"), resp.text

        async def started() -> None:
            assert (await sla(dev_server_env, ticket))["tier"] == "starter"

        await eventually(started)
        resp = await api.post(zendesk_event(api, "event_ticket_comment_added.json", ticket))
        assert resp.json()["outcome"] == "accepted", resp.text
        resp = await api.post(zendesk_event(api, "event_ticket_status_changed.json", ticket))
        assert resp.json()["outcome"] == "accepted", resp.text

        async def replied_and_pending() -> None:
            state = await sla(dev_server_env, ticket)
            assert state["first_response_at"] is not None and state["status"] == "pending"

        await eventually(replied_and_pending)


async def test_trigger_bodies_run_the_sla_and_a_retry_is_a_duplicate(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    ticket = await create_ticket(clean_sandbox, STARTER_REQUESTER, "high")
    async with hub(dev_server_env, api, f"ticket-sla-{ticket}"):
        created = zendesk_trigger(api, "trigger_ticket_created.json", ticket)
        resp = await api.post(created)
        assert (resp.status_code, resp.json()["outcome"]) == (202, "accepted"), resp.text
        assert resp.json()["workflow_id"] == f"ticket-sla-{ticket}"
        # Zendesk retries the same notification: same body, new signature timestamp.
        again = await api.post(created)
        assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")

        async def started() -> None:
            state = await sla(dev_server_env, ticket)
            assert state["severity"] == "high" and state["tier"] == "starter"

        await eventually(started)
        for fixture in ("trigger_agent_replied.json", "trigger_status_changed.json"):
            resp = await api.post(zendesk_trigger(api, fixture, ticket))
            assert resp.json()["outcome"] == "accepted", (fixture, resp.text)

        async def replied_and_on_hold() -> None:
            state = await sla(dev_server_env, ticket)
            assert state["first_response_at"] is not None and state["status"] == "hold"

        await eventually(replied_and_on_hold)


async def test_a_trigger_body_with_empty_placeholders_and_a_wrong_one(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    ticket = await create_ticket(clean_sandbox, STARTER_REQUESTER, "normal")
    async with hub(dev_server_env, api, f"ticket-sla-{ticket}"):
        resp = await api.post(
            zendesk_trigger(api, "trigger_ticket_created_no_organization.json", ticket)
        )
        assert resp.json()["outcome"] == "accepted", resp.text
    # A placeholder typed wrong in the trigger reaches the hub unrendered: 422 naming it.
    resp = await api.post(
        zendesk_trigger(api, "trigger_ticket_created.json", "1", ticket_id="{{ticket.idd}}")
    )
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["field"] == "ticket_id"


async def test_an_unfetchable_ticket_parks_with_one_ops_alert_for_five_events(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    ticket = "990017"  # no such ticket in Zendesk (deleted, or never visible to the token)
    wid = f"ticket-sla-{ticket}"
    async with hub(dev_server_env, api, wid):
        resp = await api.post(zendesk_trigger(api, "trigger_ticket_created.json", ticket))
        assert resp.json()["outcome"] == "accepted", resp.text

        async def parked() -> None:
            assert "cannot be read from Zendesk" in (await sla(dev_server_env, ticket))["parked"]

        await eventually(parked)
        outcomes = []
        for status in ("Open", "Pending", "Open", "Solved"):
            resp = await api.post(
                zendesk_event(
                    api, "event_ticket_status_changed.json", ticket, status=status.upper()
                )
            )
            assert resp.status_code == 202, resp.text
            outcomes.append(resp.json()["outcome"])
        assert outcomes == ["parked"] * 4
        assert "cannot be read from Zendesk" in resp.json()["detail"]

        async def one_alert() -> None:
            alerts = [
                m
                for m in (await outbox(clean_sandbox))["slack_messages"]
                if m["channel"] == api.settings.slack_ops_channel and wid in m["text"]
            ]
            assert len(alerts) == 1, alerts

        await eventually(one_alert)
        desc = await dev_server_env.client.get_workflow_handle(wid).describe()
        assert desc.status is not None and desc.status.name == "RUNNING"
        runs = [w async for w in dev_server_env.client.list_workflows(f"WorkflowId = '{wid}'")]
        assert len(runs) == 1
