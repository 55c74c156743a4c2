"""Pause, resume, skip and cancel behave the same way in every customer workflow type:
the same signals and payloads, on the time-skipping server with the real activities and
the sandbox emulators."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.churn import ChurnPreventionInput, RiskFactor
from domain.dunning import DunningInput
from domain.journeys import ActionRecord
from domain.renewal import RenewalInput
from domain.steering import CancelRequest, PauseRequest, ResumeRequest, SkipRequest
from domain.ticket_sla import TicketSlaInput
from domain.winback import WinBackInput
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.workflows.campaign_helpers import TIMEZONES, notes, skip_to_local_hour, stop
from tests.zendesk_tickets import create_ticket
from workflows.churn import ChurnPreventionWorkflow
from workflows.dunning import DunningWorkflow
from workflows.renewal import RenewalWorkflow
from workflows.ticket_sla import TicketSlaWorkflow
from workflows.winback import WinBackWorkflow

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


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


async def settled_count(
    handle: WorkflowHandle[Any, Any], query: Any, sandbox: SandboxHandle
) -> int:
    """What reached the outbox once the workflow has no activity in flight and the actions
    it has recorded as done are all there (a check's e-mail may still be on its way when
    the next check is already planned)."""
    for _ in range(200):
        progress = await handle.query(query)
        done = sum(
            1
            for a in progress.actions
            if a.channel in ("email", "slack", "crm_task") and a.outcome == "done"
        )
        in_flight = len((await handle.describe()).raw_description.pending_activities)
        count = sent_count(await outbox(sandbox))
        if count == done and not in_flight:
            return count
        await asyncio.sleep(0.05)
    raise AssertionError(f"outbox {count} never matched {done} actions done")


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
            before = await settled_count(handle, wf.progress, clean_sandbox)

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


# ------------------------------------------------------------------ surveys, usage, outreach
async def test_csat_pause_holds_the_survey_and_the_old_cancel_payload_still_works(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    """Paused across the send time: no e-mail until resume; ``cancel`` without a reason
    (CancelSurvey, as before steering) still ends it."""
    from domain.surveys import CancelSurvey, CsatInput
    from tests.workflows.test_surveys import set_ticket_status
    from workflows.csat import CsatSurveyWorkflow as wf

    env = module_time_skipping_env
    await set_ticket_status(clean_sandbox, "5001", "solved")
    await skip_to_local_hour(env, "1007", 12)
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            wf.run,
            CsatInput(ticket_id="5001", customer_id="1007", solved_at=await env.get_current_time()),
            id="csat-steer-5001",
            task_queue=worker.task_queue,
        )
        try:
            await progress_until(handle, wf.progress, lambda p: p.survey_due_at is not None)
            await handle.signal(wf.pause, PauseRequest(reason="ticket under review"))
            await env.sleep(timedelta(hours=25))  # the 24-hour delay falls due
            paused = await handle.query(wf.progress)
            assert paused.steering.paused and paused.status == "waiting"
            assert paused.steering.pause_reason == "ticket under review"
            assert (await handle.query(wf.status)).steering.paused
            assert (await outbox(clean_sandbox))["emails"] == []

            await handle.signal(wf.resume, ResumeRequest())
            sent = await progress_until(handle, wf.progress, lambda p: p.status == "sent")
            assert not sent.steering.paused
            assert len((await outbox(clean_sandbox))["emails"]) == 1

            await handle.signal(wf.cancel, CancelSurvey())  # no reason: accepted as before
            result = await handle.result()
            progress = await handle.query(wf.progress)
        finally:
            await stop(handle)
    assert result.status == "expired" and progress.reason == "cancelled"
    assert result.steering.cancel_reason == "cancelled"
    assert progress.steering.cancel_reason == "cancelled"


async def test_csat_skip_skips_the_survey_email(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    from domain.surveys import CsatInput
    from tests.workflows.test_surveys import set_ticket_status
    from workflows.csat import CsatSurveyWorkflow as wf

    env = module_time_skipping_env
    await set_ticket_status(clean_sandbox, "5001", "solved")
    await skip_to_local_hour(env, "1007", 12)
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            wf.run,
            CsatInput(ticket_id="5001", customer_id="1007", solved_at=await env.get_current_time()),
            id="csat-steer-skip-5001",
            task_queue=worker.task_queue,
        )
        try:
            await progress_until(handle, wf.progress, lambda p: p.survey_due_at is not None)
            await handle.signal(wf.skip, SkipRequest(reason="customer is upset already"))
            assert (await handle.query(wf.progress)).steering.pending_skips == ["email:csat"]
            await env.sleep(timedelta(hours=25))
            result = await handle.result()
            progress = await handle.query(wf.progress)
        finally:
            await stop(handle)
    assert result.status == "skipped"
    assert progress.reason == "survey e-mail skipped: customer is upset already"
    (email,) = [a for a in progress.actions if a.step == "email:csat"]
    assert email.outcome == "skipped"
    assert (await outbox(clean_sandbox))["emails"] == []


async def test_nps_pause_before_the_send_time_holds_the_survey_until_resume(
    clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    from domain.surveys import CancelSurvey, NpsInput
    from tests.conftest import fresh_time_skipping_env
    from workflows.nps import NpsSurveyWorkflow as wf

    customer = "1003"  # Northwind: Grace 2003, Leo 2004
    async for env in fresh_time_skipping_env():
        await skip_to_local_hour(env, customer, 12)
        async with running_worker(env, hub_settings) as worker:
            handle = await env.client.start_workflow(
                wf.run,
                NpsInput(customer_id=customer, ask_this_quarter=False),  # next quarter
                id=f"nps-steer-{customer}",
                task_queue=worker.task_queue,
            )
            try:
                started = await progress_until(
                    handle, wf.progress, lambda p: p.next_survey_at is not None
                )
                await handle.signal(wf.pause, PauseRequest(reason="customer asked for a break"))
                await env.sleep(started.next_survey_at - await env.get_current_time())
                await env.sleep(timedelta(days=1))
                paused = await handle.query(wf.progress)
                assert paused.steering.paused
                assert paused.asked == [] and paused.skipped == {}
                assert (await handle.query(wf.status)).steering.paused
                assert [
                    e
                    for e in (await outbox(clean_sandbox))["emails"]
                    if e["template"] == "nps_survey"
                ] == []

                await handle.signal(wf.resume, ResumeRequest())
                resumed = await progress_until(handle, wf.progress, lambda p: len(p.asked) == 2)
                assert not resumed.steering.paused
                assert (
                    len(
                        [
                            e
                            for e in (await outbox(clean_sandbox))["emails"]
                            if e["template"] == "nps_survey"
                        ]
                    )
                    == 2
                )

                await handle.signal(wf.cancel, CancelSurvey(reason="no more surveys"))
                await handle.result()
                ended = await handle.query(wf.progress)
            finally:
                await stop(handle)
    assert ended.steering.cancel_reason == "no more surveys"
    assert any(a.step == "end" and "no more surveys" in a.summary for a in ended.actions)


async def test_usage_pause_queues_snapshots_and_cancel_reports_the_queue_not_applied(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    from domain.usage import (
        USAGE_AS_OF,
        UsageFigures,
        UsageSnapshot,
        UsageSnapshotInput,
        iso_utc,
    )
    from tests.webhooks.test_usage_snapshot import company_usage
    from workflows.usage_snapshot import UsageSnapshotWorkflow as wf

    env, customer = module_time_skipping_env, "1004"
    now = await env.get_current_time()
    first = UsageSnapshot(
        occurred_at=now, figures=UsageFigures(active_users=12), event_id="steer-usage-1"
    )
    second = UsageSnapshot(
        occurred_at=now + timedelta(minutes=1),
        figures=UsageFigures(active_users=13),
        event_id="steer-usage-2",
    )
    before = (await company_usage(clean_sandbox, customer))[USAGE_AS_OF]
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            wf.run,
            UsageSnapshotInput(customer_id=customer, idle_seconds=3600),
            id=f"usage-steer-{customer}",
            task_queue=worker.task_queue,
        )
        try:
            await handle.signal(wf.pause, PauseRequest(reason="CRM migration"))
            await handle.signal(wf.snapshot, first)
            await env.sleep(timedelta(hours=2))  # past the idle time: still held, not ended
            paused = await handle.query(wf.progress)
            assert paused.steering.paused and paused.queued == 1 and paused.applied == 0
            assert (await company_usage(clean_sandbox, customer))[USAGE_AS_OF] == before

            await handle.signal(wf.resume, ResumeRequest())
            await progress_until(handle, wf.progress, lambda p: p.applied == 1)
            assert (await company_usage(clean_sandbox, customer))[USAGE_AS_OF] == iso_utc(now)

            await handle.signal(wf.pause, PauseRequest())
            await handle.signal(wf.snapshot, second)
            await progress_until(handle, wf.progress, lambda p: p.queued == 1)
            await handle.signal(wf.cancel, CancelRequest(reason="customer offboarded"))
            result = await handle.result()
        finally:
            await stop(handle)
    assert result.cancelled and result.applied == 1 and result.not_applied == 1
    assert result.queued == 0
    assert result.recent[-1].event_id == "steer-usage-2"
    assert result.recent[-1].outcome == "not_applied"
    assert "customer offboarded" in result.recent[-1].detail
    assert (await company_usage(clean_sandbox, customer))[USAGE_AS_OF] == iso_utc(now)


def _outreach_input(customer: str, sweep_at: datetime) -> Any:
    import yaml

    from domain.health_model import HealthCategory
    from domain.health_outreach import CompanyHealth, Fired, OutreachPlan, Trigger
    from domain.health_sweep import HealthOutreachInput

    plan = OutreachPlan.model_validate(
        yaml.safe_load(PLAYBOOKS.joinpath("health/outreach.yaml").read_text(encoding="utf-8"))
    )
    health = CompanyHealth(
        customer_id=customer,
        score=55.0,
        category=HealthCategory.AT_RISK,
        category_label="At risk",
        model="seed001",
        low_confidence=False,
        previous_score=75.0,
        previous_category=HealthCategory.GOOD,
        delta=-20.0,
        fired=[
            Fired(trigger=Trigger.HEALTH_DECLINE, reason="dropped from Good to At risk"),
            Fired(trigger=Trigger.LOW_ADOPTION, reason="2 of 10 features adopted"),
        ],
    )
    return HealthOutreachInput(
        customer_id=customer, sweep_id="steer", sweep_at=sweep_at, health=health, plan=plan
    )


async def test_health_outreach_pause_holds_skip_skips_and_cancel_ends(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    from workflows.health_outreach import HealthOutreachWorkflow as wf

    env, customer = module_time_skipping_env, "1003"
    now = await env.get_current_time()
    async with running_worker(env, hub_settings) as worker:
        # Paused from the start (signal-with-start), the next action skipped.
        handle = await env.client.start_workflow(
            wf.run,
            _outreach_input(customer, now),
            id=f"health-outreach-steer-{customer}-1",
            task_queue=worker.task_queue,
            start_signal="pause",
            start_signal_args=[PauseRequest(reason="CSM on it")],
        )
        try:
            await handle.signal(wf.skip, SkipRequest(reason="called them already"))
            await asyncio.sleep(1)
            assert await handle.query(wf.progress) == []
            assert sent_count(await outbox(clean_sandbox)) == 0
            await handle.signal(wf.resume, ResumeRequest())
            actions = await handle.result()
        finally:
            await stop(handle)
        box = await outbox(clean_sandbox)

        cancelled = await env.client.start_workflow(
            wf.run,
            _outreach_input(customer, now + timedelta(seconds=1)),
            id=f"health-outreach-steer-{customer}-2",
            task_queue=worker.task_queue,
            start_signal="pause",
            start_signal_args=[PauseRequest()],
        )
        try:
            await cancelled.signal(wf.cancel, CancelRequest(reason="account handed over"))
            cancelled_actions = await cancelled.result()
        finally:
            await stop(cancelled)
    by_step = {a.step: a for a in actions}
    assert by_step["decline:alert"].outcome == "skipped"
    assert "called them already" in by_step["decline:alert"].summary
    assert by_step["decline:task"].outcome == "done"
    assert by_step["adoption:task"].outcome == "done"
    assert box["slack_messages"] == [] and len(box["crm_tasks"]) == 2
    assert all(a.outcome == "skipped" for a in cancelled_actions)
    assert cancelled_actions[-1].step == "cancelled"
    assert "account handed over" in cancelled_actions[-1].summary
    assert sent_count(await outbox(clean_sandbox)) == 2
