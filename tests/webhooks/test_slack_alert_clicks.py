"""Clicks on the renewal, churn, dunning and health alerts, end to end: the real workflow
raises its alert in the sandbox's Slack, the sandbox replays a click signed as Slack
signs it, the API (uvicorn) acts on it.

For each alert with steering buttons: *Pause* pauses the workflow and the message says
who did it; Slack's retry of the same payload acts once; a forged or a stale signature
is 401 and changes nothing; *Resume* resumes it. The health-decline alert's *Snooze 7
days* records the snooze on the CRM company (once), and the sweep then holds that
customer's decline alerts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain import health_properties as hp
from domain.churn import ChurnPreventionInput, HealthUpdated, RiskFactor
from domain.dunning import DunningInput, PaymentFailed
from domain.health_outreach import CompanyHealth, Fired, Trigger, assess
from domain.health_sweep import HealthOutreachInput, outreach_workflow_id
from domain.renewal import RenewalDateChanged, RenewalInput
from playbooks.loader import load_outreach_plan
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox, running_worker
from tests.unit.test_health_outreach import LOGINS, MODEL, PLAN, company
from tests.webhooks.conftest import Api
from tests.webhooks.test_slack_interactivity import deliver, escalations, signed_click
from tests.webhooks.test_slack_log_call import submission
from tests.workflows.campaign_helpers import skip_to_local_hour, stop
from tests.workflows.test_renewal import local_today

CUSTOMER = "1003"


@dataclass(frozen=True)
class AlertCase:
    start: Callable[[WorkflowEnvironment, str], Awaitable[WorkflowHandle[Any, Any]]]
    wait: timedelta
    """How long after the start the alert is out."""
    words: str
    """In the alert's fallback text (lower case)."""


