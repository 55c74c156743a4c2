"""``POST /slack/interactivity``: a CSM's click on an alert's button (``domain.slack_actions``).

1. Verified as Slack signs it (``X-Slack-Signature``, ``X-Slack-Request-Timestamp``,
   5-minute window) with ``SLACK_SIGNING_SECRET``, by slack-sdk's ``SignatureVerifier``:
   401 and nothing done otherwise.
2. Once per click: the click's key (channel, message, action, ``action_ts``) is claimed in
   the API database first; Slack's retry of the same payload is answered 200 and changes
   nothing.
3. Turned into the workflow's validated steering, as Temporal updates (the same as
   from the UI): ``pause`` / ``resume`` / ``milestone_reached`` (the last milestone the
   journey missed) / snooze (pause, saying until when); acknowledge changes no workflow.
   An update the workflow refuses (resume while not paused) is shown with its reason; a
   workflow that has ended is left alone and the message says so. Snooze on a health
   alert (raised by a ``health-outreach-…`` workflow, open only until its alert is acted
   on or escalated) is about the customer, not the workflow: it writes
   ``cshub_health_alerts_snoozed_until`` on the CRM company, and the health sweep sends
   that customer no health-decline alert until then. Any click on a running workflow's
   alert (snooze included) also signals it ``alert_acknowledged``: no escalation.
4. Answered at once (Slack wants an answer within 3 seconds; the steering call has a
   2-second budget), then the original message is edited (``chat.update``) to show who
   did what, in the background.
5. *Log call* opens a modal (``views.open`` with the click's ``trigger_id``, before the
   answer: the trigger is valid 3 seconds); its ``view_submission`` (outcome and note)
   starts ``LogCallWorkflow`` (``log-call-{view id}``: a CRM note on the company, then
   the signal ``call_logged`` to the workflow that raised the alert), answers 200 (the
   modal closes) and edits the alert to say who logged what. A submission without an
   outcome or a note is answered with Slack's ``response_action: errors``. Once per
   view id, like clicks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from slack_sdk.signature import SignatureVerifier
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from connectors.base import Crm
from connectors.errors import ConnectorError
from domain.health_properties import ALERTS_SNOOZED_UNTIL
from domain.health_sweep import OUTREACH_WORKFLOW_PREFIX
from domain.slack_actions import (
    AlertAction,
    LoggedCall,
    call_line,
    click_key,
    edited_blocks,
    log_call_view,
    outcome_line,
    parse_action_id,
    parse_log_call,
    parse_payload,
    parse_value,
)
from domain.snooze import ResumeLaterInput, resume_later_workflow_id
from runtime.sqlite_files import open_sqlite

log = logging.getLogger("cshub.webhooks.slack")

INTERACTIVITY_PATH = "/slack/interactivity"
STEER_BUDGET_S = 2.0
MAX_BODY_BYTES = 256 * 1024


class MessageEditor(Protocol):
    async def update_message(
        self, *, channel: str, ts: str, text: str, blocks: list[dict[str, object]] | None
    ) -> None: ...

    async def open_view(self, *, trigger_id: str, view: dict[str, object]) -> str: ...

    async def get_message(self, *, channel: str, ts: str) -> dict[str, Any] | None: ...


CLICKS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS slack_clicks (key TEXT PRIMARY KEY, at TEXT NOT NULL, outcome TEXT)"
)


class ClickLedger:
    """Clicks already handled (one row per click key)."""

    def __init__(self, path: Path) -> None:
        self._db = open_sqlite(path, CLICKS_SCHEMA, synchronous="FULL")
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO slack_clicks (key, at) VALUES (?, ?)",
                (key, datetime.now(UTC).isoformat()),
            )
        return cur.rowcount == 1

    def release(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM slack_clicks WHERE key = ?", (key,))

    def done(self, key: str, outcome: str) -> None:
        with self._lock:
            self._db.execute("UPDATE slack_clicks SET outcome = ? WHERE key = ?", (outcome, key))

    def close(self) -> None:
        with self._lock:
            self._db.close()


async def steer(
    client: Client,
    task_queue: str,
    workflow_id: str,
    action: AlertAction,
    days: int | None,
    who: str,
) -> tuple[str, bool]:
    """Apply the click to the workflow: (what happened, whether the workflow still runs)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        desc = await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return f"clicked, but `{workflow_id}` no longer exists: nothing changed", False
        raise
    running = desc.status is WorkflowExecutionStatus.RUNNING
    if action is AlertAction.ACK:  # the alert, not the workflow: fine after it ended
        return "acknowledged", running
    if not running:
        status = desc.status.name.lower() if desc.status else "closed"
        return f"clicked, but `{workflow_id}` has already ended ({status}): nothing changed", False
    try:
        return await _update(client, task_queue, handle, workflow_id, action, days, who), True
    except WorkflowUpdateFailedError as err:
        # The workflow's validator refused it (e.g. resume while not paused): say why.
        why = str(err.cause or err)[:300]
        return f"clicked {action.value}, refused by `{workflow_id}`: {why}", True


