"""The churn-prevention playbook (``playbooks/churn.yaml``).

Seeds 001 and 003: weekly outreach while a customer is at risk, chosen by the warning
signs (usage drop → re-engagement e-mail, support spike → personal outreach, NPS
detractor → 1:1 call, payment failure → dunning), an executive escalation when the health
score falls below 50, until health recovers, the customer churns, or the campaign has run
its maximum duration.

This module holds the churn-prevention workflow's whole vocabulary: its workflow id, the
warning signs (``RiskFactor``), the playbook, its input and signals
(``ChurnPreventionInput``, ``HealthUpdated``, ``RiskSignal``), and what a run keeps
(``ChurnState``), answers (``ChurnProgress``) and returns (``ChurnSummary``, its
``outcome`` a ``ChurnStatus``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from domain.campaigns import CampaignProgress, CampaignState, CampaignSummary
from domain.journeys import CUSTOMER_ID_PATTERN, CarryOver, Message
from domain.playbook_model import CampaignPlaybook, PlaybookModel
from domain.tiers import Tier


def churn_workflow_id(customer_id: str) -> str:
    return f"churn-{customer_id}"


class RiskFactor(StrEnum):
    """Warning signs (seeds 001, 003) and what they lead to."""

    USAGE_DROP = "usage_drop"  # re-engagement e-mail
    SUPPORT_SPIKE = "support_spike"  # personal outreach task for the CSM
    NPS_DETRACTOR = "nps_detractor"  # 1:1 call task
    PAYMENT_FAILURE = "payment_failure"  # dunning
    LOW_HEALTH = "low_health"  # health score At risk / Critical
    NEGATIVE_SENTIMENT = "negative_sentiment"  # CSM task: read what they wrote, call
    CHAMPION_CHANGE = "champion_change"  # CSM task: find and win the new champion


# ---------------------------------------------------------------- the playbook
class OutreachAction(StrEnum):
    EMAIL = "email"  # an e-mail to the customer (template)
    TASK = "task"  # a CRM task for the CSM (subject, body)
    DUNNING = "dunning"  # start the dunning workflow unless it runs or already ran


class Outreach(PlaybookModel):
    """The response to one risk factor, repeated at each weekly check while the risk lasts
    (at most ``max_times`` per campaign; none = no limit)."""

    action: OutreachAction
    template: str | None = None
    subject: str | None = None
    body: str | None = None
    priority: Literal["LOW", "MEDIUM", "HIGH"] = "HIGH"
    due_in_days: int = Field(default=2, ge=0, le=30)
    max_times: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _complete(self) -> Outreach:
        if self.action is OutreachAction.EMAIL and not self.template:
            raise ValueError("an e-mail outreach needs a template")
        if self.action is OutreachAction.TASK and not (self.subject and self.body):
            raise ValueError("a task outreach needs a subject and a body")
        return self


class Recovery(PlaybookModel):
    """Health counts as recovered at a check when every score reported since the previous
    check is at or above ``score_at_least``; ``consecutive_checks`` such checks end it."""

    score_at_least: float = Field(default=70, ge=0, le=100)
    consecutive_checks: int = Field(default=2, ge=1, le=52)


def _escalation_within_risk(escalate_below: float, at_risk_below: float) -> None:
    """A score low enough to escalate is also at risk: the plan-wide thresholds and each
    tier's bands alike."""
    if escalate_below > at_risk_below:
        raise ValueError(
            f"escalate_below ({escalate_below}) must not exceed at_risk_below ({at_risk_below})"
        )


class ChurnBands(PlaybookModel):
    """The three scores the campaign compares a health score with, for one tier: they are
    its health model's band edges (seed 001: At risk below 70, Critical below 50; seed 003:
    below 60 and 40), so a customer "Neutral" on its own scale is not treated as at risk."""

    at_risk_below: float = Field(ge=0, le=100)
    escalate_below: float = Field(ge=0, le=100)
    recovered_at_least: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> ChurnBands:
        _escalation_within_risk(self.escalate_below, self.at_risk_below)
        return self


