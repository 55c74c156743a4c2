"""Record workflow histories for the replay test (tests/replay/test_replay.py).

    .venv/bin/python -m tests.replay.record                       # every scenario
    .venv/bin/python -m tests.replay.record --only RenewalWorkflow  # one type's scenarios
    .venv/bin/python -m tests.replay.record --scenario renewed --out /tmp/h

Each scenario runs the real worker (``tests.conftest.running_worker``: every workflow and
activity, the real connectors) against the sandbox emulators, on a fresh time-skipping
test server, so a scenario covers weeks in seconds: timers, steering signals, product
events, payments, ticket replies, survey answers, continue-as-new. Afterwards the history
of every workflow the scenario kept is written to
``<out>/<WorkflowType>/<prefix><scenario>.json`` (``WorkflowHistory.to_json()``), then
the server is shut down (workflows still running keep a history without an end: replay
handles that).

Histories are recorded with the plain pydantic converter (no encryption codec).
Existing files are never overwritten unless ``--force``: a history is a record of what
some version of the code did, and re-recording one to make the replay test pass hides
exactly the break the test is there to catch.

The scenarios reuse the workflow tests' helpers (tests/workflows/*) and import what they
need inside their own function, so the file also runs, copied, in a worktree of older
code (``--scenario`` picks the scenarios whose APIs existed then; ``--prefix pre-steering-``
names the files).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

HISTORIES = Path(__file__).resolve().parent / "histories"


@dataclass
class Ctx:
    env: WorkflowEnvironment
    sandbox: Any  # sandbox.server.SandboxHandle
    settings: Any  # runtime.settings.Settings
    queue: str
    kept: list[tuple[str, str, WorkflowHandle[Any, Any]]] = field(default_factory=list)

    def keep(
        self,
        workflow_type: str,
        handle: WorkflowHandle[Any, Any],
        name: str = "",
        *,
        latest: bool = False,
    ) -> None:
        """Write this workflow's history once the scenario is over: the run the handle
        started (its first), or with ``latest`` the workflow id's last run (after
        continue-as-new). ``name``: a suffix for a second history of the scenario."""
        run_id = None if latest else (handle.first_execution_run_id or handle.result_run_id)
        pinned = self.env.client.get_workflow_handle(handle.id, run_id=run_id)
        self.kept.append((workflow_type, name, pinned))

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def sleep(self, delta: timedelta) -> None:
        await self.env.sleep(delta)

    async def skip_to(self, target: datetime) -> None:
        now = await self.now()
        if target > now:
            await self.env.sleep(target - now)


Scenario = Callable[[Ctx], Awaitable[None]]


@dataclass(frozen=True)
class Entry:
    name: str
    types: tuple[str, ...]  # the workflow types whose histories it writes
    run: Scenario
    actions: bool = False
    """Run the worker with an action store (the contact-pressure policy applies)."""


SCENARIOS: list[Entry] = []


def scenario(name: str, *types: str, actions: bool = False) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS.append(Entry(name, types, fn, actions))
        return fn

    return register


async def until(check: Callable[[], Awaitable[bool]], within_s: float = 20) -> None:
    """Poll in real time (activities run in real time) until ``check()`` holds."""
    deadline = time.monotonic() + within_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


async def query_until(
    handle: WorkflowHandle[Any, Any], query: str, ok: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Query (as plain JSON, so it works across versions) until ``ok`` holds."""
    result: dict[str, Any] = {}

    async def check() -> bool:
        nonlocal result
        result = await handle.query(query)
        return ok(result)

    await until(check)
    return result


async def local_noon(c: Ctx, customer: str, hour: int = 12) -> None:
    from tests.workflows.campaign_helpers import skip_to_local_hour

    await skip_to_local_hour(c.env, customer, hour)


# ------------------------------------------------------------------------------ onboarding
@scenario("starter-events-pause-resume", "OnboardingWorkflow")
async def onboarding_journey(c: Ctx) -> None:
    """A Starter journey: product events (one redelivered), a milestone by signal, a
    three-day pause across a step, resume; recorded on day 16."""
    from domain.onboarding import (
        MilestoneReached,
        OnboardingInput,
        PauseRequest,
        ProductEvent,
        ResumeRequest,
    )
    from domain.tiers import ProductEventType, Tier
    from workflows.onboarding import OnboardingWorkflow

    handle = await c.env.client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id="1003", tier=Tier.STARTER),
        id="onboarding-1003-replay",
        task_queue=c.queue,
    )
    c.keep("OnboardingWorkflow", handle)
    await c.sleep(timedelta(hours=2))
    for ev in (
        ProductEvent(type=ProductEventType.FIRST_LOGIN, event_id="e1"),
        ProductEvent(type=ProductEventType.WORKFLOW_CREATED, event_id="e2"),
        ProductEvent(type=ProductEventType.WORKFLOW_CREATED, event_id="e2"),
        ProductEvent(type=ProductEventType.USAGE_THRESHOLD, percent=86, event_id="e3"),
    ):
        await handle.signal(OnboardingWorkflow.product_event, ev)
    await c.sleep(timedelta(days=2, hours=10))
    await handle.signal(OnboardingWorkflow.pause, PauseRequest(reason="customer on leave"))
    await c.sleep(timedelta(days=3))
    await handle.signal(OnboardingWorkflow.resume, ResumeRequest())
    await c.sleep(timedelta(days=1))
    await handle.signal(
        OnboardingWorkflow.milestone_reached,
        MilestoneReached(milestone="first_production_workflow"),
    )
    await c.sleep(timedelta(days=9))


@scenario("skip-then-cancel", "OnboardingWorkflow")
async def onboarding_steered(c: Ctx) -> None:
    """Skip a named step, then a cancel signal with its reason."""
    from domain.onboarding import OnboardingInput
    from domain.steering import CancelRequest, SkipRequest
    from domain.tiers import Tier
    from workflows.onboarding import OnboardingWorkflow

    handle = await c.env.client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id="1005", tier=Tier.PROFESSIONAL),
        id="onboarding-1005-replay",
        task_queue=c.queue,
    )
    c.keep("OnboardingWorkflow", handle)
    await query_until(handle, "progress", lambda p: bool(p["actions"]))
    await handle.signal(
        OnboardingWorkflow.skip, SkipRequest(step="email:tips:d3", reason="on the call")
    )
    await c.sleep(timedelta(days=4))
    await handle.signal(OnboardingWorkflow.cancel, CancelRequest(reason="contract void"))
    await handle.result()


async def quiet_hours_start(c: Ctx, customer: str, plan: str) -> None:
    """Put the ``plan`` fixture into the playbooks folder and move the customer's CRM
    time zone so that it is 01:00 there now: the day-0 e-mail waits 7 hours."""
    fixture = HISTORIES.parent.parent / "fixtures" / "playbooks" / f"{plan}.yaml"
    target = Path(os.environ["CSHUB_PLAYBOOKS_DIR"]) / "onboarding" / fixture.name
    shutil.copy(fixture, target)
    now = await c.now()
    offset = (1 - now.hour + 12) % 24 - 12
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    async with httpx.AsyncClient() as http:
        resp = await http.patch(
            f"{c.sandbox.http_url}/crm/v3/objects/companies/{customer}",
            headers={"Authorization": "Bearer test"},
            json={"properties": {"cshub_timezone": zone}},
        )
        resp.raise_for_status()


@scenario("quiet-hours-events", "OnboardingWorkflow")
async def onboarding_quiet_hours_events(c: Ctx) -> None:
    """Started at 01:00 local: the welcome waits out quiet hours (7 h) while product
    events (a first workflow, 12 AI requests, one redelivered) and a milestone signal
    arrive; then to the end of the 3-day plan."""
    from domain.onboarding import MilestoneReached, OnboardingInput, ProductEvent
    from domain.tiers import ProductEventType, Tier
    from workflows.onboarding import OnboardingWorkflow

    await quiet_hours_start(c, "1004", "quiet_events")
    handle = await c.env.client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id="1004", tier=Tier.STARTER, plan="quiet_events"),
        id="onboarding-1004-quiet",
        task_queue=c.queue,
    )
    c.keep("OnboardingWorkflow", handle)
    await c.sleep(timedelta(hours=1))
    events = [ProductEvent(type=ProductEventType.WORKFLOW_CREATED, event_id="w1")]
    events += [ProductEvent(type=ProductEventType.AI_REQUEST, event_id=f"a{i}") for i in range(12)]
    events.append(ProductEvent(type=ProductEventType.AI_REQUEST, event_id="a3"))
    for ev in events:
        await handle.signal(OnboardingWorkflow.product_event, ev)
    await handle.signal(
        OnboardingWorkflow.milestone_reached, MilestoneReached(milestone="no_such_milestone")
    )
    await c.sleep(timedelta(days=3))
    await handle.result()


