"""The win-back playbook (``playbooks/winback.yaml``): after a customer churned.

Seed 003's win-back sequence (day 1 and 7 e-mails, a personal message on day 14, an offer
on day 30, the exit survey on day 60) and its exit interview. Each step has a ``purpose``
so an answer to the survey can end what no longer makes sense: the remaining survey steps
always, every remaining step for the reasons in ``stop_on_answer``.

This module holds the win-back workflow's whole vocabulary: its workflow id, the exit
reasons (``ExitReason``), the playbook, its input and signals (``WinBackInput``,
``SurveyAnswer``, ``CustomerReturned``), and what a run keeps (``WinBackState``), answers
(``WinBackProgress``) and returns (``WinBackSummary``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from domain.campaigns import CampaignProgress, CampaignState, CampaignSummary
from domain.journeys import CUSTOMER_ID_PATTERN, CarryOver, Message
from domain.playbook_model import CampaignPlaybook, PlaybookModel


def winback_workflow_id(customer_id: str) -> str:
    return f"winback-{customer_id}"


class ExitReason(StrEnum):
    """Seed 003's exit interview, question 1."""

    FOUND_ALTERNATIVE = "found_alternative"
    NO_LONGER_NEEDED = "no_longer_needed"
    TOO_EXPENSIVE = "too_expensive"
    MISSING_FEATURES = "missing_features"
    POOR_EXPERIENCE = "poor_experience"
    OTHER = "other"


# ---------------------------------------------------------------- the playbook
class WinBackStepKind(StrEnum):
    EMAIL = "email"
    TASK = "task"


class StepPurpose(StrEnum):
    MESSAGE = "message"
    OFFER = "offer"
    SURVEY = "survey"


class WinBackStep(PlaybookModel):
    day: int = Field(ge=0, le=365)
    kind: WinBackStepKind
    purpose: StepPurpose = StepPurpose.MESSAGE
    template: str | None = None
    subject: str | None = None
    body: str | None = None
    priority: Literal["LOW", "MEDIUM", "HIGH"] = "HIGH"
    due_in_days: int = Field(default=2, ge=0, le=30)
    params: dict[str, str | int | float] = Field(
        default_factory=dict,
        description="Values for the e-mail template (``extra.<name>``), e.g. the offer terms",
    )

    @model_validator(mode="after")
    def _complete(self) -> WinBackStep:
        if self.kind is WinBackStepKind.EMAIL and not self.template:
            raise ValueError(f"day {self.day}: an e-mail step needs a template")
        if self.kind is WinBackStepKind.TASK and not (self.subject and self.body):
            raise ValueError(f"day {self.day}: a task step needs a subject and a body")
        return self

    @property
    def key(self) -> str:
        return f"day{self.day}:{self.template or self.kind.value}"


class WinBackPlan(CampaignPlaybook):
    name: str = "winback"
    steps: list[WinBackStep] = Field(min_length=1)
    answer_window_days: int = Field(
        default=30, ge=0, le=365, description="How long after the last step answers count"
    )
    stop_on_answer: list[ExitReason] = Field(
        default_factory=list, description="Answers after which nothing more is sent"
    )

    @model_validator(mode="after")
    def _ordered(self) -> WinBackPlan:
        days = [s.day for s in self.steps]
        if days != sorted(days):
            raise ValueError(f"steps must be in day order, got {days}")
        keys = [s.key for s in self.steps]
        if len(set(keys)) != len(keys):
            raise ValueError("two steps on the same day with the same template")
        return self

    @property
    def duration_days(self) -> int:
        return self.steps[-1].day + self.answer_window_days

    def templates_used(self) -> dict[str, set[str]]:
        return {"email": {s.template for s in self.steps if s.template}, "slack": set()}


# ---------------------------------------------------------------- input and signals
class WinBackInput(Message):
    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    reason: str | None = None
    churned_at: datetime | None = None
    carry_over: CarryOver = None


class SurveyAnswer(Message):
    reason: ExitReason
    comment: str | None = Field(default=None, max_length=2000)
    event_id: str | None = None


class CustomerReturned(Message):
    note: str | None = None


# ---------------------------------------------------------------- state, progress, result
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


class WinBackState(CampaignState):
    plan: WinBackPlan
    anchor: datetime
    """Day 0 of the sequence: the churn time (given) or the start."""
    status: WinBackStatus = WinBackStatus.ACTIVE
    churn_reason: str | None = None
    done_steps: list[str] = Field(default_factory=list)
    answers: list[ExitAnswer] = Field(default_factory=list)
    returned_at: datetime | None = None
    return_note: str | None = None


class WinBackProgress(CampaignProgress):
    status: WinBackStatus
    churn_reason: str | None = None
    exit_reason: ExitReason | None = None
    exit_comment: str | None = None
    steps_done: list[str] = Field(default_factory=list)
    ends_at: datetime | None = None


class WinBackSummary(CampaignSummary):
    status: WinBackStatus
    exit_reason: ExitReason | None = None
    tasks_created: int
