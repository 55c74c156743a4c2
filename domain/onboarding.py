"""Messages of the onboarding workflow: its input, signals, query result and result.

One pydantic model per message so fields can be added without breaking running
workflows (new fields always get defaults).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.experiments import ExperimentAssignment
from domain.journeys import CUSTOMER_ID_PATTERN, ActionRecord, Message, NextAction
from domain.onboarding_plan import OnboardingPlan
from domain.steering import CancelRequest as CancelRequest
from domain.steering import PauseRequest as PauseRequest
from domain.steering import ResumeRequest as ResumeRequest
from domain.steering import SkipRequest as SkipRequest
from domain.steering import SteeringState, SteeringStatus
from domain.tiers import ProductEventType, Tier


def onboarding_workflow_id(customer_id: str) -> str:
    return f"onboarding-{customer_id}"


class OnboardingStatus(StrEnum):
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class OnboardingCarryOver(BaseModel):
    """Internal: the state a run hands to its continuation (continue-as-new)."""

    plan: OnboardingPlan
    started_at: datetime
    day_length_seconds: int = 86_400
    skip_before: datetime | None = None
    timezone: str | None = None
    """The customer's zone for send hours; None for journeys begun before it existed."""
    done_steps: list[str] = Field(default_factory=list)
    milestones_reached: dict[str, datetime] = Field(default_factory=dict)
    milestones_missed: list[str] = Field(default_factory=list)
    nudges_sent: list[str] = Field(default_factory=list)
    event_counts: dict[str, int] = Field(default_factory=dict)
    max_usage_percent: float = 0.0
    seen_event_ids: list[str] = Field(default_factory=list)
    paused_total_s: float = 0.0
    paused_since: datetime | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    steering: SteeringState = Field(default_factory=SteeringState)
    """Skip requests (pause / resume / cancel keep their own fields above)."""
    inbox: list[MilestoneReached] = Field(default_factory=list)
    """Milestone signals taken in (e.g. during a wait) and not acted on yet."""
    owed_emails: list[str] = Field(default_factory=list)
    """Steps (a celebration, a nudge) whose e-mail was held in quiet hours when the run
    continued as new: the next run sends them (same idempotency keys)."""
    experiment: ExperimentAssignment | None = None
    """The experiment arm drawn at the start, kept for the journey's whole life."""


class OnboardingInput(Message):
    """Start an onboarding journey. Type this in the Temporal UI:
    ``{"customer_id": "1001", "tier": "starter"}``."""

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN, description="CRM company id")
    tier: Tier | None = Field(
        default=None, description="Plan tier; read from the CRM company when omitted"
    )
    start_date: datetime | None = Field(
        default=None,
        description="Day 0 of the journey (default: now). Steps already due at start are "
        "skipped, not sent in a burst; a future date waits.",
    )
    plan: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9_]*$",
        description="Plan file to follow instead of the tier's own (playbooks/onboarding)",
    )
    day_length_seconds: int | None = Field(
        default=None,
        ge=1,
        le=86_400,
        description="Compressed time for demos and rehearsals: one plan day lasts this many "
        "seconds. Leave unset in production (a day is a day).",
    )
    history_budget: int | None = Field(
        default=None,
        ge=200,
        le=40_000,
        description="Events in one run before the journey continues as new (default "
        "4,000, under Temporal's 10,240 warning); smaller for tests and rehearsals",
    )
    carry_over: OnboardingCarryOver | None = Field(
        default=None, description="Internal: state carried across continue-as-new"
    )


class MilestoneReached(Message):
    milestone: str = Field(min_length=1, description="Milestone key from the plan")
    note: str | None = None


class ProductEvent(Message):
    """A product-usage event for this customer."""

    type: ProductEventType
    event_id: str | None = Field(default=None, description="Sender's id; duplicates ignored")
    count: int = Field(
        default=1,
        ge=1,
        le=1_000_000,
        description="How many occurrences (the ingress hands on what it counted since its "
        "last signal)",
    )
    percent: float | None = Field(
        default=None, ge=0, le=1000, description="usage_threshold: % of the limit used"
    )
    limit_name: str | None = None
    occurred_at: datetime | None = None


class OnboardingProgress(BaseModel):
    customer_id: str
    tier: Tier
    plan: str
    plan_version: int
    status: OnboardingStatus
    started_at: datetime
    day: int
    phase: str | None
    milestones_done: list[str]
    milestones_missed: list[str]
    milestones_pending: list[str]
    next_action: NextAction | None
    paused_for_seconds: float
    actions: list[ActionRecord]
    steering: SteeringStatus = Field(default_factory=SteeringStatus)
    event_counts: dict[str, int] = Field(
        default_factory=dict, description="Product events counted so far, by type"
    )
    experiment: ExperimentAssignment | None = None
    """The experiment arm this journey is in (``cshub report experiment`` reads it)."""


class OnboardingSummary(BaseModel):
    customer_id: str
    tier: Tier
    plan: str
    status: OnboardingStatus
    started_at: datetime
    finished_at: datetime
    milestones_reached: list[str]
    milestones_missed: list[str]
    emails_sent: int
    tasks_created: int
    alerts_sent: int
    failed_steps: list[str]
    cancel_reason: str | None = None