@scenario("experiment-arm-and-holdout", "OnboardingWorkflow")
async def onboarding_experiment(c: Ctx) -> None:
    """A running experiment on the onboarding play: one Professional customer drawn into
    the enterprise-plan arm, one into the hold-out (nothing sent, milestones tracked);
    product events reach the measured milestone; recorded past its day-14 deadline."""
    from datetime import UTC

    from domain.experiments import Experiment, assign
    from domain.onboarding import OnboardingInput, ProductEvent
    from domain.tiers import ProductEventType, Tier
    from workflows.onboarding import OnboardingWorkflow

    data: dict[str, Any] = {
        "name": "replay_kickoff",
        "play": "onboarding",
        "arms": [
            {"name": "standard", "weight": 40, "plan": "professional"},
            {"name": "sponsor", "weight": 40, "plan": "enterprise"},
            {"name": "holdout", "weight": 20, "holdout": True},
        ],
        "eligibility": {"tiers": ["professional"]},
        "outcome": {"milestone": "production_deployment", "by_day": 14},
        "status": "running",
    }
    now = datetime.now(UTC)
    for k in range(1000):  # a salt that sends 1006 to the sponsor arm, 1005 to the hold-out
        exp = Experiment.model_validate({**data, "salt": f"r{k}"})
        if (assign(exp, "1006", now).arm, assign(exp, "1005", now).arm) == ("sponsor", "holdout"):
            break
    folder = Path(os.environ["CSHUB_PLAYBOOKS_DIR"]) / "experiments"
    folder.mkdir(exist_ok=True)
    path = folder / "replay_kickoff.yaml"
    path.write_text(exp.model_dump_json(), encoding="utf-8")
    try:
        handles = []
        for customer in ("1006", "1005"):
            handle = await c.env.client.start_workflow(
                OnboardingWorkflow.run,
                OnboardingInput(customer_id=customer, tier=Tier.PROFESSIONAL),
                id=f"onboarding-{customer}-experiment-replay",
                task_queue=c.queue,
            )
            name = "" if customer == "1006" else "-holdout"
            c.keep("OnboardingWorkflow", handle, name)
            handles.append(handle)
        for handle in handles:
            await query_until(handle, "progress", lambda p: p.get("experiment") is not None)
        await c.sleep(timedelta(days=2))
        for handle in handles:
            for n in range(3):
                await handle.signal(
                    OnboardingWorkflow.product_event,
                    ProductEvent(type=ProductEventType.WORKFLOW_CREATED, event_id=f"w{n}"),
                )
        await c.sleep(timedelta(days=13))
    finally:
        path.unlink(missing_ok=True)


# ------------------------------------------------------------------------ dunning / churn
@scenario("paid-after-retry", "DunningWorkflow")
async def dunning_paid(c: Ctx) -> None:
    """What the Stripe route does (signal-with-start), Stripe's retry failing on day 1,
    another invoice paid, then this one paid on day 4."""
    from domain.dunning import DunningInput, PaymentFailed, PaymentSucceeded
    from workflows.dunning import DunningWorkflow

    await local_noon(c, "1004")
    handle = await c.env.client.start_workflow(
        DunningWorkflow.run,
        DunningInput(customer_id="1004", invoice_id="in_2", amount_due_cents=9900, currency="usd"),
        id="dunning-1004",
        task_queue=c.queue,
        start_signal="payment_failed",
        start_signal_args=[PaymentFailed(invoice_id="in_2", event_id="evt_1")],
    )
    c.keep("DunningWorkflow", handle)
    await c.sleep(timedelta(days=1))
    await handle.signal(
        DunningWorkflow.payment_failed,
        PaymentFailed(invoice_id="in_2", attempt_count=2, event_id="evt_2"),
    )
    await c.sleep(timedelta(days=3))
    await handle.signal(DunningWorkflow.payment_succeeded, PaymentSucceeded(invoice_id="in_x"))
    await c.sleep(timedelta(hours=1))
    await handle.signal(
        DunningWorkflow.payment_succeeded, PaymentSucceeded(invoice_id="in_2", event_id="evt_p")
    )
    await handle.result()


async def steered_campaign(c: Ctx, case_prefix: str, workflow_type: str) -> None:
    """tests/workflows/test_steering.py's case: pause across the first step, resume, skip
    the next one, cancel with a reason."""
    from domain.steering import CancelRequest, PauseRequest, ResumeRequest, SkipRequest
    from tests.workflows.campaign_helpers import TIMEZONES
    from tests.workflows.test_steering import CASES

    (case,) = [k for k in CASES if k.id_prefix == case_prefix]
    wf = case.workflow
    await local_noon(c, case.customer)
    today = (await c.now()).astimezone(ZoneInfo(TIMEZONES[case.customer])).date()
    handle = await c.env.client.start_workflow(
        wf.run,
        case.make_input(case.customer, today),
        id=f"{case.id_prefix}-{case.customer}",
        task_queue=c.queue,
    )
    c.keep(workflow_type, handle)

    def next_is(step: str) -> Callable[[dict[str, Any]], bool]:
        return lambda p: (p.get("next_action") or {}).get("step") == step

    await query_until(handle, "progress", next_is(case.first))
    await handle.signal(wf.pause, PauseRequest(reason="customer asked for a break"))
    await c.sleep(timedelta(days=case.first_due_days))
    await handle.signal(wf.resume, ResumeRequest())
    await query_until(handle, "progress", next_is(case.second))
    await handle.signal(wf.skip, SkipRequest(reason="called them instead"))
    await c.sleep(timedelta(days=case.second_due_days - case.first_due_days, hours=1))
    await handle.signal(wf.cancel, CancelRequest(reason="contract ended early"))
    await handle.result()


@scenario("steered", "DunningWorkflow")
async def dunning_steered(c: Ctx) -> None:
    await steered_campaign(c, "dunning", "DunningWorkflow")


@scenario("steered", "ChurnPreventionWorkflow")
async def churn_steered(c: Ctx) -> None:
    await steered_campaign(c, "churn", "ChurnPreventionWorkflow")


@scenario("recovered", "ChurnPreventionWorkflow")
async def churn_recovered(c: Ctx) -> None:
    """Weekly checks with health updates and a risk signal (one redelivered): escalated
    below 50, recovered at 75+ twice in a row."""
    from domain.churn import ChurnPreventionInput, HealthUpdated, RiskFactor, RiskSignal
    from workflows.churn import ChurnPreventionWorkflow as wf

    await local_noon(c, "1005")
    handle = await c.env.client.start_workflow(
        wf.run,
        ChurnPreventionInput(
            customer_id="1005",
            risk_factors=[RiskFactor.USAGE_DROP, RiskFactor.SUPPORT_SPIKE],
            health_score=55,
        ),
        id="churn-1005",
        task_queue=c.queue,
    )
    c.keep("ChurnPreventionWorkflow", handle)
    start = await c.now()
    nps = RiskSignal(factor=RiskFactor.NPS_DETRACTOR, event_id="nps-1")
    for day, signal, arg in (
        (2, "health_updated", HealthUpdated(score=45)),
        (4, "risk_signal", nps),
        (4.1, "risk_signal", nps),  # redelivered
        (10, "health_updated", HealthUpdated(score=75)),
        (15, "health_updated", HealthUpdated(score=80)),
    ):
        await c.skip_to(start + timedelta(days=day))
        await handle.signal(signal, arg)
    await handle.result()


# ---------------------------------------------------------------------------- win-back
@scenario("completed", "WinBackWorkflow")
async def winback_completed(c: Ctx) -> None:
    """Days 1, 7, 14, 30 and 60, no answer: completed."""
    from domain.winback import WinBackInput
    from workflows.winback import WinBackWorkflow

    await local_noon(c, "1001")
    handle = await c.env.client.start_workflow(
        WinBackWorkflow.run,
        WinBackInput(customer_id="1001", reason="moved to a competitor"),
        id="winback-1001",
        task_queue=c.queue,
    )
    c.keep("WinBackWorkflow", handle)
    await handle.result()


@scenario("steered", "WinBackWorkflow")
async def winback_steered(c: Ctx) -> None:
    await steered_campaign(c, "winback", "WinBackWorkflow")


# ----------------------------------------------------------------------------- renewal
@scenario("steered", "RenewalWorkflow")
async def renewal_steered(c: Ctx) -> None:
    await steered_campaign(c, "renewal", "RenewalWorkflow")


