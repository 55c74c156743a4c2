"""The onboarding playbook schema: what a tier's plan file may say, validated on load.

A plan is pure data (``playbooks/onboarding/<name>.yaml``). Days count from the journey
start (day 0 is the day the customer was handed to onboarding). A workflow loads its
plan once and keeps it, so editing a file changes new journeys only.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.send_window import SendWindow
from domain.tiers import ProductEventType, Tier

KEY_PATTERN = r"^[a-z0-9][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Phase(_Strict):
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    start_day: int = Field(ge=0)
    end_day: int = Field(ge=0)
    focus: str = ""
    deliverables: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_day < self.start_day:
            raise ValueError(f"end_day {self.end_day} is before start_day {self.start_day}")
        return self


class EmailStep(_Strict):
    """An e-mail on plan day ``day``; with ``sent_on``, sent as soon as that product event
    first arrives (seed 001: first-login guidance "triggered by first login"), and on its
    day only if the event has not come by then."""

    day: int = Field(ge=0)
    template: str = Field(pattern=KEY_PATTERN)
    purpose: str = ""
    sent_on: ProductEventType | None = None


class RecurringEmail(_Strict):
    """An e-mail repeated every ``every_days`` from ``from_day`` up to ``until_day``."""

    template: str = Field(pattern=KEY_PATTERN)
    every_days: int = Field(ge=1)
    from_day: int = Field(ge=0)
    until_day: int = Field(ge=0)
    purpose: str = ""

    def days(self) -> list[int]:
        return list(range(self.from_day, self.until_day + 1, self.every_days))


class CheckIn(_Strict):
    """A meeting the CSM holds with the customer; becomes a CRM task for the owner."""

    day: int = Field(ge=0)
    title: str = Field(min_length=1)
    kind: Literal[
        "check_in",
        "executive_touchpoint",
        "kickoff",
        "business_review",
        "executive_check_in",
        "innovation_workshop",
    ] = "check_in"
    """``business_review`` / ``executive_check_in`` / ``innovation_workshop``: seed 001's
    review cadences inside the onboarding window (Starter monthly business reviews days
    31-90; Professional weekly executive check-ins days 15-45, monthly innovation
    workshops days 46-90); after the plan, ``playbooks/year/`` takes over."""
    duration_minutes: int | None = Field(default=None, ge=5)


class EventTrigger(_Strict):
    """Fires when the running count of ``event`` reaches ``count`` (or a usage % reaches
    ``min_percent`` for usage_threshold events)."""

    event: ProductEventType
    count: int = Field(default=1, ge=1)
    min_percent: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _percent_only_for_usage(self) -> Self:
        is_usage = self.event is ProductEventType.USAGE_THRESHOLD
        if is_usage and self.min_percent is None:
            raise ValueError("usage_threshold triggers need min_percent")
        if not is_usage and self.min_percent is not None:
            raise ValueError("min_percent is only valid for usage_threshold triggers")
        return self


class Milestone(_Strict):
    key: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1)
    deadline_day: int = Field(ge=1)
    reached_by: EventTrigger | None = None
    celebrate_template: str | None = Field(default="milestone_celebration", pattern=KEY_PATTERN)
    first_value: bool = Field(
        default=False,
        description="Reaching it is the customer's first value: the days since the journey's "
        "start go on the company as cshub_days_to_first_value (time to first value in the "
        "executive report). At most one milestone of a plan.",
    )


class Nudge(_Strict):
    """A feature-discovery nudge: an e-mail sent once when its trigger fires."""

    key: str = Field(pattern=KEY_PATTERN)
    trigger: EventTrigger
    message: str = Field(min_length=1)
    template: str = Field(default="nudge", pattern=KEY_PATTERN)
    alert_csm_template: str | None = Field(default=None, pattern=KEY_PATTERN)


SEED_SURVEY_DAYS = (7, 30, 90)


class OnboardingPlan(_Strict):
    name: str = Field(pattern=KEY_PATTERN)
    tier: Tier
    version: int = Field(ge=1)
    description: str = ""
    duration_days: int = Field(ge=1, le=730)
    alert_csm_on_start: bool = True
    phases: list[Phase] = Field(min_length=1)
    emails: list[EmailStep] = Field(default_factory=list)
    recurring_emails: list[RecurringEmail] = Field(default_factory=list)
    check_ins: list[CheckIn] = Field(default_factory=list)
    milestones: list[Milestone] = Field(default_factory=list)
    nudges: list[Nudge] = Field(default_factory=list)
    survey_days: list[int] | None = Field(
        default=None,
        description="Onboarding survey days; None: seed 001's 7, 30 and 90 ('sent at key "
        "milestones (7, 30, 90 days)') that fall within the plan. A survey goes after the "
        "day's other steps (on the last day, after the completion e-mail)",
    )
    completion_template: str = Field(default="onboarding_complete", pattern=KEY_PATTERN)
    send_window: SendWindow = Field(default_factory=SendWindow)
    then_year_plays: bool = True
    """At completion, start the post-onboarding plays (``playbooks/year/<tier>.yaml``,
    ``CustomerYearWorkflow``) for the rest of the term."""

    def surveys(self) -> list[int]:
        """The days the onboarding surveys go out."""
        if self.survey_days is not None:
            return sorted(self.survey_days)
        return [d for d in SEED_SURVEY_DAYS if d <= self.duration_days]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[str] = []
        end = self.duration_days

        def beyond(what: str, day: int) -> None:
            if day > end:
                problems.append(f"{what} is on day {day}, after the plan ends (day {end})")

        for i, ph in enumerate(self.phases):
            beyond(f"phases[{i}] ({ph.key}) end_day", ph.end_day)
            if i and ph.start_day <= self.phases[i - 1].end_day:
                problems.append(
                    f"phases[{i}] ({ph.key}) starts on day {ph.start_day}, inside the "
                    f"previous phase (ends day {self.phases[i - 1].end_day})"
                )
        for i, em in enumerate(self.emails):
            beyond(f"emails[{i}] ({em.template})", em.day)
        for i, rec in enumerate(self.recurring_emails):
            beyond(f"recurring_emails[{i}] until_day", rec.until_day)
            if rec.until_day < rec.from_day:
                problems.append(f"recurring_emails[{i}] until_day is before from_day")
        for i, ci in enumerate(self.check_ins):
            beyond(f"check_ins[{i}] ({ci.title})", ci.day)
        listed = self.survey_days or []
        for i, day in enumerate(listed):
            beyond(f"survey_days[{i}]", day)
            if day < 1 or listed.count(day) > 1:
                problems.append(f"survey_days[{i}] ({day}) must be a day >= 1, listed once")
        for i, ms in enumerate(self.milestones):
            beyond(f"milestones[{i}] ({ms.key}) deadline_day", ms.deadline_day)
        first_value = [m.key for m in self.milestones if m.first_value]
        if len(first_value) > 1:
            problems.append(f"milestones: first_value on more than one ({', '.join(first_value)})")
        for what, keys in (
            ("phases", [p.key for p in self.phases]),
            ("milestones", [m.key for m in self.milestones]),
            ("nudges", [n.key for n in self.nudges]),
        ):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                problems.append(f"{what}: duplicate key(s) {', '.join(dupes)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def templates_used(self) -> dict[str, set[str]]:
        """Template names by kind, so a loader can check they all exist."""
        email = {e.template for e in self.emails} | {r.template for r in self.recurring_emails}
        email |= {m.celebrate_template for m in self.milestones if m.celebrate_template}
        email |= {n.template for n in self.nudges} | {self.completion_template}
        slack = {n.alert_csm_template for n in self.nudges if n.alert_csm_template}
        return {"email": email, "slack": slack}

    def phase_on(self, day: int) -> Phase | None:
        for ph in self.phases:
            if ph.start_day <= day <= ph.end_day:
                return ph
        return None

    def milestone(self, key: str) -> Milestone | None:
        return next((m for m in self.milestones if m.key == key), None)
