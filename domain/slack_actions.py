"""Buttons on the Slack alerts that ask a CSM to act, and what a click means.

Each button's ``action_id`` names the action (``cshub_ack``, ``cshub_snooze_7``,
``cshub_milestone_reached``, ``cshub_pause``, ``cshub_resume``, ``cshub_log_call`` (opens
the log-call modal, :func:`log_call_view`); ``cshub_timeline`` is a link); its ``value`` is compact JSON naming the workflow and the customer (``{"w":
"onboarding-1001", "c": "1001"}``). ``webhooks/slack_interactivity.py`` turns a click into
the workflow's steering and edits the message to say who did what.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ACTION_PREFIX = "cshub_"
SNOOZE_DAYS = (1, 3, 7)
MAX_SNOOZE_DAYS = 30


class AlertAction(StrEnum):
    ACK = "ack"
    SNOOZE = "snooze"
    MILESTONE_REACHED = "milestone_reached"
    PAUSE = "pause"
    RESUME = "resume"
    TIMELINE = "timeline"
    LOG_CALL = "log_call"


class ButtonValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    w: str = Field(min_length=1, max_length=200, description="workflow id")
    c: str = Field(min_length=1, max_length=64, description="customer id")


def button_value(workflow_id: str, customer_id: str) -> str:
    return json.dumps({"w": workflow_id, "c": customer_id}, separators=(",", ":"))


def parse_action_id(action_id: str) -> tuple[AlertAction, int | None] | None:
    """``cshub_snooze_7`` → (SNOOZE, 7); None for a button that is not the hub's."""
    if not action_id.startswith(ACTION_PREFIX):
        return None
    name = action_id.removeprefix(ACTION_PREFIX)
    days: int | None = None
    if name.startswith(f"{AlertAction.SNOOZE.value}_"):
        name, _, raw = name.rpartition("_")
        if not raw.isdecimal() or not 1 <= int(raw) <= MAX_SNOOZE_DAYS:
            return None
        days = int(raw)
    try:
        action = AlertAction(name)
    except ValueError:
        return None
    if action is AlertAction.SNOOZE and days is None:
        return None
    return action, days


class SlackUser(BaseModel):
    id: str
    username: str | None = None
    name: str | None = None


class SlackAction(BaseModel):
    action_id: str
    value: str | None = None
    action_ts: str = ""
    type: str = "button"


class SlackChannelRef(BaseModel):
    id: str


class SlackContainer(BaseModel):
    message_ts: str | None = None
    channel_id: str | None = None


class InteractionPayload(BaseModel):
    """Slack's ``block_actions`` payload (the fields the hub reads)."""

    type: str
    user: SlackUser
    actions: list[SlackAction] = Field(default_factory=list)
    channel: SlackChannelRef | None = None
    container: SlackContainer = Field(default_factory=SlackContainer)
    message: dict[str, Any] | None = None
    trigger_id: str = ""

    @property
    def channel_id(self) -> str | None:
        return self.container.channel_id or (self.channel.id if self.channel else None)

    @property
    def message_ts(self) -> str | None:
        return self.container.message_ts or (self.message or {}).get("ts")


def parse_payload(raw: str) -> InteractionPayload | None:
    try:
        return InteractionPayload.model_validate_json(raw)
    except ValidationError:
        return None


def parse_value(raw: str | None) -> ButtonValue | None:
    try:
        return ButtonValue.model_validate_json(raw or "")
    except ValidationError:
        return None


def click_key(channel: str, message_ts: str, action: SlackAction) -> str:
    """One click: Slack's retry of the same payload has the same key."""
    return f"{channel}:{message_ts}:{action.action_id}:{action.action_ts}"


def outcome_line(user_id: str, text: str, at: datetime) -> str:
    return f"<@{user_id}> {text} ({at:%Y-%m-%d %H:%M} UTC)"


def edited_blocks(blocks: list[dict[str, Any]], line: str, *, keep_buttons: bool) -> list[Any]:
    """The alert's blocks with a context line saying who did what, after the buttons
    (dropped when the workflow has ended: nothing is left to steer)."""
    out: list[Any] = []
    for block in blocks:
        is_ours = block.get("type") == "actions" and any(
            str(e.get("action_id", "")).startswith(ACTION_PREFIX) for e in block.get("elements", [])
        )
        if is_ours and not keep_buttons:
            continue
        out.append(block)
    out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
    return out[-50:]  # Slack's limit on blocks in a message


# ---------------------------------------------------------------- the log-call modal
LOG_CALL_CALLBACK = "cshub_log_call"
"""``callback_id`` of the modal the *Log call* button opens (``views.open``)."""
OUTCOME_BLOCK, OUTCOME_ACTION = "outcome", "outcome"
NOTE_BLOCK, NOTE_ACTION = "note", "note"
MAX_NOTE_CHARS = 2000
_OUTCOMES = """connected: Spoke with them; voicemail: Left a voicemail; no_answer: No answer;
rescheduled: Call rescheduled; escalated: Needs escalation"""
CALL_OUTCOMES: dict[str, str] = {
    key.strip(): label.strip()
    for key, _, label in (pair.partition(":") for pair in _OUTCOMES.split(";"))
}
"""The outcomes a CSM picks (option value → label), in the modal's order."""


