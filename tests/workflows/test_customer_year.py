"""The post-onboarding plays end to end on the time-skipping server: the real workflow,
activities and connectors against the sandbox emulators (HubSpot, Slack, SMTP).

* a Starter and a Professional customer get their quarterly review's CRM task, whose
  review pack carries the health explanation ``cshub health explain`` prints and the
  usage, ticket and survey figures of the CRM;
* upgrade acceleration acts on a healthy account near its limits every two weeks and
  stops at conversion;
* advocacy e-mails only healthy promoters.
"""

from __future__ import annotations

import asyncio
import html
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from typer.testing import CliRunner

from activities.health_explain import explain_customer
from activities.models import CustomerRef
from activities.support import SupportActivities
from cshub.cli import app
from domain import health_properties as hp
from domain.customer_year import (
    CustomerYearInput,
    ReferralMade,
    UpgradeAnswer,
    UpgradeOutcome,
    customer_year_workflow_id,
)
from domain.tiers import Tier
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.workflows.campaign_helpers import (
    emails,
    merged_company_update,
    notes,
    skip_to_local_hour,
    slack_texts,
    stop,
)
from wiring.connectors import build_connectors
from worker import messaging_config
from workflows.customer_year import CustomerYearWorkflow

HEALTHY = {hp.SCORE: "88", hp.CATEGORY: "healthy", hp.CATEGORY_LABEL: "Healthy"}
SUPPORT = {
    "cshub_open_tickets": "3",
    "cshub_critical_tickets_open": "1",
    "cshub_tickets_30d": "5",
    "cshub_tickets_prev_30d": "2",
    "cshub_sla_first_response_met_percent": "96.5",
    "cshub_sla_resolution_met_percent": "91",
}


def crm_tasks(box: dict[str, Any], customer_id: str) -> list[dict[str, str]]:
    return [
        t["properties"]
        for t in box["crm_tasks"]
        if {"type": "companies", "id": customer_id} in t["associations"]
    ]


async def set_company(settings: Settings, customer_id: str, props: Mapping[str, str]) -> None:
    crm = build_connectors(settings).crm
    await asyncio.to_thread(crm.update_company, customer_id, dict(props))


async def run_plays(
    env: WorkflowEnvironment,
    settings: Settings,
    customer: str,
    tier: Tier,
    *,
    start_day: int,
    days: float,
    signals: list[tuple[float, str, Any]] = (),  # type: ignore[assignment]
    **extra: Any,
) -> Any:
    """Start the plays on ``start_day`` of the journey, run ``days`` days (signals on their
    day), return the progress."""
    await skip_to_local_hour(env, customer, 6)
    async with running_worker(env, settings) as worker:
        handle = await env.client.start_workflow(
            CustomerYearWorkflow.run,
            CustomerYearInput(customer_id=customer, tier=tier, start_day=start_day, **extra),
            # Its own id: a journey another test completed may have started the plays of
            # this customer on the shared test server.
            id=f"{customer_year_workflow_id(customer)}-{uuid.uuid4().hex[:8]}",
            task_queue=worker.task_queue,
        )
        try:
            elapsed = 0.0
            for day, name, payload in signals:
                await env.sleep(_days(day - elapsed))
                elapsed = day
                await handle.signal(name, payload)
            await env.sleep(_days(days - elapsed))
            return await handle.query(CustomerYearWorkflow.progress)
        finally:
            await stop(handle)


def _days(n: float) -> Any:
    return timedelta(days=n)


def section(text: str, title: str) -> str:
    """One numbered part of the pack (up to the next one)."""
    start = text.index(title)
    nxt = text.find("\n\n", start)
    return text[start : nxt if nxt >= 0 else None]


