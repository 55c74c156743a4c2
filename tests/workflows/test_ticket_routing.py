"""Smart routing of new tickets, end to end with the Zendesk, HubSpot and Slack
emulators: a ticket whose text says outage (or, in Spanish, data loss) while its Zendesk
priority is normal gets the support lead told in Slack once, its priority raised and its
group moved, an internal note saying why, and its SLA clocks at the new severity; a
how-to question changes nothing; with raise_and_route off only the alert goes out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.ticket_sla import TicketSlaInput
from playbooks.loader import PACKAGE_DIR
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox, running_worker
from tests.workflows.campaign_helpers import stop
from tests.zendesk_tickets import create_ticket
from workflows.ticket_sla import TicketSlaWorkflow

STARTER_REQUESTER = 8103  # Northwind Analytics (company 1003, starter)
LEAD = "C0SUPPORT"


async def ticket(sandbox: SandboxHandle, priority: str, subject: str, text: str) -> str:
    return await create_ticket(sandbox, STARTER_REQUESTER, priority, subject=subject, text=text)


async def routed(sandbox: SandboxHandle, ticket: str) -> tuple[list[Any], list[Any]]:
    box = await outbox(sandbox)
    changes = [c for c in box["ticket_changes"] if c["ticket_id"] == ticket]
    posts = [
        m
        for m in box["slack_messages"]
        if m["channel"] == LEAD and f"#{ticket}" in m["text"] + str(m["blocks"])
    ]
    return changes, posts


async def watch(env: WorkflowEnvironment, queue: str, ticket: str) -> Any:
    handle = await env.client.start_workflow(
        TicketSlaWorkflow.run,
        TicketSlaInput(ticket_id=ticket),
        id=f"ticket-sla-{ticket}",
        task_queue=queue,
    )

    async def started() -> Any:
        st = await handle.query(TicketSlaWorkflow.sla_status)
        assert st.clocks
        return st

    return handle, await eventually(started)


async def test_an_outage_filed_as_normal_is_raised_routed_noted_and_the_lead_told(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    env = module_time_skipping_env
    outage, spanish, question = [
        await ticket(clean_sandbox, priority, subject, text)
        for priority, subject, text in [
            ("normal", "Production is down",
             "Since 9:00 nobody can log in, the whole site is down for our team."),
            ("high", "Pérdida de datos",
             "Ayer se borraron todos los proyectos: pérdida de datos total."),
            ("normal", "Export question", "How do I export a workflow as JSON?"),
        ]
    ]  # fmt: skip
    async with running_worker(env, hub_settings) as worker:
        handles = []
        try:
            h, st = await watch(env, worker.task_queue, outage)
            handles.append(h)
            assert st.severity == "critical"  # the clocks follow the raised priority
            h, st_es = await watch(env, worker.task_queue, spanish)
            handles.append(h)
            assert st_es.severity == "critical"
            h, st_q = await watch(env, worker.task_queue, question)
            handles.append(h)
            assert st_q.severity != "critical"
        finally:
            for h in handles:
                await stop(h)

    changes, posts = await routed(clean_sandbox, outage)
    routing = [c for c in changes if "cshub_routed" in (c["changes"].get("tags") or [])]
    assert len(routing) == 1
    assert routing[0]["changes"]["priority"] == "urgent"
    assert routing[0]["changes"]["group_id"] in ("103", 103)
    note = routing[0]["comment"]
    assert note["public"] is False
    assert note["body"].startswith("cshub smart routing: the text reads as outage")
    assert "Priority raised from normal to urgent and the ticket moved to group 103" in note["body"]
    assert len(posts) == 1
    assert "reads as *outage*" in str(posts[0]["blocks"])

    changes, posts = await routed(clean_sandbox, spanish)
    (routing,) = [c for c in changes if "cshub_routed" in (c["changes"].get("tags") or [])]
    assert (
        "data loss" in routing["comment"]["body"]
        and '"pérdida de datos"' in routing["comment"]["body"]
    )
    assert len(posts) == 1

    changes, posts = await routed(clean_sandbox, question)
    assert not [c for c in changes if "cshub_routed" in (c["changes"].get("tags") or [])]
    assert posts == []


async def test_with_raise_and_route_off_only_the_support_lead_is_told(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    books = tmp_path / "playbooks"
    shutil.copytree(PACKAGE_DIR, books, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    rules = books / "routing.yaml"
    rules.write_text(
        rules.read_text().replace("raise_and_route: true", "raise_and_route: false"),
        encoding="utf-8",
    )
    monkeypatch.setenv("CSHUB_PLAYBOOKS_DIR", str(books))
    env = module_time_skipping_env
    ticket_id = await ticket(
        clean_sandbox, "low", "Security incident", "We think our account was hacked last night."
    )
    async with running_worker(env, hub_settings) as worker:
        h, st = await watch(env, worker.task_queue, ticket_id)
        await stop(h)
    assert st.severity != "critical"
    changes, posts = await routed(clean_sandbox, ticket_id)
    (routing,) = [c for c in changes if "cshub_routed" in (c["changes"].get("tags") or [])]
    assert "priority" not in routing["changes"] and "group_id" not in routing["changes"]
    assert (
        "nothing changed (routing playbook: raise_and_route is off)" in routing["comment"]["body"]
    )
    assert len(posts) == 1 and "Nothing was changed" in str(posts[0]["blocks"])
