"""The renewal playbook (``playbooks/renewal.yaml``): the countdown to a renewal date.

Seeds 001/003: reminders 60, 30, 14, 7 and 1 day before the renewal date, to the customer
(an e-mail with a value summary) and to the CSM (a Slack alert; a CRM task at 60 and 30
days), at the send hour in the customer's zone. When the date passes with no outcome the
CSM and the account executive are alerted once, with a HIGH task, and the workflow keeps
waiting for the outcome for a bounded time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from domain.playbook_model import CampaignPlaybook, PlaybookModel

Priority = Literal["LOW", "MEDIUM", "HIGH"]
SLACK_ID_PATTERN = r"^[A-Z0-9]{2,32}$"


class RenewalReminder(PlaybookModel):
    """One reminder, ``days_before`` the renewal date at the local send hour."""

    days_before: int = Field(ge=1, le=365)
    email: str | None = Field(
        default="renewal_reminder",
        description="E-mail template for the customer (it varies by extra.days_left); "
        "null: no e-mail",
    )
    alert_csm: str | None = Field(
        default="renewal_reminder", description="Slack template for the CSM; null: no alert"
    )
    crm_task: bool = Field(default=False, description="Create a CRM task for the CSM")
    task_priority: Priority = "MEDIUM"
    task_due_days: int = Field(default=3, ge=0, le=60, description="Task due this many days later")

    @model_validator(mode="after")
    def _does_something(self) -> RenewalReminder:
        if self.email is None and self.alert_csm is None and not self.crm_task:
            raise ValueError(
                f"reminder {self.days_before} days before: give an e-mail, a CSM alert or a "
                f"CRM task"
            )
        return self


def _default_reminders() -> list[RenewalReminder]:
    return [
        RenewalReminder(days_before=60, crm_task=True),
        RenewalReminder(days_before=30, crm_task=True),
        RenewalReminder(days_before=14),
        RenewalReminder(days_before=7),
        RenewalReminder(days_before=1),
    ]


class AccountExecutive(PlaybookModel):
    """Who is mentioned with the CSM when a renewal is overdue."""

    slack_user_id: str | None = Field(default=None, pattern=SLACK_ID_PATTERN)
    name: str = Field(default="account executive", min_length=1, max_length=80)


class RenewalEscalation(PlaybookModel):
    """The renewal date passed and no outcome (renewed, auto-renewed, churned) came in."""

    grace_days: int = Field(
        default=1, ge=0, le=60, description="Days after the date before escalating"
    )
    alert_template: str = "renewal_overdue"
    account_executive: AccountExecutive = Field(default_factory=AccountExecutive)
    task_priority: Priority = "HIGH"
    task_due_days: int = Field(default=1, ge=0, le=30)


class HistoryBound(PlaybookModel):
    """Continue-as-new before a run's history grows past ``max_events``: a run checks
    between steps and continues once fewer than ``headroom_events`` remain (one step's
    worth of activities and signals)."""

    max_events: int = Field(default=2000, ge=100, le=40_000)
    headroom_events: int = Field(default=150, ge=30)
    actions_carried: int = Field(
        default=200, ge=10, le=1000, description="Action log entries carried to the next run"
    )

    @model_validator(mode="after")
    def _headroom_fits(self) -> HistoryBound:
        if self.headroom_events * 2 > self.max_events:
            # Else a fresh run would be "nearly full" at once and continue forever.
            raise ValueError(
                f"headroom_events ({self.headroom_events}) must be at most half of "
                f"max_events ({self.max_events})"
            )
        return self

    @property
    def continue_at(self) -> int:
        return self.max_events - self.headroom_events


class RenewalPlan(CampaignPlaybook):
    name: str = "renewal"
    reminders: list[RenewalReminder] = Field(default_factory=_default_reminders, min_length=1)
    rearm_min_shift_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="A reminder already sent this term goes again for a moved date only when "
        "the date moved at least this many days (a 2-day shift does not repeat "
        "'60 days left')",
    )
    escalation: RenewalEscalation = Field(default_factory=RenewalEscalation)
    outcome_wait_days: int = Field(
        default=90,
        ge=1,
        le=730,
        description="Days after the renewal date to wait for an outcome; then it ends "
        "with outcome 'unknown'",
    )
    next_term_countdown: bool = Field(
        default=True,
        description="On renewed / auto-renewed, start the next term's countdown "
        "(continue-as-new); false: the workflow ends",
    )
    history: HistoryBound = Field(default_factory=HistoryBound)

    @model_validator(mode="after")
    def _consistent(self) -> RenewalPlan:
        days = [r.days_before for r in self.reminders]
        if days != sorted(set(days), reverse=True):
            raise ValueError(f"reminders must have strictly decreasing days_before, got {days}")
        if self.escalation.grace_days >= self.outcome_wait_days:
            raise ValueError(
                f"escalation.grace_days ({self.escalation.grace_days}) must be below "
                f"outcome_wait_days ({self.outcome_wait_days})"
            )
        return self

    def reminder(self, days_before: int) -> RenewalReminder | None:
        return next((r for r in self.reminders if r.days_before == days_before), None)

    def templates_used(self) -> dict[str, set[str]]:
        return {
            "email": {r.email for r in self.reminders if r.email},
            "slack": {r.alert_csm for r in self.reminders if r.alert_csm}
            | {self.escalation.alert_template},
        }