@scenario("renewed", "RenewalWorkflow")
async def renewal_renewed(c: Ctx) -> None:
    """Signal-with-start (as the Stripe route does) 20 days before the date, the date
    moved, reminders, renewed on the day: continue-as-new into the next term (both runs
    are kept), a redelivered renewal ignored."""
    from domain.renewal import RenewalDateChanged, RenewalInput, Renewed
    from workflows.renewal import RenewalWorkflow

    customer = "1004"
    await local_noon(c, customer)
    zone = ZoneInfo("Europe/London")
    today = (await c.now()).astimezone(zone).date()
    renewal = today + timedelta(days=20)
    handle = await c.env.client.start_workflow(
        RenewalWorkflow.run,
        RenewalInput(customer_id=customer, renewal_date=renewal),
        id=f"renewal-{customer}",
        task_queue=c.queue,
        start_signal="renewal_date_changed",
        start_signal_args=[RenewalDateChanged(renewal_date=renewal, event_id="evt_start")],
    )
    c.keep("RenewalWorkflow", handle)
    await c.sleep(timedelta(days=2))
    renewal += timedelta(days=3)
    await handle.signal(
        RenewalWorkflow.renewal_date_changed,
        RenewalDateChanged(renewal_date=renewal, event_id="evt_moved"),
    )
    await c.skip_to(datetime.combine(renewal, dtime(12), tzinfo=zone))
    latest = c.env.client.get_workflow_handle(f"renewal-{customer}")
    await latest.signal(RenewalWorkflow.renewed, Renewed(event_id="evt_renewed"))
    await query_until(latest, "progress", lambda p: p.get("term") == 2)
    await latest.signal(RenewalWorkflow.renewed, Renewed(event_id="evt_renewed"))
    await c.sleep(timedelta(days=1))
    c.keep("RenewalWorkflow", latest, "-next-term", latest=True)


@scenario("churned", "RenewalWorkflow")
async def renewal_churned(c: Ctx) -> None:
    """Signal-with-start 40 days before the date, then the customer churns (Stripe's
    subscription.deleted): CRM note, the CSM's Slack alert, the win-back starts."""
    from domain.renewal import Churned, RenewalDateChanged, RenewalInput
    from workflows.renewal import RenewalWorkflow

    customer = "1005"
    await local_noon(c, customer)
    renewal = (await c.now()).date() + timedelta(days=40)
    handle = await c.env.client.start_workflow(
        RenewalWorkflow.run,
        RenewalInput(customer_id=customer, renewal_date=renewal),
        id=f"renewal-{customer}",
        task_queue=c.queue,
        start_signal="renewal_date_changed",
        start_signal_args=[RenewalDateChanged(renewal_date=renewal, event_id="evt_start")],
    )
    c.keep("RenewalWorkflow", handle)
    await c.sleep(timedelta(days=1))
    await handle.signal(
        RenewalWorkflow.churned,
        Churned(reason="subscription cancelled in Stripe", event_id="evt_deleted"),
    )
    await handle.result()
    winback = c.env.client.get_workflow_handle(f"winback-{customer}")
    with contextlib.suppress(Exception):
        await winback.terminate("recorded the renewal only")


# ------------------------------------------------------------------------- ticket SLA
EASTERN = ZoneInfo("America/New_York")


async def next_weekday_at(c: Ctx, weekday: int, at: dtime) -> datetime:
    now = (await c.now()).astimezone(EASTERN)
    day = now.date() + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime.combine(day, at, tzinfo=EASTERN)


@scenario("enterprise-escalation", "TicketSlaWorkflow", "CsatSurveyWorkflow")
async def ticket_sla_escalation(c: Ctx) -> None:
    """An enterprise urgent ticket at 03:00 on a Saturday: warning, first-response breach
    (level 1), the agent's reply, pending for 10 hours, reopened, resolution breach
    (level 2), solved: the CSAT survey starts (kept too)."""
    from domain.ticket_sla import AgentReplied, TicketSlaInput, TicketStatusChanged
    from tests.zendesk_tickets import create_ticket
    from workflows.ticket_sla import TicketSlaWorkflow as wf

    created = await next_weekday_at(c, 5, dtime(3))
    await c.skip_to(created)
    ticket = await create_ticket(c.sandbox, 8109, "urgent", created)
    handle = await c.env.client.start_workflow(
        wf.run, TicketSlaInput(ticket_id=ticket), id=f"ticket-sla-{ticket}", task_queue=c.queue
    )
    c.keep("TicketSlaWorkflow", handle)
    await query_until(handle, "sla_status", lambda s: bool(s["clocks"]))
    await c.sleep(timedelta(minutes=16))
    await query_until(handle, "sla_status", lambda s: s["level"] == 1)
    await handle.signal(wf.agent_replied, AgentReplied())
    await handle.signal(wf.status_changed, TicketStatusChanged(status="pending"))
    await c.sleep(timedelta(hours=10))
    await handle.signal(wf.status_changed, TicketStatusChanged(status="open"))
    await c.sleep(timedelta(hours=4))
    await query_until(handle, "sla_status", lambda s: s["level"] == 2)
    await set_ticket_status(c, ticket, "solved")
    await handle.signal(wf.status_changed, TicketStatusChanged(status="solved"))
    await handle.result()
    csat = c.env.client.get_workflow_handle(f"csat-{ticket}")
    await query_until(csat, "status", lambda s: s["status"] != "starting")
    c.keep("CsatSurveyWorkflow", csat, "-csat")


@scenario("steered", "TicketSlaWorkflow")
async def ticket_sla_steered(c: Ctx) -> None:
    """Paused across the warning and the breach, resumed (the breach escalates once),
    cancelled."""
    from domain.steering import CancelRequest, PauseRequest, ResumeRequest
    from domain.ticket_sla import TicketSlaInput
    from tests.zendesk_tickets import create_ticket
    from workflows.ticket_sla import TicketSlaWorkflow as wf

    now = await c.now()
    created = datetime.combine(now.date() + timedelta(days=1), dtime(3), tzinfo=now.tzinfo)
    await c.skip_to(created)
    ticket = await create_ticket(c.sandbox, 8109, "urgent", created)
    handle = await c.env.client.start_workflow(
        wf.run, TicketSlaInput(ticket_id=ticket), id=f"ticket-sla-{ticket}", task_queue=c.queue
    )
    c.keep("TicketSlaWorkflow", handle)
    await query_until(handle, "sla_status", lambda s: bool(s["clocks"]))
    await handle.signal(wf.pause, PauseRequest(reason="customer on a call with us"))
    await c.sleep(timedelta(minutes=20))
    await handle.signal(wf.resume, ResumeRequest())
    await query_until(handle, "sla_status", lambda s: s["level"] == 1)
    await handle.signal(wf.cancel, CancelRequest(reason="duplicate ticket"))
    await handle.result()


@scenario("parked-unfetchable", "TicketSlaWorkflow")
async def ticket_sla_parked(c: Ctx) -> None:
    """A ticket Zendesk does not have (deleted, or not visible to the token): the read
    fails for good, the workflow parks (one ops alert), takes two later events, and ends
    after its parking window."""
    from domain.ticket_sla import TicketSlaInput, TicketStatusChanged
    from workflows.ticket_sla import TicketSlaWorkflow as wf

    ticket = "990017"
    handle = await c.env.client.start_workflow(
        wf.run, TicketSlaInput(ticket_id=ticket), id=f"ticket-sla-{ticket}", task_queue=c.queue
    )
    c.keep("TicketSlaWorkflow", handle)
    await query_until(handle, "sla_status", lambda s: bool(s.get("parked")))
    await handle.signal(wf.status_changed, TicketStatusChanged(status="open", event_id="e1"))
    await handle.signal(wf.status_changed, TicketStatusChanged(status="solved", event_id="e2"))
    await c.sleep(timedelta(days=8))
    await handle.result()


# ----------------------------------------------------------------------------- surveys
async def set_ticket_status(c: Ctx, ticket_id: str, status: str) -> None:
    async with httpx.AsyncClient(
        base_url=c.sandbox.http_url, auth=("automation@cshub.example/token", "sandbox")
    ) as http:
        resp = await http.put(
            f"/api/v2/tickets/{ticket_id}.json", json={"ticket": {"status": status}}
        )
        resp.raise_for_status()


