"""The renewal reminder's value summary from the hub's own data, end to end on the
time-skipping server: a customer without the demo properties (``cshub_usage_summary``,
``cshub_outcomes``) whose usage, health and survey figures the hub wrote on the CRM
company and whose milestones and tickets are in the hub's action log gets those facts in
the e-mail, not the filler ("a full review of your usage and results")."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from activities.action_log import ActionRow, SqlActionStore
from domain.risk_detectors import weeks_back
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.workflows.campaign_helpers import skip_to_local_hour, stop
from tests.workflows.test_renewal import latest, local_today, sleep_until_local, start
from wiring.connectors import build_connectors

CUSTOMER = "1003"  # Northwind Analytics, America/New_York, no demo value properties


def row(key: str, at: datetime, **kw: str) -> ActionRow:
    fields = {"workflow_type": "", "activity": "", "step": "", "channel": "journey"} | kw
    return ActionRow(
        key=key, customer_id=CUSTOMER, outcome="done", first_at=at, last_at=at, **fields
    )


async def test_a_customer_without_the_demo_properties_gets_the_hubs_figures(
    time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    tmp_path: Path,
) -> None:
    env = time_skipping_env
    await skip_to_local_hour(env, CUSTOMER, 12)
    now = await env.get_current_time()
    weekly = {weeks_back(now, i): (130.0 if i < 5 else 100.0) for i in range(10)}
    crm = build_connectors(hub_settings).crm
    await asyncio.to_thread(
        crm.update_company,
        CUSTOMER,
        {
            "cshub_workflow_runs": "420",
            "cshub_workflow_limit": "1000",
            "cshub_active_users": "8",
            "cshub_licensed_seats": "10",
            "cshub_usage_weekly": json.dumps(weekly),
            "cshub_csat_percent": "92.5",
            "cshub_nps_last_score": "9",
            "cshub_onboarding_survey_score": "8",
            "cshub_health_score": "81.5",
            "cshub_health_previous_score": "74",
        },
    )
    store = SqlActionStore(tmp_path / "actions.db")
    for n, (step, title) in enumerate(
        [
            ("milestone:first_workflow", "First production workflow live"),
            ("milestone:team_trained", "Team trained <&> ready"),
        ]
    ):
        store.upsert(
            row(
                f"onb/{step}",
                now - timedelta(days=40 - n),
                workflow_id=f"onboarding-{CUSTOMER}",
                workflow_type="OnboardingWorkflow",
                step=step,
                summary=f"milestone reached: {title} (product event)",
            )
        )
    ten_days_ago = now - timedelta(days=10)
    store.upsert(row("t1/ack", ten_days_ago, workflow_id="ticket-sla-7001", step="ack"))
    store.upsert(row("t2/ack", ten_days_ago, workflow_id="ticket-sla-7002", step="ack"))
    store.upsert(row("t2/breach", ten_days_ago, workflow_id="ticket-sla-7002", kind="sla_breach"))
    renewal = await local_today(env, CUSTOMER) + timedelta(days=2)
    async with running_worker(env, hub_settings, actions=store) as worker:
        await start(env, worker.task_queue, CUSTOMER, renewal)
        try:
            await sleep_until_local(env, CUSTOMER, renewal, hour=8)
        finally:
            await stop(latest(env, CUSTOMER))

    box = await outbox(clean_sandbox)
    (mail,) = [e for e in box["emails"] if e["headers"].get("X-Cshub-Customer-Id") == CUSTOMER]
    text, html = mail["text"], mail["html"]
    assert "full review of your usage and results" not in text  # today's filler
    for fact in (
        "- Onboarding milestones reached: First production workflow live, Team trained <&> ready",
        "- Workflow runs this billing month: 420 of 1000 included",
        "- Active users in the last 30 days: 8 of 10 seats",
        "- Support: 2 tickets in the last 30 days, 1 within their SLA",
        "- Support satisfaction: 92.5 % of ratings were 4 or 5",
        '- Your latest answer to "would you recommend us": 9/10',
        "- Your latest onboarding survey: 8/10 satisfied",
        "- Account health score: 81.5/100 (up from 74)",
    ):
        assert fact in text, text
    assert "- Usage over the last four weeks: up " in text
    assert "Team trained &lt;&amp;&gt; ready" in html and "<&>" not in html
    assert "Results:" not in text  # no CSM-written results: nothing said, nothing invented
