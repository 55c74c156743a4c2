"""The churn-prevention playbook (``playbooks/churn.yaml``).

Seeds 001 and 003: weekly outreach while a customer is at risk, chosen by the warning
signs (usage drop → re-engagement e-mail, support spike → personal outreach, NPS
detractor → 1:1 call, payment failure → dunning), an executive escalation when the health
score falls below 50, until health recovers, the customer churns, or the campaign has run
its maximum duration.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.lifecycle import RiskFactor
from domain.send_window import SendWindow
from domain.tiers import Tier


class _Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutreachAction(StrEnum):
    EMAIL = "email"  # an e-mail to the customer (template)
    TASK = "task"  # a CRM task for the CSM (subject, body)
    DUNNING = "dunning"  # start the dunning workflow unless it runs or already ran


class Outreach(_Plan):
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


class Recovery(_Plan):
    """Health counts as recovered at a check when every score reported since the previous
    check is at or above ``score_at_least``; ``consecutive_checks`` such checks end it."""

    score_at_least: float = Field(default=70, ge=0, le=100)
    consecutive_checks: int = Field(default=2, ge=1, le=52)


class ChurnBands(_Plan):
    """The three scores the campaign compares a health score with, for one tier: they are
    its health model's band edges (seed 001: At risk below 70, Critical below 50; seed 003:
    below 60 and 40), so a customer "Neutral" on its own scale is not treated as at risk."""

    at_risk_below: float = Field(ge=0, le=100)
    escalate_below: float = Field(ge=0, le=100)
    recovered_at_least: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> ChurnBands:
        if self.escalate_below > self.at_risk_below:
            raise ValueError(
                f"escalate_below ({self.escalate_below}) must not exceed at_risk_below "
                f"({self.at_risk_below})"
            )
        return self


class ChurnPlan(_Plan):
    name: str = "churn"
    version: int = Field(default=1, ge=1)
    description: str = ""
    send_window: SendWindow = Field(default_factory=SendWindow)
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
        if self.escalate_below > self.at_risk_below:
            raise ValueError(
                f"escalate_below ({self.escalate_below}) must not exceed at_risk_below "
                f"({self.at_risk_below})"
            )
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