class ModalContext(BaseModel):
    """The modal's ``private_metadata``: which alert and workflow the call is about."""

    model_config = ConfigDict(extra="forbid")

    w: str = Field(min_length=1, max_length=200)
    c: str = Field(min_length=1, max_length=64)
    ch: str = Field(min_length=1, max_length=40, description="the alert's channel")
    ts: str = Field(min_length=1, max_length=40, description="the alert's message ts")


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def log_call_view(value: ButtonValue, channel: str, ts: str) -> dict[str, Any]:
    """The modal (``views.open``): an outcome (static select) and a note, both required."""
    meta = ModalContext(w=value.w, c=value.c, ch=channel, ts=ts)
    return {
        "type": "modal",
        "callback_id": LOG_CALL_CALLBACK,
        "private_metadata": meta.model_dump_json(),
        "title": _plain("Log a call"),
        "submit": _plain("Log call"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"Customer `{value.c}`: what came of the call?"},
            },
            {
                "type": "input",
                "block_id": OUTCOME_BLOCK,
                "label": _plain("Outcome"),
                "element": {
                    "type": "static_select",
                    "action_id": OUTCOME_ACTION,
                    "placeholder": _plain("Choose an outcome"),
                    "options": [
                        {"text": _plain(label), "value": key}
                        for key, label in CALL_OUTCOMES.items()
                    ],
                },
            },
            {
                "type": "input",
                "block_id": NOTE_BLOCK,
                "label": _plain("Note"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": NOTE_ACTION,
                    "multiline": True,
                    "max_length": MAX_NOTE_CHARS,
                },
            },
        ],
    }


class LoggedCall(BaseModel):
    """A submitted log-call modal: what the CSM wrote, about which alert."""

    view_id: str
    context: ModalContext
    outcome: str
    note: str
    user_id: str
    who: str

    @property
    def outcome_label(self) -> str:
        return CALL_OUTCOMES.get(self.outcome, self.outcome)


class _SubmittedView(BaseModel):
    id: str
    callback_id: str = ""
    private_metadata: str = ""
    state: dict[str, Any] = Field(default_factory=dict)


class ViewSubmission(BaseModel):
    """Slack's ``view_submission`` payload (the fields the hub reads)."""

    type: str
    user: SlackUser
    view: _SubmittedView


def parse_log_call(raw: str) -> LoggedCall | dict[str, str] | None:
    """The submission as a :class:`LoggedCall`; a dict of errors by block id when a field
    is missing or not one of the options (Slack shows them in the modal); None when it is
    not the hub's log-call modal."""
    try:
        sub = ViewSubmission.model_validate_json(raw)
        context = ModalContext.model_validate_json(sub.view.private_metadata)
    except ValidationError:
        return None
    if sub.type != "view_submission" or sub.view.callback_id != LOG_CALL_CALLBACK:
        return None
    values = sub.view.state.get("values") or {}
    chosen = ((values.get(OUTCOME_BLOCK) or {}).get(OUTCOME_ACTION) or {}).get("selected_option")
    outcome = str((chosen or {}).get("value") or "")
    note = str(((values.get(NOTE_BLOCK) or {}).get(NOTE_ACTION) or {}).get("value") or "").strip()
    errors: dict[str, str] = {}
    if outcome not in CALL_OUTCOMES:
        errors[OUTCOME_BLOCK] = "Choose one of the outcomes"
    if not note:
        errors[NOTE_BLOCK] = "Write what was said"
    elif len(note) > MAX_NOTE_CHARS:
        errors[NOTE_BLOCK] = f"At most {MAX_NOTE_CHARS} characters"
    if errors:
        return errors
    return LoggedCall(
        view_id=sub.view.id,
        context=context,
        outcome=outcome,
        note=note,
        user_id=sub.user.id,
        who=sub.user.username or sub.user.name or sub.user.id,
    )


class CallLogged(BaseModel):
    """Signal ``call_logged`` to the workflow that raised the alert: a CSM logged a call
    from it (acknowledges the alert; recorded in the workflow's steering events)."""

    ts: str = Field(min_length=1, max_length=40)
    by: str = Field(default="", max_length=200)
    outcome: str = Field(default="", max_length=40)
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)


def call_note_body(call: LoggedCall) -> str:
    """The CRM note on the company (the call's engagement record)."""
    return (
        f"Call logged from Slack by {call.who}: {call.outcome_label}\n"
        f"{call.note}\n(alert of workflow {call.context.w})"
    )


def call_line(call: LoggedCall) -> str:
    """What the alert says once the call is logged (the note escaped for mrkdwn, cut)."""
    note = call.note if len(call.note) <= 200 else call.note[:199] + "\u2026"
    note = note.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"logged a call: *{call.outcome_label}*, \u201c{note}\u201d (CRM note on the company)"
