"""TicketSlaWorkflow on the time-skipping server, against the Zendesk/HubSpot/Slack
emulators: clocks in business time, warnings, breaches and escalation levels.

The module runs its own time-skipping server: it moves the clock to chosen weekdays and
hours, which other modules must not inherit.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.sla_policy import SlaPolicy
from domain.support_records import TicketSlaStatus
from domain.ticket_sla import (
    AgentReplied,
    TicketPriorityChanged,
    TicketSlaInput,
    TicketStatusChanged,
)
from playbooks.loader import load_playbook
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.zendesk_tickets import create_ticket
from workflows.ticket_sla import TicketSlaWorkflow

UTC = ZoneInfo("UTC")
EASTERN = ZoneInfo("America/New_York")
ENTERPRISE_REQUESTER = 8109  # Atlas Manufacturing (company 1007, enterprise)
STARTER_REQUESTER = 8103  # Northwind Analytics (company 1003, starter)

Handle = WorkflowHandle[TicketSlaWorkflow, TicketSlaStatus]


@pytest.fixture
def env(module_time_skipping_env: WorkflowEnvironment) -> WorkflowEnvironment:
    return module_time_skipping_env


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return load_playbook("sla", SlaPolicy)


async def skip_to(env: WorkflowEnvironment, target: datetime) -> None:
    now = await env.get_current_time()
    assert target > now, (target, now)
    await env.sleep(target - now)


async def next_weekday_at(
    env: WorkflowEnvironment, weekday: int, at: time, zone: ZoneInfo
) -> datetime:
    now = (await env.get_current_time()).astimezone(zone)
    day = now.date() + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime.combine(day, at, tzinfo=zone)


async def status(handle: Handle) -> TicketSlaStatus:
    return await handle.query(TicketSlaWorkflow.sla_status)


async def settled(handle: Handle, check: Any, within_s: float = 10) -> TicketSlaStatus:
    """Poll the query (real time: activities run in real time) until ``check`` holds."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        st = await status(handle)
        if check(st):
            return st
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not settled: {st.model_dump_json(indent=1)}")
        await asyncio.sleep(0.1)


async def ticket_slack(sandbox: SandboxHandle, ticket_id: str) -> list[dict[str, Any]]:
    box = await outbox(sandbox)
    return [m for m in box["slack_messages"] if f"#{ticket_id}" in m["text"] + str(m["blocks"])]


async def ticket_changes(sandbox: SandboxHandle, ticket_id: str) -> list[dict[str, Any]]:
    box = await outbox(sandbox)
    return [c for c in box["ticket_changes"] if c["ticket_id"] == ticket_id]


async def start(env: WorkflowEnvironment, queue: str, ticket_id: str) -> Handle:
    return await env.client.start_workflow(
        TicketSlaWorkflow.run,
        TicketSlaInput(ticket_id=ticket_id),
        id=f"ticket-sla-{ticket_id}",
        task_queue=queue,
    )


