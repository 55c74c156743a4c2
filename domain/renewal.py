"""The renewal workflow's vocabulary (its workflow id, input and signals, state, progress
and result; its playbook is ``domain.renewal_plan``) and its calendar rules.

``RenewalState`` is what a run keeps (and carries across continue-as-new within a term);
``NextTerm`` is what a renewal hands to the next term's run; ``RenewalProgress`` answers
the ``progress`` query; ``RenewalSummary`` is the result. The functions are pure: when a
reminder falls due in the customer's zone, which reminders a (moved) date leaves to send.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.campaigns import CampaignState
from domain.journeys import CUSTOMER_ID_PATTERN, ActionRecord, CarryOver, Message, NextAction
from domain.renewal_plan import RenewalPlan
from domain.send_window import local_send_time
from domain.steering import SteeringState, SteeringStatus

MAX_TERMS_KEPT = 20


def renewal_workflow_id(customer_id: str) -> str:
    return f"renewal-{customer_id}"


# ---------------------------------------------------------------- input and signals
class RenewalInput(Message):
    """``{"customer_id": "1003", "renewal_date": "2027-03-01"}``"""

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    renewal_date: date
    term_months: int = Field(default=12, ge=1, le=120)
    playbook: str = Field(
        default="renewal",
        pattern=r"^renewal(_[a-z0-9]+)*$",
        description="Playbook file playbooks/<playbook>.yaml (e.g. renewal_enterprise)",
    )
    carry_over: CarryOver = None


class RenewalDateChanged(Message):
    renewal_date: date
    event_id: str | None = None


class Renewed(Message):
    """The customer renewed: the next term's countdown starts."""

    next_renewal_date: date | None = Field(
        default=None, description="Default: the current date plus the term"
    )
    term_months: int | None = Field(
        default=None, ge=1, le=120, description="The new term's length (default: unchanged)"
    )
    arr: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="The new term's annual recurring revenue (default: unchanged)",
    )
    event_id: str | None = None


class AutoRenewed(Message):
    next_renewal_date: date | None = None
    term_months: int | None = Field(default=None, ge=1, le=120)
    arr: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    event_id: str | None = None


class Churned(Message):
    reason: str | None = None
    event_id: str | None = None


# ---------------------------------------------------------------- state, progress, result


class RenewalStatus(StrEnum):
    STARTING = "starting"
    COUNTING_DOWN = "counting_down"
    PAUSED = "paused"
    """Counting down, with the reminders held by a ``pause`` (they go out at ``resume``)."""
    AWAITING_OUTCOME = "awaiting_outcome"
    """The date passed; not escalated yet (grace period)."""
    ESCALATED = "escalated"
    """The date passed with no outcome; CSM and account executive alerted."""
    RENEWED = "renewed"
    AUTO_RENEWED = "auto_renewed"
    CHURNED = "churned"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


class RenewalOutcome(StrEnum):
    RENEWED = "renewed"
    AUTO_RENEWED = "auto_renewed"
    CHURNED = "churned"
    UNKNOWN = "unknown"


class ReminderState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"


class ReminderView(BaseModel):
    """One reminder of the current countdown, as the ``progress`` query shows it."""

    days_before: int
    renewal_date: date
    """The date it counts down to (a moved date re-plans the reminders)."""
    due_at: datetime
    state: ReminderState
    note: str | None = None
    """Why it was skipped, or which earlier date it was sent for."""


class Reminder(ReminderView):
    """One reminder of the current countdown, as the run keeps it: pending until done."""

    state: ReminderState = ReminderState.PENDING
    done_at: datetime | None = None


class SentReminder(BaseModel):
    days_before: int
    renewal_date: date
    at: datetime


class TermRecord(BaseModel):
    """How an earlier term of this customer ended."""

    term: int
    renewal_date: date
    outcome: RenewalOutcome
    at: datetime
    next_renewal_date: date | None = None


class RenewalState(CampaignState):
    """``started_at``: when the workflow first started (day 0 of its action log, across
    terms)."""

    plan: RenewalPlan
    playbook: str = "renewal"
    term_started_at: datetime
    arr_at_term_start: float | None = None
    """The company's ``cshub_arr`` when the term's countdown started: the ARR before
    renewal the executive report's revenue retention compares with."""
    term: int = 1
    term_months: int = 12
    renewal_date: date
    reminders: list[Reminder] = Field(default_factory=list)
    sent: list[SentReminder] = Field(default_factory=list)
    """Reminders sent this term, for whichever date they counted down to."""
    escalated_for: date | None = None
    """The renewal date the overdue escalation went out for (a moved date re-arms it)."""
    escalations: int = 0
    date_changes: int = 0
    outcome: RenewalOutcome | None = None
    outcome_at: datetime | None = None
    next_renewal_date: date | None = None
    next_term_months: int | None = None
    churn_reason: str | None = None
    winback_workflow_id: str | None = None
    previous_terms: list[TermRecord] = Field(default_factory=list)