@scenario("low-score", "CsatSurveyWorkflow")
async def csat_low_score(c: Ctx) -> None:
    """Sent 24 hours after the solve, answered 2/5 (a second click ignored): recorded on
    the ticket and the company, a CSM task and alert."""
    from domain.surveys import CsatAnswered, CsatInput
    from workflows.csat import CsatSurveyWorkflow as wf

    await set_ticket_status(c, "5001", "solved")
    await local_noon(c, "1007")
    handle = await c.env.client.start_workflow(
        wf.run,
        CsatInput(ticket_id="5001", solved_at=await c.now()),
        id="csat-5001",
        task_queue=c.queue,
    )
    c.keep("CsatSurveyWorkflow", handle)
    await c.sleep(timedelta(hours=25))
    status = await query_until(handle, "status", lambda s: s["status"] == "sent")
    survey = status.get("survey_id")
    await handle.signal(
        wf.csat_answered, CsatAnswered(score=2, survey_id=survey, event_id="survey:csat:5001:x")
    )
    await handle.signal(wf.csat_answered, CsatAnswered(score=5, survey_id=survey))
    await handle.result()


@scenario("steered", "CsatSurveyWorkflow")
async def csat_steered(c: Ctx) -> None:
    """Paused across the send time, resumed (sent), cancelled with the old payload."""
    from domain.steering import PauseRequest, ResumeRequest
    from domain.surveys import CancelSurvey, CsatInput
    from workflows.csat import CsatSurveyWorkflow as wf

    await set_ticket_status(c, "5001", "solved")
    await local_noon(c, "1007")
    handle = await c.env.client.start_workflow(
        wf.run,
        CsatInput(ticket_id="5001", customer_id="1007", solved_at=await c.now()),
        id="csat-steer-5001",
        task_queue=c.queue,
    )
    c.keep("CsatSurveyWorkflow", handle)
    await query_until(handle, "progress", lambda p: p.get("survey_due_at") is not None)
    await handle.signal(wf.pause, PauseRequest(reason="ticket under review"))
    await c.sleep(timedelta(hours=25))
    await handle.signal(wf.resume, ResumeRequest())
    await query_until(handle, "progress", lambda p: p["status"] == "sent")
    await handle.signal(wf.cancel, CancelSurvey())
    await handle.result()


@scenario("answered", "NpsSurveyWorkflow")
async def nps_answered(c: Ctx) -> None:
    """This quarter's survey to both contacts, a detractor (redelivered, then a second
    click) and a promoter answer, then the next quarter's timer (recorded 100 days on:
    the next survey and, where suggested, continue-as-new)."""
    from domain.surveys import NpsAnswered, NpsInput
    from tests.workflows.test_surveys import links_of, query_of
    from workflows.nps import NpsSurveyWorkflow as wf

    await local_noon(c, "1003")
    handle = await c.env.client.start_workflow(
        wf.run, NpsInput(customer_id="1003"), id="nps-1003", task_queue=c.queue
    )
    c.keep("NpsSurveyWorkflow", handle)
    progress = await query_until(handle, "progress", lambda p: p.get("quarter") is not None)
    due = progress.get("next_survey_at")
    if not progress["asked"] and due is not None:
        await c.skip_to(datetime.fromisoformat(due) + timedelta(minutes=5))
    await query_until(handle, "progress", lambda p: len(p["asked"]) + len(p["skipped"]) >= 2)

    async def sent() -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            box = (await http.get(f"{c.sandbox.http_url}/api/outbox")).json()
        return [e for e in box["emails"] if e["template"] == "nps_survey"]

    emails: list[dict[str, Any]] = []

    async def both_sent() -> bool:
        nonlocal emails
        emails = await sent()
        return len(emails) >= 2

    await until(both_sent)
    links = {e["headers"]["X-Cshub-Contact-Id"]: links_of(e) for e in emails}

    def answer(contact: str, score: int, event: str) -> NpsAnswered:
        q = query_of(links[contact][score])
        return NpsAnswered(
            contact_id=contact,
            score=score,
            survey_id=q["survey"],
            quarter=q["quarter"],
            event_id=event,
        )

    await handle.signal(wf.nps_answered, answer("2003", 3, "e1"))
    await handle.signal(wf.nps_answered, answer("2003", 3, "e1"))
    await handle.signal(wf.nps_answered, answer("2003", 9, "e2"))
    await handle.signal(wf.nps_answered, answer("2004", 10, "e3"))
    await query_until(handle, "status", lambda s: len(s["answers"]) == 2)
    await c.sleep(timedelta(days=100))
    c.keep("NpsSurveyWorkflow", handle, "-next-quarter", latest=True)


@scenario("steered", "NpsSurveyWorkflow")
async def nps_steered(c: Ctx) -> None:
    """Paused before next quarter's send time, resumed (asked), cancelled."""
    from domain.steering import PauseRequest, ResumeRequest
    from domain.surveys import CancelSurvey, NpsInput
    from workflows.nps import NpsSurveyWorkflow as wf

    await local_noon(c, "1003")
    handle = await c.env.client.start_workflow(
        wf.run,
        NpsInput(customer_id="1003", ask_this_quarter=False),
        id="nps-steer-1003",
        task_queue=c.queue,
    )
    c.keep("NpsSurveyWorkflow", handle)
    started = await query_until(handle, "progress", lambda p: p.get("next_survey_at") is not None)
    await handle.signal(wf.pause, PauseRequest(reason="customer asked for a break"))
    await c.skip_to(datetime.fromisoformat(started["next_survey_at"]) + timedelta(days=1))
    await handle.signal(wf.resume, ResumeRequest())
    await query_until(handle, "progress", lambda p: len(p["asked"]) == 2)
    await handle.signal(wf.cancel, CancelSurvey(reason="no more surveys"))
    await handle.result()


# ------------------------------------------------------------------------------ health
@scenario(
    "scored-portfolio",
    "HealthSweepWorkflow",
    "HealthSweepPageWorkflow",
    "HealthOutreachWorkflow",
    "HealthDigestWorkflow",
)
async def health_sweep(c: Ctx) -> None:
    """30 varied companies (tests/workflows/test_health_sweep.py's) and the 10 demo ones,
    swept in pages of 20, one page per run (continue-as-new); the outreach the triggers
    start; then the weekly digest of the result. Keeps the sweep's first and last runs,
    its first page, one outreach workflow and the digest."""
    from activities.health_digest import HealthDigestInput
    from domain.health_sweep import HealthSweepInput, outreach_workflow_id
    from tests.workflows.test_health_sweep import bulk_companies
    from workflows.health_digest import HealthDigestWorkflow
    from workflows.health_sweep import HealthSweepWorkflow

    await bulk_companies(c.sandbox, 30, 300001)
    sweep_id = "health-sweep-replay"
    handle = await c.env.client.start_workflow(
        HealthSweepWorkflow.run,
        HealthSweepInput(page_size=20, pages_per_run=1, max_calls_per_10s=50),
        id=sweep_id,
        task_queue=c.queue,
    )
    c.keep("HealthSweepWorkflow", handle)
    result = await handle.result()
    assert result.sweep_at is not None
    c.keep("HealthSweepWorkflow", handle, "-last-run", latest=True)
    c.keep("HealthSweepPageWorkflow", c.env.client.get_workflow_handle(f"{sweep_id}/page-1"))
    ids = [str(n) for n in range(1001, 1011)] + [str(n) for n in range(300001, 300031)]
    for cid in ids:
        outreach = c.env.client.get_workflow_handle(outreach_workflow_id(cid, result.sweep_at))
        try:
            await outreach.result()
        except Exception:  # not started for this company
            continue
        c.keep("HealthOutreachWorkflow", outreach, "-from-sweep")
        break
    digest = await c.env.client.start_workflow(
        HealthDigestWorkflow.run, HealthDigestInput(), id="health-digest-replay", task_queue=c.queue
    )
    c.keep("HealthDigestWorkflow", digest)
    await digest.result()


@scenario("pages-per-activity", "HealthSweepWorkflow", "HealthSweepPageWorkflow")
async def health_sweep_pages_per_activity(c: Ctx) -> None:
    """The same 40 companies in pages of 10, three pages per activity, six pages per run:
    a run of three pages, then one cut short by the end of the portfolio."""
    from domain.health_sweep import HealthSweepInput
    from tests.workflows.test_health_sweep import bulk_companies
    from workflows.health_sweep import HealthSweepWorkflow

    await bulk_companies(c.sandbox, 30, 300001)
    sweep_id = "health-sweep-pages-replay"
    handle = await c.env.client.start_workflow(
        HealthSweepWorkflow.run,
        HealthSweepInput(page_size=10, pages_per_activity=3, pages_per_run=6, max_calls_per_10s=50),
        id=sweep_id,
        task_queue=c.queue,
    )
    c.keep("HealthSweepWorkflow", handle)
    result = await handle.result()
    assert (result.pages_done, result.counts.scored) == (4, 40), result
    c.keep("HealthSweepPageWorkflow", c.env.client.get_workflow_handle(f"{sweep_id}/page-1"))


