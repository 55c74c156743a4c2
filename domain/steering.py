"""Steering a running workflow: the same four signals in every customer workflow type.

``pause`` {reason?}: nothing is sent to the customer or the CSM while paused (timers
keep running; actions that fall due wait and run at resume). ``resume`` {}: what fell
due meanwhile runs now. ``skip`` {step?, reason?}: the next (or the named) pending
action is recorded as skipped instead of run. ``cancel`` {reason}: the workflow records
the reason, does its normal closing and ends as cancelled.

:class:`SteeringState` is what a workflow keeps of it (and carries across
continue-as-new).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from domain.journeys import Message

MAX_STEERING_EVENTS = 20
MAX_SKIPPED_KEPT = 50
MAX_REJECTED_KEPT = 5
MAX_PAYLOAD_CHARS = 200
NEXT_ACTION = "*"

M = TypeVar("M", bound=BaseModel)


class PauseRequest(Message):
    """``{"reason": "customer asked for a break"}``"""

    reason: str | None = None


class ResumeRequest(Message):
    """``{}``"""


class SkipRequest(Message):
    """``{"step": "day7", "reason": "already called them"}``; without ``step``: the next
    action (the ``next_action`` of the progress query)."""

    step: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Step name as shown in the progress query (e.g. day7, or day7:email "
        "for one action of it); default: the next action",
    )
    reason: str | None = None


class CancelRequest(Message):
    """``{"reason": "customer churned"}``"""

    reason: str = Field(min_length=1)


class SteeringEvent(BaseModel):
    at: datetime
    kind: str  # pause | resume | skip | skipped | cancel
    detail: str


class PendingSkip(BaseModel):
    step: str  # a step name, or "*": the next action
    reason: str | None = None


class RejectedCommand(BaseModel):
    """A steering command (signal or update) whose payload did not fit: not applied."""

    at: datetime
    command: str
    payload: str
    """The payload as sent (JSON, clipped)."""
    why: str
    via: str = "signal"  # signal | update

    def line(self) -> str:
        return (
            f"last command rejected ({self.at:%Y-%m-%d %H:%M} UTC): {self.command} "
            f"{self.payload}: {self.why}"
        )


class CommandRejected(ValueError):
    """A command's payload does not fit its model; the message names the field."""

    def __init__(self, message: str, payload: str = "") -> None:
        super().__init__(message)
        self.payload = payload


def payload_text(data: Any) -> str:
    """The payload as a person typed it (JSON), clipped for the UI and Slack."""
    try:
        text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(data)
    return text if len(text) <= MAX_PAYLOAD_CHARS else text[: MAX_PAYLOAD_CHARS - 1] + "…"


def _fields_of(model: type[BaseModel]) -> str:
    return ", ".join(model.model_fields) or "nothing (send {})"


def parse_command(model: type[M], data: Any, command: str) -> M:
    """``data`` (the decoded JSON of a signal or update; None when nothing was sent) as
    ``model``, or :class:`CommandRejected` with a message a person can act on: which
    field, what is wrong, what the command takes."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CommandRejected(
            f"{command} takes a JSON object ({_fields_of(model)}), not {payload_text(data)}",
            payload_text(data),
        )
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            field = ".".join(str(p) for p in e["loc"]) or "(payload)"
            if e["type"] == "extra_forbidden":
                problems.append(f'unknown field "{field}"')
            elif e["type"] == "missing":
                problems.append(f'field "{field}" is required')
            else:
                problems.append(f'field "{field}": {e["msg"]}')
        raise CommandRejected(
            f"{command}: {'; '.join(problems)} ({command} takes: {_fields_of(model)})",
            payload_text(data),
        ) from None


class SteeringState(BaseModel):
    paused_since: datetime | None = None
    pause_reason: str | None = None
    paused_total_s: float = 0.0
    pending_skips: list[PendingSkip] = Field(default_factory=list)
    skipped: list[PendingSkip] = Field(default_factory=list)
    """Skips already applied: ``day7`` skips ``day7:email`` and ``day7:alert`` both."""
    cancel_reason: str | None = None
    events: list[SteeringEvent] = Field(default_factory=list)
    rejected: list[RejectedCommand] = Field(default_factory=list)
    """The last commands refused for their payload (newest last)."""

    @property
    def paused(self) -> bool:
        return self.paused_since is not None


class SteeringStatus(BaseModel):
    """What the progress query shows of steering."""

    paused: bool = False
    paused_since: datetime | None = None
    pause_reason: str | None = None
    paused_total_s: float = 0.0
    pending_skips: list[str] = Field(default_factory=list)
    cancel_reason: str | None = None
    events: list[SteeringEvent] = Field(default_factory=list)
    rejected: list[RejectedCommand] = Field(default_factory=list)
    """Commands refused for their payload, newest last: not applied."""
