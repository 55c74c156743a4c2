"""Churn prevention end to end on the time-skipping server: the real workflow, activities
and connectors, the sandbox emulators over HTTP/SMTP."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from domain.churn import ChurnPreventionInput, ChurnStatus, HealthUpdated, RiskFactor, RiskSignal
from domain.renewal import Churned
from domain.winback import WinBackStatus
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.workflows.campaign_helpers import (
    SEND_HOUR,
    emails,
    local_hour,
    merged_company_update,
    notes,
    progress_once_started,
    sent,
    skip_to_local_hour,
    slack_texts,
    stop,
    task_subjects,
    wait_for,
)
from workflows.churn import ChurnPreventionWorkflow
from workflows.dunning import DunningWorkflow
from workflows.winback import WinBackWorkflow

SUPPORT = "Personal outreach: support spike"
NPS = "Book a 1:1 call: NPS detractor"
LOW = "Health check-in: customer at risk"


async def test_weekly_outreach_by_factor_escalation_once_per_drop_and_recovery(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1005"
    await skip_to_local_hour(env, customer, 12)
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            ChurnPreventionWorkflow.run,
            ChurnPreventionInput(
                customer_id=customer,
                risk_factors=[RiskFactor.USAGE_DROP, RiskFactor.SUPPORT_SPIKE],
                health_score=55,
            ),
            id=f"churn-{customer}",
            task_queue=worker.task_queue,
        )

        async def on_day(day: float, signal: object, arg: object) -> None:
            now = await env.get_current_time()
            started = (await handle.describe()).start_time
            assert started is not None
            await env.sleep(started + timedelta(days=day) - now)
            await handle.signal(signal, arg)  # type: ignore[call-overload]

        try:
            await on_day(2, ChurnPreventionWorkflow.health_updated, HealthUpdated(score=45))
            await on_day(3, ChurnPreventionWorkflow.health_updated, HealthUpdated(score=40))
            await on_day(
                4,
                ChurnPreventionWorkflow.risk_signal,
                RiskSignal(factor=RiskFactor.NPS_DETRACTOR, event_id="nps-1"),
            )
            await on_day(  # the same event again: ignored
                4.1,
                ChurnPreventionWorkflow.risk_signal,
                RiskSignal(factor=RiskFactor.NPS_DETRACTOR, event_id="nps-1"),
            )
            await on_day(8, ChurnPreventionWorkflow.health_updated, HealthUpdated(score=55))
            await on_day(9, ChurnPreventionWorkflow.health_updated, HealthUpdated(score=48))
            mid = await handle.query(ChurnPreventionWorkflow.progress)
            await on_day(10, ChurnPreventionWorkflow.health_updated, HealthUpdated(score=75))
            await on_day(15, ChurnPreventionWorkflow.health_updated, HealthUpdated(score=80))
            summary = await handle.result()
            progress = await handle.query(ChurnPreventionWorkflow.progress)
        finally:
            await stop(handle)

    box = await outbox(clean_sandbox)
    # Checks on days 0, 7 and 14 found the customer at risk (on day 14 because the score
    # was still 40 after day 7); days 21 and 28 found it at 75+ twice in a row: recovered.
    assert mid.escalated and mid.health_score == 48
    assert summary.outcome is ChurnStatus.RECOVERED
    assert summary.checks_done == 5
    assert emails(box, customer) == [(d, "churn_reengagement") for d in (0, 7, 14)]
    subjects = task_subjects(box, customer)
    assert subjects.count(SUPPORT) == 3
    assert subjects.count(LOW) == 3
    # Day 4 at once; skipped on day 7 (answered 3 days before); day 14; max_times is 2.
    assert subjects.count(NPS) == 2
    weekly = [a for a in sent(progress.actions, "email") if a.day > 0]
    assert weekly and all(local_hour(a.at, customer) == SEND_HOUR for a in weekly)

    # Below 50 on day 2 (escalated), still below on day 3 (not again), back to 55 on
    # day 8, below again on day 9 (escalated again).
    assert len(slack_texts(box, "executive escalation")) == 2
    assert summary.escalations == 2

    company = merged_company_update(box, customer)
    assert company["cshub_churn_campaign_outcome"] == "recovered"
    assert company["cshub_risk_status"] == "healthy"
    assert company["cshub_churn_campaign_started"] < company["cshub_churn_campaign_ended"]
    (ended,) = [
        n
        for n in notes(box, customer)
        if n.startswith("Churn-prevention campaign ended: recovered")
    ]
    assert "5 weekly checks," in ended and "2 escalations." in ended
    assert "for 1 checks" not in ended
    assert len(slack_texts(box, "churn prevention ended")) == 1


async def test_payment_failure_starts_dunning_and_churn_starts_winback(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1006"
    await skip_to_local_hour(env, customer, 12)
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            ChurnPreventionWorkflow.run,
            ChurnPreventionInput(customer_id=customer, risk_factors=[RiskFactor.USAGE_DROP]),
            id=f"churn-{customer}",
            task_queue=worker.task_queue,
        )
        dunning = env.client.get_workflow_handle_for(DunningWorkflow.run, f"dunning-{customer}")
        winback = env.client.get_workflow_handle_for(WinBackWorkflow.run, f"winback-{customer}")
        try:
            await env.sleep(timedelta(days=1))
            await handle.signal(
                ChurnPreventionWorkflow.risk_signal,
                RiskSignal(factor=RiskFactor.PAYMENT_FAILURE, event_id="stripe:evt_9"),
            )
            dunning_status = (await wait_for(dunning)).status
            await handle.signal(ChurnPreventionWorkflow.churned, Churned(reason="budget cut"))
            summary = await handle.result()
            winback_progress = await progress_once_started(winback, WinBackWorkflow.progress)
        finally:
            await stop(handle)
            await stop(dunning)
            await stop(winback)

    box = await outbox(clean_sandbox)
    assert dunning_status is WorkflowExecutionStatus.RUNNING
    assert summary.outcome is ChurnStatus.CHURNED
    assert summary.winback_workflow_id == f"winback-{customer}"
    assert winback_progress.status is WinBackStatus.ACTIVE
    assert winback_progress.churn_reason == "budget cut"
    company = merged_company_update(box, customer)
    assert company["cshub_churn_campaign_outcome"] == "churned"
    assert company["cshub_risk_status"] == "churned"
    assert company["cshub_payment_status"] == "past_due"  # the dunning child's start
    # The executive report's churn: the campaign's end day.
    assert company["cshub_churned_at"] == company["cshub_churn_campaign_ended"]
    assert any("customer churned: budget cut" in n for n in notes(box, customer))


async def test_continue_as_new_carries_the_campaign_over(
    dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    """The dev server here suggests continue-as-new after 60 history events."""
    env, customer = dev_server_env, "1008"
    wid = f"churn-{customer}-{uuid.uuid4().hex[:6]}"
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            ChurnPreventionWorkflow.run,
            ChurnPreventionInput(
                customer_id=customer, risk_factors=[RiskFactor.SUPPORT_SPIKE], health_score=60
            ),
            id=wid,
            task_queue=worker.task_queue,
        )
        latest = env.client.get_workflow_handle_for(ChurnPreventionWorkflow.run, wid)
        try:
            for i in range(24):  # 45, 55, 45, ...: twelve drops below 50
                score = 45 if i % 2 == 0 else 55
                await handle.signal(
                    ChurnPreventionWorkflow.health_updated, HealthUpdated(score=score)
                )
            progress, run_id = None, handle.run_id
            for _ in range(300):  # up to 30 s on a loaded machine
                progress = await latest.query(ChurnPreventionWorkflow.progress)
                run_id = (await latest.describe()).run_id
                tasks = [a for a in progress.actions if a.channel == "crm_task"]
                if progress.escalations == 12 and len(tasks) == 2 and run_id != handle.run_id:
                    break
                await asyncio.sleep(0.1)
        finally:
            await stop(latest)

    box = await outbox(clean_sandbox)
    assert progress is not None and progress.escalations == 12
    assert run_id != handle.run_id, "expected the campaign to continue as new"
    assert progress.status is ChurnStatus.ACTIVE and progress.checks_done == 1
    # Nothing repeated across runs: one support task (check 0), one low-health task.
    assert task_subjects(box, customer).count(SUPPORT) == 1
    assert task_subjects(box, customer).count(LOW) == 1
    assert len(slack_texts(box, "executive escalation")) == 12
    assert [a.step for a in progress.actions if a.channel == "crm_task"] == [
        "check0:support_spike",
        "check0:low_health",
    ]


async def test_starter_uses_seed_003_bands_neutral_is_not_at_risk(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    """Starter is scored with seed 003's model (Neutral 60-79, At risk 40-59, Critical
    below 40): 65 is not at risk, 45 is (check-in task, no escalation), 35 escalates, and
    two checks at 60+ are a recovery. Before: seed 001's 70/50 for every tier."""
    env, customer = time_skipping_env, "1009"
    await skip_to_local_hour(env, customer, 12)
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            ChurnPreventionWorkflow.run,
            ChurnPreventionInput(
                customer_id=customer, risk_factors=[RiskFactor.USAGE_DROP], health_score=65
            ),
            id=f"churn-{customer}-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        try:
            started = (await handle.describe()).start_time
            assert started is not None

            async def on_day(day: float, score: float) -> None:
                await env.sleep(started + timedelta(days=day) - await env.get_current_time())
                await handle.signal(
                    ChurnPreventionWorkflow.health_updated, HealthUpdated(score=score)
                )

            await on_day(1, 65)
            day1 = await handle.query(ChurnPreventionWorkflow.progress)
            await on_day(2, 45)
            await on_day(3, 35)
            await on_day(4, 65)
            await on_day(10, 66)
            summary = await handle.result()
        finally:
            await stop(handle)

    box = await outbox(clean_sandbox)
    assert RiskFactor.LOW_HEALTH not in day1.risk_factors  # 65 is Neutral under seed 003
    assert LOW in task_subjects(box, customer)  # 45: At risk
    escalations = slack_texts(box, "executive escalation")
    assert len(escalations) == 1 and summary.escalations == 1  # at 35, not at 45
    assert any("below 40" in text for text in escalations), escalations
    # checks: day 0, 7 (saw 35), 14 and 21 (65 and 66, >= 60): recovered
    assert summary.outcome is ChurnStatus.RECOVERED and summary.checks_done == 4