class NextTerm(BaseModel):
    """What a renewal carries into the next term's run (continue-as-new)."""

    term: int
    started_at: datetime
    playbook: str = "renewal"
    previous_terms: list[TermRecord] = Field(default_factory=list)
    seen_event_ids: list[str] = Field(default_factory=list)
    actions: list[ActionRecord] = Field(default_factory=list)
    churned: Churned | None = None
    """A churn that came in right after the renewal: the next term starts churned."""
    steering: SteeringState | None = None
    """A pause (and skips not yet applied) carry into the next term."""


class RenewalCarryOver(BaseModel):
    """``RenewalInput.carry_over``: the same term continued (``state``) or a new term."""

    state: RenewalState | None = None
    next_term: NextTerm | None = None


class RenewalProgress(BaseModel):
    customer_id: str
    renewal_date: date
    term: int = 1
    term_months: int = 12
    status: RenewalStatus
    timezone: str = "UTC"
    started_at: datetime | None = None
    term_started_at: datetime | None = None
    days_left: int | None = None
    next_action: NextAction | None = None
    reminders: list[ReminderView] = Field(default_factory=list)
    escalate_at: datetime | None = None
    outcome_deadline: datetime | None = None
    escalated: bool = False
    date_changes: int = 0
    outcome: RenewalOutcome | None = None
    next_renewal_date: date | None = None
    winback_workflow_id: str | None = None
    previous_terms: list[TermRecord] = Field(default_factory=list)
    actions: list[ActionRecord] = Field(default_factory=list)
    steering: SteeringStatus = Field(default_factory=SteeringStatus)


class RenewalSummary(BaseModel):
    customer_id: str
    outcome: RenewalOutcome
    term: int
    renewal_date: date
    next_renewal_date: date | None = None
    term_started_at: datetime
    finished_at: datetime
    reminders_sent: int
    reminders_skipped: int
    emails_sent: int
    alerts_sent: int
    tasks_created: int
    escalated: bool
    date_changes: int
    churn_reason: str | None = None
    winback_workflow_id: str | None = None
    previous_terms: list[TermRecord] = Field(default_factory=list)
    failed_steps: list[str] = Field(default_factory=list)
    status: RenewalStatus | None = None
    """How the run ended (``cancelled`` after the cancel signal; ``outcome`` is then
    unknown)."""
    cancel_reason: str | None = None


# ------------------------------------------------------------------ calendar
def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's end (31 Jan + 1
    month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def reminder_due(plan: RenewalPlan, renewal_date: date, days_before: int, tz: str) -> datetime:
    """The send hour, in the customer's zone, ``days_before`` the renewal date."""
    return local_send_time(renewal_date - timedelta(days=days_before), tz, plan.send_window)


def escalate_at(plan: RenewalPlan, renewal_date: date, tz: str) -> datetime:
    """When a renewal with no outcome is escalated: the send hour, grace days after."""
    return local_send_time(
        renewal_date + timedelta(days=plan.escalation.grace_days), tz, plan.send_window
    )


def outcome_deadline(plan: RenewalPlan, renewal_date: date, tz: str) -> datetime:
    """When the workflow stops waiting for an outcome (and ends as "unknown")."""
    return local_send_time(
        renewal_date + timedelta(days=plan.outcome_wait_days), tz, plan.send_window
    )


def plan_reminders(
    plan: RenewalPlan,
    renewal_date: date,
    tz: str,
    now: datetime,
    sent: list[SentReminder],
    *,
    why_past: str,
) -> list[Reminder]:
    """The countdown to ``renewal_date`` as seen at ``now``.

    A reminder already sent for this date stays sent; one sent this term for another date
    stays sent too unless the date moved at least ``rearm_min_shift_days`` (then it goes
    again, for the new date); one whose time has passed is skipped (``why_past`` says
    why: never sent late, never in a burst); the rest are pending."""
    out: list[Reminder] = []
    for r in plan.reminders:
        due = reminder_due(plan, renewal_date, r.days_before, tz)
        earlier = [s for s in sent if s.days_before == r.days_before]
        same = next((s for s in earlier if s.renewal_date == renewal_date), None)
        near = next(
            (
                s
                for s in reversed(earlier)
                if abs((s.renewal_date - renewal_date).days) < plan.rearm_min_shift_days
            ),
            None,
        )
        state = ReminderState.PENDING
        note: str | None = None
        done_at: datetime | None = None
        if same is not None:
            state, done_at = ReminderState.SENT, same.at
        elif near is not None:
            state, done_at = ReminderState.SENT, near.at
            note = (
                f"sent for {near.renewal_date.isoformat()} (the date moved less "
                f"than {plan.rearm_min_shift_days} days)"
            )
        elif due < now:
            state, note, done_at = ReminderState.SKIPPED, why_past, now
        out.append(
            Reminder(
                days_before=r.days_before,
                renewal_date=renewal_date,
                due_at=due,
                state=state,
                note=note,
                done_at=done_at,
            )
        )
    return out


def journey_key(renewal_date: date) -> str:
    """The part of every idempotency key that tells terms (and moved dates) apart."""
    return f"term-{renewal_date.isoformat()}"
