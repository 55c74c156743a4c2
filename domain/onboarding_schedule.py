"""Turn an onboarding plan into the ordered list of dated steps the workflow walks.

Pure function of the plan: the workflow calls it on every run (including after
continue-as-new), so the same plan always yields the same keys in the same order.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.onboarding_plan import OnboardingPlan

ONBOARDING_SURVEY_TEMPLATE = "onboarding_survey"


class StepKind(StrEnum):
    PHASE_START = "phase_start"
    EMAIL = "email"
    CHECK_IN = "check_in"
    SURVEY = "survey"
    MILESTONE_DEADLINE = "milestone_deadline"
    COMPLETE = "complete"


_ORDER = {
    StepKind.PHASE_START: 0,
    StepKind.EMAIL: 1,
    StepKind.CHECK_IN: 2,
    StepKind.MILESTONE_DEADLINE: 3,
    StepKind.COMPLETE: 4,
    StepKind.SURVEY: 5,  # after the day's e-mails: never held, it must not hold them
}


class PlannedStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    """Unique within a journey; part of every side effect's idempotency key."""
    day: int
    kind: StepKind
    ref: str
    """Template name, phase key, milestone key or check-in title, by kind."""
    title: str


def build_schedule(plan: OnboardingPlan) -> list[PlannedStep]:
    steps: list[PlannedStep] = []
    for ph in plan.phases:
        steps.append(
            PlannedStep(
                key=f"phase:{ph.key}",
                day=ph.start_day,
                kind=StepKind.PHASE_START,
                ref=ph.key,
                title=ph.name,
            )
        )
    for em in plan.emails:
        steps.append(
            PlannedStep(
                key=f"email:{em.template}:d{em.day}",
                day=em.day,
                kind=StepKind.EMAIL,
                ref=em.template,
                title=em.purpose or em.template,
            )
        )
    for rec in plan.recurring_emails:
        for day in rec.days():
            steps.append(
                PlannedStep(
                    key=f"email:{rec.template}:d{day}",
                    day=day,
                    kind=StepKind.EMAIL,
                    ref=rec.template,
                    title=rec.purpose or rec.template,
                )
            )
    for i, ci in enumerate(plan.check_ins):
        steps.append(
            PlannedStep(
                key=f"{ci.kind}:d{ci.day}:{i}",
                day=ci.day,
                kind=StepKind.CHECK_IN,
                ref=ci.kind,
                title=ci.title,
            )
        )
    for day in plan.surveys():
        steps.append(
            PlannedStep(
                key=f"survey:d{day}",
                day=day,
                kind=StepKind.SURVEY,
                ref=ONBOARDING_SURVEY_TEMPLATE,
                title=f"Onboarding survey (day {day})",
            )
        )
    for ms in plan.milestones:
        steps.append(
            PlannedStep(
                key=f"milestone:{ms.key}:deadline",
                day=ms.deadline_day,
                kind=StepKind.MILESTONE_DEADLINE,
                ref=ms.key,
                title=ms.title,
            )
        )
    steps.append(
        PlannedStep(
            key="complete",
            day=plan.duration_days,
            kind=StepKind.COMPLETE,
            ref=plan.completion_template,
            title="Onboarding complete",
        )
    )
    keys = [s.key for s in steps]
    if len(set(keys)) != len(keys):  # e.g. the same template listed twice on one day
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"plan {plan.name}: steps share a key: {', '.join(dupes)}")
    return sorted(steps, key=lambda s: (s.day, _ORDER[s.kind], s.key))
