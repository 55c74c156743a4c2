"""Buttons on Slack alerts: a missed-milestone alert posted by a real onboarding journey
(time-skipping server, real worker, sandbox Slack) → the sandbox replays a click as Slack
sends it (form-encoded ``payload=``, signed with the signing secret) → the API (uvicorn)
steers the workflow and edits the message; a retry of the same payload acts once; a
forged or stale signature is 401 and changes nothing; a button on an ended workflow
says so."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml
from slack_sdk.signature import SignatureVerifier
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.onboarding import OnboardingInput
from domain.slack_actions import button_value, parse_action_id
from domain.survey_links import timeline_link
from domain.ticket_sla import TicketSlaInput
from domain.tiers import Tier
from playbooks.loader import PACKAGE_DIR
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox, running_worker
from tests.webhooks.conftest import Api
from tests.zendesk_tickets import create_ticket
from workflows.onboarding import OnboardingWorkflow
from workflows.ticket_sla import TicketSlaWorkflow

COMPANY = "1003"
REAL = Path(__file__).parent.parent / "fixtures" / "real"


async def signed_click(
    sandbox: SandboxHandle, api: Api, message: dict[str, Any], action_id: str, **extra: Any
) -> dict[str, Any]:
    """The click as Slack would send it (body and headers), from the sandbox."""
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(
            f"{sandbox.http_url}/_sandbox/slack/click",
            json={
                "channel": message["channel"],
                "ts": message["ts"],
                "action_id": action_id,
                "user_id": "U0DANA",
                "signing_secret": api.secret("slack_signing_secret"),
                **extra,
            },
        )
        resp.raise_for_status()
        found: dict[str, Any] = resp.json()
        return found


def bolt_signed(api: Api, payload: dict[str, Any]) -> dict[str, Any]:
    """An interaction encoded and signed as Bolt's own tests do it (``payload=`` +
    ``quote(json.dumps(...))``, slack-sdk's ``generate_signature``)."""
    body = f"payload={quote(json.dumps(payload))}"
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(api.secret("slack_signing_secret"))
    return {
        "body": body,
        "headers": {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature.generate_signature(timestamp=timestamp, body=body),
        },
    }


async def deliver(api: Api, click: dict[str, Any], **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(
            f"{api.url}/slack/interactivity",
            content=click["body"].encode(),
            headers={**click["headers"], **headers},
        )


async def alert(sandbox: SandboxHandle, ts: str | None = None) -> dict[str, Any]:
    box = await outbox(sandbox)
    found = [m for m in box["slack_messages"] if "missed a milestone" in str(m["blocks"])]
    if ts:
        found = [m for m in found if m["ts"] == ts]
    assert len(found) == 1, found
    message: dict[str, Any] = found[0]
    return message


async def start_journey(
    env: WorkflowEnvironment, settings: Settings
) -> WorkflowHandle[OnboardingWorkflow, Any]:
    return await env.client.start_workflow(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id=COMPANY, tier=Tier.STARTER),
        id=f"onboarding-{COMPANY}-{uuid.uuid4().hex[:6]}",
        task_queue=settings.temporal_task_queue,
    )


@asynccontextmanager
async def alerted_journey(
    api: Api, env: WorkflowEnvironment, sandbox: SandboxHandle
) -> AsyncIterator[tuple[WorkflowHandle[OnboardingWorkflow, Any], dict[str, Any]]]:
    """A starter journey past day 7 (its first milestone missed: the alert), ended after."""
    settings = api.settings
    async with running_worker(env, settings, task_queue=settings.temporal_task_queue):
        handle = await start_journey(env, settings)
        try:
            await env.sleep(timedelta(days=8))
            yield handle, await alert(sandbox)
        finally:
            await handle.terminate("test done")


