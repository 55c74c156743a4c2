"""Each Zendesk route end to end: a signed ticket webhook → the ingress → Temporal (dev
server) → TicketSlaWorkflow and its clocks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from temporalio.testing import WorkflowEnvironment

from sandbox.server import SandboxHandle
from tests.conftest import eventually, running_worker
from tests.webhooks.conftest import Api
from tests.zendesk_tickets import create_ticket
from webhooks import sample_events as samples

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


def signed(api: Api, event: dict[str, Any]) -> samples.SignedRequest:
    return samples.signed_zendesk(event, secret=api.secret("zendesk_webhook_secret"))


async def sla(env: WorkflowEnvironment, ticket: str) -> dict[str, Any]:
    result: dict[str, Any] = await env.client.get_workflow_handle(f"ticket-sla-{ticket}").query(
        "sla_status"
    )
    return result


async def test_ticket_events_drive_the_sla_clocks(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    ticket = await create_ticket(clean_sandbox, STARTER_REQUESTER, "high")
    wid = f"ticket-sla-{ticket}"
    async with hub(dev_server_env, api, wid, f"csat-{ticket}"):
        created = signed(api, samples.zendesk_event(ticket_id=ticket, organization_id=9003))
        resp = await api.post(created)
        assert resp.status_code == 202, resp.text
        assert resp.json()["workflow_id"] == wid
        assert (await api.post(created)).json()["outcome"] == "duplicate"

        async def started() -> None:
            state = await sla(dev_server_env, ticket)
            assert state["severity"] == "high" and state["tier"] == "starter"
            # high: first response 1 h (stricter than the starter plan's 24 h).
            assert [c["target_minutes"] for c in state["clocks"]] == [60, 480]

        await eventually(started)

        # The requester writes again (read as what the customer wrote, not a reply), an
        # agent leaves a private note: no first response.
        mine = samples.zendesk_comment_added(ticket, by_agent=False, author_id="8103")
        resp = await api.post(signed(api, mine))
        assert resp.status_code == 202 and resp.json()["outcome"] == "accepted", resp.text
        assert resp.json()["workflow_id"].startswith("text-")
        note = samples.zendesk_comment_added(ticket, public=False)
        resp = await api.post(signed(api, note))
        assert resp.status_code == 202 and resp.json()["outcome"] == "ignored", resp.text
        # The agent's public reply stops the first-response clock.
        resp = await api.post(signed(api, samples.zendesk_comment_added(ticket)))
        assert resp.json()["outcome"] == "accepted", resp.text

        async def answered() -> None:
            state = await sla(dev_server_env, ticket)
            assert state["first_response_at"] is not None
            assert state["clocks"][0]["met_at"] is not None

        await eventually(answered)

        # Pending pauses the resolution clock; solved stops it.
        pending = samples.zendesk_status_changed(ticket, "pending", "open")
        assert (await api.post(signed(api, pending))).json()["outcome"] == "accepted"

        async def paused() -> None:
            state = await sla(dev_server_env, ticket)
            assert state["status"] == "pending" and state["clocks"][1]["paused"]

        await eventually(paused)
        solved = samples.zendesk_status_changed(ticket, "solved", "pending")
        assert (await api.post(signed(api, solved))).json()["outcome"] == "accepted"

        async def stopped() -> None:
            state = await sla(dev_server_env, ticket)
            assert state["status"] == "solved" and state["solved_at"] is not None
            assert state["resolution_business_minutes"] is not None

        await eventually(stopped)


async def test_ticket_events_without_a_ticket_id_are_ignored(api: Api) -> None:
    event = samples.zendesk_event(ticket_id="1")
    event["detail"].pop("id")
    resp = await api.post(signed(api, event))
    assert resp.status_code == 202 and resp.json()["outcome"] == "ignored", resp.text


async def test_a_ticket_older_than_the_hub_gets_its_clocks_on_its_first_event(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    """Demo ticket 5001 (enterprise, high) was opened 3 h ago and an agent answered
    publicly 30 min later; the hub first hears of it when it goes pending."""
    async with hub(dev_server_env, api, "ticket-sla-5001"):
        pending = samples.zendesk_status_changed("5001", "pending", "open")
        resp = await api.post(signed(api, pending))
        assert resp.json()["outcome"] == "accepted", resp.text

        async def caught_up() -> None:
            state = await sla(dev_server_env, "5001")
            assert state["tier"] == "enterprise" and state["calendar"] == "always"
            response, resolution = state["clocks"]
            assert response["met_at"] is not None  # the agent's earlier public reply
            assert 29 <= state["first_response_business_minutes"] <= 31
            assert resolution["paused"] and state["status"] == "pending"
            assert state["breaches"] == []  # answered within the hour: no breach

        await eventually(caught_up)