async def start_renewal(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    renewal = await local_today(env, CUSTOMER) + timedelta(days=62)
    return await env.client.start_workflow(
        "RenewalWorkflow",
        RenewalInput(customer_id=CUSTOMER, renewal_date=renewal),
        id=f"renewal-{CUSTOMER}-{uuid.uuid4().hex[:6]}",
        task_queue=queue,
        start_signal="renewal_date_changed",
        start_signal_args=[RenewalDateChanged(renewal_date=renewal, event_id="evt_start")],
    )


async def start_churn(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    handle = await env.client.start_workflow(
        "ChurnPreventionWorkflow",
        ChurnPreventionInput(
            customer_id=CUSTOMER, risk_factors=[RiskFactor.USAGE_DROP], health_score=55
        ),
        id=f"churn-{CUSTOMER}-{uuid.uuid4().hex[:6]}",
        task_queue=queue,
    )
    await env.sleep(timedelta(days=1))
    await handle.signal("health_updated", HealthUpdated(score=20))  # below every tier's bar
    return handle


async def start_dunning(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    return await env.client.start_workflow(
        "DunningWorkflow",
        DunningInput(customer_id=CUSTOMER, invoice_id="in_1", amount_due_cents=9900),
        id=f"dunning-{CUSTOMER}-{uuid.uuid4().hex[:6]}",
        task_queue=queue,
        start_signal="payment_failed",
        start_signal_args=[PaymentFailed(invoice_id="in_1", event_id="evt_1")],
    )


CASES = {
    "renewal_reminder": AlertCase(start_renewal, timedelta(days=3), "renewal in"),
    "churn_executive_escalation": AlertCase(
        start_churn, timedelta(hours=2), "executive escalation"
    ),
    "dunning_csm_alert": AlertCase(start_dunning, timedelta(days=8), "payment still failing"),
}


async def the_alert(sandbox: SandboxHandle, words: str, ts: str | None = None) -> dict[str, Any]:
    box = await outbox(sandbox)
    found = [
        m
        for m in box["slack_messages"]
        if words in m["text"].lower() and "cshub_pause" in str(m["blocks"])
    ]
    if ts is not None:
        found = [m for m in found if m["ts"] == ts]
    assert found, [m["text"] for m in box["slack_messages"]]
    message: dict[str, Any] = found[0]
    return message


async def paused(handle: WorkflowHandle[Any, Any]) -> bool:
    progress: Any = await handle.query("progress")
    return bool(progress["steering"]["paused"])


@pytest.mark.parametrize("template", sorted(CASES))
async def test_pause_and_resume_from_the_alert_once_and_only_when_signed(
    template: str, slack_api: Api, slack_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    env, settings, case = slack_env, slack_api.settings, CASES[template]
    await skip_to_local_hour(env, CUSTOMER, 12)
    async with running_worker(env, settings, task_queue=settings.temporal_task_queue):
        handle = await case.start(env, settings.temporal_task_queue)
        try:
            await env.sleep(case.wait)
            message = await eventually(lambda: the_alert(clean_sandbox, case.words), within_s=15)
            value = next(
                e["value"]
                for b in message["blocks"]
                if b["type"] == "actions"
                for e in b["elements"]
                if e["action_id"] == "cshub_pause"
            )
            assert handle.id in value  # the button names the workflow that raised it
            assert "cshub_log_call" in str(message["blocks"])

            pause = await signed_click(clean_sandbox, slack_api, message, "cshub_pause")
            forged = dict(pause, body=pause["body"].replace("cshub_pause", "cshub_resume"))
            stale = await signed_click(
                clean_sandbox, slack_api, message, "cshub_pause", timestamp=int(time.time()) - 600
            )
            assert (await deliver(slack_api, forged)).status_code == 401
            assert (await deliver(slack_api, stale)).status_code == 401
            assert not await paused(handle)
            assert (await the_alert(clean_sandbox, case.words, message["ts"]))["edits"] == 0

            first = await deliver(slack_api, pause)
            retry = await deliver(slack_api, pause, **{"X-Slack-Retry-Num": "1"})
            assert (first.status_code, retry.status_code) == (200, 200)

            async def was_paused() -> dict[str, Any]:
                assert await paused(handle)
                edited = await the_alert(clean_sandbox, case.words, message["ts"])
                assert edited["edits"] == 1
                return edited

            edited = await eventually(was_paused, within_s=10)
            assert f"<@U0DANA> paused `{handle.id}`" in str(edited["blocks"])
            progress: Any = await handle.query("progress")
            assert [e["kind"] for e in progress["steering"]["events"]] == ["pause"]

            resume = await signed_click(clean_sandbox, slack_api, edited, "cshub_resume")
            assert (await deliver(slack_api, resume)).status_code == 200

            async def was_resumed() -> None:
                assert not await paused(handle)
                after = await the_alert(clean_sandbox, case.words, message["ts"])
                assert after["edits"] == 2 and f"resumed `{handle.id}`" in str(after["blocks"])

            await eventually(was_resumed, within_s=10)
        finally:
            await stop(handle)


def decline() -> CompanyHealth:
    """A sweep's verdict on 1003: dropped from Good into At risk (the decline alert)."""
    return CompanyHealth(
        customer_id=CUSTOMER,
        score=55.0,
        category="at_risk",
        category_label="At risk",
        model="seed001 v1",
        low_confidence=False,
        previous_score=75.0,
        previous_category="good",
        delta=-20.0,
        fired=[Fired(trigger=Trigger.HEALTH_DECLINE, reason="dropped from Good to At risk")],
    )


async def start_outreach(env: WorkflowEnvironment, queue: str) -> WorkflowHandle[Any, Any]:
    """The outreach a sweep starts for that decline; once its alert is out."""
    now = await env.get_current_time()
    handle = await env.client.start_workflow(
        "HealthOutreachWorkflow",
        HealthOutreachInput(
            customer_id=CUSTOMER,
            sweep_id="clicks",
            sweep_at=now,
            health=decline(),
            plan=load_outreach_plan(),
        ),
        id=outreach_workflow_id(CUSTOMER, now),
        task_queue=queue,
    )
    await eventually(lambda: acted_on_in(handle, 2), within_s=15)  # alert and task
    return handle


async def acted_on_in(handle: WorkflowHandle[Any, Any], count: int) -> None:
    progress: list[Any] = await handle.query("progress")
    assert len(progress) >= count, progress


async def test_an_unacknowledged_health_alert_escalates_once_after_its_window(
    slack_api: Api, slack_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    """Nobody clicks the decline alert: the outreach stays open (patch
    health-alert-escalation) and, 24 hours after the alert (playbooks/alerts.yaml
    ``health_decline``), escalates once to the team channel, then ends."""
    env, settings = slack_env, slack_api.settings
    async with running_worker(env, settings, task_queue=settings.temporal_task_queue):
        handle = await start_outreach(env, settings.temporal_task_queue)
        alerted = await env.get_current_time()
        await env.sleep(timedelta(hours=23))
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
        assert escalations(await outbox(clean_sandbox)) == []
        await handle.result()
        ended = (await handle.describe()).close_time
        await env.sleep(timedelta(days=2))  # and much longer: still once
    assert ended is not None and timedelta(hours=23) < ended - alerted < timedelta(hours=25)
    [escalated] = escalations(await outbox(clean_sandbox))
    assert "<!here>" in str(escalated["blocks"]) and "`health_decline`" in str(escalated["blocks"])
    assert "within 24.0 h" in str(escalated["blocks"])


@pytest.mark.parametrize("action", ["cshub_ack", "cshub_snooze_30"])
async def test_a_health_alert_acted_on_from_slack_does_not_escalate(
    action: str, slack_api: Api, slack_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    """*Acknowledge* (or a snooze) on the decline alert: the click reaches the open
    outreach (``alert_acknowledged``), which ends at once; no escalation, then or later."""
    env, settings = slack_env, slack_api.settings
    async with running_worker(env, settings, task_queue=settings.temporal_task_queue):
        handle = await start_outreach(env, settings.temporal_task_queue)
        alerted = await env.get_current_time()
        await env.sleep(timedelta(hours=2))
        message = await the_health_alert(clean_sandbox)
        click = await signed_click(clean_sandbox, slack_api, message, action)
        assert (await deliver(slack_api, click)).status_code == 200
        await handle.result()
        ended = (await handle.describe()).close_time
        await env.sleep(timedelta(days=2))
    assert ended is not None and ended - alerted < timedelta(hours=3)
    assert escalations(await outbox(clean_sandbox)) == []


async def test_a_call_logged_from_a_health_alert_ends_its_wait_and_a_cancel_does_too(
    slack_api: Api, slack_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    """*Log call* → the modal → its submission: ``LogCallWorkflow`` notes the call and
    signals ``call_logged`` to the waiting outreach, which ends without escalating. A
    second outreach cancelled while it waits ends too, recorded as cancelled."""
    env, settings = slack_env, slack_api.settings
    async with running_worker(env, settings, task_queue=settings.temporal_task_queue):
        handle = await start_outreach(env, settings.temporal_task_queue)
        alerted = await env.get_current_time()
        message = await the_health_alert(clean_sandbox)
        click = await signed_click(clean_sandbox, slack_api, message, "cshub_log_call")
        assert (await deliver(slack_api, click)).status_code == 200
        [opened] = (await outbox(clean_sandbox))["slack_views"]
        values = {"outcome": "connected", "note": "Usage fell over the holidays"}
        done = await submission(clean_sandbox, slack_api, opened["view"]["id"], values)
        assert (await deliver(slack_api, done)).status_code == 200
        await handle.result()
        ended = (await handle.describe()).close_time
        assert ended is not None and ended - alerted < timedelta(hours=1)

        await env.sleep(timedelta(minutes=1))  # a second sweep: another workflow id
        later = await start_outreach(env, settings.temporal_task_queue)
        await later.signal("cancel", {"reason": "customer churned"})
        actions: list[Any] = await later.result()
        assert actions[-1]["step"] == "cancelled"
        await env.sleep(timedelta(days=2))
    assert escalations(await outbox(clean_sandbox)) == []


async def test_snooze_on_a_health_alert_holds_that_customers_decline_alerts(
    slack_api: Api, slack_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    """A health sweep's decline alert (HealthOutreachWorkflow) → *Snooze 7 days*:
    ``cshub_health_alerts_snoozed_until`` on the CRM company, written once although Slack
    retries; forged or stale: 401, nothing written; the sweep reading the company then
    fires no decline alert for a drop, a week later it does. The snooze acts on the
    alert: the outreach ends without escalating."""
    env, settings = slack_env, slack_api.settings
    async with running_worker(env, settings, task_queue=settings.temporal_task_queue):
        handle = await start_outreach(env, settings.temporal_task_queue)
        message = await the_health_alert(clean_sandbox)
        snooze = await signed_click(clean_sandbox, slack_api, message, "cshub_snooze_7")
        forged = dict(snooze, body=snooze["body"].replace("1003", "1004"))
        stale = await signed_click(
            clean_sandbox, slack_api, message, "cshub_snooze_7", timestamp=int(time.time()) - 600
        )
        assert (await deliver(slack_api, forged)).status_code == 401
        assert (await deliver(slack_api, stale)).status_code == 401
        assert snoozes(await outbox(clean_sandbox)) == []
        first = await deliver(slack_api, snooze)
        retry = await deliver(slack_api, snooze, **{"X-Slack-Retry-Num": "1"})
        assert (first.status_code, retry.status_code) == (200, 200), first.text
        await handle.result()
    assert escalations(await outbox(clean_sandbox)) == []

    async def snoozed() -> dict[str, Any]:
        edited = await the_health_alert(clean_sandbox)
        assert edited["edits"] == 1
        return edited

    edited = await eventually(snoozed, within_s=10)
    assert f"snoozed health alerts for customer `{CUSTOMER}` for 7 days" in str(edited["blocks"])
    assert "cshub_snooze_7" in str(edited["blocks"])  # it can be snoozed again
    [until] = snoozes(await outbox(clean_sandbox))

    # What the next sweeps read from the CRM: the decline is held for the week.
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.get(
            f"{clean_sandbox.http_url}/crm/v3/objects/companies/{CUSTOMER}",
            params={"properties": hp.ALERTS_SNOOZED_UNTIL},
            headers={"Authorization": "Bearer sandbox"},
        )
    stored = resp.json()["properties"][hp.ALERTS_SNOOZED_UNTIL]
    assert stored == until
    props = company(LOGINS["at_risk"], ("72.00", "good"), **{hp.ALERTS_SNOOZED_UNTIL: stored})
    sweep_now = datetime.now(UTC)
    for at, fires in ((sweep_now, False), (sweep_now + timedelta(days=7, minutes=1), True)):
        props[hp.SCORED_AT] = (at - timedelta(days=1)).isoformat()
        h = assess(CUSTOMER, props, MODEL, PLAN, at)
        assert h is not None
        assert (Trigger.HEALTH_DECLINE in [f.trigger for f in h.fired]) is fires, at


async def the_health_alert(sandbox: SandboxHandle) -> dict[str, Any]:
    box = await outbox(sandbox)
    found = [m for m in box["slack_messages"] if "cshub_snooze_7" in str(m["blocks"])]
    assert len(found) == 1, [m["text"] for m in box["slack_messages"]]
    message: dict[str, Any] = found[0]
    return message


def snoozes(box: dict[str, Any]) -> list[str]:
    return [
        str(u["properties"][hp.ALERTS_SNOOZED_UNTIL])
        for u in box["crm_updates"]
        if u["type"] == "companies" and hp.ALERTS_SNOOZED_UNTIL in u["properties"]
    ]