async def test_enterprise_critical_ticket_at_3am_saturday_escalates_level_by_level(
    env: WorkflowEnvironment,
    hub_settings: Settings,
    clean_sandbox: SandboxHandle,
    policy: SlaPolicy,
) -> None:
    created = await next_weekday_at(env, 5, time(3, 0), EASTERN)  # Saturday 03:00
    await skip_to(env, created)
    ticket = await create_ticket(clean_sandbox, ENTERPRISE_REQUESTER, "urgent", created)
    async with running_worker(env, hub_settings) as worker:
        handle = await start(env, worker.task_queue, ticket)
        st = await settled(handle, lambda s: bool(s.clocks))
        assert (st.severity, st.tier, st.calendar) == ("critical", "enterprise", "always")
        assert [c.target_minutes for c in st.clocks] == [15, 240]  # 24/7: wall-clock time

        # 11 min: nothing yet. 12 min: the 75 % warning (11.25 min) went to the CSM.
        await env.sleep(timedelta(minutes=11))
        assert await ticket_slack(clean_sandbox, ticket) == []
        await env.sleep(timedelta(minutes=1))
        await settled(handle, lambda s: s.clocks[0].warned_at is not None)
        warned = await ticket_slack(clean_sandbox, ticket)
        assert len(warned) == 1 and warned[0]["channel"] == "C0CSALERTS"
        assert "75 %" in warned[0]["text"]

        # 15 min after 03:00 on a Saturday the first response is late: senior support.
        await env.sleep(timedelta(minutes=3, seconds=30))
        st = await settled(handle, lambda s: s.level == 1)
        assert st.breaches[0].clock == "first_response"
        assert st.breaches[0].at == created + timedelta(minutes=15)
        senior = policy.escalation[1]
        changes = await ticket_changes(clean_sandbox, ticket)
        escalation = [c for c in changes if senior.tag in (c["changes"].get("tags") or [])]
        assert len(escalation) == 1
        assert escalation[0]["comment"]["public"] is False
        assert "SLA breach" in escalation[0]["comment"]["body"]
        breach_posts = [
            m
            for m in await ticket_slack(clean_sandbox, ticket)
            if m["channel"] == senior.slack_channel
        ]
        assert len(breach_posts) == 1 and senior.name in breach_posts[0]["text"]

        # The agent answers; the ticket then waits on the customer for 10 hours (paused).
        await handle.signal(TicketSlaWorkflow.agent_replied, AgentReplied())
        await handle.signal(TicketSlaWorkflow.status_changed, TicketStatusChanged(status="pending"))
        st = await settled(handle, lambda s: s.clocks[1].paused)
        assert st.clocks[0].met_at is not None and st.first_response_business_minutes is not None
        used_at_pause = st.clocks[1].used_minutes
        await env.sleep(timedelta(hours=10))
        st = await status(handle)
        assert st.level == 1 and st.clocks[1].used_minutes == used_at_pause

        # Reopened: the resolution clock resumes; it breaches when 240 minutes are used.
        await handle.signal(TicketSlaWorkflow.status_changed, TicketStatusChanged(status="open"))
        reopened_at = await env.get_current_time()
        await settled(handle, lambda s: s.clocks[1].running)
        left = timedelta(minutes=240 - used_at_pause)
        await env.sleep(left - timedelta(minutes=2))
        assert (await status(handle)).level == 1
        await env.sleep(timedelta(minutes=3))
        st = await settled(handle, lambda s: s.level == 2)
        engineering = policy.escalation[2]
        assert st.breaches[1].clock == "resolution"
        assert abs(st.breaches[1].at - (reopened_at + left)) < timedelta(seconds=5)
        assert st.level_name == engineering.name
        moved = [
            c
            for c in await ticket_changes(clean_sandbox, ticket)
            if engineering.tag in (c["changes"].get("tags") or [])
        ]
        assert len(moved) == 1 and moved[0]["changes"].get("group_id") == engineering.group_id

        # Still late a full target later: the director; later still: no level left, no
        # further message (each level escalates once).
        await env.sleep(timedelta(hours=4, minutes=1))
        await settled(handle, lambda s: s.level == 3)
        await env.sleep(timedelta(hours=12))
        st = await status(handle)
        assert [b.level for b in st.breaches] == [1, 2, 3]
        posts = [
            m for m in await ticket_slack(clean_sandbox, ticket) if m["channel"] != "C0CSALERTS"
        ]
        assert len(posts) == 3

        # Solved: the clocks stop and the workflow ends after the reopen window.
        await handle.signal(TicketSlaWorkflow.status_changed, TicketStatusChanged(status="solved"))
        result = await handle.result()
        assert result.finished and result.solved_at is not None
        assert result.resolution_business_minutes is not None


