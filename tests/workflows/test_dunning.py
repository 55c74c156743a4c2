"""Dunning end to end on the time-skipping server: the real workflow, activities and
connectors, the sandbox emulators over HTTP/SMTP."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from domain.churn import ChurnStatus, RiskFactor
from domain.dunning import (
    DunningInput,
    DunningPlan,
    DunningState,
    DunningStatus,
    PaymentFailed,
    PaymentSucceeded,
)
from playbooks.loader import load_playbook
from runtime.risk_history import RiskHistory
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
)
from workflows.churn import ChurnPreventionWorkflow
from workflows.dunning import DunningWorkflow


async def test_unpaid_sequence_mails_alerts_then_flags_the_company_and_starts_churn(
    time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    tmp_path: Path,
) -> None:
    env, customer = time_skipping_env, "1003"
    await skip_to_local_hour(env, customer, 12)
    history = RiskHistory(tmp_path / "risk.db")
    async with running_worker(env, hub_settings, history=history) as worker:
        # What the Stripe route does: signal-with-start, the start input and the signal
        # describing the same failure (it must count once), then Stripe's own retry.
        handle = await env.client.start_workflow(
            DunningWorkflow.run,
            DunningInput(
                customer_id=customer, invoice_id="in_1", amount_due_cents=9900, currency="usd"
            ),
            id=f"dunning-{customer}",
            task_queue=worker.task_queue,
            start_signal="payment_failed",
            start_signal_args=[PaymentFailed(invoice_id="in_1", event_id="evt_1")],
        )
        churn = env.client.get_workflow_handle_for(ChurnPreventionWorkflow.run, f"churn-{customer}")
        try:
            await env.sleep(timedelta(days=1))
            await handle.signal(
                DunningWorkflow.payment_failed,
                PaymentFailed(invoice_id="in_1", attempt_count=2, event_id="evt_2"),
            )
            await handle.signal(  # a redelivered event
                DunningWorkflow.payment_failed, PaymentFailed(invoice_id="in_1", event_id="evt_1")
            )
            summary = await handle.result()
            progress = await handle.query(DunningWorkflow.progress)
            churn_progress = await progress_once_started(churn, ChurnPreventionWorkflow.progress)
        finally:
            await stop(handle)
            await stop(churn)

    # The churn-risk model's history learns the outcome: churned, once.
    seen = [(o.customer_id, o.outcome, o.source) for o in history.outcomes()]
    history.close()
    assert seen == [(customer, "churned", "DunningWorkflow")]
    box = await outbox(clean_sandbox)
    assert emails(box, customer) == [(d, "dunning_payment_failed") for d in (0, 3, 7, 14)]
    assert not [e for e in box["emails"] if e["duplicate"]]
    subjects = [e["subject"] for e in box["emails"]]
    assert len(set(subjects)) == 4, subjects  # the tone changes with the attempt day
    assert "($99.00)" in box["emails"][0]["text"]
    for action in sent(progress.actions, "email"):
        if action.day > 0:
            assert local_hour(action.at, customer) == SEND_HOUR, action

    alerts = slack_texts(box, "payment still failing")
    assert len(alerts) == 1 and "day 7" in alerts[0]
    alert, escalated = [a for a in progress.actions if a.channel == "slack"]
    assert alert.day == 7 and local_hour(alert.at, customer) == SEND_HOUR
    # Nobody clicked the alert within its window (playbooks/alerts.yaml, 48 h): escalated once.
    assert (escalated.step, escalated.template) == ("day7:alert:escalated", "alert_escalated")
    assert abs(escalated.at - alert.at - timedelta(hours=48)) < timedelta(seconds=5)
    assert len([m for m in box["slack_messages"] if "Unacknowledged alert" in m["text"]]) == 1

    assert summary.status is DunningStatus.FINAL_FAILURE
    assert summary.payment_failures == 1 and summary.failed_invoices == ["in_1"]
    assert progress.attempt_count == 2
    company = merged_company_update(box, customer)
    assert company["cshub_risk_status"] == "at_risk"
    assert company["cshub_payment_status"] == "failed"
    # The executive report's churn: the day of the final failure.
    (final,) = [a for a in progress.actions if a.step == "final"]
    assert company["cshub_churned_at"] == final.at.date().isoformat()
    assert any("final failure" in n and "Invoice amount: $99.00" in n for n in notes(box, customer))

    # Churn prevention runs on after the dunning workflow closed (abandoned child), with
    # the payment-failure factor, and does not start another dunning sequence.
    assert summary.churn_workflow_id == f"churn-{customer}"
    assert churn_progress.status is ChurnStatus.ACTIVE
    assert churn_progress.risk_factors == [RiskFactor.PAYMENT_FAILURE]
    assert any("not restarted" in a.summary for a in churn_progress.actions)


async def test_a_payment_stops_the_sequence(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1004"
    await skip_to_local_hour(env, customer, 12)
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            DunningWorkflow.run,
            DunningInput(customer_id=customer, invoice_id="in_2"),
            id=f"dunning-{customer}",
            task_queue=worker.task_queue,
        )
        try:
            await env.sleep(timedelta(days=4))
            # Another invoice paid: not the one this sequence is about.
            await handle.signal(
                DunningWorkflow.payment_succeeded, PaymentSucceeded(invoice_id="in_other")
            )
            await env.sleep(timedelta(hours=1))
            await handle.signal(
                DunningWorkflow.payment_succeeded,
                PaymentSucceeded(invoice_id="in_2", event_id="evt_paid"),
            )
            summary = await handle.result()
        finally:
            await stop(handle)

    box = await outbox(clean_sandbox)
    assert emails(box, customer) == [
        (0, "dunning_payment_failed"),
        (3, "dunning_payment_failed"),
        (4, "dunning_payment_received"),
    ]
    assert summary.status is DunningStatus.PAID
    assert summary.paid_at is not None
    assert slack_texts(box, "payment still failing") == []
    company = merged_company_update(box, customer)
    assert company["cshub_payment_status"] == "current"
    assert "cshub_risk_status" not in company
    assert any(n.startswith("Payment received on day 4") for n in notes(box, customer))


async def test_a_continued_run_resumes_from_its_carried_state(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    """What continue-as-new hands over: day 0 and 3 done five days ago, day 7 still due."""
    env, customer = time_skipping_env, "1007"
    await skip_to_local_hour(env, customer, 12)
    now = await env.get_current_time()
    state = DunningState(
        plan=load_playbook("dunning", DunningPlan),
        started_at=now - timedelta(days=5),
        timezone="Asia/Tokyo",
        failed_invoices=["in_7"],
        open_invoices=["in_7"],
        payment_failures=1,
        done_steps=["day0", "day3"],
    )
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            DunningWorkflow.run,
            DunningInput(customer_id=customer, carry_over=state.model_dump(mode="json")),
            id=f"dunning-{customer}",
            task_queue=worker.task_queue,
        )
        try:
            await env.sleep(timedelta(days=3))
            progress = await handle.query(DunningWorkflow.progress)
        finally:
            await stop(handle)

    box = await outbox(clean_sandbox)
    assert emails(box, customer) == [(7, "dunning_payment_failed")]
    assert len(slack_texts(box, "payment still failing")) == 1
    assert progress.payment_failures == 1 and progress.open_invoices == ["in_7"]
    assert progress.next_action is not None and progress.next_action.step == "day14"


async def test_a_yen_payment_reads_in_yen_for_a_mexican_contact_and_the_csm(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    """¥1,000 (Stripe's amount_due 1000: JPY has no minor unit) used to be e-mailed as
    "10.00 JPY". The contact's full tag (es-MX) writes the e-mail; the team locale
    (en-US) the Slack alert and the CRM note."""
    env, customer = time_skipping_env, "1010"  # Lucía, Spanish-speaking
    async with httpx.AsyncClient() as http:
        resp = await http.patch(
            f"{clean_sandbox.http_url}/crm/v3/objects/contacts/2014",
            headers={"Authorization": "Bearer test"},
            json={"properties": {"hs_language": "es-MX"}},
        )
        resp.raise_for_status()
    await skip_to_local_hour(env, customer, 12)
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            DunningWorkflow.run,
            DunningInput(
                customer_id=customer, invoice_id="in_y", amount_due_cents=1000, currency="jpy"
            ),
            id=f"dunning-{customer}",
            task_queue=worker.task_queue,
        )
        try:
            # Past the day-7 CSM alert, then paid: no final failure, no churn campaign
            # left running on the shared test server.
            await env.sleep(timedelta(days=8))
            await handle.signal(
                DunningWorkflow.payment_succeeded, PaymentSucceeded(invoice_id="in_y")
            )
            summary = await handle.result()
        finally:
            await stop(handle)

    box = await outbox(clean_sandbox)
    first = next(e for e in box["emails"] if e["headers"]["X-Cshub-Customer-Id"] == customer)
    assert first["headers"]["Content-Language"] == "es"
    assert "(JPY\u00a01,000)" in first["text"] and "10.00" not in first["text"]
    (alert,) = [m for m in box["slack_messages"] if "payment still failing" in m["text"]]
    assert "*Amount due*\\n¥1,000" in json.dumps(alert["blocks"], ensure_ascii=False)
    assert summary.status is DunningStatus.PAID
    assert any(
        n.startswith("Payment received") and "Invoice amount: ¥1,000" in n
        for n in notes(box, customer)
    )
