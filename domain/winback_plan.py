"""The win-back playbook (``playbooks/winback.yaml``): after a customer churned.

Seed 003's win-back sequence (day 1 and 7 e-mails, a personal message on day 14, an offer
on day 30, the exit survey on day 60) and its exit interview. Each step has a ``purpose``
so an answer to the survey can end what no longer makes sense: the remaining survey steps
always, every remaining step for the reasons in ``stop_on_answer``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.lifecycle import ExitReason
from domain.send_window import SendWindow


class _Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WinBackStepKind(StrEnum):
    EMAIL = "email"
    TASK = "task"


class StepPurpose(StrEnum):
    MESSAGE = "message"
    OFFER = "offer"
    SURVEY = "survey"


class WinBackStep(_Plan):
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


class WinBackPlan(_Plan):
    name: str = "winback"
    version: int = Field(default=1, ge=1)
    description: str = ""
    send_window: SendWindow = Field(default_factory=SendWindow)
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
