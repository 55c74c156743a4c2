"""Buttons on the Slack alerts that ask a CSM to act, and what a click means.

Each button's ``action_id`` names the action (``cshub_ack``, ``cshub_snooze_7``,
``cshub_milestone_reached``, ``cshub_pause``, ``cshub_resume``; ``cshub_timeline`` is a
link); its ``value`` is compact JSON naming the workflow and the customer (``{"w":
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
