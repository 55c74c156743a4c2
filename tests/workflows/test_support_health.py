"""The support figures the SLA and CSAT workflows copy to the CRM company (the health
score's ``cshub_critical_tickets_open`` / ``cshub_csat_percent`` and the support load):
real workflows, activities and connectors against the Zendesk and HubSpot emulators.

The module runs its own time-skipping server: it leaves SLA workflows (and the CSAT
surveys they start) waiting on long timers, which no other module should inherit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.support import SUPPORT_HEALTH_PROPERTIES, SUPPORT_REFRESHED_AT
from domain.support_records import TicketSlaStatus
from domain.surveys import CsatAnswered, CsatInput
from domain.ticket_sla import TicketSlaInput, TicketStatusChanged
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import running_worker
from tests.support_tickets import add_ticket, set_status
from tests.workflows.campaign_helpers import skip_to_local_hour, stop
from tests.zendesk_tickets import create_ticket
from workflows.csat import CsatSurveyWorkflow
from workflows.support_health import SEARCH_INDEX_LAG
from workflows.ticket_sla import TicketSlaWorkflow

BRIGHTLEAF = "1001"  # Zendesk organisation 9001, no demo tickets
ANA = 8101  # Brightleaf's requester
Figures = dict[str, str | None]


@pytest.fixture
def env(module_time_skipping_env: WorkflowEnvironment) -> WorkflowEnvironment:
    return module_time_skipping_env


async def company_figures(sandbox: SandboxHandle, company_id: str) -> Figures:
    """The support properties of the company, read back from the HubSpot emulator."""
    async with httpx.AsyncClient(base_url=sandbox.http_url) as http:
        resp = await http.get(
            f"/crm/v3/objects/companies/{company_id}",
            params=[("properties", p) for p in SUPPORT_HEALTH_PROPERTIES],
            headers={"Authorization": "Bearer test"},
        )
        resp.raise_for_status()
        props: dict[str, str | None] = resp.json()["properties"]
        return {p: props.get(p) for p in SUPPORT_HEALTH_PROPERTIES}


async def figures_when(
    sandbox: SandboxHandle, check: Callable[[Figures], bool], within_s: float = 15
) -> Figures:
    """Poll the company (real time: activities run in real time) until ``check`` holds."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        figures = await company_figures(sandbox, BRIGHTLEAF)
        if check(figures):
            return figures
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not refreshed: {figures}")
        await asyncio.sleep(0.1)


def counts(figures: Figures) -> Figures:
    return {k: v for k, v in figures.items() if k != SUPPORT_REFRESHED_AT}


def refreshed(figures: Figures) -> bool:
    return bool(figures[SUPPORT_REFRESHED_AT])


async def start_sla(env: WorkflowEnvironment, queue: str, ticket_id: str) -> Any:
    return await env.client.start_workflow(
        TicketSlaWorkflow.run,
        TicketSlaInput(ticket_id=ticket_id),
        id=f"ticket-sla-{ticket_id}",
        task_queue=queue,
    )


async def refresh_timers(handle: WorkflowHandle[Any, Any]) -> int:
    """How many refreshes the workflow has set to wait for Zendesk's search index."""
    history = await handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
        and e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() == SEARCH_INDEX_LAG
        and b"search index" in e.user_metadata.summary.data
    )


async def refresh_waiting(handle: WorkflowHandle[Any, Any], n: int) -> None:
    """Until the workflow's ``n``-th refresh waits on its timer. The time-skipping server
    only skips while a test sleeps or awaits a result: the timer stays pending until then."""
    deadline = asyncio.get_running_loop().time() + 10
    while (found := await refresh_timers(handle)) < n:
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.1)
    assert found == n


AFTER_THE_LAG = SEARCH_INDEX_LAG + timedelta(minutes=1)