async def snooze_health_alerts(crm: Crm | None, customer_id: str, days: int) -> str:
    """No health-decline alert for this customer for ``days`` (a CRM company property
    the health sweep reads; a later snooze replaces it)."""
    if crm is None:
        raise RuntimeError("no CRM to record the snooze in")
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    stamp = until.isoformat().replace("+00:00", "Z")
    await asyncio.to_thread(crm.update_company, customer_id, {ALERTS_SNOOZED_UNTIL: stamp})
    return (
        f"snoozed health alerts for customer `{customer_id}` for {days} days "
        f"(until {until:%Y-%m-%d %H:%M} UTC)"
    )


async def _end_snooze(client: Client, workflow_id: str) -> None:
    """A resume by hand ends a pending snooze (its timer would resume it again)."""
    snooze = client.get_workflow_handle(resume_later_workflow_id(workflow_id))
    with contextlib.suppress(RPCError):  # no snooze running
        await snooze.terminate("resumed from Slack")


async def _update(
    client: Client,
    task_queue: str,
    handle: WorkflowHandle[Any, Any],
    workflow_id: str,
    action: AlertAction,
    days: int | None,
    who: str,
) -> str:
    """The validated steering (Temporal updates, issue 19a): refused at once when the
    workflow cannot take it, answered with the steering state otherwise."""
    if action is AlertAction.PAUSE:
        await handle.execute_update("pause", {"reason": f"paused from Slack by {who}"})
        return f"paused `{workflow_id}`"
    if action is AlertAction.RESUME:
        await handle.execute_update("resume", {})
        await _end_snooze(client, workflow_id)
        return f"resumed `{workflow_id}`"
    if action is AlertAction.SNOOZE:
        until = datetime.now(UTC) + timedelta(days=days or 1)
        await handle.execute_update(
            "pause", {"reason": f"snoozed from Slack by {who} until {until:%Y-%m-%d %H:%M} UTC"}
        )
        await client.start_workflow(
            "ResumeLaterWorkflow",
            ResumeLaterInput(workflow_id=workflow_id, days=days or 1, by=who),
            id=resume_later_workflow_id(workflow_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
        )
        return f"snoozed `{workflow_id}` for {days} days (resumes {until:%Y-%m-%d %H:%M} UTC)"
    if action is AlertAction.MILESTONE_REACHED:
        progress: Any = await handle.query("progress")
        missed = [m for m in progress.get("milestones_missed", []) if isinstance(m, str)]
        done = set(progress.get("milestones_done", []))
        pending = [m for m in missed if m not in done]
        if not pending:
            return "clicked milestone reached, but no missed milestone is open"
        milestone = pending[-1]
        await handle.execute_update(
            "milestone_reached", {"milestone": milestone, "note": f"marked in Slack by {who}"}
        )
        return f"marked milestone `{milestone}` reached"
    return "opened the timeline"


async def start_log_call(client: Client, task_queue: str, call: LoggedCall) -> None:
    """The submitted call, durably: ``LogCallWorkflow`` (one per view id)."""
    try:
        await client.start_workflow(
            "LogCallWorkflow",
            call,
            id=f"log-call-{call.view_id}",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        log.info("call of view %s already logged", call.view_id)


def _payload_type(raw: str) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return ""
    return str(data.get("type") or "") if isinstance(data, dict) else ""


def add_slack_interactivity_route(
    app: FastAPI,
    signing_secret: Callable[[], str],
    client: Callable[[], Awaitable[Client]],
    editor: MessageEditor,
    db: Path,
    task_queue: str,
    crm: Crm | None = None,
) -> ClickLedger:
    ledger = ClickLedger(db)
    background: set[asyncio.Task[None]] = set()

    async def edit(
        channel: str, ts: str, text: str, blocks: list[Any], keep: bool, line: str
    ) -> None:
        try:
            await editor.update_message(
                channel=channel,
                ts=ts,
                text=text,
                blocks=edited_blocks(blocks, line, keep_buttons=keep),
            )
        except Exception:
            log.exception("slack message %s/%s not edited after a click", channel, ts)

    @app.post(
        INTERACTIVITY_PATH,
        summary="Slack interactivity: a CSM's click on an alert's button (signed by Slack)",
        responses={
            200: {"description": "Handled (or a retry of a click already handled)"},
            400: {"description": "Not a block_actions or log-call view_submission payload"},
            401: {"description": "Missing, invalid or stale Slack signature"},
            503: {"description": "Temporal unreachable: click again"},
        },
    )
    async def slack_interactivity(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body_too_large"}, 413)
        verifier = SignatureVerifier(signing_secret())
        if not verifier.is_valid_request(body, dict(request.headers)):
            log.warning("rejected Slack interaction: bad or stale signature")
            return JSONResponse({"error": "invalid_signature"}, 401)
        raw = parse_qs(body.decode("utf-8", "replace")).get("payload", [""])[0]
        if _payload_type(raw) == "view_submission":
            return await submitted(raw)
        payload = parse_payload(raw)
        if payload is None or payload.type != "block_actions" or not payload.actions:
            return JSONResponse({"error": "unsupported_payload"}, 400)
        channel, ts = payload.channel_id, payload.message_ts
        click = payload.actions[0]
        parsed = parse_action_id(click.action_id)
        value = parse_value(click.value)
        if parsed is None or value is None or not channel or not ts:
            return Response(status_code=200)  # not one of the hub's buttons (e.g. a link)
        action, days = parsed
        if action is AlertAction.TIMELINE:
            return Response(status_code=200)  # a link: the browser opened it
        key = click_key(channel, ts, click)
        if not ledger.claim(key):
            log.info("slack click %s already handled (retry)", key)
            return Response(status_code=200)
        if action is AlertAction.LOG_CALL:
            return await open_modal(key, payload.trigger_id, log_call_view(value, channel, ts))
        who = payload.user.username or payload.user.id
        health_snooze = action is AlertAction.SNOOZE and value.w.startswith(
            OUTREACH_WORKFLOW_PREFIX
        )
        try:
            if health_snooze:
                what = await asyncio.wait_for(
                    snooze_health_alerts(crm, value.c, days or 1), timeout=STEER_BUDGET_S
                )
                running = True  # the snooze can be changed: keep the buttons
            else:
                what, running = await asyncio.wait_for(
                    steer(await client(), task_queue, value.w, action, days, who),
                    timeout=STEER_BUDGET_S,
                )
        except (TimeoutError, RuntimeError, RPCError, ConnectorError) as err:
            ledger.release(key)  # not done: a new click may try again
            log.warning("slack click on %s not applied: %s", value.w, err)
            return JSONResponse({"error": "unavailable", "detail": str(err)[:200]}, 503)
        ledger.done(key, what)
        if running:  # any click acts on the alert: it does not escalate
            journey = (await client()).get_workflow_handle(value.w)
            with contextlib.suppress(RPCError):
                await journey.signal("alert_acknowledged", {"ts": ts, "by": who})
        message = payload.message
        if message is None:
            # An ephemeral container carries no message (and chat.update cannot edit
            # one): editing from nothing would wipe the alert.
            log.info("slack click %s: no message in the payload, not edited", key)
            return Response(status_code=200)
        line = outcome_line(payload.user.id, what, datetime.now(UTC))
        task = asyncio.create_task(
            edit(
                channel,
                ts,
                str(message.get("text") or ""),
                list(message.get("blocks") or []),
                running,
                line,
            )
        )
        background.add(task)
        task.add_done_callback(background.discard)
        return Response(status_code=200)

    async def open_modal(key: str, trigger_id: str, view: dict[str, Any]) -> Response:
        """``views.open`` before answering: the click's trigger is valid 3 seconds."""
        try:
            await asyncio.wait_for(
                editor.open_view(trigger_id=trigger_id, view=view), timeout=STEER_BUDGET_S
            )
        except Exception as err:
            ledger.release(key)  # not opened: a new click may try again
            log.warning("log-call modal not opened: %s", err)
            return JSONResponse({"error": "modal_not_opened", "detail": str(err)[:200]}, 503)
        ledger.done(key, "opened the log-call modal")
        return Response(status_code=200)

    async def submitted(raw: str) -> Response:
        call = parse_log_call(raw)
        if call is None:
            return JSONResponse({"error": "unsupported_payload"}, 400)
        if isinstance(call, dict):  # shown next to the fields in the modal
            return JSONResponse({"response_action": "errors", "errors": call})
        key = f"view:{call.view_id}"
        if not ledger.claim(key):
            log.info("slack view %s already handled (retry)", call.view_id)
            return Response(status_code=200)
        try:
            await asyncio.wait_for(
                start_log_call(await client(), task_queue, call), timeout=STEER_BUDGET_S
            )
        except (TimeoutError, RuntimeError, RPCError) as err:
            ledger.release(key)
            log.warning("call of view %s not logged: %s", call.view_id, err)
            return JSONResponse({"error": "unavailable", "detail": str(err)[:200]}, 503)
        ledger.done(key, "call logged")
        task = asyncio.create_task(edit_after_call(call))
        background.add(task)
        task.add_done_callback(background.discard)
        return Response(status_code=200)

    async def edit_after_call(call: LoggedCall) -> None:
        """The alert as it is now (it may have been edited since the modal opened), with
        a line saying who logged the call."""
        ctx = call.context
        try:
            message = await editor.get_message(channel=ctx.ch, ts=ctx.ts)
        except Exception:
            log.exception("slack message %s/%s not read after a logged call", ctx.ch, ctx.ts)
            return
        if message is None:
            log.info("slack message %s/%s gone: not edited after a logged call", ctx.ch, ctx.ts)
            return
        line = outcome_line(call.user_id, call_line(call), datetime.now(UTC))
        await edit(
            ctx.ch,
            ctx.ts,
            str(message.get("text") or ""),
            list(message.get("blocks") or []),
            True,
            line,
        )

    return ledger
