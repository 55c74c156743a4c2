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

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

MAX_STEERING_EVENTS = 20
MAX_SKIPPED_KEPT = 50
NEXT_ACTION = "*"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PauseRequest(_Message):
    """``{"reason": "customer asked for a break"}``"""

    reason: str | None = None


class ResumeRequest(_Message):
    """``{}``"""


class SkipRequest(_Message):
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


class CancelRequest(_Message):
    """``{"reason": "customer churned"}``"""

    reason: str = Field(min_length=1)


class SteeringEvent(BaseModel):
    at: datetime
    kind: str  # pause | resume | skip | skipped | cancel
    detail: str


class PendingSkip(BaseModel):
    step: str  # a step name, or "*": the next action
    reason: str | None = None


class SteeringState(BaseModel):
    paused_since: datetime | None = None
    pause_reason: str | None = None
    paused_total_s: float = 0.0
    pending_skips: list[PendingSkip] = Field(default_factory=list)
    skipped: list[PendingSkip] = Field(default_factory=list)
    """Skips already applied: ``day7`` skips ``day7:email`` and ``day7:alert`` both."""
    cancel_reason: str | None = None
    events: list[SteeringEvent] = Field(default_factory=list)

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
