"""Onboarding journeys end to end on the time-skipping server: the real workflow, the
real activities and connectors, the sandbox emulators over HTTP/SMTP."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.onboarding import (
    MilestoneReached,
    OnboardingInput,
    OnboardingStatus,
    OnboardingSummary,
    PauseRequest,
    ProductEvent,
    ResumeRequest,
)
from domain.tiers import ProductEventType, Tier
from playbooks.loader import load_onboarding_plan
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.workflows.campaign_helpers import skip_to_local_hour
from workflows.onboarding import OnboardingWorkflow


@pytest.fixture(scope="module")
async def time_skipping_env(module_time_skipping_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """This module's journeys on a test server of their own: they leave alerted journeys
    (with an escalation timer) and move the clock by days, which on the shared server
    held its clock for the next module's sleeps (RPC "Timeout expired")."""
    return module_time_skipping_env


CUSTOMER_BY_TIER = {
    Tier.COMMUNITY: "1001",
    Tier.STARTER: "1003",
    Tier.PROFESSIONAL: "1005",
    Tier.ENTERPRISE: "1007",
    Tier.AGENCY: "1010",  # a professional company journeying on the Agency plan
}


async def start(
    env: WorkflowEnvironment, task_queue: str, customer_id: str, tier: Tier, **kw: Any
) -> WorkflowHandle[OnboardingWorkflow, OnboardingSummary]:
    return await env.client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id=customer_id, tier=tier, **kw),
        id=f"onboarding-{customer_id}-{uuid.uuid4().hex[:6]}",
        task_queue=task_queue,
    )


def email_days(box: dict[str, Any]) -> list[tuple[int, str]]:
    return sorted((int(e["headers"]["X-Cshub-Journey-Day"]), e["template"]) for e in box["emails"])


def slack_kinds(box: dict[str, Any], word: str) -> list[dict[str, Any]]:
    return [m for m in box["slack_messages"] if word in m["text"].lower()]