@scenario("risk-signs", "HealthSweepPageWorkflow")
async def health_sweep_risk_signs(c: Ctx) -> None:
    """The ten demo companies, one with a support spike (7 tickets against 2) and one
    whose payment failed: the page starts a churn campaign for each warning sign (patch
    sweep-risk-detectors), with its evidence."""
    from domain.health_sweep import HealthSweepInput
    from wiring.connectors import build_connectors
    from workflows.health_sweep import HealthSweepWorkflow

    crm = build_connectors(c.settings).crm
    await asyncio.to_thread(
        crm.update_company, "1004", {"cshub_tickets_30d": "7", "cshub_tickets_prev_30d": "2"}
    )
    await asyncio.to_thread(crm.update_company, "1006", {"cshub_payment_status": "failed"})
    sweep_id = "health-sweep-risk-replay"
    handle = await c.env.client.start_workflow(
        HealthSweepWorkflow.run,
        HealthSweepInput(max_calls_per_10s=50),
        id=sweep_id,
        task_queue=c.queue,
    )
    result = await handle.result()
    assert result.counts.risks == {"payment_trouble": 1, "support_spike": 1}, result.counts
    c.keep("HealthSweepPageWorkflow", c.env.client.get_workflow_handle(f"{sweep_id}/page-1"))


@scenario("steered", "HealthOutreachWorkflow")
async def outreach_steered(c: Ctx) -> None:
    """Started paused (signal-with-start), the next action skipped, resumed."""
    from domain.steering import PauseRequest, ResumeRequest, SkipRequest
    from tests.workflows.test_steering import _outreach_input
    from workflows.health_outreach import HealthOutreachWorkflow as wf

    handle = await c.env.client.start_workflow(
        wf.run,
        _outreach_input("1003", await c.now()),
        id="health-outreach-steer-1003",
        task_queue=c.queue,
        start_signal="pause",
        start_signal_args=[PauseRequest(reason="CSM on it")],
    )
    c.keep("HealthOutreachWorkflow", handle)
    await handle.signal(wf.skip, SkipRequest(reason="called them already"))
    await asyncio.sleep(1)
    await handle.signal(wf.resume, ResumeRequest())
    await handle.result()


async def decline_outreach(c: Ctx, customer: str, case: str) -> WorkflowHandle[Any, Any]:
    """A sweep's outreach for a drop into At risk (its decline alert, two tasks), kept."""
    from tests.workflows.test_steering import _outreach_input

    handle = await c.env.client.start_workflow(
        "HealthOutreachWorkflow",
        _outreach_input(customer, await c.now()),
        id=f"health-outreach-{case}-{customer}",
        task_queue=c.queue,
    )
    c.keep("HealthOutreachWorkflow", handle)
    return handle


@scenario("decline-alert-escalated", "HealthOutreachWorkflow")
async def outreach_decline_escalated(c: Ctx) -> None:
    """A decline alert nobody clicks: the outreach waits out the alert's window (patch
    health-alert-escalation) and escalates once."""
    await (await decline_outreach(c, "1003", "escalated")).result()


@scenario("decline-alert-acknowledged", "HealthOutreachWorkflow")
async def outreach_decline_acknowledged(c: Ctx) -> None:
    """A decline alert acknowledged from Slack (``alert_acknowledged`` with the message's
    ts) an hour later: the outreach ends without escalating."""
    handle = await decline_outreach(c, "1004", "acknowledged")
    await query_until(handle, "progress", lambda actions: len(actions) >= 3)
    await c.sleep(timedelta(hours=1))
    async with httpx.AsyncClient() as http:
        box = (await http.get(f"{c.sandbox.http_url}/api/outbox")).json()
    [ts] = [m["ts"] for m in box["slack_messages"] if "cshub_snooze_7" in str(m["blocks"])]
    await signal_by_name(handle, "alert_acknowledged", ts=ts, by="dana")
    await handle.result()


# ------------------------------------------------------------------------------- usage
@scenario("snapshots-steered", "UsageSnapshotWorkflow")
async def usage_steered(c: Ctx) -> None:
    """Snapshots applied (one redelivered, one older), a pause that queues one, resume,
    another pause and a cancel that reports the queued one as not applied."""
    from domain.steering import CancelRequest, PauseRequest, ResumeRequest
    from domain.usage import UsageFigures, UsageSnapshot, UsageSnapshotInput
    from workflows.usage_snapshot import UsageSnapshotWorkflow as wf

    now = await c.now()

    def snap(minutes: int, users: int, event: str) -> UsageSnapshot:
        return UsageSnapshot(
            occurred_at=now + timedelta(minutes=minutes),
            figures=UsageFigures(active_users=users),
            event_id=event,
        )

    handle = await c.env.client.start_workflow(
        wf.run,
        UsageSnapshotInput(customer_id="1004", idle_seconds=3600),
        id="usage-1004",
        task_queue=c.queue,
        start_signal="snapshot",
        start_signal_args=[snap(0, 11, "u1")],
    )
    c.keep("UsageSnapshotWorkflow", handle)
    await query_until(handle, "progress", lambda p: p["applied"] == 1)
    await handle.signal(wf.snapshot, snap(0, 11, "u1"))  # redelivered
    await handle.signal(wf.snapshot, snap(-5, 9, "u0"))  # older than the one applied
    await c.sleep(timedelta(minutes=20))
    await handle.signal(wf.pause, PauseRequest(reason="CRM migration"))
    await handle.signal(wf.snapshot, snap(30, 12, "u2"))
    await c.sleep(timedelta(hours=2))
    await handle.signal(wf.resume, ResumeRequest())
    await query_until(handle, "progress", lambda p: p["applied"] == 2)
    await handle.signal(wf.pause, PauseRequest())
    await handle.signal(wf.snapshot, snap(200, 13, "u3"))
    await query_until(handle, "progress", lambda p: p["queued"] == 1)
    await handle.signal(wf.cancel, CancelRequest(reason="customer offboarded"))
    await handle.result()


@scenario("idle-end", "UsageSnapshotWorkflow")
async def usage_idle(c: Ctx) -> None:
    """Two snapshots a few minutes apart, then none: the workflow ends when idle."""
    from domain.usage import UsageFigures, UsageSnapshot, UsageSnapshotInput
    from workflows.usage_snapshot import UsageSnapshotWorkflow as wf

    now = await c.now()
    handle = await c.env.client.start_workflow(
        wf.run,
        UsageSnapshotInput(customer_id="1001"),
        id="usage-1001",
        task_queue=c.queue,
        start_signal="snapshot",
        start_signal_args=[
            UsageSnapshot(occurred_at=now, figures=UsageFigures(active_users=5), event_id="a")
        ],
    )
    c.keep("UsageSnapshotWorkflow", handle)
    await query_until(handle, "progress", lambda p: p["applied"] == 1)
    await c.sleep(timedelta(seconds=30))
    await handle.signal(
        wf.snapshot,
        UsageSnapshot(
            occurred_at=now + timedelta(seconds=30),
            figures=UsageFigures(active_users=6, seats=10),
            event_id="b",
        ),
    )
    await handle.result()


@scenario("negative-comment-alerted", "CustomerTextWorkflow")
async def customer_text_alerted(c: Ctx) -> None:
    """A negative Spanish CSAT comment on ticket 5001 (Atlas, Enterprise): read, recorded
    on the company, quoted to the CSM."""
    from domain.customer_text import CustomerTextInput, TextSource, text_workflow_id
    from workflows.customer_text import CustomerTextWorkflow as wf

    event_id = "survey:comment:csat:5001:replay"
    handle = await c.env.client.start_workflow(
        wf.run,
        CustomerTextInput(
            source=TextSource.CSAT,
            ticket_id="5001",
            score=1,
            event_id=event_id,
            text="Pésimo servicio, llevamos tres días esperando y nadie nos contesta.",
        ),
        id=text_workflow_id(event_id),
        task_queue=c.queue,
    )
    c.keep("CustomerTextWorkflow", handle)
    await handle.result()


@scenario("would-return-alerted", "ExitDetailsWorkflow")
async def exit_details_alerted(c: Ctx) -> None:
    """The exit survey's second page for Pixel Harbor (1002): would consider returning
    ("maybe"), with a comment: recorded, noted, read, the CSM alerted with a task."""
    from domain.winback import (
        ExitDetailsInput,
        ExitReason,
        WouldReturn,
        exit_details_workflow_id,
    )
    from workflows.exit_details import ExitDetailsWorkflow as wf

    handle = await c.env.client.start_workflow(
        wf.run,
        ExitDetailsInput(
            customer_id="1002",
            campaign="replay",
            reason=ExitReason.TOO_EXPENSIVE,
            would_return=WouldReturn.MAYBE,
            comment="Cheaper seats for small teams",
        ),
        id=exit_details_workflow_id("replay-1002"),
        task_queue=c.queue,
    )
    c.keep("ExitDetailsWorkflow", handle)
    await handle.result()


