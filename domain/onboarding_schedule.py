"""Turn an onboarding plan into the ordered list of dated steps the workflow walks.

Pure function of the plan: the workflow calls it on every run (including after
continue-as-new), so the same plan always yields the same keys in the same order.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.onboarding_plan import OnboardingPlan


class StepKind(StrEnum):
    PHASE_START = "phase_start"
    EMAIL = "email"
    CHECK_IN = "check_in"
    MILESTONE_DEADLINE = "milestone_deadline"
    COMPLETE = "complete"


_ORDER = {
    StepKind.PHASE_START: 0,
    StepKind.EMAIL: 1,
    StepKind.CHECK_IN: 2,
    StepKind.MILESTONE_DEADLINE: 3,
    StepKind.COMPLETE: 4,
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
    # (key, day, kind, ref, title) of every step, in the plan's order
    rows: list[tuple[str, int, StepKind, str, str]] = [
        (f"phase:{ph.key}", ph.start_day, StepKind.PHASE_START, ph.key, ph.name)
        for ph in plan.phases
    ]
    rows += [
        (f"email:{em.template}:d{day}", day, StepKind.EMAIL, em.template, em.purpose or em.template)
        for em, day in [(em, em.day) for em in plan.emails]
        + [(rec, day) for rec in plan.recurring_emails for day in rec.days()]
    ]
    rows += [
        (f"{ci.kind}:d{ci.day}:{i}", ci.day, StepKind.CHECK_IN, ci.kind, ci.title)
        for i, ci in enumerate(plan.check_ins)
    ]
    rows += [
        (
            f"milestone:{ms.key}:deadline",
            ms.deadline_day,
            StepKind.MILESTONE_DEADLINE,
            ms.key,
            ms.title,
        )
        for ms in plan.milestones
    ]
    rows.append(
        (
            "complete",
            plan.duration_days,
            StepKind.COMPLETE,
            plan.completion_template,
            "Onboarding complete",
        )
    )
    steps = [
        PlannedStep(key=key, day=day, kind=kind, ref=ref, title=title)
        for key, day, kind, ref, title in rows
    ]
    keys = [s.key for s in steps]
    if len(set(keys)) != len(keys):  # e.g. the same template listed twice on one day
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"plan {plan.name}: steps share a key: {', '.join(dupes)}")
    return sorted(steps, key=lambda s: (s.day, _ORDER[s.kind], s.key))
