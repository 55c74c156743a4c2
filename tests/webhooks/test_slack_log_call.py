"""The *Log call* button: a missed-milestone alert of a real onboarding journey → the
sandbox replays the click as Slack sends it → the API opens the modal (``views.open``
with the click's trigger id; the sandbox records the view) → the sandbox submits the
modal as Slack does (``view_submission``, signed) → a CRM note on the company, the
journey told (``call_logged``: the alert does not escalate), the alert edited to say who
logged what. Retries act once; a forged or stale submission is 401 and logs nothing."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.testing import WorkflowEnvironment

from domain.slack_actions import LOG_CALL_CALLBACK, ModalContext
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox
from tests.webhooks.conftest import Api
from tests.webhooks.test_slack_interactivity import (
    COMPANY,
    alert,
    alerted_journey,
    bolt_signed,
    deliver,
    escalations,
    signed_click,
)
from workflows.onboarding import OnboardingWorkflow

REAL = Path(__file__).parent.parent / "fixtures" / "real"


async def submission(
    sandbox: SandboxHandle, api: Api, view_id: str, values: dict[str, str], **extra: Any
) -> dict[str, Any]:
    """The modal's submission as Slack would send it (body and headers), from the sandbox."""
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(
            f"{sandbox.http_url}/_sandbox/slack/submit",
            json={
                "view_id": view_id,
                "values": values,
                "signing_secret": api.secret("slack_signing_secret"),
                **extra,
            },
        )
        resp.raise_for_status()
        found: dict[str, Any] = resp.json()
        return found


def call_notes(box: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in box["crm_notes"] if "Call logged from Slack" in str(n["properties"])]


