"""The post-onboarding plays' workflow models: its input, signals, state and progress
(``workflows/customer_year.py``). Pure: no I/O, no Temporal."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.journeys import CUSTOMER_ID_PATTERN, ActionRecord, NextAction
from domain.steering import SteeringState, SteeringStatus
from domain.tiers import Tier
from domain.year_plan import YearPlan

WORKFLOW_ID_PREFIX = "customer-year-"


def customer_year_workflow_id(customer_id: str) -> str:
    return f"{WORKFLOW_ID_PREFIX}{customer_id}"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerYearInput(_Message):
    """``{"customer_id": "1001"}`` starts the plays from the tier's playbook (the tier
    read from the CRM) as if onboarding had just ended (day ``start_day``)."""

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    tier: Tier | None = None
    start_day: int | None = Field(default=None, ge=0, le=3650)
    """Today's day of the customer's journey (default: the playbook's ``starts_on_day``)."""
    milestones_reached: list[str] = Field(default_factory=list)
    milestones_missed: list[str] = Field(default_factory=list)
    carry_over: dict[str, Any] | None = None
    history_budget: int | None = Field(default=None, ge=50)
    """Events in one run before continuing as new (default: the hub's budget; tests
    set a small one)."""


class UpgradeOutcome(StrEnum):
    CONVERTED = "converted"
    DECLINED = "declined"


class UpgradeAnswer(_Message):
    """``{"outcome": "declined", "note": "budget freeze until Q3"}``: stops upgrade
    acceleration for the rest of the term."""

    outcome: UpgradeOutcome
    note: str | None = Field(default=None, max_length=500)


class ReferralMade(_Message):
    """``{"referred_customer_id": "2001", "value_minor": 120000, "currency": "USD"}``:
    this customer referred ``referred_customer_id``, whose first-year contract is worth
    ``value_minor`` (cents); the commission is the playbook's percentage of it."""

    referred_customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    value_minor: int = Field(ge=0, le=10**12)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class Referral(BaseModel):
    referred_customer_id: str
    value_minor: int
    commission_minor: int
    currency: str
    at: datetime


class YearStatus(StrEnum):
    STARTING = "starting"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class YearState(BaseModel):
    plan: YearPlan
    started_at: datetime
    anchor: datetime
    """Day 0 of the customer's journey (the onboarding's start)."""
    timezone: str = "UTC"
    tier: Tier
    status: YearStatus = YearStatus.ACTIVE
    steering: SteeringState = Field(default_factory=SteeringState)
    done_steps: list[str] = Field(default_factory=list)
    milestones_reached: list[str] = Field(default_factory=list)
    milestones_missed: list[str] = Field(default_factory=list)
    upgrade: UpgradeOutcome | None = None
    upgrade_note: str | None = None
    referrals: list[Referral] = Field(default_factory=list)
    actions: list[ActionRecord] = Field(default_factory=list)


class YearProgress(BaseModel):
    customer_id: str
    status: YearStatus
    tier: Tier | None = None
    day: int | None = None
    next_action: NextAction | None = None
    upgrade: UpgradeOutcome | None = None
    referrals: list[Referral] = Field(default_factory=list)
    steps_done: list[str] = Field(default_factory=list)
    actions: list[ActionRecord] = Field(default_factory=list)
    steering: SteeringStatus | None = None


class YearSummary(BaseModel):
    customer_id: str
    status: YearStatus
    reviews: int
    emails_sent: int
    tasks_created: int
    upgrade: UpgradeOutcome | None = None
    referrals: int
