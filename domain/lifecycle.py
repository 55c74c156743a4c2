"""Messages of the renewal, dunning, churn-prevention and win-back workflows.

They live together because the workflows start and signal each other (a churned renewal
starts the win-back, a final payment failure starts churn prevention) and the webhook
routes build them. One pydantic model per message; new fields always get defaults.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.onboarding import CUSTOMER_ID_PATTERN


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


def renewal_workflow_id(customer_id: str) -> str:
    return f"renewal-{customer_id}"


def dunning_workflow_id(customer_id: str) -> str:
    return f"dunning-{customer_id}"


def churn_workflow_id(customer_id: str) -> str:
    return f"churn-{customer_id}"


def winback_workflow_id(customer_id: str) -> str:
    return f"winback-{customer_id}"


# ---------------------------------------------------------------- renewal
class RenewalInput(_Message):
    """``{"customer_id": "1003", "renewal_date": "2027-03-01"}``"""

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    renewal_date: date
    term_months: int = Field(default=12, ge=1, le=120)
    playbook: str = Field(
        default="renewal",
        pattern=r"^renewal(_[a-z0-9]+)*$",
        description="Playbook file playbooks/<playbook>.yaml (e.g. renewal_enterprise)",
    )
    carry_over: dict[str, object] | None = Field(
        default=None, description="Internal: state carried across continue-as-new"
    )


class RenewalDateChanged(_Message):
    renewal_date: date
    event_id: str | None = None


class Renewed(_Message):
    """The customer renewed: the next term's countdown starts."""

    next_renewal_date: date | None = Field(
        default=None, description="Default: the current date plus the term"
    )
    term_months: int | None = Field(
        default=None, ge=1, le=120, description="The new term's length (default: unchanged)"
    )
    event_id: str | None = None


class AutoRenewed(_Message):
    next_renewal_date: date | None = None
    term_months: int | None = Field(default=None, ge=1, le=120)
    event_id: str | None = None


class Churned(_Message):
    reason: str | None = None
    event_id: str | None = None


# ---------------------------------------------------------------- dunning
class DunningInput(_Message):
    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    invoice_id: str | None = None
    amount_due_cents: int | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    carry_over: dict[str, object] | None = Field(
        default=None, description="Internal: state carried across continue-as-new"
    )


class PaymentFailed(_Message):
    invoice_id: str | None = None
    attempt_count: int | None = Field(default=None, ge=0)
    event_id: str | None = None


class PaymentSucceeded(_Message):
    invoice_id: str | None = None
    event_id: str | None = None


# ---------------------------------------------------------------- churn prevention
class RiskFactor(StrEnum):
    """Warning signs (seeds 001, 003) and what they lead to."""

    USAGE_DROP = "usage_drop"  # re-engagement e-mail
    SUPPORT_SPIKE = "support_spike"  # personal outreach task for the CSM
    NPS_DETRACTOR = "nps_detractor"  # 1:1 call task
    PAYMENT_FAILURE = "payment_failure"  # dunning
    LOW_HEALTH = "low_health"  # health score At risk / Critical
    NEGATIVE_SENTIMENT = "negative_sentiment"  # CSM task: read what they wrote, call
    CHAMPION_CHANGE = "champion_change"  # CSM task: find and win the new champion
    HIGH_CHURN_RISK = "high_churn_risk"  # churn-risk model: CSM task to act on its factors


class ChurnPreventionInput(_Message):
    """``{"customer_id": "1003", "risk_factors": ["usage_drop"], "health_score": 55}``"""

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    risk_factors: list[RiskFactor] = Field(default_factory=list)
    health_score: float | None = Field(default=None, ge=0, le=100)
    churn_risk: float | None = Field(
        default=None, ge=0, le=100, description="the churn-risk model's estimate, percent"
    )
    reason: str | None = None
    source: str | None = Field(
        default=None,
        description="Who raised it, e.g. the workflow id dunning-1003 (its final failure: "
        "the dunning sequence is not started again)",
    )
    evidence: dict[RiskFactor, str] = Field(
        default_factory=dict, description="What was seen, per risk factor (risk detectors)"
    )
    event_ids: list[str] = Field(
        default_factory=list, description="Ids of the warning signs it starts with"
    )
    carry_over: dict[str, object] | None = Field(
        default=None, description="Internal: state carried across continue-as-new"
    )


class HealthUpdated(_Message):
    score: float = Field(ge=0, le=100)
    category: str | None = None
    churn_risk: float | None = Field(
        default=None, ge=0, le=100, description="the churn-risk model's estimate, percent"
    )


class RiskSignal(_Message):
    factor: RiskFactor
    event_id: str | None = None
    source: str | None = Field(
        default=None, description="Who raised it, e.g. dunning-1003 (see ChurnPreventionInput)"
    )
    evidence: str | None = Field(
        default=None,
        max_length=1000,
        description="What was seen, in words (a risk detector's reading), shown to the CSM",
    )


# ---------------------------------------------------------------- win-back
class ExitReason(StrEnum):
    """Seed 003's exit interview, question 1."""

    FOUND_ALTERNATIVE = "found_alternative"
    NO_LONGER_NEEDED = "no_longer_needed"
    TOO_EXPENSIVE = "too_expensive"
    MISSING_FEATURES = "missing_features"
    POOR_EXPERIENCE = "poor_experience"
    OTHER = "other"


class WinBackInput(_Message):
    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    reason: str | None = None
    churned_at: datetime | None = None
    carry_over: dict[str, object] | None = Field(
        default=None, description="Internal: state carried across continue-as-new"
    )


class SurveyAnswer(_Message):
    reason: ExitReason
    comment: str | None = Field(default=None, max_length=2000)
    event_id: str | None = None


class CustomerReturned(_Message):
    note: str | None = None
