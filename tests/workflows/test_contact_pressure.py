"""Contact pressure across workflows: a new customer's first month, with an onboarding
journey, product events on day 0 (a milestone, a usage threshold), the quarterly NPS
survey and a health sweep's usage warning all starting in the same minute. The customer
gets the welcome first, never more than the tier's caps, and no survey before day 30;
what is held back is in the action store (the timeline) with the reason."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities.action_log import ActionRow, SqliteActionStore
from domain.onboarding import OnboardingInput, ProductEvent
from domain.surveys import NpsInput
from domain.tiers import ProductEventType, Tier
from playbooks.loader import PACKAGE_DIR
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import emails_for, fresh_time_skipping_env, outbox, running_worker
from tests.workflows.campaign_helpers import stop
from workflows.nps import NpsSurveyWorkflow
from workflows.onboarding import OnboardingWorkflow

CUSTOMER = "1003"  # Northwind Analytics, starter: at most 2 e-mails a day, 6 a week


def usage_outreach(sweep_at: datetime) -> Any:
    import yaml

    from domain.health_model import HealthCategory
    from domain.health_outreach import CompanyHealth, Fired, OutreachPlan, Trigger
    from domain.health_sweep import HealthOutreachInput

    plan = OutreachPlan.model_validate(
        yaml.safe_load((PACKAGE_DIR / "health" / "outreach.yaml").read_text(encoding="utf-8"))
    )
    health = CompanyHealth(
        customer_id=CUSTOMER,
        score=72.0,
        category=HealthCategory.GOOD,
        category_label="Good",
        model="seed001",
        low_confidence=False,
        previous_score=73.0,
        previous_category=HealthCategory.GOOD,
        delta=-1.0,
        fired=[Fired(trigger=Trigger.USAGE_LIMIT, reason="87% of the workflow-run limit")],
    )
    return HealthOutreachInput(
        customer_id=CUSTOMER, sweep_id="day0", sweep_at=sweep_at, health=health, plan=plan
    )


def max_in_window(times: list[datetime], span: timedelta) -> int:
    times = sorted(times)
    return max((sum(1 for t in times if s <= t < s + span) for s in times), default=0)


async def test_new_customer_day_0_welcome_first_within_caps_no_nps_before_day_30(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    tmp_path: Path,
) -> None:
    from workflows.health_outreach import HealthOutreachWorkflow

    env = module_time_skipping_env
    store = SqliteActionStore(tmp_path / "actions.db")
    start = await env.get_current_time()
    tag = uuid.uuid4().hex[:6]
    async with running_worker(env, hub_settings, actions=store) as worker:
        q = worker.task_queue
        onboarding = await env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id=CUSTOMER, tier=Tier.STARTER),
            id=f"onboarding-{CUSTOMER}-{tag}",
            task_queue=q,
        )
        # Day 0, the same minute: the first workflow (a milestone, celebrated), usage at
        # 87 % (a nudge), the quarterly NPS survey, a health sweep's usage warning.
        await onboarding.signal(
            OnboardingWorkflow.product_event,
            ProductEvent(type=ProductEventType.WORKFLOW_CREATED, event_id=f"{tag}-wf"),
        )
        await onboarding.signal(
            OnboardingWorkflow.product_event,
            ProductEvent(type=ProductEventType.USAGE_THRESHOLD, percent=87, event_id=f"{tag}-u"),
        )
        nps = await env.client.start_workflow(
            NpsSurveyWorkflow.run,
            NpsInput(customer_id=CUSTOMER),
            id=f"nps-{CUSTOMER}-{tag}",
            task_queue=q,
        )
        outreach = await env.client.start_workflow(
            HealthOutreachWorkflow.run,
            usage_outreach(start),
            id=f"health-outreach-{CUSTOMER}-{tag}",
            task_queue=q,
        )
        await env.sleep(timedelta(days=30, hours=-1))
        box = await outbox(clean_sandbox)
        rows = store.for_customer(CUSTOMER)
        progress = await onboarding.query(OnboardingWorkflow.progress)
        for handle in (onboarding, nps, outreach):
            await stop(handle)
    store.close()

    emails = [e["template"] for e in emails_for(box, CUSTOMER)]
    # The welcome first; the celebration (and everything else) after it.
    assert emails and emails[0] == "welcome", emails
    assert "nps_survey" not in emails, emails  # not before day 30
    assert "first_production_workflow" in progress.milestones_done
    # The journey itself took the day-0 events only after its welcome: its first e-mail
    # action (sent, held or dropped) is the welcome.
    journey_emails = [a for a in progress.actions if a.channel == "email"]
    assert journey_emails[0].template == "welcome", journey_emails
    assert all(a.outcome != "deferred" for a in journey_emails if a.day == 0), journey_emails

    sent: list[ActionRow] = [r for r in rows if r.channel == "email" and r.outcome == "done"]
    assert len(sent) == len(emails), (sent, emails)  # the store and the outbox agree
    times = [r.last_at for r in sent]
    assert max_in_window(times, timedelta(days=1)) <= 2, sorted(times)
    assert max_in_window(times, timedelta(days=7)) <= 6, sorted(times)
    welcome = next(r for r in sent if r.kind == "welcome")
    assert all(r.last_at >= welcome.last_at for r in sent)

    # What was held back is in the timeline with the reason.
    held = {r.kind: r for r in rows if r.outcome in ("dropped", "deferred")}
    nps_row = held["nps_survey"]
    assert nps_row.outcome == "dropped"
    assert "no surveys in the first 30 days of onboarding" in nps_row.summary
    assert any("contact pressure" in r.summary for r in held.values()), held
    # The usage warning (lifecycle) went out after the welcome (sent late when it came
    # first: the workflows race on day 0); the day-1 e-mail, over
    # the day's cap, was sent later and says so; the celebration and the nudge (day 0,
    # cap full) were dropped.
    usage = next(r for r in rows if r.kind == "usage_limit_warning")
    assert usage.outcome == "done" and usage.last_at >= welcome.last_at, usage
    late = {r.kind for r in sent if "sent late" in r.summary}
    assert "quick_win" in late and late <= {"quick_win", "usage_limit_warning"}, late
    assert held["milestone_celebration"].outcome == "dropped"
    assert held["nudge"].outcome == "dropped"


async def test_the_demo_customers_first_minute_is_calm_and_in_order(
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    tmp_path: Path,
) -> None:
    """``cshub dev``'s demo (sandbox/demo_data.yaml, seed_demo: onboarding in one-minute
    plan days, a milestone, usage at 87 %, NPS surveys, ticket SLAs): each customer's
    first e-mail is the welcome, no survey goes to a customer in onboarding, and the
    celebrations and nudges of the first minute are held back by the caps."""

    async for env in fresh_time_skipping_env():  # today's clock: this quarter's NPS is due
        await _run_demo(env, clean_sandbox, hub_settings, tmp_path)


async def _run_demo(
    env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings, tmp_path: Path
) -> None:
    from cshub.dev import DEMO_CUSTOMERS, DEMO_NPS_CUSTOMERS, seed_demo

    store = SqliteActionStore(tmp_path / "actions.db")
    async with running_worker(env, hub_settings, actions=store) as worker:
        await seed_demo(env.client, worker.task_queue, 60)
        # 12 minutes: plan days 0-11, past the 10 minutes a survey waits for a welcome.
        await env.sleep(timedelta(minutes=12))
        box = await outbox(clean_sandbox)
        handles = [
            env.client.get_workflow_handle(f"{kind}-{c}")
            for kind, customers in (("onboarding", DEMO_CUSTOMERS), ("nps", DEMO_NPS_CUSTOMERS))
            for c in customers
        ]
        handles += [h async for h in _ticket_handles(env)]
        for handle in handles:
            await stop(handle)
    rows = {c: store.for_customer(c) for c in DEMO_CUSTOMERS}
    store.close()

    for customer in DEMO_CUSTOMERS:
        emails = [e["template"] for e in emails_for(box, customer)]
        if customer == "1009" or not emails:
            continue
        assert emails[0] == "welcome", (customer, emails)
        assert "nps_survey" not in emails, (customer, emails)
    held = {r.kind: r for r in rows["1003"] if r.outcome in ("dropped", "deferred")}
    assert held["nps_survey"].outcome == "dropped", held
    assert "milestone_celebration" in held and "nudge" in held, held


async def _ticket_handles(env: WorkflowEnvironment) -> Any:
    from cshub.dev import DEMO_TICKETS
    from domain.ticket_sla import ticket_sla_workflow_id

    for ticket_id in DEMO_TICKETS:
        yield env.client.get_workflow_handle(ticket_sla_workflow_id(ticket_id))


async def test_no_csat_survey_in_the_first_30_days_of_onboarding(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    tmp_path: Path,
) -> None:
    """A ticket of a customer 10 days into onboarding is solved: the CSAT survey is not
    sent, and the survey workflow ends as skipped, saying why."""
    from domain.surveys import CsatInput
    from tests.workflows.test_surveys import set_ticket_status
    from workflows.csat import CsatSurveyWorkflow

    env = module_time_skipping_env
    await set_ticket_status(clean_sandbox, "5002", "solved")  # Grace (Northwind, 1003)
    store = SqliteActionStore(tmp_path / "actions.db")
    tag = uuid.uuid4().hex[:6]
    async with running_worker(env, hub_settings, actions=store) as worker:
        onboarding = await env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id=CUSTOMER, tier=Tier.STARTER),
            id=f"onboarding-{CUSTOMER}-{tag}",
            task_queue=worker.task_queue,
        )
        await env.sleep(timedelta(days=10))
        now = await env.get_current_time()
        csat = await env.client.start_workflow(
            CsatSurveyWorkflow.run,
            CsatInput(ticket_id="5002", customer_id=CUSTOMER, solved_at=now - timedelta(days=2)),
            id=f"csat-5002-{tag}",
            task_queue=worker.task_queue,
        )
        status = await csat.result()
        progress = await csat.query(CsatSurveyWorkflow.progress)
        box = await outbox(clean_sandbox)
        await stop(onboarding)
    store.close()
    assert status.status == "skipped", status
    assert "no surveys in the first 30 days of onboarding (day 10)" in (progress.reason or "")
    assert "csat_survey" not in [e["template"] for e in box["emails"]]