async def sla_started(handle: WorkflowHandle[Any, TicketSlaStatus]) -> TicketSlaStatus:
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        st = await handle.query(TicketSlaWorkflow.sla_status)
        if st.clocks:
            return st
        assert asyncio.get_running_loop().time() < deadline, st
        await asyncio.sleep(0.1)


async def test_a_new_ticket_and_its_solve_refresh_the_companys_support_figures(
    env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    url, now = clean_sandbox.http_url, datetime.now(UTC)

    async def earlier(days: int, priority: str, status: str, *tags: str) -> None:
        created = now - timedelta(days=days)
        await add_ticket(url, ANA, created_at=created, priority=priority, status=status, tags=tags)

    await earlier(3, "urgent", "open")  # open, critical, last 30 days
    await earlier(40, "normal", "solved")  # previous 30 days
    await earlier(45, "high", "hold")  # open, previous 30 days
    await earlier(10, "normal", "closed", "cshub_csat", "csat_score_4")  # satisfied
    await earlier(12, "low", "solved", "cshub_csat", "csat_score_1")  # not satisfied
    assert not refreshed(await company_figures(clean_sandbox, BRIGHTLEAF))

    ticket = await create_ticket(clean_sandbox, ANA, "urgent", await env.get_current_time())
    async with running_worker(env, hub_settings) as worker:
        handle = await start_sla(env, worker.task_queue, ticket)
        try:
            # Counted only once Zendesk's search index has the new ticket, minutes later.
            await sla_started(handle)
            await refresh_waiting(handle, 1)
            assert not refreshed(await company_figures(clean_sandbox, BRIGHTLEAF))
            await env.sleep(AFTER_THE_LAG)
            opened = await figures_when(clean_sandbox, refreshed)
            assert counts(opened) == {
                "cshub_critical_tickets_open": "2",
                "cshub_csat_percent": "50",
                "cshub_open_tickets": "3",
                "cshub_tickets_30d": "4",
                "cshub_tickets_prev_30d": "2",
                # Unanswered for days: the urgent (3 days) and the high (45 days) ticket
                # are past their first-response targets; the new one is still in time.
                # No solved ticket has a resolution time (created solved: no solve time).
                "cshub_sla_first_response_met_percent": "0",
                "cshub_sla_resolution_met_percent": "",
            }
            stamp = opened[SUPPORT_REFRESHED_AT]
            assert stamp is not None and stamp.endswith("Z")
            assert abs(datetime.fromisoformat(stamp) - datetime.now(UTC)) < timedelta(minutes=1)

            # Solved in Zendesk, then Zendesk's webhook: one open (critical) ticket less.
            await set_status(url, ticket, "solved")
            await handle.signal(
                TicketSlaWorkflow.status_changed, TicketStatusChanged(status="solved")
            )
            await refresh_waiting(handle, 2)
            assert await company_figures(clean_sandbox, BRIGHTLEAF) == opened
            await env.sleep(AFTER_THE_LAG)
            solved = await figures_when(
                clean_sandbox, lambda f: f["cshub_open_tickets"] == "2", within_s=15
            )
            assert counts(solved) == {
                "cshub_critical_tickets_open": "1",
                "cshub_csat_percent": "50",
                "cshub_open_tickets": "2",
                "cshub_tickets_30d": "4",
                "cshub_tickets_prev_30d": "2",
                "cshub_sla_first_response_met_percent": "0",
                # The new ticket, solved within minutes (its 4 h resolution target).
                "cshub_sla_resolution_met_percent": "100",
            }
            st = await handle.query(TicketSlaWorkflow.sla_status)
            assert st.status == "solved" and not st.finished
        finally:
            await stop(handle)
            await stop(env.client.get_workflow_handle(f"csat-{ticket}"))


async def test_a_failed_refresh_does_not_stop_the_sla(
    env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    async with httpx.AsyncClient(base_url=clean_sandbox.http_url) as http:
        resp = await http.post(
            "/_sandbox/faults",
            json={"system": "zendesk", "status": 403, "count": 50, "path_contains": "/search"},
        )
        resp.raise_for_status()
    # Inside the SLA calendar of Brightleaf's tier (community: us_business, 8 AM to 8 PM New
    # York time on weekdays), so the clocks run from the ticket's creation: 16:00 in Berlin
    # is 9 to 11 AM in New York.
    await skip_to_local_hour(env, BRIGHTLEAF, 16, weekday=True)
    ticket = await create_ticket(clean_sandbox, ANA, "urgent", await env.get_current_time())
    async with running_worker(env, hub_settings) as worker:
        handle = await start_sla(env, worker.task_queue, ticket)
        try:
            st = await sla_started(handle)
            assert st.severity == "critical" and st.customer_id == BRIGHTLEAF
            await refresh_waiting(handle, 1)
            await env.sleep(AFTER_THE_LAG)
            failed: list[Any] = []
            deadline = asyncio.get_running_loop().time() + 10
            while not failed and asyncio.get_running_loop().time() < deadline:
                history = await handle.fetch_history()
                failed = [
                    e
                    for e in history.events
                    if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
                ]
                await asyncio.sleep(0.1)
            assert len(failed) == 1  # permanent (403): no retries
            assert "403" in failed[0].activity_task_failed_event_attributes.failure.message
            # The workflow carries on: its clocks run and the breach (15 minutes after
            # the ticket opened) still escalates.
            await env.sleep(timedelta(minutes=10))
            deadline = asyncio.get_running_loop().time() + 10
            while (await handle.query(TicketSlaWorkflow.sla_status)).level < 1:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.1)
            assert not refreshed(await company_figures(clean_sandbox, BRIGHTLEAF))
        finally:
            await stop(handle)
            async with httpx.AsyncClient(base_url=clean_sandbox.http_url) as http:
                await http.delete("/_sandbox/faults")


async def test_a_csat_answer_refreshes_the_csat_percent(
    env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    url, now = clean_sandbox.http_url, datetime.now(UTC)
    await add_ticket(
        url,
        ANA,
        created_at=now - timedelta(days=10),
        status="closed",
        tags=["cshub_csat", "csat_score_2"],
    )
    ticket = await add_ticket(url, ANA, created_at=now - timedelta(days=2), status="solved")
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            CsatSurveyWorkflow.run,
            CsatInput(ticket_id=ticket, solved_at=await env.get_current_time()),
            id=f"csat-{ticket}",
            task_queue=worker.task_queue,
        )
        try:
            await env.sleep(timedelta(hours=48))  # past the delay and any quiet hours
            deadline = asyncio.get_running_loop().time() + 10
            while (await handle.query(CsatSurveyWorkflow.status)).status != "sent":
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.1)
            assert not refreshed(await company_figures(clean_sandbox, BRIGHTLEAF))
            await handle.signal(CsatSurveyWorkflow.csat_answered, CsatAnswered(score=5))
            # Answered at once; recounted only once Zendesk's search index has the tags.
            await refresh_waiting(handle, 1)
            assert (await handle.query(CsatSurveyWorkflow.status)).status == "answered"
            assert not refreshed(await company_figures(clean_sandbox, BRIGHTLEAF))
            result = await handle.result()  # skips the wait
        finally:
            await stop(handle)
    assert (result.status, result.score, result.customer_id) == ("answered", 5, BRIGHTLEAF)
    figures = await company_figures(clean_sandbox, BRIGHTLEAF)
    assert counts(figures) == {
        "cshub_critical_tickets_open": "0",
        "cshub_csat_percent": "50",  # 5 (now) and 2 (10 days ago)
        "cshub_open_tickets": "0",
        "cshub_tickets_30d": "2",
        "cshub_tickets_prev_30d": "0",
        # Both solved without a reply or a solve time: no SLA result known.
        "cshub_sla_first_response_met_percent": "",
        "cshub_sla_resolution_met_percent": "",
    }
