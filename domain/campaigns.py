"""State, progress and results of the dunning, churn-prevention and win-back workflows.

``*State`` is what a workflow keeps (and carries across continue-as-new); ``*Progress``
answers the ``progress`` query; ``*Summary`` is the workflow's result. Plus the pure
calendar rules they share: campaign day numbers and send times in the customer's zone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.churn_plan import ChurnPlan
from domain.dunning_plan import DunningPlan
from domain.lifecycle import ExitReason, RiskFactor
from domain.onboarding import ActionRecord, NextAction
from domain.send_window import SendWindow, local_date, local_send_time
from domain.steering import SteeringState, SteeringStatus
from domain.tiers import Tier
from domain.winback_plan import WinBackPlan

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


class _Progress(BaseModel):
    customer_id: str
    started_at: datetime | None = None
    day: int = 0
    timezone: str = "UTC"
    next_action: NextAction | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    steering: SteeringStatus = Field(default_factory=SteeringStatus)


# ------------------------------------------------------------------ dunning
class DunningStatus(StrEnum):
    STARTING = "starting"
    ACTIVE = "active"
    PAID = "paid"
    FINAL_FAILURE = "final_failure"
    CANCELLED = "cancelled"


class DunningState(BaseModel):
    plan: DunningPlan
    started_at: datetime
    timezone: str = "UTC"
    tier: Tier | None = None
    status: DunningStatus = DunningStatus.ACTIVE
    steering: SteeringState = Field(default_factory=SteeringState)
    """Pause / skip / cancel requests (the steering signals)."""
    failed_invoices: list[str] = Field(default_factory=list)
    """Every invoice that failed during this sequence (deduplicated)."""
    open_invoices: list[str] = Field(default_factory=list)
    """Failed and not paid yet. Empty with ``unknown_invoice_failed``: no invoice id known."""
    unknown_invoice_failed: bool = False
    payment_failures: int = 0
    """Distinct failures: one per invoice (Stripe's retries of an invoice count once)."""
    attempt_count: int | None = None
    amount_due_cents: int | None = None
    currency: str | None = None
    seen_event_ids: list[str] = Field(default_factory=list)
    done_steps: list[str] = Field(default_factory=list)
    paid_at: datetime | None = None
    paid_invoice: str | None = None
    churn_workflow_id: str | None = None
    actions: list[ActionRecord] = Field(default_factory=list)


class DunningProgress(_Progress):
    status: DunningStatus
    failed_invoices: list[str] = Field(default_factory=list)
    open_invoices: list[str] = Field(default_factory=list)
    payment_failures: int = 0
    attempt_count: int | None = None
    paid_at: datetime | None = None
    final_failure_day: int | None = None
    churn_workflow_id: str | None = None


class DunningSummary(BaseModel):
    customer_id: str
    status: DunningStatus
    started_at: datetime
    finished_at: datetime
    failed_invoices: list[str]
    payment_failures: int
    paid_at: datetime | None = None
    emails_sent: int
    alerts_sent: int
    churn_workflow_id: str | None = None
    failed_steps: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------ churn prevention
class ChurnOutcome(StrEnum):
    STARTING = "starting"
    ACTIVE = "active"
    RECOVERED = "recovered"
    CHURNED = "churned"
    EXPIRED = "expired"  # ran its maximum duration
    CANCELLED = "cancelled"


class ChurnState(BaseModel):
    plan: ChurnPlan
    started_at: datetime
    timezone: str = "UTC"
    tier: Tier | None = None
    status: ChurnOutcome = ChurnOutcome.ACTIVE
    steering: SteeringState = Field(default_factory=SteeringState)
    """Pause / skip / cancel requests (the steering signals)."""
    reason: str | None = None
    risk_factors: list[RiskFactor] = Field(default_factory=list)
    pending_factors: list[RiskFactor] = Field(default_factory=list)
    """Added after the start: answered at once, not only at the next weekly check."""
    outreach_counts: dict[RiskFactor, int] = Field(default_factory=dict)
    last_outreach_at: dict[RiskFactor, datetime] = Field(default_factory=dict)
    health_score: float | None = None
    lowest_since_check: float | None = None
    escalated: bool = False
    """Below the escalation threshold and already escalated (reset when back above)."""
    escalations: int = 0
    checks_done: int = 0
    recovery_streak: int = 0
    dunning_handled: bool = False
    """The payment-failure response ran (dunning started, found running, or not restarted)."""
    dunning_exhausted: bool = False
    """The dunning sequence already ran to its final failure: do not start it again."""
    churn_reason: str | None = None
    winback_workflow_id: str | None = None
    seen_event_ids: list[str] = Field(default_factory=list)
    evidence: dict[RiskFactor, str] = Field(default_factory=dict)
    """What the risk detectors saw, per factor (the latest), quoted in the CSM's tasks."""
    actions: list[ActionRecord] = Field(default_factory=list)


class ChurnProgress(_Progress):
    status: ChurnOutcome
    risk_factors: list[RiskFactor] = Field(default_factory=list)
    health_score: float | None = None
    escalated: bool = False
    escalations: int = 0
    checks_done: int = 0
    recovery_streak: int = 0
    recovery_needed: int = 0
    ends_at: datetime | None = None
    winback_workflow_id: str | None = None


class ChurnSummary(BaseModel):
    customer_id: str
    outcome: ChurnOutcome
    started_at: datetime
    finished_at: datetime
    risk_factors: list[RiskFactor]
    health_score: float | None = None
    checks_done: int
    escalations: int
    emails_sent: int
    tasks_created: int
    alerts_sent: int
    winback_workflow_id: str | None = None
    failed_steps: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------ win-back
class WinBackStatus(StrEnum):
    STARTING = "starting"
    ACTIVE = "active"
    RETURNED = "returned"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ExitAnswer(BaseModel):
    reason: ExitReason
    comment: str | None = None
    at: datetime


class WinBackState(BaseModel):
    plan: WinBackPlan
    started_at: datetime
    anchor: datetime
    """Day 0 of the sequence: the churn time (given) or the start."""
    timezone: str = "UTC"
    tier: Tier | None = None
    status: WinBackStatus = WinBackStatus.ACTIVE
    steering: SteeringState = Field(default_factory=SteeringState)
    """Pause / skip / cancel requests (the steering signals)."""
    churn_reason: str | None = None
    done_steps: list[str] = Field(default_factory=list)
    answers: list[ExitAnswer] = Field(default_factory=list)
    returned_at: datetime | None = None
    return_note: str | None = None
    seen_event_ids: list[str] = Field(default_factory=list)
    actions: list[ActionRecord] = Field(default_factory=list)


class WinBackProgress(_Progress):
    status: WinBackStatus
    churn_reason: str | None = None
    exit_reason: ExitReason | None = None
    exit_comment: str | None = None
    steps_done: list[str] = Field(default_factory=list)
    ends_at: datetime | None = None


class WinBackSummary(BaseModel):
    customer_id: str
    status: WinBackStatus
    started_at: datetime
    finished_at: datetime
    exit_reason: ExitReason | None = None
    emails_sent: int
    tasks_created: int
    failed_steps: list[str] = Field(default_factory=list)
