"""Pause, resume, skip and cancel behave the same way in every customer workflow type:
the same signals and payloads, on the time-skipping server with the real activities and
the sandbox emulators."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from cshub.settings import Settings
from domain.lifecycle import (
    ChurnPreventionInput,
    DunningInput,
    RenewalInput,
    RiskFactor,
    WinBackInput,
)
from domain.onboarding import ActionRecord
from domain.steering import CancelRequest, PauseRequest, ResumeRequest, SkipRequest
from domain.ticket_sla import TicketSlaInput
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.workflows.campaign_helpers import TIMEZONES, notes, skip_to_local_hour, stop
from tests.zendesk_tickets import create_ticket
from workflows.churn import ChurnPreventionWorkflow
from workflows.dunning import DunningWorkflow
from workflows.renewal import RenewalWorkflow
from workflows.ticket_sla import TicketSlaWorkflow
from workflows.winback import WinBackWorkflow


@dataclass(frozen=True)
class Case:
    workflow: Any
    customer: str
    make_input: Callable[[str, date], BaseModel]  # customer, local date at the start
    id_prefix: str
    first: str  # the step paused across, sent at resume
    first_due_days: float  # from the start, with margin
    second: str  # the next one: skipped
    second_due_days: float
    closing_note: str  # the CRM note of the normal closing, with the reason


CASES = [
    Case(
        DunningWorkflow,
        "1003",
        lambda c, _: DunningInput(customer_id=c, invoice_id="in_1"),
        "dunning",
        "day3",
        4,
        "day7",
        8,
        "Dunning sequence cancelled: ",
    ),
    Case(
        ChurnPreventionWorkflow,
        "1005",
        lambda c, _: ChurnPreventionInput(customer_id=c, risk_factors=[RiskFactor.USAGE_DROP]),
        "churn",
        "check1",
        8,
        "check2",
        15,
        "Churn-prevention campaign ended: cancelled (cancelled: ",
    ),
    Case(
        WinBackWorkflow,
        "1001",
        lambda c, _: WinBackInput(customer_id=c),
        "winback",
        "day1:winback_we_miss_you",
        2,
        "day7:winback_whats_new",
        8,
        "cancelled: ",
    ),
    Case(
        RenewalWorkflow,
        "1003",
        # Renewal in 75 days: the 60-day reminder is due on day 15, the 30-day on day 45.
        lambda c, today: RenewalInput(customer_id=c, renewal_date=today + timedelta(days=75)),
        "renewal",
        "reminder-60d",
        16,
        "reminder-30d",
        46,
        "Renewal countdown to ",
    ),
]


def sent_count(box: dict[str, Any]) -> int:
    """Everything that reached a customer or a CSM: e-mails, Slack, CRM tasks."""
    return len(box["emails"]) + len(box["slack_messages"]) + len(box["crm_tasks"])


def of_step(actions: list[ActionRecord], step: str) -> list[ActionRecord]:
    return [a for a in actions if a.channel != "journey" and a.step.startswith(f"{step}:")] + [
        a for a in actions if a.channel != "journey" and a.step == step
    ]


async def progress_until(
    handle: WorkflowHandle[Any, Any], query: Any, ok: Callable[[Any], bool]
) -> Any:
    for _ in range(200):
        progress = await handle.query(query)
        if ok(progress):
            return progress
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not reached: {progress}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id_prefix)
async def test_pause_resume_skip_cancel_mean_the_same_everywhere(
    case: Case,
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    env, wf = module_time_skipping_env, case.workflow
    await skip_to_local_hour(env, case.customer, 12)
    today = (await env.get_current_time()).astimezone(ZoneInfo(TIMEZONES[case.customer])).date()
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            wf.run,
            case.make_input(case.customer, today),
            id=f"{case.id_prefix}-{case.customer}",
            task_queue=worker.task_queue,
        )
        try:
            await progress_until(
                handle,
                wf.progress,
                lambda p: p.next_action is not None and p.next_action.step == case.first,
            )
            before = sent_count(await outbox(clean_sandbox))

            # Pause across the first step's due time: nothing is sent, timers run on.
            await handle.signal(wf.pause, PauseRequest(reason="customer asked for a break"))
            await env.sleep(timedelta(days=case.first_due_days))
            paused = await handle.query(wf.progress)
            assert paused.steering.paused
            assert paused.steering.pause_reason == "customer asked for a break"
            assert sent_count(await outbox(clean_sandbox)) == before
            assert not [a for a in of_step(paused.actions, case.first) if a.outcome == "done"]

            # Resume: the step that fell due is sent now, once.
            await handle.signal(wf.resume, ResumeRequest())
            resumed = await progress_until(
                handle,
                wf.progress,
                lambda p: (
                    bool(of_step(p.actions, case.first))
                    and p.next_action is not None
                    and p.next_action.step == case.second
                ),
            )
            first = of_step(resumed.actions, case.first)
            assert first and all(a.outcome == "done" for a in first), first
            assert not resumed.steering.paused
            after_resume = sent_count(await outbox(clean_sandbox))
            assert after_resume == before + len(first)

            # Skip (no step named: the next action) is recorded as skipped, not sent.
            await handle.signal(wf.skip, SkipRequest(reason="called them instead"))
            pending = await handle.query(wf.progress)
            assert pending.steering.pending_skips == [case.second]
            await env.sleep(timedelta(days=case.second_due_days - case.first_due_days, hours=1))
            skipped = await progress_until(
                handle, wf.progress, lambda p: bool(of_step(p.actions, case.second))
            )
            second = of_step(skipped.actions, case.second)
            assert all(a.outcome == "skipped" for a in second), second
            assert "called them instead" in second[0].summary
            assert skipped.steering.pending_skips == []
            assert sent_count(await outbox(clean_sandbox)) == after_resume

            # Cancel: the normal closing with the reason, then the result says cancelled.
            await handle.signal(wf.cancel, CancelRequest(reason="contract ended early"))
            summary = await handle.result()
        finally:
            await stop(handle)

    status = getattr(summary, "status", None) or summary.outcome
    assert status.value == "cancelled"
    closing = [
        n for n in notes(await outbox(clean_sandbox), case.customer) if case.closing_note in n
    ]
    assert closing and "contract ended early" in closing[0], notes(
        await outbox(clean_sandbox), case.customer
    )


async def test_onboarding_skip_records_the_named_step_as_skipped(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    from domain.onboarding import OnboardingInput
    from domain.tiers import Tier
    from workflows.onboarding import OnboardingWorkflow

    env, customer = module_time_skipping_env, "1003"
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id=customer, tier=Tier.STARTER),
            id=f"onboarding-steer-{customer}",
            task_queue=worker.task_queue,
        )
        try:
            await progress_until(handle, OnboardingWorkflow.progress, lambda p: bool(p.actions))
            await handle.signal(
                OnboardingWorkflow.skip, SkipRequest(step="email:tips:d3", reason="on the call")
            )
            await env.sleep(timedelta(days=4))
            progress = await progress_until(
                handle,
                OnboardingWorkflow.progress,
                lambda p: any(a.step == "email:tips:d3" for a in p.actions),
            )
        finally:
            await stop(handle)

    (tips,) = [a for a in progress.actions if a.step == "email:tips:d3"]
    assert tips.outcome == "skipped" and "on the call" in tips.summary
    assert "tips" not in [e["template"] for e in (await outbox(clean_sandbox))["emails"]]


async def test_ticket_sla_pause_holds_the_escalation_and_cancel_ends_it(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    """An enterprise urgent ticket (15-minute first response, around the clock): paused,
    the warning and the breach fall due but nothing goes out; at resume the breach
    escalates once; cancel ends the watch with the result saying cancelled."""
    env = module_time_skipping_env
    now = await env.get_current_time()
    created = datetime.combine(now.date() + timedelta(days=1), time(3), tzinfo=now.tzinfo)
    await env.sleep(created - now)
    ticket = await create_ticket(clean_sandbox, 8109, "urgent", created)  # company 1007
    wf = TicketSlaWorkflow

    async def slack() -> list[dict[str, Any]]:
        box = await outbox(clean_sandbox)
        return [m for m in box["slack_messages"] if f"#{ticket}" in m["text"] + str(m["blocks"])]

    async def escalations() -> list[dict[str, Any]]:
        box = await outbox(clean_sandbox)
        return [
            c
            for c in box["ticket_changes"]
            if c["ticket_id"] == ticket and "cshub_sla_breached" in (c["changes"].get("tags") or [])
        ]

    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            wf.run,
            TicketSlaInput(ticket_id=ticket),
            id=f"ticket-sla-{ticket}",
            task_queue=worker.task_queue,
        )
        try:
            await progress_until(handle, wf.sla_status, lambda s: bool(s.clocks))
            await handle.signal(wf.pause, PauseRequest(reason="customer on a call with us"))
            await env.sleep(timedelta(minutes=20))  # warning at 11 min, breach at 15
            paused = await handle.query(wf.sla_status)
            assert paused.steering.paused
            assert paused.steering.pause_reason == "customer on a call with us"
            assert paused.level == 0 and not paused.breaches
            assert await slack() == [] and await escalations() == []

            await handle.signal(wf.resume, ResumeRequest())
            resumed = await progress_until(handle, wf.sla_status, lambda s: s.level == 1)
            assert not resumed.steering.paused
            for _ in range(100):
                if await escalations():
                    break
                await asyncio.sleep(0.05)
            assert len(await escalations()) == 1

            await handle.signal(wf.cancel, CancelRequest(reason="duplicate ticket"))
            result = await handle.result()
        finally:
            await stop(handle)

    assert result.cancelled and result.finished
    assert result.steering.cancel_reason == "duplicate ticket"
    assert len(await escalations()) == 1