@scenario("unhappy-answer-alerted", "OnboardingSurveyWorkflow")
async def onboarding_survey_alerted(c: Ctx) -> None:
    """Northwind (1003) answers the day-30 onboarding survey 4/10, "not yet": recorded
    on the company, noted, read, the CSM alerted with a task."""
    from domain.onboarding_survey import (
        OnboardingSurveyAnswers,
        ValueSoFar,
        onboarding_survey_key,
        onboarding_survey_workflow_id,
    )
    from workflows.onboarding_survey import OnboardingSurveyWorkflow as wf

    handle = await c.env.client.start_workflow(
        wf.run,
        OnboardingSurveyAnswers(
            customer_id="1003",
            day=30,
            score=4,
            value=ValueSoFar.NOT_YET,
            comment="We still cannot connect our warehouse",
        ),
        id=onboarding_survey_workflow_id(onboarding_survey_key("1003", 30) + "-replay"),
        task_queue=c.queue,
    )
    c.keep("OnboardingSurveyWorkflow", handle)
    await handle.result()


@scenario("call-logged", "LogCallWorkflow")
async def call_logged(c: Ctx) -> None:
    """A CSM logs a call from the missed-milestone alert of an onboarding journey that
    has ended (the note is written, the journey cannot be told)."""
    from domain.slack_actions import LoggedCall, ModalContext
    from workflows.log_call import LogCallWorkflow as wf

    handle = await c.env.client.start_workflow(
        wf.run,
        LoggedCall(
            view_id="V0REPLAY",
            context=ModalContext(w="onboarding-1003-gone", c="1003", ch="C0ALERTS", ts="1.000001"),
            outcome="connected",
            note="They found the warehouse connector; trying it this week",
            user_id="U0DANA",
            who="dana",
        ),
        id="log-call-V0REPLAY",
        task_queue=c.queue,
    )
    c.keep("LogCallWorkflow", handle)
    await handle.result()


@scenario("crm-reply-pauses-winback", "CrmEmailReplyWorkflow", actions=True)
async def crm_email_reply(c: Ctx) -> None:
    """Brightleaf (1001) in win-back; two days later its contact's reply is
    logged in HubSpot: read from the CRM, the win-back paused, the CSM told."""
    from domain.inbound_mail import CrmEmailEvent, crm_email_workflow_id
    from domain.winback import WinBackInput
    from tests.webhooks.test_inbound_mail import log_incoming_email
    from workflows.crm_email_reply import CrmEmailReplyWorkflow as wf

    await local_noon(c, "1001")
    await c.env.client.start_workflow(
        "WinBackWorkflow",
        WinBackInput(customer_id="1001", reason="moved to a competitor"),
        id="winback-1001-crm-reply",
        task_queue=c.queue,
    )
    await c.sleep(timedelta(days=2))
    email_id = await log_incoming_email(
        c.sandbox, await c.now(), "2001", "1001", "Re: We miss you", "Call me next week?"
    )
    handle = await c.env.client.start_workflow(
        wf.run,
        CrmEmailEvent(email_id=email_id),
        id=crm_email_workflow_id(email_id),
        task_queue=c.queue,
    )
    c.keep("CrmEmailReplyWorkflow", handle)
    await handle.result()


# ------------------------------------------------------------- steering signals by name
# What an operator sends from the Temporal UI: the steering signals by name with JSON
# payloads, so the same scenario runs on code from before steering (which ignores them,
# and replaying its history proves the ``steering`` patch) and on the current code.
async def signal_by_name(handle: WorkflowHandle[Any, Any], name: str, **payload: Any) -> None:
    await handle.signal(name, payload)


@scenario("ui-steering-signals", "OnboardingWorkflow")
async def onboarding_ui_signals(c: Ctx) -> None:
    """A Starter journey: skip of a named step, pause and resume, cancel."""
    from domain.onboarding import OnboardingInput
    from domain.tiers import Tier
    from workflows.onboarding import OnboardingWorkflow

    handle = await c.env.client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id="1003", tier=Tier.STARTER),
        id="onboarding-1003-ui",
        task_queue=c.queue,
    )
    c.keep("OnboardingWorkflow", handle)
    await c.sleep(timedelta(hours=1))
    await signal_by_name(handle, "skip", step="email:tips:d3", reason="on the call")
    await c.sleep(timedelta(days=4))
    await signal_by_name(handle, "pause", reason="customer on leave")
    await c.sleep(timedelta(days=2))
    await signal_by_name(handle, "resume")
    await c.sleep(timedelta(days=2))
    await signal_by_name(handle, "cancel", reason="contract void")
    await handle.result()


@scenario("ui-steering-signals", "DunningWorkflow")
async def dunning_ui_signals(c: Ctx) -> None:
    """Pause on day 1 across the day-3 e-mail, resume on day 4, skip the next step,
    cancel on day 8; then to the end (older code ignores all four)."""
    from domain.dunning import DunningInput
    from workflows.dunning import DunningWorkflow

    await local_noon(c, "1003")
    handle = await c.env.client.start_workflow(
        DunningWorkflow.run,
        DunningInput(customer_id="1003", invoice_id="in_9", amount_due_cents=4900),
        id="dunning-1003-ui",
        task_queue=c.queue,
    )
    c.keep("DunningWorkflow", handle)
    await c.sleep(timedelta(days=1))
    await signal_by_name(handle, "pause", reason="customer asked for a break")
    await c.sleep(timedelta(days=3))
    await signal_by_name(handle, "resume")
    await signal_by_name(handle, "skip", reason="called them instead")
    await c.sleep(timedelta(days=4))
    await signal_by_name(handle, "cancel", reason="contract ended early")
    await c.sleep(timedelta(days=10))


@scenario("ui-steering-signals", "RenewalWorkflow")
async def renewal_ui_signals(c: Ctx) -> None:
    """75 days before the date: paused across the 60-day reminder, resumed, the next
    reminder skipped, cancelled on day 50."""
    from domain.renewal import RenewalInput
    from workflows.renewal import RenewalWorkflow

    await local_noon(c, "1003")
    today = (await c.now()).astimezone(ZoneInfo("America/New_York")).date()
    handle = await c.env.client.start_workflow(
        RenewalWorkflow.run,
        RenewalInput(customer_id="1003", renewal_date=today + timedelta(days=75)),
        id="renewal-1003-ui",
        task_queue=c.queue,
    )
    c.keep("RenewalWorkflow", handle)
    await c.sleep(timedelta(days=1))
    await signal_by_name(handle, "pause", reason="customer asked for a break")
    await c.sleep(timedelta(days=16))
    await signal_by_name(handle, "resume")
    await signal_by_name(handle, "skip", reason="called them instead")
    await c.sleep(timedelta(days=33))
    await signal_by_name(handle, "cancel", reason="contract ended early")
    await c.sleep(timedelta(days=2))


@scenario("ui-steering-signals", "TicketSlaWorkflow")
async def ticket_sla_ui_signals(c: Ctx) -> None:
    """An enterprise urgent ticket at 03:00: paused across the warning and the breach,
    resumed, an agent reply, solved, then cancelled while the reopen window runs."""
    from domain.ticket_sla import AgentReplied, TicketSlaInput, TicketStatusChanged
    from tests.zendesk_tickets import create_ticket
    from workflows.ticket_sla import TicketSlaWorkflow as wf

    now = await c.now()
    created = datetime.combine(now.date() + timedelta(days=1), dtime(3), tzinfo=now.tzinfo)
    await c.skip_to(created)
    ticket = await create_ticket(c.sandbox, 8109, "urgent", created)
    handle = await c.env.client.start_workflow(
        wf.run, TicketSlaInput(ticket_id=ticket), id=f"ticket-sla-{ticket}", task_queue=c.queue
    )
    c.keep("TicketSlaWorkflow", handle)
    await query_until(handle, "sla_status", lambda s: bool(s["clocks"]))
    await signal_by_name(handle, "pause", reason="customer on a call with us")
    await c.sleep(timedelta(minutes=20))
    await signal_by_name(handle, "resume")
    await c.sleep(timedelta(minutes=5))
    await handle.signal(wf.agent_replied, AgentReplied())
    await c.sleep(timedelta(hours=1))
    await set_ticket_status(c, ticket, "solved")
    await handle.signal(wf.status_changed, TicketStatusChanged(status="solved"))
    await c.sleep(timedelta(minutes=10))
    await signal_by_name(handle, "cancel", reason="duplicate ticket")
    await c.sleep(timedelta(hours=2))


