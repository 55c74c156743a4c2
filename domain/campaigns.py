"""What the dunning, churn-prevention and win-back campaigns share: the pure calendar
rules (campaign day numbers and send times in the customer's zone), the dedupe memory of
event ids, and the fields every campaign's progress answer has. Each campaign's own
vocabulary lives in its module (``domain.dunning``, ``domain.churn``, ``domain.winback``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field

from domain.journeys import ActionRecord, NextAction
from domain.send_window import SendWindow, local_date, local_send_time
from domain.steering import SteeringState, SteeringStatus
from domain.tiers import Tier

MAX_IDS_KEPT = 500


# ------------------------------------------------------------------ calendar
def campaign_day(anchor: datetime, at: datetime, tz: str | None) -> int:
    """Calendar days from ``anchor`` to ``at`` in the customer's zone (0 on the first)."""
    return max(0, (local_date(at, tz) - local_date(anchor, tz)).days)


def step_time(anchor: datetime, day: int, tz: str | None, window: SendWindow) -> datetime:
    """When a step of plan day ``day`` is due: day 0 at once (the event just happened;
    the e-mail activity still holds it back in quiet hours), later days at the send hour
    in the customer's zone."""
    if day <= 0:
        return anchor
    return local_send_time(local_date(anchor, tz) + timedelta(days=day), tz, window)


def iso_date(at: datetime | date) -> str:
    return (at.date() if isinstance(at, datetime) else at).isoformat()


def remember(ids: list[str], new: str) -> list[str]:
    """``ids`` plus ``new``, keeping the most recent MAX_IDS_KEPT (dedup memory)."""
    return [*ids[-(MAX_IDS_KEPT - 1) :], new]


class CampaignState(BaseModel):
    """What every campaign run keeps (and carries across continue-as-new); each adds its
    plan, status and own fields."""

    started_at: datetime
    timezone: str = "UTC"
    tier: Tier | None = None
    steering: SteeringState = Field(default_factory=SteeringState)
    """Pause / skip / cancel requests (the steering signals)."""
    seen_event_ids: list[str] = Field(default_factory=list)
    actions: list[ActionRecord] = Field(default_factory=list)


class CampaignSummary(BaseModel):
    """What every campaign's result holds; each adds its status and counts."""

    customer_id: str
    started_at: datetime
    finished_at: datetime
    emails_sent: int
    failed_steps: list[str] = Field(default_factory=list)


class CampaignProgress(BaseModel):
    """What every campaign's ``progress`` query answers (each adds its own fields)."""

    customer_id: str
    started_at: datetime | None = None
    day: int = 0
    timezone: str = "UTC"
    next_action: NextAction | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    steering: SteeringStatus = Field(default_factory=SteeringStatus)
