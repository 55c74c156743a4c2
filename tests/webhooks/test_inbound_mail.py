"""A reply stops the sequence: a win-back e-mail (real workflow, SMTP into the sandbox,
recorded in the action record) → the customer's reply through the signed inbound-parse
webhook (uvicorn) → the win-back paused, the CSM told in Slack with the quote, the reply
on the customer's timeline; an out-of-office → nothing paused, the next e-mail goes out.
On the time-skipping server, so the campaign's days pass in seconds."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.action_log import ActionRow, open_action_store
from domain.inbound_mail import (
    CustomerReplyResult,
    ReplyKind,
    classify,
    customer_reply_workflow_id,
    quote_of,
    reply_key,
)
from domain.winback import WinBackInput
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox, running_worker
from tests.webhooks import real_payloads as real
from tests.webhooks.conftest import Api, api_on
from tests.workflows.campaign_helpers import emails, skip_to_local_hour, stop
from webhooks.inbound_mail import sign_inbound
from workflows.customer_reply import CustomerReplyWorkflow
from workflows.winback import WinBackWorkflow

REAL = Path(__file__).parent.parent / "fixtures" / "real"
QUOTE = "Thanks for checking in. We moved to another tool, but call me next week?"


@pytest.fixture
async def reply_api(
    hub_settings: Settings, tmp_path: Path, time_skipping_env: WorkflowEnvironment
) -> AsyncIterator[Api]:
    async with api_on(
        time_skipping_env, hub_settings, tmp_path, "reply", cshub_actions_db=tmp_path / "actions.db"
    ) as running:
        yield running


async def send_reply(api: Api, in_reply_to: str, *, subject: str, text: str, **extra: Any) -> Any:
    timestamp, token = str(int(time.time())), uuid.uuid4().hex
    key = api.secret("inbound_email_signing_key")
    form = {
        "timestamp": timestamp,
        "token": token,
        "signature": sign_inbound(key, timestamp, token),
        "Message-Id": f"<{uuid.uuid4().hex}@customer.example>",
        "In-Reply-To": in_reply_to,
        "sender": "customer@customer.example",
        "subject": subject,
        "body-plain": f"{text}\n\nOn Mon, 7 Dec 2026, cshub wrote:\n> We miss you",
        **extra,
    }
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            f"{api.url}/webhooks/inbound-email", files={k: (None, v) for k, v in form.items()}
        )


async def start_winback(
    env: WorkflowEnvironment, customer: str, queue: str
) -> WorkflowHandle[Any, Any]:
    return await env.client.start_workflow(
        WinBackWorkflow.run,
        WinBackInput(customer_id=customer, reason="moved to a competitor"),
        id=f"winback-{customer}",
        task_queue=queue,
    )


def message_id_of(box: dict[str, Any], customer: str, template: str) -> str:
    [found] = [
        e for e in box["emails"]
        if e["headers"].get("X-Cshub-Customer-Id") == customer and e["template"] == template
    ]  # fmt: skip
    value: str = found["headers"]["Message-ID"]
    return value


@asynccontextmanager
async def winbacks_on_day_2(
    env: WorkflowEnvironment, settings: Settings, *customers: str
) -> AsyncIterator[list[WorkflowHandle[Any, Any]]]:
    """Win-back campaigns of ``customers`` started at the first one's local noon, on a
    worker with an action store (what a reply is matched against), two days on: day 1's
    e-mail has gone out to each. Stopped after."""
    await skip_to_local_hour(env, customers[0], 12)
    store = open_action_store(settings.cshub_actions_db, 400)
    handles: list[WorkflowHandle[Any, Any]] = []
    try:
        async with running_worker(
            env, settings, task_queue=settings.temporal_task_queue, actions=store
        ):
            for customer in customers:
                handles.append(await start_winback(env, customer, settings.temporal_task_queue))
            await env.sleep(timedelta(days=2))
            yield handles
    finally:
        for handle in handles:
            await stop(handle)
        store.close()


async def test_a_reply_pauses_the_winback_and_an_out_of_office_does_not(
    reply_api: Api,
    time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
) -> None:
    env, settings = time_skipping_env, reply_api.settings
    replier, away = "1001", "1004"
    async with winbacks_on_day_2(env, settings, replier, away) as handles:
        box = await outbox(clean_sandbox)
        first = message_id_of(box, replier, "winback_we_miss_you")
        other = message_id_of(box, away, "winback_we_miss_you")

        resp = await send_reply(reply_api, first, subject="Re: We miss you", text=QUOTE)
        assert resp.status_code == 202, resp.text
        assert resp.json()["outcome"] == "accepted"
        ooo = await send_reply(
            reply_api,
            other,
            subject="Automatic reply: We miss you",
            text="I am out of the office until Monday.",
            **{"message-headers": '[["Auto-Submitted", "auto-replied"]]'},
        )
        assert ooo.status_code == 202 and ooo.json()["outcome"] == "ignored", ooo.text

        result = await env.client.get_workflow_handle(
            resp.json()["workflow_id"], result_type=CustomerReplyResult
        ).result()
        assert result.paused, result
        await env.sleep(timedelta(days=7))  # past day 7 of both campaigns
        progress = await handles[0].query(WinBackWorkflow.progress)
        box = await outbox(clean_sandbox)

    assert progress.steering.paused
    # The replier got nothing more; the out-of-office customer's day-7 e-mail went out.
    assert emails(box, replier) == [(1, "winback_we_miss_you")]
    assert (7, "winback_whats_new") in emails(box, away)
    told = [m for m in box["slack_messages"] if "replied" in m["text"]]
    assert len(told) == 1
    assert QUOTE in str(told[0]["blocks"]) and "paused" in str(told[0]["blocks"])
    assert "Sentiment: *" in str(told[0]["blocks"])  # the hub's text classifier on the quote
    assert "out of the office" not in str(box["slack_messages"])
    # On the timeline: the CRM note with the quote and the Slack alert.
    timeline = store_rows(settings, replier)
    rows = {(r.channel, r.kind): r.summary for r in timeline}
    assert QUOTE in rows[("crm_note", None)] and "winback_we_miss_you" in rows[("crm_note", None)]
    assert QUOTE in rows[("slack", "customer_replied")]


def store_rows(settings: Settings, customer: str) -> list[Any]:
    store = open_action_store(settings.cshub_actions_db, 400)
    try:
        return store.for_customer(customer)
    finally:
        store.close()


async def test_forged_or_unknown_replies_change_nothing(reply_api: Api) -> None:
    resp = await send_reply(reply_api, "<x@y>", subject="Re", text="hi", signature="0" * 64)
    assert resp.status_code == 401
    unknown = await send_reply(reply_api, "<not-ours@example>", subject="Re: hi", text="hello")
    assert unknown.status_code == 202 and unknown.json()["outcome"] == "ignored"


@pytest.mark.parametrize(
    ("headers", "subject", "sender", "kind"),
    [
        ({}, "Re: We miss you", "ana@x.example", ReplyKind.PERSON),
        (
            {"Auto-Submitted": "auto-replied"},
            "Re: We miss you",
            "a@x.example",
            ReplyKind.AUTO_REPLY,
        ),
        ({"Auto-Submitted": "no"}, "Re: hola", "a@x.example", ReplyKind.PERSON),
        ({}, "Out of Office: We miss you", "a@x.example", ReplyKind.AUTO_REPLY),
        ({}, "Respuesta automática: Le echamos de menos", "a@x.example", ReplyKind.AUTO_REPLY),
        ({}, "Fuera de la oficina", "a@x.example", ReplyKind.AUTO_REPLY),
        ({"X-Autoreply": "yes"}, "Re: hi", "a@x.example", ReplyKind.AUTO_REPLY),
        ({}, "Undelivered Mail Returned to Sender", "MAILER-DAEMON@mx.example", ReplyKind.BOUNCE),
        ({}, "No se pudo entregar el mensaje", "b@x.example", ReplyKind.BOUNCE),
        (
            {"Content-Type": "multipart/report; report-type=delivery-status"},
            "Failure",
            "Mail Delivery <postmaster@mx.example>",
            ReplyKind.BOUNCE,
        ),
    ],
)
def test_classify(headers: dict[str, str], subject: str, sender: str, kind: ReplyKind) -> None:
    assert classify(headers, subject, sender) is kind


def test_quote_cuts_the_quoted_message() -> None:
    text = "Sí, llámeme el lunes.\n\nEl lun, 7 dic 2026, cshub escribió:\n> Le echamos de menos"
    assert quote_of(text) == "Sí, llámeme el lunes."
    assert len(quote_of("x" * 2000)) == 500
    assert customer_reply_workflow_id(reply_key("<a@b>")).startswith("customer-reply-")
    assert CustomerReplyWorkflow is not None


@pytest.mark.parametrize("encoding", ["form", "multipart"])
async def test_mailguns_parsed_forward_as_documented(
    reply_api: Api, encoding: str, time_skipping_env: WorkflowEnvironment
) -> None:
    """Mailgun's fully parsed ``forward()`` POST (tests/fixtures/real/mailgun), answering
    an e-mail the hub sent: accepted as a person's reply with the stripped text as the
    quote; the same delivery again is a duplicate."""
    settings = reply_api.settings
    hub_mid = f"<{uuid.uuid4().hex}@hub.example>"
    now = datetime.now(UTC)
    store = open_action_store(settings.cshub_actions_db, 400)
    try:
        store.upsert(
            ActionRow(
                key=f"winback-1001/x/day1:email/{uuid.uuid4().hex}",
                customer_id="1001",
                workflow_id="winback-1001",
                step="day1:email",
                channel="email",
                kind="winback_we_miss_you",
                summary="e-mail 'winback_we_miss_you'",
                outcome="done",
                first_at=now,
                last_at=now,
                ref=hub_mid,
            )
        )
    finally:
        store.close()
    raw = (REAL / "mailgun" / "forward_reply.json").read_text().replace("<HUB-MESSAGE-ID>", hub_mid)
    form: dict[str, str] = json.loads(raw)
    timestamp, token = str(int(time.time())), uuid.uuid4().hex + uuid.uuid4().hex[:18]
    form.update(
        timestamp=timestamp,
        token=token,
        signature=sign_inbound(reply_api.secret("inbound_email_signing_key"), timestamp, token),
    )
    form["Message-Id"] = f"<{uuid.uuid4().hex}@mail.gmail.com>"
    url = f"{reply_api.url}/webhooks/inbound-email"
    async with (
        running_worker(time_skipping_env, settings, task_queue=settings.temporal_task_queue),
        httpx.AsyncClient(timeout=30) as http,
    ):
        if encoding == "form":
            first = await http.post(url, data=form)
            again = await http.post(url, data=form)
        else:
            files = {k: (None, v) for k, v in form.items()}
            first = await http.post(url, files=files)
            again = await http.post(url, files=files)
        assert first.status_code == 202, first.text
        assert first.json()["outcome"] == "accepted"
        assert first.json()["type"] == "mail.customer_reply"
        assert again.json()["outcome"] == "duplicate"
        # The reply's workflow runs to its end here (the play it names is not running:
        # nothing to pause), so nothing is left waiting on the shared test server.
        reply = time_skipping_env.client.get_workflow_handle(
            first.json()["workflow_id"], result_type=CustomerReplyResult
        )
        result = await reply.result()
    assert not result.paused and "winback-1001" in result.detail


async def log_incoming_email(
    sandbox: SandboxHandle, at: datetime, contact: str, company: str, subject: str, text: str
) -> str:
    """An incoming e-mail logged on the contact's timeline in the sandbox's HubSpot (as the
    inbox connection logs a reply), from HubSpot's documented create request."""
    body = json.loads((REAL / "hubspot" / "email_engagement_incoming.json").read_text())
    props = body["properties"]
    headers = json.loads(props["hs_email_headers"])
    headers["from"]["email"] = f"person-{contact}@customer.example"
    props.update(
        hs_timestamp=at.isoformat().replace("+00:00", "Z"),
        hs_email_subject=subject,
        hs_email_text=text,
        hs_email_headers=json.dumps(headers),
    )
    body["associations"][0]["to"]["id"] = contact
    body["associations"][1]["to"]["id"] = company
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(
            f"{sandbox.http_url}/crm/v3/objects/emails",
            json=body,
            headers={"Authorization": "Bearer sandbox"},
        )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def test_a_reply_hubspot_logged_pauses_the_winback_and_an_out_of_office_does_not(
    reply_api: Api,
    time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
) -> None:
    """HubSpot's generic webhook about a logged e-mail (object type 0-49) names its id
    only: the hub reads the e-mail from the CRM (the sandbox's HubSpot serves it) and
    treats a contact's reply after a hub e-mail like an inbound-parse reply (the play
    paused, the quote with its sentiment to the CSM and on the timeline); an
    out-of-office answer is recognised and pauses nothing; a redelivery acts once."""
    env, settings = time_skipping_env, reply_api.settings
    replier, away = "1001", "1004"
    async with winbacks_on_day_2(env, settings, replier, away) as handles:
        at = await env.get_current_time()
        reply_id = await log_incoming_email(
            clean_sandbox,
            at,
            "2001",
            replier,
            "Re: We miss you",
            f"{QUOTE}\n\nOn Mon, 7 Dec 2026, cshub wrote:\n> We miss you",
        )
        ooo_id = await log_incoming_email(
            clean_sandbox,
            at,
            "2004",
            away,
            "Automatic reply: We miss you",
            "I am out of the office until Monday.",
        )
        for email_id in (reply_id, ooo_id, reply_id):  # the last: HubSpot's redelivery
            event = real.hubspot(reply_api, "generic_email_creation.json", objectId=int(email_id))
            resp = await reply_api.post(event)
            assert resp.status_code in (200, 202), resp.text
        replied = env.client.get_workflow_handle(f"crm-email-{reply_id}")
        away_answer = env.client.get_workflow_handle(f"crm-email-{ooo_id}")
        replied_result = await eventually(replied.result, within_s=20)
        away_result = await eventually(away_answer.result, within_s=20)
        await env.sleep(timedelta(days=7))  # past day 7 of both campaigns
        progress = await handles[0].query(WinBackWorkflow.progress)
        box = await outbox(clean_sandbox)

    assert "winback_we_miss_you" in replied_result and "paused" in replied_result
    assert away_result.startswith("auto_reply: "), away_result
    assert progress.steering.paused
    assert emails(box, replier) == [(1, "winback_we_miss_you")]
    assert (7, "winback_whats_new") in emails(box, away)
    told = [m for m in box["slack_messages"] if "replied" in m["text"]]
    assert len(told) == 1, told  # the redelivered webhook acted once
    assert QUOTE in str(told[0]["blocks"]) and "Sentiment: *" in str(told[0]["blocks"])
    assert "On Mon, 7 Dec" not in str(told[0]["blocks"])  # the quoted message cut off
    rows = {(r.channel, r.kind): r.summary for r in store_rows(settings, replier)}
    assert QUOTE in rows[("crm_note", None)] and "(crm)" in rows[("crm_note", None)]
