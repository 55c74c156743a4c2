"""The dunning playbook (``playbooks/dunning.yaml``): what happens after a failed payment.

Seed 003's "payment failure → dunning sequence": customer e-mails on fixed days of the
sequence (day 0 = the failure), a CSM alert when it drags on, and a final failure when
the last step passed without a payment: the CRM company is flagged at risk and churn
prevention starts. A successful payment stops the sequence at any point.

This module holds the dunning workflow's whole vocabulary: its workflow id, the playbook,
its input and signals (``DunningInput``, ``PaymentFailed``, ``PaymentSucceeded``), and
what a run keeps (``DunningState``), answers (``DunningProgress``) and returns
(``DunningSummary``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, model_validator

from domain.campaigns import CampaignProgress, CampaignState, CampaignSummary
from domain.journeys import CUSTOMER_ID_PATTERN, CarryOver, Message
from domain.playbook_model import CampaignPlaybook, PlaybookModel


def dunning_workflow_id(customer_id: str) -> str:
    return f"dunning-{customer_id}"


# ---------------------------------------------------------------- the playbook
class DunningStep(PlaybookModel):
    """One day of the sequence: an e-mail to the customer and/or a Slack alert to the CSM."""

    day: int = Field(ge=0, le=365)
    email: str | None = Field(default=None, description="E-mail template for the customer")
    alert_csm: str | None = Field(default=None, description="Slack template for the CSM")

    @model_validator(mode="after")
    def _does_something(self) -> DunningStep:
        if self.email is None and self.alert_csm is None:
            raise ValueError(f"day {self.day}: give an e-mail, a CSM alert or both")
        return self


class DunningOnPaid(PlaybookModel):
    """What a successful payment does (besides stopping the sequence and a CRM note)."""

    thank_you_email: str | None = Field(
        default=None, description="E-mail template thanking the customer; none = no e-mail"
    )
    company_properties: dict[str, str] = Field(default_factory=dict)


class DunningFinalFailure(PlaybookModel):
    """The sequence ran out without a payment."""

    day: int = Field(ge=0, le=400, description="Day of the final failure (>= the last step)")
    company_properties: dict[str, str] = Field(
        default_factory=lambda: {"cshub_risk_status": "at_risk", "cshub_payment_status": "failed"}
    )
    start_churn_prevention: bool = True


class DunningPlan(CampaignPlaybook):
    name: str = "dunning"
    company_properties_on_start: dict[str, str] = Field(default_factory=dict)
    steps: list[DunningStep] = Field(min_length=1)
    on_paid: DunningOnPaid = Field(default_factory=DunningOnPaid)
    final_failure: DunningFinalFailure

    @model_validator(mode="after")
    def _ordered(self) -> DunningPlan:
        days = [s.day for s in self.steps]
        if days != sorted(set(days)):
            raise ValueError(f"steps must have strictly increasing days, got {days}")
        if self.final_failure.day < days[-1]:
            raise ValueError(
                f"final_failure.day ({self.final_failure.day}) is before the last step "
                f"(day {days[-1]})"
            )
        return self

    @property
    def last_email_day(self) -> int | None:
        days = [s.day for s in self.steps if s.email]
        return days[-1] if days else None

    def templates_used(self) -> dict[str, set[str]]:
        emails = {s.email for s in self.steps if s.email}
        if self.on_paid.thank_you_email:
            emails.add(self.on_paid.thank_you_email)
        return {"email": emails, "slack": {s.alert_csm for s in self.steps if s.alert_csm}}


# ---------------------------------------------------------------- input and signals
class DunningInput(Message):
    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    invoice_id: str | None = None
    amount_due_cents: int | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    carry_over: CarryOver = None


class PaymentFailed(Message):
    invoice_id: str | None = None
    attempt_count: int | None = Field(default=None, ge=0)
    event_id: str | None = None


class PaymentSucceeded(Message):
    invoice_id: str | None = None
    event_id: str | None = None


# ---------------------------------------------------------------- state, progress, result
class DunningStatus(StrEnum):
    STARTING = "starting"
    ACTIVE = "active"
    PAID = "paid"
    FINAL_FAILURE = "final_failure"
    CANCELLED = "cancelled"


class DunningState(CampaignState):
    plan: DunningPlan
    status: DunningStatus = DunningStatus.ACTIVE
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
    done_steps: list[str] = Field(default_factory=list)
    paid_at: datetime | None = None
    paid_invoice: str | None = None
    churn_workflow_id: str | None = None


class DunningProgress(CampaignProgress):
    status: DunningStatus
    failed_invoices: list[str] = Field(default_factory=list)
    open_invoices: list[str] = Field(default_factory=list)
    payment_failures: int = 0
    attempt_count: int | None = None
    paid_at: datetime | None = None
    final_failure_day: int | None = None
    churn_workflow_id: str | None = None


class DunningSummary(CampaignSummary):
    status: DunningStatus
    failed_invoices: list[str]
    payment_failures: int
    paid_at: datetime | None = None
    alerts_sent: int
    churn_workflow_id: str | None = None