class ChurnPlan(CampaignPlaybook):
    name: str = "churn"
    check_every_days: int = Field(default=7, ge=1, le=60)
    at_risk_below: float = Field(
        default=70, ge=0, le=100, description="A score below this adds the low_health factor"
    )
    escalate_below: float = Field(default=50, ge=0, le=100)
    escalation_template: str = "churn_executive_escalation"
    recovery: Recovery = Field(default_factory=Recovery)
    max_duration_days: int = Field(default=180, ge=1, le=730)
    outreach: dict[RiskFactor, Outreach]
    ended_alert_template: str | None = "churn_campaign_ended"
    start_winback_on_churn: bool = True
    by_tier: dict[Tier, ChurnBands] = Field(
        default_factory=dict,
        description="Thresholds per tier (its health model's bands); others use the above",
    )
    company_properties_on_start: dict[str, str] = Field(default_factory=dict)
    company_properties_on_end: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Extra company properties per outcome (recovered, churned, expired, cancelled)",
    )

    @model_validator(mode="after")
    def _thresholds(self) -> ChurnPlan:
        _escalation_within_risk(self.escalate_below, self.at_risk_below)
        return self

    def bands(self, tier: Tier | str | None) -> ChurnBands:
        """The thresholds for a customer of ``tier`` (the plan-wide ones when the tier has
        none of its own or is unknown)."""
        own = None
        if tier is not None and tier in Tier._value2member_map_:
            own = self.by_tier.get(Tier(tier))
        return own or ChurnBands(
            at_risk_below=self.at_risk_below,
            escalate_below=self.escalate_below,
            recovered_at_least=self.recovery.score_at_least,
        )

    def templates_used(self) -> dict[str, set[str]]:
        emails = {o.template for o in self.outreach.values() if o.template}
        slack = {self.escalation_template}
        if self.ended_alert_template:
            slack.add(self.ended_alert_template)
        return {"email": emails, "slack": slack}


# ---------------------------------------------------------------- input and signals
class ChurnPreventionInput(Message):
    """``{"customer_id": "1003", "risk_factors": ["usage_drop"], "health_score": 55}``"""

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    risk_factors: list[RiskFactor] = Field(default_factory=list)
    health_score: float | None = Field(default=None, ge=0, le=100)
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
    carry_over: CarryOver = None


class HealthUpdated(Message):
    score: float = Field(ge=0, le=100)
    category: str | None = None


class RiskSignal(Message):
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


# ---------------------------------------------------------------- state, progress, result
class ChurnStatus(StrEnum):
    STARTING = "starting"
    ACTIVE = "active"
    RECOVERED = "recovered"
    CHURNED = "churned"
    EXPIRED = "expired"  # ran its maximum duration
    CANCELLED = "cancelled"


class ChurnState(CampaignState):
    plan: ChurnPlan
    status: ChurnStatus = ChurnStatus.ACTIVE
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
    evidence: dict[RiskFactor, str] = Field(default_factory=dict)
    """What the risk detectors saw, per factor (the latest), quoted in the CSM's tasks."""


class ChurnProgress(CampaignProgress):
    status: ChurnStatus
    risk_factors: list[RiskFactor] = Field(default_factory=list)
    health_score: float | None = None
    escalated: bool = False
    escalations: int = 0
    checks_done: int = 0
    recovery_streak: int = 0
    recovery_needed: int = 0
    ends_at: datetime | None = None
    winback_workflow_id: str | None = None


class ChurnSummary(CampaignSummary):
    outcome: ChurnStatus
    risk_factors: list[RiskFactor]
    health_score: float | None = None
    checks_done: int
    escalations: int
    tasks_created: int
    alerts_sent: int
    winback_workflow_id: str | None = None
