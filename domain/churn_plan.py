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

    def templates_used(self) -> dict[str, set[str]]:
        emails = {o.template for o in self.outreach.values() if o.template}
        slack = {self.escalation_template}
        if self.ended_alert_template:
            slack.add(self.ended_alert_template)
        return {"email": emails, "slack": slack}