@pytest.mark.parametrize("tier", list(Tier))
async def test_each_tier_runs_its_plan_end_to_end(
    tier: Tier,
    time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    plan = load_onboarding_plan(tier.value)
    customer = CUSTOMER_BY_TIER[tier]
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await start(time_skipping_env, worker.task_queue, customer, tier)
        summary = await handle.result()

    box = await outbox(clean_sandbox)
    expected_emails = sorted(
        [(e.day, e.template) for e in plan.emails]
        + [(d, r.template) for r in plan.recurring_emails for d in r.days()]
        + [(plan.duration_days, plan.completion_template)]
        + [(d, "onboarding_survey") for d in plan.surveys()]  # seed 001: 7, 30, 90
    )
    assert email_days(box) == expected_emails
    assert not [e for e in box["emails"] if e["duplicate"]]
    first = box["emails"][0]
    assert first["headers"]["List-Unsubscribe"].startswith("<http")
    assert first["html"] and first["text"]

    # Check-ins became CRM tasks; every milestone was missed (no events were sent), each
    # giving exactly one intervention task and one Slack alert.
    subjects = sorted(t["properties"]["hs_task_subject"] for t in box["crm_tasks"])
    expected_checkins = sorted(
        f"Onboarding {c.kind.replace('_', ' ')}: {c.title}" for c in plan.check_ins
    )
    interventions = [s for s in subjects if s.startswith("Intervention")]
    assert sorted(s for s in subjects if not s.startswith("Intervention")) == expected_checkins
    assert len(interventions) == len(plan.milestones)
    assert all({"type": "companies", "id": customer} in t["associations"] for t in box["crm_tasks"])
    assert len(slack_kinds(box, "missed")) == len(plan.milestones)
    assert summary.status is OnboardingStatus.COMPLETED
    assert summary.milestones_missed == [m.key for m in plan.milestones]
    assert summary.emails_sent == len(expected_emails)
    assert summary.failed_steps == []
    assert len(box["crm_notes"]) == 1  # the completion summary


async def test_reaching_a_milestone_by_signal_prevents_the_alert_and_task(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await start(time_skipping_env, worker.task_queue, "1003", Tier.STARTER)
        await time_skipping_env.sleep(timedelta(days=2))
        await handle.signal(
            OnboardingWorkflow.milestone_reached,
            MilestoneReached(milestone="first_production_workflow"),
        )
        await time_skipping_env.sleep(timedelta(days=6))
        progress = await handle.query(OnboardingWorkflow.progress)
        await handle.terminate("test done")

    box = await outbox(clean_sandbox)
    assert progress.milestones_done == ["first_production_workflow"]
    assert progress.milestones_missed == []
    assert slack_kinds(box, "missed") == []
    assert not [t for t in box["crm_tasks"] if "Intervention" in t["properties"]["hs_task_subject"]]
    assert [e["template"] for e in box["emails"]].count("milestone_celebration") == 1


async def test_a_missed_milestone_alerts_once_and_creates_one_task(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await start(time_skipping_env, worker.task_queue, "1003", Tier.STARTER)
        await time_skipping_env.sleep(timedelta(days=8))
        progress = await handle.query(OnboardingWorkflow.progress)
        await handle.terminate("test done")

    box = await outbox(clean_sandbox)
    missed = slack_kinds(box, "missed")
    assert len(missed) == 1
    assert "First production workflow live" in str(missed[0]["blocks"]) + missed[0]["text"]
    tasks = [t for t in box["crm_tasks"] if "Intervention" in t["properties"]["hs_task_subject"]]
    assert len(tasks) == 1
    assert tasks[0]["properties"]["hs_task_priority"] == "HIGH"
    assert progress.milestones_missed == ["first_production_workflow"]


async def test_product_events_drive_milestones_and_nudges_once(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await start(time_skipping_env, worker.task_queue, "1001", Tier.COMMUNITY)
        await time_skipping_env.sleep(timedelta(hours=2))
        events = [
            ProductEvent(type=ProductEventType.FIRST_LOGIN, event_id="e1"),
            ProductEvent(type=ProductEventType.WORKFLOW_CREATED, event_id="e2"),
            ProductEvent(type=ProductEventType.WORKFLOW_CREATED, event_id="e2"),  # redelivery
            ProductEvent(type=ProductEventType.WORKFLOW_CREATED, count=2, event_id="e3"),
            ProductEvent(type=ProductEventType.USAGE_THRESHOLD, percent=86, event_id="e4"),
            ProductEvent(type=ProductEventType.USAGE_THRESHOLD, percent=90, event_id="e5"),
        ]
        for ev in events:
            await handle.signal(OnboardingWorkflow.product_event, ev)
        await time_skipping_env.sleep(timedelta(days=4))
        progress = await handle.query(OnboardingWorkflow.progress)
        await handle.terminate("test done")

    box = await outbox(clean_sandbox)
    templates = [e["template"] for e in box["emails"]]
    assert sorted(progress.milestones_done) == ["first_login", "first_workflow"]
    assert progress.milestones_missed == []
    # first_login has no celebration; first_workflow has one.
    assert templates.count("milestone_celebration") == 1
    # 3 workflows (e2 once + e3 x2) -> advanced templates nudge; 86 % -> usage nudge. Once each.
    assert templates.count("nudge") == 2
    assert len(slack_kinds(box, "limit")) == 1


async def test_pause_shifts_later_steps_by_the_paused_time(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    # Started at noon in the customer's zone: the day-3 tips (10:00 there) are due 2 d 22 h
    # later, well after the pause. From the clock as earlier tests left it, a journey
    # begun at 22:00 New York had its tips due at the very moment of the pause.
    await skip_to_local_hour(time_skipping_env, "1003", 12)
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await start(time_skipping_env, worker.task_queue, "1003", Tier.STARTER)
        await time_skipping_env.sleep(timedelta(days=2, hours=12))
        await handle.signal(OnboardingWorkflow.pause, PauseRequest(reason="customer on leave"))
        await time_skipping_env.sleep(timedelta(days=3))
        paused = await handle.query(OnboardingWorkflow.progress)
        box_during_pause = await outbox(clean_sandbox)
        await handle.signal(OnboardingWorkflow.resume, ResumeRequest())
        await time_skipping_env.sleep(timedelta(days=1))
        progress = await handle.query(OnboardingWorkflow.progress)
        await handle.terminate("test done")

    assert paused.status is OnboardingStatus.PAUSED
    assert "tips" not in [e["template"] for e in box_during_pause["emails"]]
    tips = next(a for a in progress.actions if a.template == "tips")
    # Due on day 3 shifted by the 3 paused days, at the plan's 10:00 send hour in the
    # customer's zone (Northwind Analytics: America/New_York).
    new_york = ZoneInfo("America/New_York")
    nominal = (progress.started_at + timedelta(days=6)).astimezone(new_york)
    expected = datetime.combine(nominal.date(), time(10), tzinfo=new_york)
    assert abs(tips.at - expected) < timedelta(minutes=1)
    assert tips.day == 3  # plan days do not count paused time
    assert progress.paused_for_seconds == pytest.approx(3 * 86400, abs=60)


async def test_cancel_ends_the_journey_with_its_reason(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    from domain.onboarding import CancelRequest

    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await start(time_skipping_env, worker.task_queue, "1005", Tier.PROFESSIONAL)
        await time_skipping_env.sleep(timedelta(days=1, hours=1))
        await handle.signal(OnboardingWorkflow.cancel, CancelRequest(reason="contract void"))
        summary = await handle.result()

    box = await outbox(clean_sandbox)
    assert summary.status is OnboardingStatus.CANCELLED
    assert summary.cancel_reason == "contract void"
    assert len(slack_kinds(box, "cancel")) == 1
    assert "tips" not in [e["template"] for e in box["emails"]]


async def test_cancel_from_the_temporal_ui_closes_the_journey_the_same_way(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError

    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await start(time_skipping_env, worker.task_queue, "1005", Tier.PROFESSIONAL)
        await time_skipping_env.sleep(timedelta(days=1, hours=1))
        await handle.signal(OnboardingWorkflow.pause)  # no payload, as the UI may send
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        status = (await handle.describe()).status

    box = await outbox(clean_sandbox)
    assert status is WorkflowExecutionStatus.CANCELED
    assert len(slack_kinds(box, "cancel")) == 1
    assert any(
        "cancel requested in Temporal" in n["properties"]["hs_note_body"] for n in box["crm_notes"]
    )


async def test_community_first_login_guidance_goes_at_the_first_login(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    """Seed 001: Community's day-1 e-mail is "first login guidance", triggered by the first
    login. Before: it went on day 1 whenever the customer logged in. Once, not again on
    day 1; a journey whose customer never logs in still gets it on day 1 (the other tests)."""
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await start(time_skipping_env, worker.task_queue, "1002", Tier.COMMUNITY)
        await time_skipping_env.sleep(timedelta(hours=2))
        login = ProductEvent(type=ProductEventType.FIRST_LOGIN, event_id="login-1")
        await handle.signal(OnboardingWorkflow.product_event, login)
        await time_skipping_env.sleep(timedelta(days=2))
        progress = await handle.query(OnboardingWorkflow.progress)
        await handle.terminate("test done")

    box = await outbox(clean_sandbox)
    assert [(d, t) for d, t in email_days(box) if t == "quick_win"] == [(0, "quick_win")]
    sent = next(a for a in progress.actions if a.template == "quick_win")
    assert sent.at - progress.started_at < timedelta(hours=3)