@scenario("ui-steering-signals", "CsatSurveyWorkflow")
async def csat_ui_signals(c: Ctx) -> None:
    """Paused across the send time, resumed, then cancelled with a reason (the survey's
    own ``cancel`` signal, older than steering)."""
    from domain.surveys import CsatInput
    from workflows.csat import CsatSurveyWorkflow as wf

    await set_ticket_status(c, "5003", "solved")
    await local_noon(c, "1005")
    handle = await c.env.client.start_workflow(
        wf.run,
        CsatInput(ticket_id="5003", customer_id="1005", solved_at=await c.now()),
        id="csat-5003-ui",
        task_queue=c.queue,
    )
    c.keep("CsatSurveyWorkflow", handle)
    await query_until(handle, "status", lambda s: s["status"] == "waiting")
    await signal_by_name(handle, "pause", reason="ticket under review")
    await c.sleep(timedelta(hours=25))
    await signal_by_name(handle, "resume")
    await c.sleep(timedelta(hours=1))
    await signal_by_name(handle, "cancel", reason="no more surveys")
    await handle.result()


@scenario("reply-pauses-winback", "CustomerReplyWorkflow")
async def customer_reply(c: Ctx) -> None:
    """A reply to a win-back e-mail pauses the campaign; a reply naming a play that does
    not run pauses nothing; both tell the CSM."""
    from domain.inbound_mail import CustomerReplyInput
    from domain.winback import WinBackInput
    from workflows.customer_reply import CustomerReplyWorkflow as wf
    from workflows.winback import WinBackWorkflow

    await local_noon(c, "1001")
    await c.env.client.start_workflow(
        WinBackWorkflow.run,
        WinBackInput(customer_id="1001", reason="budget"),
        id="winback-1001-reply",
        task_queue=c.queue,
    )
    await c.sleep(timedelta(days=2))
    for name, play in (("", "winback-1001-reply"), ("-no-play", "winback-1001-gone")):
        handle = await c.env.client.start_workflow(
            wf.run,
            CustomerReplyInput(
                customer_id="1001",
                play_workflow_id=play,
                answered_template="winback_we_miss_you",
                subject="Re: We miss you",
                quote="Call me next week?",
                received_at=await c.now(),
            ),
            id=f"customer-reply-replay{name or '-paused'}",
            task_queue=c.queue,
        )
        c.keep("CustomerReplyWorkflow", handle, name)
        await handle.result()


# ---------------------------------------------------------------- issue 19: commands, pressure
@scenario(
    "rejected-command-contact-pressure", "OnboardingWorkflow", "HealthOutreachWorkflow",
    actions=True,
)  # fmt: skip
async def onboarding_rejected_command_and_pressure(c: Ctx) -> None:
    """A Starter journey started at local noon with day-0 product events (held until the
    welcome, then the celebration and nudge dropped by the caps), a health outreach's
    usage warning the same minute (after the welcome), a mistyped pause signal
    (recorded, one ops alert), a pause and a resume by update; the day-1 e-mail
    goes out; three more usage warnings follow, the third held by the day's cap (a
    contact-pressure timer in that outreach), then sent."""
    from domain.onboarding import OnboardingInput, ProductEvent
    from domain.tiers import ProductEventType, Tier
    from tests.workflows.test_contact_pressure import usage_outreach
    from workflows.health_outreach import HealthOutreachWorkflow
    from workflows.onboarding import OnboardingWorkflow

    await local_noon(c, "1003")
    handle = await c.env.client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id="1003", tier=Tier.STARTER),
        id="onboarding-1003-pressure",
        task_queue=c.queue,
    )
    c.keep("OnboardingWorkflow", handle)
    for ev in (
        ProductEvent(type=ProductEventType.WORKFLOW_CREATED, event_id="p1"),
        ProductEvent(type=ProductEventType.USAGE_THRESHOLD, percent=87, event_id="p2"),
    ):
        await handle.signal(OnboardingWorkflow.product_event, ev)
    await query_until(
        handle, "progress", lambda p: any(a["template"] == "welcome" for a in p["actions"])
    )
    outreach = await c.env.client.start_workflow(
        HealthOutreachWorkflow.run,
        usage_outreach(await c.now()),
        id="health-outreach-1003-pressure",
        task_queue=c.queue,
    )
    c.keep("HealthOutreachWorkflow", outreach)
    await outreach.result()
    await handle.signal("pause", {"reasn": "customer asked for a break"})
    await query_until(handle, "progress", lambda p: bool(p["steering"]["rejected"]))
    await handle.execute_update("pause", {"reason": "customer asked for a break"})
    await c.sleep(timedelta(hours=2))
    await handle.execute_update("resume", {})
    await c.sleep(timedelta(days=2))
    await query_until(
        handle,
        "progress",
        lambda p: any(
            a["template"] == "quick_win" and a["outcome"] == "done" for a in p["actions"]
        ),
    )
    # Three more usage warnings after the day-1 e-mail: two fill the day's cap, the
    # third is held (a contact-pressure timer) and sent when the cap allows.
    for n in (1, 2, 3):
        await c.sleep(timedelta(hours=1))
        later = await c.env.client.start_workflow(
            HealthOutreachWorkflow.run,
            usage_outreach(await c.now()),
            id=f"health-outreach-1003-pressure-{n}",
            task_queue=c.queue,
        )
        await later.result()
    c.keep("HealthOutreachWorkflow", later, "-held")


@scenario("mistyped-signals", "OnboardingWorkflow", "RenewalWorkflow")
async def mistyped_signals(c: Ctx) -> None:
    """Signals whose payload does not fit, by name (so the scenario also runs on code from
    before tolerant commands, where the SDK dropped them: replaying that history proves
    the ``tolerant-commands`` patch), between well-typed ones."""
    from datetime import date

    from domain.onboarding import OnboardingInput
    from domain.renewal import RenewalInput
    from domain.tiers import Tier
    from workflows.onboarding import OnboardingWorkflow
    from workflows.renewal import RenewalWorkflow

    onboarding = await c.env.client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id="1003", tier=Tier.STARTER),
        id="onboarding-1003-mistyped",
        task_queue=c.queue,
    )
    c.keep("OnboardingWorkflow", onboarding)
    renewal = await c.env.client.start_workflow(
        RenewalWorkflow.run,
        RenewalInput(customer_id="1005", renewal_date=date(2031, 1, 1)),
        id="renewal-1005-mistyped",
        task_queue=c.queue,
    )
    c.keep("RenewalWorkflow", renewal)
    await query_until(onboarding, "progress", lambda p: bool(p["actions"]))
    await onboarding.signal("pause", {"reasn": "customer asked for a break"})
    await onboarding.signal("milestone_reached", {"milestone": 7})
    await renewal.signal("renewed", {"term_months": "twelve"})
    await renewal.signal("cancel", "customer churned")
    await c.sleep(timedelta(days=2))
    await signal_by_name(onboarding, "pause", reason="customer on leave")
    await c.sleep(timedelta(days=1))
    await signal_by_name(onboarding, "resume")
    await c.sleep(timedelta(days=2))


@scenario("snooze-then-resume", "ResumeLaterWorkflow")
async def resume_later(c: Ctx) -> None:
    """A journey snoozed from Slack for 3 days: paused, then resumed by the timer; a
    snooze of a journey that does not run resumes nothing."""
    from domain.snooze import ResumeLaterInput
    from domain.winback import WinBackInput
    from workflows.resume_later import ResumeLaterWorkflow as wf
    from workflows.winback import WinBackWorkflow

    journey = await c.env.client.start_workflow(
        WinBackWorkflow.run,
        WinBackInput(customer_id="1002", reason="budget"),
        id="winback-1002-snoozed",
        task_queue=c.queue,
    )
    await signal_by_name(journey, "pause", reason="snoozed from Slack")
    for name, target in (("", "winback-1002-snoozed"), ("-gone", "winback-1002-gone")):
        handle = await c.env.client.start_workflow(
            wf.run,
            ResumeLaterInput(workflow_id=target, days=3, by="dana"),
            id=f"resume-later-replay{name}",
            task_queue=c.queue,
        )
        c.keep("ResumeLaterWorkflow", handle, name)
        await handle.result()


# The same churn once a churn cancels the post-onboarding plays (patched): the renewal
# signals customer-year-{id} (none runs here: the failed signal is recorded).
scenario("churned-cancels-year-plays", "RenewalWorkflow")(renewal_churned)