async def test_log_call_opens_a_modal_and_its_submission_is_noted_once(
    slack_api: Api, slack_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    env = slack_env
    async with alerted_journey(slack_api, env, clean_sandbox) as (handle, message):
        assert "cshub_log_call" in str(message["blocks"])
        click = await signed_click(clean_sandbox, slack_api, message, "cshub_log_call")
        first = await deliver(slack_api, click)
        retry = await deliver(slack_api, click, **{"X-Slack-Retry-Num": "1"})
        assert (first.status_code, retry.status_code) == (200, 200), first.text
        [opened] = (await outbox(clean_sandbox))["slack_views"]
        view = opened["view"]
        assert (opened["user"], view["callback_id"]) == ("U0DANA", LOG_CALL_CALLBACK)
        context = ModalContext.model_validate_json(view["private_metadata"])
        assert (context.w, context.c, context.ts) == (handle.id, COMPANY, message["ts"])
        assert (await alert(clean_sandbox, message["ts"]))["edits"] == 0  # not yet

        # Submitted without a note: Slack shows the error in the modal, nothing logged.
        empty = await submission(clean_sandbox, slack_api, view["id"], {"outcome": "connected"})
        refused = await deliver(slack_api, empty)
        assert refused.status_code == 200
        assert refused.json() == {
            "response_action": "errors",
            "errors": {"note": "Write what was said"},
        }

        values = {"outcome": "connected", "note": "They found the <warehouse> connector"}
        good = await submission(clean_sandbox, slack_api, view["id"], values)
        forged = dict(good, body=good["body"].replace("connected", "voicemail"))
        stale = await submission(
            clean_sandbox, slack_api, view["id"], values, timestamp=int(time.time()) - 600
        )
        assert (await deliver(slack_api, forged)).status_code == 401
        assert (await deliver(slack_api, stale)).status_code == 401
        first = await deliver(slack_api, good)
        retry = await deliver(slack_api, good, **{"X-Slack-Retry-Num": "1"})
        assert (first.status_code, first.content, retry.status_code) == (200, b"", 200)

        async def logged() -> dict[str, Any]:
            box = await outbox(clean_sandbox)
            [note] = call_notes(box)
            edited = await alert(clean_sandbox, message["ts"])
            assert edited["edits"] == 1
            progress = await handle.query(OnboardingWorkflow.progress)
            assert [e.kind for e in progress.steering.events] == ["call_logged"]
            return {"note": note, "edited": edited}

        found = await eventually(logged, within_s=15)
        body = found["note"]["properties"]["hs_note_body"]
        assert "Call logged from Slack by u0dana: Spoke with them" in body
        assert "They found the" in body
        assert {"type": "companies", "id": COMPANY} in found["note"]["associations"]
        blocks = str(found["edited"]["blocks"])
        assert "<@U0DANA> logged a call: *Spoke with them*" in blocks
        assert "&lt;warehouse&gt;" in blocks and "<warehouse>" not in blocks
        assert "cshub_pause" in blocks  # the journey runs: its buttons stay

        # The call acted on the alert: two days past its 48-hour window, no escalation.
        await env.sleep(timedelta(days=3))
        assert escalations(await outbox(clean_sandbox)) == []
        assert len(call_notes(await outbox(clean_sandbox))) == 1
    # A second click opens a second modal (a new trigger): the button stays usable.
    again = await signed_click(clean_sandbox, slack_api, message, "cshub_log_call")
    assert (await deliver(slack_api, again)).status_code == 200
    assert len((await outbox(clean_sandbox))["slack_views"]) == 2


async def test_a_submission_as_bolts_own_tests_send_it(
    slack_api: Api, slack_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    """Bolt's ``view_submission`` test payload (tests/fixtures/real/slack), encoded and
    signed the way Bolt's tests do: the call is noted once, with the voicemail outcome,
    and the journey, whose alert it was, hears of it."""
    async with alerted_journey(slack_api, slack_env, clean_sandbox) as (handle, message):
        payload = json.loads((REAL / "slack" / "view_submission.json").read_text())
        payload["view"]["id"] = f"V{time.time_ns()}"
        payload["view"]["private_metadata"] = ModalContext(
            w=handle.id, c=COMPANY, ch=message["channel"], ts=message["ts"]
        ).model_dump_json()
        submitted = bolt_signed(slack_api, payload)
        first, retry = await deliver(slack_api, submitted), await deliver(slack_api, submitted)
        assert (first.status_code, retry.status_code) == (200, 200)

        async def logged() -> dict[str, Any]:
            [note] = call_notes(await outbox(clean_sandbox))
            progress = await handle.query(OnboardingWorkflow.progress)
            assert [e.kind for e in progress.steering.events] == ["call_logged"]
            return note

        note = await eventually(logged, within_s=15)
        assert "by primary-owner: Left a voicemail" in note["properties"]["hs_note_body"]
        edited = await eventually(lambda: _edited(clean_sandbox, message["ts"]), within_s=10)
        assert "<@W111> logged a call: *Left a voicemail*" in str(edited["blocks"])
        assert "&lt;!channel&gt;" in str(edited["blocks"])


async def _edited(sandbox: SandboxHandle, ts: str) -> dict[str, Any]:
    found = await alert(sandbox, ts)
    assert found["edits"] == 1
    return found


async def test_views_open_takes_a_clicks_trigger_once_within_three_seconds(
    clean_sandbox: SandboxHandle,
) -> None:
    """The sandbox's ``views.open`` as Slack's (through slack-sdk): a click's trigger id
    opens one modal, recorded with who clicked; the same trigger again, an unknown one
    and one older than 3 seconds are refused with Slack's error codes."""
    slack = AsyncWebClient(token="xoxb-sandbox", base_url=f"{clean_sandbox.http_url}/api/")
    posted = await slack.chat_postMessage(
        channel="cs-alerts",
        text="alert",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "cshub_log_call",
                        "text": {"type": "plain_text", "text": "Log call"},
                        "value": '{"w":"onboarding-1003","c":"1003"}',
                    }
                ],
            }
        ],
    )

    async def trigger() -> str:
        async with httpx.AsyncClient(timeout=10) as http:
            resp = await http.post(
                f"{clean_sandbox.http_url}/_sandbox/slack/click",
                json={
                    "channel": posted["channel"],
                    "ts": posted["ts"],
                    "action_id": "cshub_log_call",
                    "user_id": "U0LEE",
                },
            )
        found = parse_qs(resp.json()["body"])["payload"][0]
        return str(json.loads(found)["trigger_id"])

    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Log a call"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    }

    async def error_of(trigger_id: str) -> str:
        try:
            await slack.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as err:
            return str(err.response["error"])
        return "ok"

    fresh = await trigger()
    assert await error_of(fresh) == "ok"
    assert await error_of(fresh) == "exchanged_trigger_id"
    assert await error_of("1.2.unknown") == "invalid_trigger_id"
    late = await trigger()
    await asyncio.sleep(3.2)
    assert await error_of(late) == "expired_trigger_id"
    [opened] = (await outbox(clean_sandbox))["slack_views"]
    assert (opened["user"], opened["trigger_id"]) == ("U0LEE", fresh)