async def test_starter_medium_ticket_on_friday_evening_breaches_monday_late_morning(
    env: WorkflowEnvironment,
    hub_settings: Settings,
    clean_sandbox: SandboxHandle,
    policy: SlaPolicy,
) -> None:
    """Starter: business hours 8 AM-8 PM US Eastern on weekdays. A medium ticket (first
    response 4 h; the Starter plan's 24 h is looser, so 4 h wins) at 19:30 on Friday uses
    30 minutes on Friday and 3 h 30 on Monday: late at 11:30 Monday, Eastern."""
    holidays = set(policy.calendars["us_business"].holidays)
    created = await next_weekday_at(env, 4, time(19, 30), EASTERN)
    while created.date() in holidays or (created.date() + timedelta(days=3)) in holidays:
        created += timedelta(days=7)
    await skip_to(env, created)
    monday = created.date() + timedelta(days=3)
    due = datetime.combine(monday, time(11, 30), tzinfo=EASTERN)
    warn = datetime.combine(monday, time(10, 30), tzinfo=EASTERN)  # 75 % of 4 h = 3 h
    ticket = await create_ticket(clean_sandbox, STARTER_REQUESTER, "normal", created)
    async with running_worker(env, hub_settings) as worker:
        handle = await start(env, worker.task_queue, ticket)
        st = await settled(handle, lambda s: bool(s.clocks))
        assert (st.severity, st.tier, st.calendar) == ("medium", "starter", "us_business")
        assert st.clocks[0].target_minutes == 240
        assert st.clocks[0].due_at == due

        await skip_to(env, warn - timedelta(minutes=1))
        assert (await status(handle)).clocks[0].warned_at is None
        await env.sleep(timedelta(minutes=2))
        st = await settled(handle, lambda s: s.clocks[0].warned_at is not None)
        assert st.clocks[0].warned_at == warn

        await skip_to(env, due - timedelta(minutes=1))
        assert (await status(handle)).level == 0
        await env.sleep(timedelta(minutes=2))
        st = await settled(handle, lambda s: s.level == 1)
        assert st.breaches[0].at == due
        # Zendesk reports the priority the escalation itself set: no re-targeting, no
        # cascade of escalations.
        changes = await ticket_changes(clean_sandbox, ticket)
        assert any(c["changes"].get("priority") == "high" for c in changes)
        await handle.signal(
            TicketSlaWorkflow.priority_changed, TicketPriorityChanged(priority="high")
        )
        await env.sleep(timedelta(minutes=1))
        st = await status(handle)
        assert st.level == 1 and st.severity == "medium"
        assert st.clocks[0].target_minutes == 240
        # An agent makes it urgent: stricter targets (15 min / 4 h) that both clocks have
        # already used up: each moves the ticket up one level once (not once per missed
        # 15 minutes).
        await handle.signal(
            TicketSlaWorkflow.priority_changed, TicketPriorityChanged(priority="urgent")
        )
        st = await settled(handle, lambda s: s.severity == "critical" and s.level == 3)
        await env.sleep(timedelta(hours=1))
        st = await status(handle)
        assert [(b.clock, b.level) for b in st.breaches] == [
            ("first_response", 1),
            ("first_response", 2),
            ("resolution", 3),
        ]
        await handle.terminate("test done")


async def test_events_while_the_closing_refresh_waits_are_handled_not_dropped(
    env: WorkflowEnvironment, hub_settings: Settings, clean_sandbox: SandboxHandle
) -> None:
    """Closed: the workflow ends only once the support figures are refreshed, minutes
    later (Zendesk's search index lags). A late reply in that window is recorded, and a
    reopen re-arms the SLA: the workflow keeps watching instead of ending."""
    opened = await env.get_current_time()
    ticket = await create_ticket(clean_sandbox, ENTERPRISE_REQUESTER, "normal", opened)
    async with running_worker(env, hub_settings) as worker:
        handle = await start(env, worker.task_queue, ticket)
        try:
            await settled(handle, lambda s: bool(s.clocks))
            await handle.signal(
                TicketSlaWorkflow.status_changed, TicketStatusChanged(status="closed")
            )
            st = await settled(handle, lambda s: s.status == "closed")
            # Waiting for the refresh (time only skips while the test sleeps or awaits).
            assert not st.finished and st.first_response_at is None

            # The reply's webhook comes after the close: still counted.
            replied = opened  # the agent answered at once
            await handle.signal(TicketSlaWorkflow.agent_replied, AgentReplied(at=replied))
            st = await settled(handle, lambda s: s.first_response_at is not None)
            assert st.first_response_at == replied and not st.finished

            # Reopened before the workflow ended: the resolution clock runs again.
            await handle.signal(
                TicketSlaWorkflow.status_changed, TicketStatusChanged(status="open")
            )
            st = await settled(handle, lambda s: s.status == "open")
            assert st.clocks[1].running and st.solved_at is None and not st.finished
            await env.sleep(timedelta(minutes=10))  # the refresh is long done
            st = await status(handle)
            assert st.status == "open" and st.clocks[1].running and not st.finished

            # Closed again: ends once that refresh is done (awaiting skips the wait).
            await handle.signal(
                TicketSlaWorkflow.status_changed, TicketStatusChanged(status="closed")
            )
            result = await handle.result()
            assert result.finished and result.status == "closed"
            assert result.first_response_at == replied
            assert result.resolution_business_minutes is not None
        finally:
            for wid in (f"ticket-sla-{ticket}", f"csat-{ticket}"):
                with contextlib.suppress(Exception):
                    await env.client.get_workflow_handle(wid).terminate("test done")