async def test_buttons_steer_the_journey_once_and_edit_the_alert(
    slack_api: Api, slack_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    env, settings = slack_env, slack_api.settings
    async with running_worker(env, settings, task_queue=settings.temporal_task_queue):
        handle = await start_journey(env, settings)
        try:
            await env.sleep(timedelta(days=8))  # day 7's milestone missed: the alert
            message = await alert(clean_sandbox)
            ids = [
                e["action_id"]
                for b in message["blocks"]
                if b["type"] == "actions"
                for e in b["elements"]
            ]
            assert {"cshub_ack", "cshub_milestone_reached", "cshub_pause", "cshub_resume"} <= set(
                ids
            )
            assert all(parse_action_id(i) for i in ids if i.startswith("cshub_"))

            # Mark the milestone reached; Slack retries the same payload: acted on once.
            click = await signed_click(clean_sandbox, slack_api, message, "cshub_milestone_reached")
            first = await deliver(slack_api, click)
            retry = await deliver(slack_api, click, **{"X-Slack-Retry-Num": "1"})
            assert (first.status_code, retry.status_code) == (200, 200)

            async def reached() -> Any:
                progress = await handle.query(OnboardingWorkflow.progress)
                assert "first_production_workflow" in progress.milestones_done
                edited = await alert(clean_sandbox, message["ts"])
                assert edited["edits"] == 1
                return edited

            edited = await eventually(reached, within_s=10)
            assert "<@U0DANA> marked milestone `first_production_workflow` reached" in str(
                edited["blocks"]
            )

            # Forged (a changed byte) and stale (signed 10 minutes ago): 401, nothing done.
            pause = await signed_click(clean_sandbox, slack_api, edited, "cshub_pause")
            forged = dict(pause, body=pause["body"].replace("cshub_pause", "cshub_resume"))
            stale = await signed_click(
                clean_sandbox, slack_api, edited, "cshub_pause", timestamp=int(time.time()) - 600
            )
            assert (await deliver(slack_api, forged)).status_code == 401
            assert (await deliver(slack_api, stale)).status_code == 401
            assert not (await handle.query(OnboardingWorkflow.progress)).steering.paused
            assert (await alert(clean_sandbox, message["ts"]))["edits"] == 1

            # Pause from Slack: the journey holds its actions.
            assert (await deliver(slack_api, pause)).status_code == 200

            async def paused() -> None:
                assert (await handle.query(OnboardingWorkflow.progress)).steering.paused
                assert (await alert(clean_sandbox, message["ts"]))["edits"] == 2

            await eventually(paused, within_s=10)

            # Snooze 3 days: paused now, resumed by itself three days later.
            latest = await alert(clean_sandbox, message["ts"])
            snooze = await signed_click(clean_sandbox, slack_api, latest, "cshub_snooze_3")
            assert (await deliver(slack_api, snooze)).status_code == 200

            async def snoozed() -> None:
                after = await alert(clean_sandbox, message["ts"])
                assert after["edits"] == 3 and "for 3 days (resumes" in str(after["blocks"])

            await eventually(snoozed, within_s=10)
            assert (await handle.query(OnboardingWorkflow.progress)).steering.paused
            await env.sleep(timedelta(days=3, hours=1))
            progress = await handle.query(OnboardingWorkflow.progress)
            assert not progress.steering.paused, progress.steering
        finally:
            await handle.terminate("test done")

        # A button on the alert of a workflow that has ended says so.
        latest = await alert(clean_sandbox, message["ts"])
        resume = await signed_click(clean_sandbox, slack_api, latest, "cshub_resume")
        assert (await deliver(slack_api, resume)).status_code == 200

        async def told() -> None:
            after = await alert(clean_sandbox, message["ts"])
            assert after["edits"] == 4
            assert "has already ended (terminated): nothing changed" in str(after["blocks"])
            assert not any(b["type"] == "actions" and b.get("block_id") == "cshub_steer"
                           for b in after["blocks"])  # fmt: skip

        await eventually(told, within_s=10)
    # Acted on within its window: no escalation.
    assert escalations(await outbox(clean_sandbox)) == []


def escalations(box: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in box["slack_messages"] if "Unacknowledged alert" in str(m["blocks"])]


async def test_an_alert_nobody_acts_on_escalates_once(
    slack_api: Api, slack_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    env = slack_env
    async with alerted_journey(slack_api, env, clean_sandbox):
        assert escalations(await outbox(clean_sandbox)) == []
        await env.sleep(timedelta(days=2, hours=12))  # >= 60 h after the alert: past 48 h
        [first] = escalations(await outbox(clean_sandbox))
        await env.sleep(timedelta(days=3))  # and much longer: still once
    [escalated] = escalations(await outbox(clean_sandbox))
    assert escalated["ts"] == first["ts"]
    assert "<!here>" in str(escalated["blocks"]) and "milestone_missed" in str(escalated["blocks"])


@pytest.mark.parametrize(
    ("delivery", "manager", "channel", "says"),
    [
        ("dm", "morgan.lee@cshub.example", "@morgan.lee", "<@U0MORGAN> (manager of Priya"),
        ("mention", "morgan.lee@cshub.example", "cs-alerts", "<@U0MORGAN> (manager of Priya"),
        ("dm", "nobody@cshub.example", "cs-alerts", "<!here>"),  # not in Slack: the team
    ],
)
async def test_an_alert_nobody_acts_on_escalates_to_the_csms_manager(
    delivery: str,
    manager: str,
    channel: str,
    says: str,
    slack_api: Api,
    slack_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``escalate_to: manager`` (playbooks/alerts.yaml): the escalation of Northwind's
    missed milestone goes to the manager of its CSM (Priya) from the ``managers``
    mapping, by direct message or by a mention in the alerts channel; a manager Slack
    does not know leaves it with the team channel (``@here``)."""
    playbooks = tmp_path / "playbooks"
    shutil.copytree(PACKAGE_DIR, playbooks, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    alerts = yaml.safe_load((playbooks / "alerts.yaml").read_text())
    alerts |= {
        "escalate_to": "manager",
        "manager_delivery": delivery,
        "managers": {"Priya.Natarajan@cshub.example": manager},
    }
    (playbooks / "alerts.yaml").write_text(yaml.safe_dump(alerts))
    monkeypatch.setenv("CSHUB_PLAYBOOKS_DIR", str(playbooks))
    async with alerted_journey(slack_api, slack_env, clean_sandbox):
        await slack_env.sleep(timedelta(days=2, hours=12))  # past the 48-hour window
    [escalated] = escalations(await outbox(clean_sandbox))
    assert escalated["channel_name"] == channel
    assert says in str(escalated["blocks"])
    assert ("<!here>" in str(escalated["blocks"])) is (says == "<!here>")


async def test_open_timeline_is_a_signed_expiring_link_without_a_token(
    slack_api: Api, slack_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    settings = slack_api.settings
    async with alerted_journey(slack_api, slack_env, clean_sandbox) as (_, message):
        pass
    [url] = [
        e["url"]
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "cshub_timeline"
    ]
    assert url.startswith(
        f"{settings.cshub_public_api_url.rstrip('/')}/timeline?customer={COMPANY}&"
    )
    secret = slack_api.secret("survey_link_secret")
    past = int(time.time()) - 60
    async with httpx.AsyncClient(timeout=10) as http:
        opened = await http.get(
            url.replace(settings.cshub_public_api_url.rstrip("/"), slack_api.url)
        )
        forged = await http.get(
            f"{slack_api.url}/timeline?customer=1005&exp={int(time.time()) + 999}&sig=" + "0" * 32
        )
        other = await http.get(  # the signature names the customer: not another's timeline
            opened.url.copy_set_param("customer", "1005")
        )
        expired = await http.get(
            timeline_link(slack_api.url, secret, COMPANY, past), follow_redirects=False
        )
        api = await http.get(f"{slack_api.url}/customers/{COMPANY}/timeline")  # no token
    assert opened.status_code == 200, opened.text
    assert f"Timeline of customer {COMPANY}" in opened.text
    assert (forged.status_code, other.status_code, expired.status_code) == (403, 403, 410)
    assert api.status_code == 401


async def test_a_click_as_bolts_own_tests_send_it(
    slack_api: Api, slack_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    """Slack's Bolt test payload (tests/fixtures/real/slack), encoded and signed the way
    Bolt's tests do (``quote``, slack-sdk's ``generate_signature``): the journey pauses,
    the retry acts once, and an ephemeral container (no ``message``) leaves the alert as
    it was instead of wiping it."""
    async with alerted_journey(slack_api, slack_env, clean_sandbox) as (handle, message):
        payload = json.loads((REAL / "slack" / "block_actions_button.json").read_text())
        payload["container"].update(channel_id=message["channel"], message_ts=message["ts"])
        payload["actions"][0]["value"] = button_value(handle.id, COMPANY)
        payload["actions"][0]["action_ts"] = f"{time.time():.6f}"
        click = bolt_signed(slack_api, payload)
        first, retry = await deliver(slack_api, click), await deliver(slack_api, click)
        assert (first.status_code, retry.status_code) == (200, 200)
        progress = await handle.query(OnboardingWorkflow.progress)
        assert progress.steering.paused
        assert (await alert(clean_sandbox, message["ts"]))["edits"] == 0


async def test_acknowledging_an_sla_breach_once_even_after_the_ticket_clock_ended(
    slack_api: Api, slack_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    """An urgent Enterprise ticket (24/7 calendar) breaches its 15-minute first response:
    the breach alert's *Acknowledge* acts once when Slack retries it and the alert says
    who; acknowledging after the SLA workflow ended still works (it is about the alert)."""
    env, settings = slack_env, slack_api.settings
    ticket = await create_ticket(clean_sandbox, 8109, "urgent", await env.get_current_time())
    async with running_worker(env, settings, task_queue=settings.temporal_task_queue):
        handle = await env.client.start_workflow(
            TicketSlaWorkflow.run,
            TicketSlaInput(ticket_id=ticket),
            id=f"ticket-sla-{ticket}-{uuid.uuid4().hex[:6]}",
            task_queue=settings.temporal_task_queue,
        )
        try:
            await env.sleep(timedelta(minutes=16))

            async def breach() -> dict[str, Any]:
                box = await outbox(clean_sandbox)
                found: list[dict[str, Any]] = [
                    m
                    for m in box["slack_messages"]
                    if f"#{ticket}" in m["text"] + str(m["blocks"])
                    and "cshub_ack" in str(m["blocks"])
                    and "breach" in (m["text"] + str(m["blocks"])).lower()
                ]
                assert len(found) == 1, found
                return found[0]

            message = await eventually(breach, within_s=10)
            click = await signed_click(clean_sandbox, slack_api, message, "cshub_ack")
            first = await deliver(slack_api, click)
            retry = await deliver(slack_api, click, **{"X-Slack-Retry-Num": "1"})
            assert (first.status_code, retry.status_code) == (200, 200)

            async def acknowledged() -> dict[str, Any]:
                edited = await breach()
                assert edited["edits"] == 1 and "<@U0DANA> acknowledged" in str(edited["blocks"])
                return edited

            edited = await eventually(acknowledged, within_s=10)
        finally:
            await handle.terminate("test done")
        again = await signed_click(clean_sandbox, slack_api, edited, "cshub_ack", user_id="U0LEE")
        assert (await deliver(slack_api, again)).status_code == 200

        async def after_end() -> None:
            box = await outbox(clean_sandbox)
            [latest] = [m for m in box["slack_messages"] if m["ts"] == message["ts"]]
            assert latest["edits"] == 2 and "<@U0LEE> acknowledged" in str(latest["blocks"])
            assert "cshub_ack" not in str(latest["blocks"])  # nothing left to steer

        await eventually(after_end, within_s=10)