async def test_starter_and_professional_reviews_carry_the_review_pack(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env = time_skipping_env
    cases = {
        "1003": (Tier.STARTER, {"cshub_nps_last_score": "8", "cshub_csat_percent": "92"}),
        "1006": (Tier.PROFESSIONAL, {"cshub_nps_last_score": "9", "cshub_csat_percent": "75"}),
    }
    for customer, (_, survey) in cases.items():
        await set_company(
            hub_settings,
            customer,
            {
                **HEALTHY,
                **SUPPORT,
                **survey,
                "cshub_active_users": "9",
                "cshub_licensed_seats": "10",
                "cshub_workflow_runs": "30",
                "cshub_workflow_limit": "50",
                "cshub_features_adopted": "6",
                "cshub_features_available": "12",
            },
        )
    crm = build_connectors(hub_settings).crm
    for customer, (tier, survey) in cases.items():
        progress = await run_plays(
            env,
            hub_settings,
            customer,
            tier,
            start_day=119,  # the first QBR is on day 120
            days=2,
            milestones_reached=["first_production_workflow"],
            milestones_missed=["fully_integrated"],
        )
        box = await outbox(clean_sandbox)
        reviews = [
            t
            for t in crm_tasks(box, customer)
            if "Quarterly business review" in t["hs_task_subject"]
        ]
        assert len(reviews) == 1, [t["hs_task_subject"] for t in crm_tasks(box, customer)]
        assert reviews[0]["hs_task_subject"].startswith("Quarterly business review (day 120)")
        pack = html.unescape(reviews[0]["hs_task_body"])
        # Health: word for word what `cshub health explain` prints for the company now.
        explained = await asyncio.to_thread(explain_customer, crm, customer)
        assert explained.rstrip() in pack
        usage = section(pack, "2. Usage against the plan's limits")
        assert "- licensed seats: 9 of 10 (90 %)" in usage
        assert "- workflow runs this month: 30 of 50 (60 %)" in usage
        assert "- features adopted: 50 %" in usage
        milestones = section(pack, "3. Onboarding milestones")
        assert "reached: first_production_workflow" in milestones
        assert "missed: fully_integrated" in milestones
        tickets = section(pack, "4. Tickets and SLA")
        assert "- open tickets: 3 (critical: 1)" in tickets
        assert "- created in the last 30 days: 5 (the 30 days before: 2)" in tickets
        assert "- first response within SLA: 96.5 %" in tickets
        assert "- resolved within SLA: 91 %" in tickets
        surveys = section(pack, "5. Survey answers")
        assert f"- latest NPS answer: {survey['cshub_nps_last_score']} (0-10)" in surveys
        assert f"- CSAT, satisfied answers: {survey['cshub_csat_percent']} %" in surveys
        # The chart: a PNG in the CRM's file manager, attached to the task (its
        # hs_attachment_ids name the file, whose url serves it) and linked from the body.
        chart_url = pack.rsplit("Chart: ", 1)[1].strip()
        async with httpx.AsyncClient() as http:
            attached = await http.get(
                f"{clean_sandbox.http_url}/files/v3/files/{reviews[0]['hs_attachment_ids']}",
                headers={"Authorization": "Bearer test"},
            )
            assert attached.status_code == 200, attached.text
            assert attached.json()["url"] == chart_url
            png = await http.get(chart_url)
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        assert png.headers["content-type"] == "image/png"
        recorded = [
            (a.day, a.channel, a.template) for a in progress.actions if a.channel == "crm_task"
        ]
        assert (120, "crm_task", "quarterly_business_review") in recorded


async def test_upgrade_acceleration_every_two_weeks_stops_at_conversion(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    customer = "1006"  # professional, healthy, 45 of 50 workflow runs (90 %)
    await set_company(
        hub_settings,
        customer,
        {**HEALTHY, "cshub_workflow_runs": "45", "cshub_workflow_limit": "50"},
    )
    progress = await run_plays(
        time_skipping_env,
        hub_settings,
        customer,
        Tier.PROFESSIONAL,
        start_day=97,
        days=30,  # checks on days 98, 112 and 126
        signals=[(20, "upgrade_outcome", UpgradeAnswer(outcome=UpgradeOutcome.CONVERTED))],
    )
    box = await outbox(clean_sandbox)
    upgrade_tasks = [
        t
        for t in crm_tasks(box, customer)
        if t["hs_task_subject"].startswith("Upgrade acceleration")
    ]
    # Days 98 and 112 act (two weeks apart); converted on day 117, day 126 does not.
    assert len(upgrade_tasks) == 2
    assert "workflow runs this month at 90 %" in upgrade_tasks[0]["hs_task_body"]
    assert len(slack_texts(box, "ready for an upgrade conversation")) == 2
    checks = [
        (a.day, a.channel, a.outcome) for a in progress.actions if a.step.startswith("upgrade:")
    ]
    assert checks == [
        (98, "slack", "done"),
        (98, "crm_task", "done"),
        (112, "slack", "done"),
        (112, "crm_task", "done"),
        (117, "crm_note", "done"),  # the outcome, on the day it came
        (126, "journey", "done"),  # "upgrade acceleration over: converted"
    ]
    assert progress.upgrade is UpgradeOutcome.CONVERTED
    assert any("Upgrade acceleration ended: converted" in n for n in notes(box, customer))


async def test_a_higher_tier_in_the_crm_counts_as_conversion(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    customer = "1004"  # starter, rated upgrade-ready, then moved to Professional in the CRM
    await set_company(
        hub_settings,
        customer,
        {**HEALTHY, "cshub_health_upgrade_readiness": "excellent", "cshub_tier": "professional"},
    )
    progress = await run_plays(
        time_skipping_env, hub_settings, customer, Tier.STARTER, start_day=97, days=2
    )
    box = await outbox(clean_sandbox)
    assert not [t for t in crm_tasks(box, customer) if "Upgrade" in t["hs_task_subject"]]
    assert progress.upgrade is UpgradeOutcome.CONVERTED


async def test_advocacy_asks_only_healthy_promoters(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    cases = {
        "1003": {**HEALTHY, "cshub_nps_last_score": "9"},  # healthy promoter: asked
        "1004": {**HEALTHY, "cshub_nps_last_score": "8"},  # healthy passive: not asked
        "1009": {  # promoter, at risk: not asked
            hp.SCORE: "55",
            hp.CATEGORY: "at_risk",
            hp.CATEGORY_LABEL: "At risk",
            "cshub_nps_last_score": "10",
        },
    }
    outcomes = {}
    for customer, props in cases.items():
        await set_company(hub_settings, customer, props)
        progress = await run_plays(
            time_skipping_env, hub_settings, customer, Tier.STARTER, start_day=104, days=2
        )
        outcomes[customer] = [
            (a.channel, a.outcome) for a in progress.actions if a.step.startswith("advocacy:")
        ]
    box = await outbox(clean_sandbox)
    assert emails(box, "1003") == [(105, "advocacy_ask")]
    asked = next(e for e in box["emails"] if e["template"] == "advocacy_ask")
    assert "Write a short review" in asked["text"]  # the first ask of the rotation
    assert emails(box, "1004") == [] and emails(box, "1009") == []
    assert outcomes == {
        "1003": [("email", "done")],
        "1004": [("check", "skipped")],
        "1009": [("check", "skipped")],
    }


async def test_a_referral_records_the_commission_owed(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    referral = ReferralMade(referred_customer_id="1010", value_minor=120_000, currency="USD")
    progress = await run_plays(
        time_skipping_env,
        hub_settings,
        "1005",
        Tier.PROFESSIONAL,
        start_day=92,
        days=1,
        signals=[(0.1, "referral", referral), (0.2, "referral", referral)],  # told twice
    )
    box = await outbox(clean_sandbox)
    assert merged_company_update(box, "1010") == {
        "cshub_referred_by": "1005",
        "cshub_referral_value_minor": "120000",
        "cshub_referral_commission_minor": "36000",  # seed 002: 30 %
        "cshub_referral_currency": "USD",
    }
    assert [n for n in notes(box, "1005") if n.startswith("Referral")] == [
        "Referral: this customer referred customer 1010. Commission owed: 360.00 USD "
        "(30 % of 1200.00 USD)."
    ]
    assert [(r.referred_customer_id, r.commission_minor) for r in progress.referrals] == [
        ("1010", 36_000)
    ]
    # ... and the report line the programme's dashboard reads.
    env = {"CSHUB_ENV": "sandbox", "HUBSPOT_BASE_URL": clean_sandbox.http_url}
    result = await asyncio.to_thread(CliRunner().invoke, app, ["report", "referrals"], env=env)
    assert result.exit_code == 0, result.output
    assert "1005 -> 1010 (" in result.output
    assert "1,200.00 USD, commission 360.00 USD" in result.output
    assert "1005: 1 referral(s), 360.00 USD" in result.output


async def test_a_completed_onboarding_starts_the_plays_once(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    from domain.customer_year import YearStatus
    from domain.onboarding import OnboardingInput
    from tests.workflows.campaign_helpers import progress_once_started
    from workflows.onboarding import OnboardingWorkflow

    customer = "1009"
    env = time_skipping_env
    year = env.client.get_workflow_handle(customer_year_workflow_id(customer))
    await stop(year)  # one another test file left running on the shared server
    async with running_worker(env, hub_settings) as worker:
        onboarding = await env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id=customer, tier=Tier.STARTER, plan="handover"),
            id=f"onboarding-{customer}-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        try:
            summary = await onboarding.result()
            progress = await progress_once_started(year, CustomerYearWorkflow.progress)
        finally:
            await stop(year)
    assert progress.status is YearStatus.ACTIVE and progress.tier is Tier.STARTER
    assert progress.day == 3  # the plan's last day: the plays take over from there
    assert progress.next_action.summary == "Agree the success plan's goals (day 91)"
    started = [a.summary for a in progress.actions if a.channel == "journey"]
    assert started == ["post-onboarding plays started (starter, day 3)"]
    assert summary.milestones_missed == ["first_workflow"]


async def test_continue_as_new_keeps_the_plays_and_repeats_nothing(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    """A tiny history budget: the plays continue as new many times over 40 days; every
    upgrade check, the referral and the QBR happen once, and the progress (by id) has
    the whole record."""
    customer = "1006"
    await set_company(
        hub_settings,
        customer,
        {**HEALTHY, "cshub_workflow_runs": "45", "cshub_workflow_limit": "50"},
    )
    env = time_skipping_env
    await skip_to_local_hour(env, customer, 6)
    async with running_worker(env, hub_settings) as worker:
        started = await env.client.start_workflow(
            CustomerYearWorkflow.run,
            CustomerYearInput(
                customer_id=customer, tier=Tier.PROFESSIONAL, start_day=97, history_budget=50
            ),
            id=f"{customer_year_workflow_id(customer)}-{uuid.uuid4().hex[:8]}",
            task_queue=worker.task_queue,
        )
        handle = env.client.get_workflow_handle(started.id)
        try:
            await env.sleep(_days(10))
            await handle.signal(
                CustomerYearWorkflow.referral,
                ReferralMade(referred_customer_id="1010", value_minor=50_000),
            )
            await env.sleep(_days(30))
            progress = await handle.query(CustomerYearWorkflow.progress)
            desc = await handle.describe()
        finally:
            await stop(handle)
    assert desc.run_id != started.first_execution_run_id  # it did continue as new
    box = await outbox(clean_sandbox)
    subjects = [t["hs_task_subject"] for t in crm_tasks(box, customer)]
    assert sum(s.startswith("Upgrade acceleration") for s in subjects) == 3  # 98, 112, 126
    assert sum(s.startswith("Quarterly business review") for s in subjects) == 1
    assert len([n for n in notes(box, customer) if n.startswith("Referral")]) == 1
    steps = [a.step for a in progress.actions if a.channel == "crm_task"]
    assert steps == ["upgrade:98", "upgrade:112", "review:qbr:120", "upgrade:126"]
    assert [r.referred_customer_id for r in progress.referrals] == ["1010"]


async def test_cancel_stops_the_plays(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    from domain.customer_year import YearStatus
    from domain.steering import CancelRequest

    customer = "1004"
    env = time_skipping_env
    await skip_to_local_hour(env, customer, 6)
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            CustomerYearWorkflow.run,
            CustomerYearInput(customer_id=customer, tier=Tier.STARTER, start_day=119),
            id=f"{customer_year_workflow_id(customer)}-{uuid.uuid4().hex[:8]}",
            task_queue=worker.task_queue,
        )
        await env.sleep(_days(0.5))
        await handle.signal(CustomerYearWorkflow.cancel, CancelRequest(reason="churned"))
        summary = await handle.result()
    box = await outbox(clean_sandbox)
    assert summary.status is YearStatus.CANCELLED
    assert crm_tasks(box, customer) == []  # the day-120 QBR never came


async def test_advocacy_honours_the_product_news_opt_out(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    from domain.preferences import OPT_OUT_PROPERTY

    customer = "1003"
    await set_company(hub_settings, customer, {**HEALTHY, "cshub_nps_last_score": "10"})
    crm = build_connectors(hub_settings).crm
    contact = await asyncio.to_thread(crm.get_primary_contact, customer)
    assert contact is not None and contact.id
    await asyncio.to_thread(crm.update_contact, contact.id, {OPT_OUT_PROPERTY: "product_news"})
    try:
        progress = await run_plays(
            time_skipping_env, hub_settings, customer, Tier.STARTER, start_day=104, days=2
        )
    finally:
        await asyncio.to_thread(crm.update_contact, contact.id, {OPT_OUT_PROPERTY: ""})
    box = await outbox(clean_sandbox)
    assert emails(box, customer) == []
    asked = [(a.channel, a.outcome) for a in progress.actions if a.step.startswith("advocacy:")]
    assert asked == [("email", "suppressed")]
    assert slack_texts(box, "advocacy_ask")  # the CSM is told instead


async def test_business_reviews_inside_onboarding_carry_the_pack_too(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    """Seed 001's Starter monthly business reviews (days 31-90) are onboarding check-ins;
    the day-58 one carries the review pack, the ordinary check-ins do not."""
    from domain.onboarding import OnboardingInput
    from workflows.onboarding import OnboardingWorkflow

    customer = "1004"
    await set_company(hub_settings, customer, {**HEALTHY, **SUPPORT})
    env = time_skipping_env
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id=customer, tier=Tier.STARTER),
            id=f"onboarding-{customer}-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        try:
            await env.sleep(_days(59))
        finally:
            await stop(handle)
    box = await outbox(clean_sandbox)
    by_subject = {t["hs_task_subject"]: t for t in crm_tasks(box, customer)}
    tasks = {s: html.unescape(t["hs_task_body"]) for s, t in by_subject.items()}
    review = tasks["Onboarding business review: Month 2 business review"]
    assert "REVIEW PACK · Month 2 business review · day 58" in review
    assert "- open tickets: 3 (critical: 1)" in review
    chart_url = review.rsplit("Chart: ", 1)[1].strip()
    # The chart is attached too: the task's attachment is the linked file.
    attached = by_subject["Onboarding business review: Month 2 business review"]
    assert chart_url.split("/_sandbox/files/")[1].split("/")[0] == attached["hs_attachment_ids"]
    plain = by_subject["Onboarding check in: Month 1 business review"]
    assert "REVIEW PACK" not in tasks[plain["hs_task_subject"]]
    assert not plain.get("hs_attachment_ids")


async def test_pause_holds_a_review_until_resume(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    from domain.steering import PauseRequest, ResumeRequest

    customer = "1005"
    env = time_skipping_env
    await skip_to_local_hour(env, customer, 6)
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            CustomerYearWorkflow.run,
            CustomerYearInput(customer_id=customer, tier=Tier.PROFESSIONAL, start_day=119),
            id=f"{customer_year_workflow_id(customer)}-{uuid.uuid4().hex[:8]}",
            task_queue=worker.task_queue,
        )
        try:
            await env.sleep(_days(0.5))
            await handle.signal(CustomerYearWorkflow.pause, PauseRequest(reason="CSM on leave"))
            await env.sleep(_days(5))  # day 120's QBR falls due while paused
            held = crm_tasks(await outbox(clean_sandbox), customer)
            await handle.signal(CustomerYearWorkflow.resume, ResumeRequest())
            await env.sleep(_days(0.5))
            progress = await handle.query(CustomerYearWorkflow.progress)
        finally:
            await stop(handle)
    assert held == []
    after = [t["hs_task_subject"] for t in crm_tasks(await outbox(clean_sandbox), customer)]
    assert [s for s in after if s.startswith("Quarterly business review (day 120)")] != []
    assert [a.day for a in progress.actions if a.step == "review:qbr:120"] == [120]


async def test_a_churn_at_renewal_cancels_the_plays(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    """On a test server of its own: something in the renewal's churn path leaves the
    server's clock held afterwards (see the issue note), which would stall later files."""
    from datetime import date

    from domain.customer_year import YearStatus
    from domain.renewal import Churned, RenewalInput
    from workflows.renewal import RenewalWorkflow

    customer = "1002"
    env = module_time_skipping_env
    plays = env.client.get_workflow_handle(customer_year_workflow_id(customer))
    winback = env.client.get_workflow_handle(f"winback-{customer}")
    await stop(plays)
    await skip_to_local_hour(env, customer, 6)
    async with running_worker(env, hub_settings) as worker:
        # The start handle: only its result() lets the test server skip time (one by id
        # would leave the shared server's clock held for the next test).
        started = await env.client.start_workflow(
            CustomerYearWorkflow.run,
            CustomerYearInput(customer_id=customer, tier=Tier.COMMUNITY, start_day=100),
            id=customer_year_workflow_id(customer),
            task_queue=worker.task_queue,
        )
        renewal = await env.client.start_workflow(
            RenewalWorkflow.run,
            RenewalInput(customer_id=customer, renewal_date=date(2099, 1, 1)),
            id=f"renewal-{customer}-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        try:
            await env.sleep(_days(1))
            await renewal.signal(RenewalWorkflow.churned, Churned(reason="budget cut"))
            await renewal.result()
            summary = await started.result()
        finally:
            await stop(plays)
            await stop(renewal)
            await stop(winback)
    assert summary.status is YearStatus.CANCELLED


COBALT, MAYA, AGENT = "1006", 8108, 8001  # professional; Zendesk org 9006, no demo tickets


async def import_ticket(
    sandbox: SandboxHandle,
    priority: str,
    created: datetime,
    *,
    reply_after: timedelta | None = None,
    solved_after: timedelta | None = None,
) -> None:
    """A past ticket of Cobalt's in the sandbox Zendesk (ticket import API): its metric
    set's reply and resolution minutes are the agent's public reply and the solve."""
    comments: list[dict[str, object]] = [
        {"author_id": MAYA, "value": "It broke.", "created_at": created.isoformat()}
    ]
    if reply_after is not None:
        at = (created + reply_after).isoformat()
        comments.append({"author_id": AGENT, "value": "On it.", "created_at": at})
    body: dict[str, object] = {
        "subject": "SLA figures",
        "requester_id": MAYA,
        "priority": priority,
        "created_at": created.isoformat(),
        "comments": comments,
        "status": "open" if solved_after is None else "solved",
    }
    if solved_after is not None:
        body["solved_at"] = (created + solved_after).isoformat()
    async with httpx.AsyncClient(base_url=sandbox.http_url) as http:
        resp = await http.post(
            "/api/v2/imports/tickets.json",
            json={"ticket": body},
            auth=("automation@cshub.example/token", "sandbox"),
        )
        assert resp.status_code == 201, resp.text


async def test_the_review_packs_sla_lines_are_the_customers_helpdesk_results(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    """The support refresh computes the SLA results per clock from the Zendesk metric
    sets and writes them on the company; the review pack prints them. Delays are chosen
    so the verdicts hold on any weekday and in any time zone: minutes are within any
    target, eight days hold a business day more than any first-response target."""
    now, day, minute = datetime.now(UTC), timedelta(days=1), timedelta(minutes=1)
    await import_ticket(  # response met (15 min), resolution met (4 h)
        clean_sandbox, "urgent", now - 20 * day, reply_after=5 * minute, solved_after=60 * minute
    )
    await import_ticket(  # response breached (1 h), resolution breached (8 h)
        clean_sandbox, "high", now - 30 * day, reply_after=8 * day, solved_after=9 * day
    )
    await import_ticket(  # both met (4 h / 24 h)
        clean_sandbox,
        "normal",
        now - 10 * day,
        reply_after=30 * minute,
        solved_after=2 * 60 * minute,
    )
    await import_ticket(clean_sandbox, "urgent", now - 8 * day)  # unanswered: breached
    await import_ticket(clean_sandbox, "low", now - minute)  # unanswered, in time: not counted
    await import_ticket(clean_sandbox, "normal", now - 5 * day, reply_after=10 * minute)  # met
    await import_ticket(  # before the 90 days: not counted
        clean_sandbox, "normal", now - 100 * day, reply_after=8 * day, solved_after=9 * day
    )
    connectors = build_connectors(hub_settings)
    support = SupportActivities(
        connectors.helpdesk, connectors.crm, connectors.chat, messaging_config(hub_settings)
    )
    done = await ActivityEnvironment().run(
        asyncio.to_thread, support.refresh_support_health_inputs, CustomerRef(customer_id=COBALT)
    )
    assert "first response within SLA 60 % of 5" in done.summary
    assert "resolved within SLA 66.7 % of 3" in done.summary

    await set_company(hub_settings, COBALT, HEALTHY)
    await run_plays(
        time_skipping_env, hub_settings, COBALT, Tier.PROFESSIONAL, start_day=119, days=2
    )
    box = await outbox(clean_sandbox)
    (review,) = [
        t for t in crm_tasks(box, COBALT) if "Quarterly business review" in t["hs_task_subject"]
    ]
    tickets = section(html.unescape(review["hs_task_body"]), "4. Tickets and SLA")
    # 3 of the 5 first responses decided, 2 of the 3 solved tickets.
    assert "- first response within SLA: 60 %" in tickets
    assert "- resolved within SLA: 66.7 %" in tickets
    assert "- open tickets: 3 (critical: 1)" in tickets