# ---------------------------------------------------------------- post-onboarding plays
@scenario("upgrade-referral-pause-declined", "CustomerYearWorkflow")
async def customer_year_plays(c: Ctx) -> None:
    """A healthy Professional account near its limits, a promoter, from day 97: the
    upgrade checks on days 98 and 112 act, a referral, a 3-day pause across the day-105
    advocacy ask, resume, the upgrade declined, the day-120 QBR with its review pack;
    recorded on day 127."""
    import asyncio as aio

    from domain.customer_year import CustomerYearInput, ReferralMade, UpgradeAnswer
    from domain.tiers import Tier
    from wiring.connectors import build_connectors
    from workflows.customer_year import CustomerYearWorkflow as wf

    crm = build_connectors(c.settings).crm
    props = {
        "cshub_health_score": "88",
        "cshub_health_category": "healthy",
        "cshub_health_category_label": "Healthy",
        "cshub_workflow_runs": "45",
        "cshub_workflow_limit": "50",
        "cshub_nps_last_score": "9",
    }
    await aio.to_thread(crm.update_company, "1006", props)
    await local_noon(c, "1006", 6)
    handle = await c.env.client.start_workflow(
        wf.run,
        CustomerYearInput(customer_id="1006", tier=Tier.PROFESSIONAL, start_day=97),
        id="customer-year-1006-replay",
        task_queue=c.queue,
    )
    c.keep("CustomerYearWorkflow", handle)
    await c.sleep(timedelta(days=2))
    await handle.signal(wf.referral, ReferralMade(referred_customer_id="1010", value_minor=99_000))
    await c.sleep(timedelta(days=5))
    await signal_by_name(handle, "pause", reason="CSM on leave")
    await c.sleep(timedelta(days=3))
    await signal_by_name(handle, "resume")
    await c.sleep(timedelta(days=8))
    await handle.signal(wf.upgrade_outcome, UpgradeAnswer(outcome="declined", note="budget"))
    await c.sleep(timedelta(days=12))


@scenario("starter-monthly-review-pack", "OnboardingWorkflow")
async def onboarding_review_pack(c: Ctx) -> None:
    """A Starter journey to day 60: the day-58 monthly business review's task carries
    the review pack (patched)."""
    from domain.onboarding import OnboardingInput
    from domain.tiers import Tier
    from workflows.onboarding import OnboardingWorkflow

    handle = await c.env.client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id="1004", tier=Tier.STARTER),
        id="onboarding-1004-review-pack",
        task_queue=c.queue,
    )
    c.keep("OnboardingWorkflow", handle)
    await c.sleep(timedelta(days=60))


@scenario("completed-starts-year-plays", "OnboardingWorkflow", "CustomerYearWorkflow")
async def onboarding_completes_into_year_plays(c: Ctx) -> None:
    """A Community journey to its end on day 90: completion starts the post-onboarding
    plays (patched); the plays' first days are recorded too."""
    from domain.onboarding import OnboardingInput
    from domain.tiers import Tier
    from workflows.onboarding import OnboardingWorkflow

    handle = await c.env.client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id="1002", tier=Tier.COMMUNITY),
        id="onboarding-1002-year",
        task_queue=c.queue,
    )
    c.keep("OnboardingWorkflow", handle)
    await handle.result()
    year = c.env.client.get_workflow_handle("customer-year-1002")
    c.keep("CustomerYearWorkflow", year, "-child")
    await c.sleep(timedelta(days=20))


# ---------------------------------------------------------------------------- running
def playbooks_dir() -> Path:
    """The shipped playbooks as tests/conftest.py sets them up (quiet hours off in the
    onboarding plans, so a journey starting at any hour of the day sends at once)."""
    from domain.onboarding_plan import OnboardingPlan
    from playbooks.loader import PACKAGE_DIR

    root = Path(tempfile.mkdtemp(prefix="cshub-replay-playbooks-"))
    shutil.copytree(PACKAGE_DIR, root, dirs_exist_ok=True)
    if "send_window" not in OnboardingPlan.model_fields:  # older code: no plan send window
        return root
    for plan in (root / "onboarding").glob("*.yaml"):
        with plan.open("a", encoding="utf-8") as f:
            f.write("\nsend_window: {send_hour: 10, quiet_start: 0, quiet_end: 0}\n")
    return root


def history_file_text(history: WorkflowHistory) -> str:
    """``WorkflowHistory.to_json()`` with the workflow id added (the replay test reads it
    back with ``WorkflowHistory.from_json`` and names it in its failures)."""
    events = json.loads(history.to_json())
    return json.dumps({"workflowId": history.workflow_id, **events}, indent=1) + "\n"


async def run_scenario(
    entry: Entry, sandbox: Any, settings: Any, types: set[str]
) -> list[tuple[Path, str]]:
    """Run one scenario on a fresh test server; (relative path, history JSON) of each
    workflow it kept whose type is in ``types``."""
    from cshub.binaries import temporal_test_server
    from tests.conftest import running_worker

    try:
        search_attributes: Any = importlib.import_module("cshub.search_attributes")
    except ImportError:  # older code: before the search attributes
        search_attributes = None

    async with httpx.AsyncClient() as http:
        (await http.post(f"{sandbox.http_url}/_sandbox/reset")).raise_for_status()
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(temporal_test_server()),
    )
    histories: list[tuple[Path, str]] = []
    try:
        if search_attributes is not None:
            await search_attributes.ensure_search_attributes(env.client)
        store: Any = None
        if entry.actions:
            action_log: Any = importlib.import_module("activities.action_log")
            store = action_log.SqliteActionStore(Path(tempfile.mkdtemp()) / "actions.db")
        extra = {"actions": store} if store is not None else {}
        async with running_worker(env, settings, **extra) as worker:
            ctx = Ctx(env, sandbox, settings, worker.task_queue)
            await entry.run(ctx)
            for workflow_type, suffix, handle in ctx.kept:
                if workflow_type in types:
                    history = await handle.fetch_history()
                    path = Path(workflow_type) / f"{entry.name}{suffix}.json"
                    histories.append((path, history_file_text(history)))
    finally:
        await env.shutdown()
    return histories


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.replay.record", description=__doc__)
    parser.add_argument("--only", nargs="+", metavar="WorkflowType", help="these types only")
    parser.add_argument("--scenario", nargs="+", metavar="NAME", help="these scenarios only")
    parser.add_argument("--out", type=Path, default=HISTORIES, help=f"default: {HISTORIES}")
    parser.add_argument("--prefix", default="", help="file name prefix, e.g. pre-steering-")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    parser.add_argument("--verbose", action="store_true", help="the worker's own logs too")
    args = parser.parse_args(argv)
    # Scenarios include failing steps on purpose (e.g. outreach to a company without a
    # contact): the worker logs each with a traceback. Quiet unless asked.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL)

    if args.list:
        for e in SCENARIOS:
            print(f"{e.name:28} {' '.join(e.types)}")
        return 0
    types = set(args.only or [t for e in SCENARIOS for t in e.types])
    chosen = [
        e
        for e in SCENARIOS
        if types & set(e.types) and (not args.scenario or e.name in args.scenario)
    ]
    if not chosen:
        print("no scenario matches", file=sys.stderr)
        return 2

    playbooks = None
    if "CSHUB_PLAYBOOKS_DIR" not in os.environ:
        playbooks = playbooks_dir()
        os.environ["CSHUB_PLAYBOOKS_DIR"] = str(playbooks)
    from runtime.settings import Settings
    from sandbox.server import start_sandbox

    sandbox = await start_sandbox(http_port=0, smtp_port=0)
    settings = Settings(
        hubspot_base_url=sandbox.http_url,
        zendesk_base_netloc=sandbox.http_url.removeprefix("http://"),
        zendesk_scheme="http",
        slack_base_url=f"{sandbox.http_url}/api/",
        smtp_host=sandbox.smtp_host,
        smtp_port=sandbox.smtp_port,
    )
    failed = 0
    try:
        for entry in chosen:
            label = f"{entry.name} ({', '.join(sorted(types & set(entry.types)))})"
            began = time.monotonic()
            try:
                histories = await run_scenario(entry, sandbox, settings, types)
            except Exception as err:  # report and go on with the next scenario
                failed += 1
                print(f"FAILED  {label}: {type(err).__name__}: {err}", file=sys.stderr)
                continue
            for rel, text in histories:
                target = args.out / rel.parent / f"{args.prefix}{rel.name}"
                if target.exists() and not args.force:
                    print(f"kept    {target} (exists; --force to overwrite)")
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                print(f"wrote   {target} ({target.stat().st_size // 1024} KiB)")
            print(f"done    {label} in {time.monotonic() - began:.1f} s")
    finally:
        await sandbox.stop()
        if playbooks is not None:
            shutil.rmtree(playbooks, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
