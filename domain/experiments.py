"""Experiments: run a play as an A/B test with an optional hold-out, as data.

An experiment file (``playbooks/experiments/<name>.yaml``) says which play it varies
(today: the onboarding plan), its arms (variants with weights, optionally one hold-out
arm that gets nothing from the play), who is eligible (tiers, segments, a start window),
the primary outcome and its window (a milestone reached by day N), guardrails, and its
status:

* ``draft``: validated, assigns no one (the shipped example is one);
* ``running``: each eligible customer gets an arm by :func:`assign`;
* ``stopped``: new customers all get ``chosen_arm``; customers already assigned keep
  their arm (a running workflow never changes arm).

Assignment is a pure function of the experiment's name (plus its optional ``salt``) and
the customer id: sha256 of both, its first 8 bytes as a uniform number in [0, 1),
walked along the cumulative weights. A replay, a restart, a second worker or another
host gives the same arm; changing the weights of a running experiment moves some
customers (edit weights only before it starts, or give it a new name or salt).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, Field, field_validator, model_validator

from domain.playbook_model import PlaybookModel
from domain.tiers import Tier
from domain.unique_names import repeated

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
"""Experiment and arm names: they become search-attribute values and CRM note text."""

PLAN_PATTERN = r"^[a-z0-9][a-z0-9_]*$"


class PlayKind(StrEnum):
    """Which play an experiment varies. Only the onboarding plan assigns arms today;
    other plays (campaigns, outreach triggers, e-mail templates) are refused by the
    validator rather than accepted and silently never assigned."""

    ONBOARDING = "onboarding"


SUPPORTED_PLAYS = tuple(p.value for p in PlayKind)


class ExperimentStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    STOPPED = "stopped"


class Arm(PlaybookModel):
    name: str = Field(pattern=NAME_PATTERN)
    weight: float = Field(gt=0, description="Relative share of eligible customers")
    plan: str | None = Field(
        default=None,
        pattern=PLAN_PATTERN,
        description="Onboarding plan this arm follows (playbooks/onboarding/<plan>.yaml); "
        "empty: the customer's tier plan",
    )
    holdout: bool = Field(
        default=False,
        description="Hold-out: the customer gets nothing from the play (no e-mail, task, "
        "alert or note); the journey follows the control's plan silently, so milestones "
        "are tracked and measured the same way",
    )
    description: str = ""

    @model_validator(mode="after")
    def _holdout_has_no_plan(self) -> Self:
        if self.holdout and self.plan is not None:
            raise ValueError(f"arm {self.name!r}: a hold-out arm follows no plan (remove plan)")
        return self


class Eligibility(PlaybookModel):
    tiers: list[Tier] = Field(default_factory=list, description="Empty: every tier")
    segments: list[str] = Field(
        default_factory=list,
        description="The CRM company's cshub_segment must be one of these (empty: any)",
    )
    start_from: datetime | None = Field(
        default=None, description="Journeys starting before this are not in the experiment"
    )
    start_until: datetime | None = Field(
        default=None, description="Journeys starting at or after this are not in it"
    )

    @model_validator(mode="after")
    def _window(self) -> Self:
        for name in ("start_from", "start_until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone (e.g. 2026-12-01T00:00:00Z)")
        if (
            self.start_from is not None
            and self.start_until is not None
            and self.start_until <= self.start_from
        ):
            raise ValueError("start_until must be after start_from")
        return self


class OutcomeMetric(StrEnum):
    MILESTONE_REACHED = "milestone_reached"


class Outcome(PlaybookModel):
    """The primary outcome: a customer succeeds when the milestone is reached by the
    plan day ``by_day``. Customers are measured once their window has closed (day past
    ``by_day`` or journey over); until then they are *pending* and not counted."""

    metric: OutcomeMetric = OutcomeMetric.MILESTONE_REACHED
    milestone: str = Field(pattern=PLAN_PATTERN)
    by_day: int = Field(ge=0, le=3650)
    minimum_effect: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="Smallest difference in rate worth detecting (for the verdict's "
        "'N more needed')",
    )
    baseline: float = Field(
        default=0.3,
        gt=0,
        lt=1,
        description="Expected control rate, for planning and `cshub simulate experiment`",
    )


class GuardrailMetric(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    """An e-mail of the journey was suppressed by the customer's consent (opted out)."""
    CANCELLED = "cancelled"
    """The journey was cancelled (contract cancelled, churn)."""
    MILESTONE_MISSED = "milestone_missed"
    """Any milestone deadline passed unreached."""


class Guardrail(PlaybookModel):
    metric: GuardrailMetric
    max_increase: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Flag an arm whose rate exceeds the control's by more than this",
    )


class Experiment(PlaybookModel):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    play: PlayKind
    salt: str = Field(default="", description="Change to re-randomise under the same name")
    arms: list[Arm] = Field(min_length=2)
    control: str | None = Field(
        default=None,
        description="The arm others are compared with (default: the first arm that is "
        "not a hold-out)",
    )
    eligibility: Eligibility = Field(default_factory=Eligibility)
    outcome: Outcome
    guardrails: list[Guardrail] = Field(default_factory=list)
    status: ExperimentStatus = ExperimentStatus.DRAFT
    chosen_arm: str | None = Field(
        default=None, description="stopped: the arm every new customer gets"
    )
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    power: float = Field(default=0.8, gt=0.5, lt=1)

    @field_validator("play", mode="before")
    @classmethod
    def _known_play(cls, value: object) -> object:
        if isinstance(value, str) and value not in SUPPORTED_PLAYS:
            raise ValueError(
                f"unknown play {value!r}: experiments can vary {', '.join(SUPPORTED_PLAYS)} "
                "(other plays do not assign arms yet)"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Every problem at once (weights, duplicate arms, hold-outs, control, status)."""
        errors: list[str] = []
        names = [a.name for a in self.arms]
        if dupes := repeated(names):
            errors.append(f"duplicate arm names: {', '.join(dupes)}")
        holdouts = [a.name for a in self.arms if a.holdout]
        if len(holdouts) > 1:
            errors.append(f"at most one hold-out arm (found {', '.join(holdouts)})")
        if len(holdouts) == len(self.arms):
            errors.append("every arm is a hold-out: at least one arm must run the play")
        if self.control is not None and self.control not in names:
            errors.append(f"control {self.control!r} is not an arm ({', '.join(names)})")
        if self.control is not None and self.control in holdouts:
            errors.append(
                f"control {self.control!r} is the hold-out: pick an arm that runs the play"
            )
        if self.chosen_arm is not None and self.chosen_arm not in names:
            errors.append(f"chosen_arm {self.chosen_arm!r} is not an arm ({', '.join(names)})")
        if self.status is ExperimentStatus.STOPPED and self.chosen_arm is None:
            errors.append("a stopped experiment needs chosen_arm (where new customers go)")
        total = sum(a.weight for a in self.arms)
        if not (abs(total - 1) <= 1e-6 or abs(total - 100) <= 1e-4):
            errors.append(
                f"arm weights sum to {total:g}: give shares that sum to 1 (0.45, 0.45, 0.1) "
                "or percentages that sum to 100 (45, 45, 10)"
            )
        if errors:
            raise ValueError("; ".join(errors))
        return self

    # ----------------------------------------------------------------- helpers
    def arm(self, name: str) -> Arm | None:
        return next((a for a in self.arms if a.name == name), None)

    @property
    def control_arm(self) -> Arm:
        if self.control is not None:
            found = self.arm(self.control)
            assert found is not None
            return found
        return next(a for a in self.arms if not a.holdout)

    def shares(self) -> dict[str, float]:
        """Each arm's configured share of eligible customers (weights normalised)."""
        total = sum(a.weight for a in self.arms)
        return {a.name: a.weight / total for a in self.arms}

    def plans(self) -> set[str]:
        return {a.plan for a in self.arms if a.plan is not None}


class ExperimentAssignment(BaseModel):
    """Which arm a customer got, recorded once when the play starts and kept by the
    workflow for the rest of its life (carried across continue-as-new)."""

    experiment: str
    arm: str
    holdout: bool = False
    plan: str | None = None
    control: bool = False
    how: Literal["hash", "stopped"] = "hash"
    """``hash``: drawn by the customer's hash; ``stopped``: the stopped experiment's chosen arm."""
    assigned_at: datetime
    bucket: float = Field(ge=0, lt=1)

    def describe(self) -> str:
        what = (
            "hold-out: nothing from this play, measured like the control"
            if self.holdout
            else f"plan {self.plan}"
            if self.plan
            else "the tier's plan"
        )
        why = "experiment stopped, its chosen arm" if self.how == "stopped" else "by hash"
        return f"Experiment {self.experiment}: arm {self.arm} ({what}; {why})"


def bucket(experiment: str, customer_id: str, salt: str = "") -> float:
    """A uniform number in [0, 1) fixed by the experiment and the customer."""
    digest = hashlib.sha256(f"{experiment}\x1f{salt}\x1f{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def arm_for_bucket(experiment: Experiment, u: float) -> Arm:
    total = sum(a.weight for a in experiment.arms)
    edge = 0.0
    for a in experiment.arms:
        edge += a.weight / total
        if u < edge:
            return a
    return experiment.arms[-1]  # rounding at the very top


def hashed_arm(experiment: Experiment, customer_id: str) -> Arm:
    """The arm the hash gives, whatever the status (the report's and the simulator's)."""
    return arm_for_bucket(experiment, bucket(experiment.name, customer_id, experiment.salt))


def eligible(
    experiment: Experiment,
    *,
    tier: Tier | None,
    segment: str | None,
    started_at: datetime,
) -> str | None:
    """None when the customer is in the experiment's population, else why not."""
    if experiment.status is ExperimentStatus.DRAFT:
        return "draft"
    el = experiment.eligibility
    if el.tiers and tier not in el.tiers:
        return f"tier {tier} not in {', '.join(t.value for t in el.tiers)}"
    if el.segments and segment not in el.segments:
        return f"segment {segment!r} not in {', '.join(el.segments)}"
    if el.start_from is not None and started_at < el.start_from:
        return f"started before {el.start_from.isoformat()}"
    if el.start_until is not None and started_at >= el.start_until:
        return f"started at or after {el.start_until.isoformat()}"
    return None


def assign(experiment: Experiment, customer_id: str, at: datetime) -> ExperimentAssignment:
    """The customer's arm: the hashed one while running, the chosen one once stopped."""
    u = bucket(experiment.name, customer_id, experiment.salt)
    if experiment.status is ExperimentStatus.STOPPED and experiment.chosen_arm is not None:
        chosen = experiment.arm(experiment.chosen_arm)
        assert chosen is not None
        a, how = chosen, "stopped"
    else:
        a, how = arm_for_bucket(experiment, u), "hash"
    return ExperimentAssignment(
        experiment=experiment.name,
        arm=a.name,
        holdout=a.holdout,
        # A hold-out follows the control's plan with nothing sent: same milestones,
        # same clock, so its outcome is measured exactly like the control's.
        plan=experiment.control_arm.plan if a.holdout else a.plan,
        control=a.name == experiment.control_arm.name,
        how=how,
        assigned_at=at,
        bucket=u,
    )


def pick_experiment(
    experiments: list[Experiment],
    play: PlayKind,
    *,
    tier: Tier | None,
    segment: str | None,
    started_at: datetime,
) -> Experiment | None:
    """The experiment this start belongs to: the first (by name) running or stopped
    experiment on the play whose population includes the customer. One customer is in at
    most one experiment per play, so two experiments never fight over one journey."""
    for exp in sorted(experiments, key=lambda e: e.name):
        if (
            exp.play is play
            and eligible(exp, tier=tier, segment=segment, started_at=started_at) is None
        ):
            return exp
    return None


# ------------------------------------------------------------------ measurement facts
class CustomerOutcome(BaseModel):
    """One assigned customer as the report counts them."""

    customer_id: str
    arm: str
    measured: bool
    """The outcome window has closed (or the journey is over); pending otherwise."""
    success: bool = False
    guardrails: dict[str, bool] = Field(default_factory=dict)


def journey_outcome(
    experiment: Experiment,
    *,
    customer_id: str,
    arm: str,
    day: int,
    over: bool,
    cancelled: bool,
    milestone_days: dict[str, int],
    milestones_missed: list[str],
    emails_suppressed: int,
) -> CustomerOutcome:
    """Turn what an onboarding journey reports about itself into the experiment's facts.

    A customer succeeds when the outcome's milestone was reached on a plan day at or
    before ``by_day``; is measured once the plan day is past ``by_day`` or the journey is
    over, success or not (completed or cancelled: a cancelled journey that had not reached the milestone
    counts as a failure, intention to treat)."""
    spec = experiment.outcome
    reached = milestone_days.get(spec.milestone)
    success = reached is not None and reached <= spec.by_day
    # Only closed windows count: counting early successes while their peers' windows are
    # still open would flatter whichever arm reaches the milestone sooner.
    measured = over or day > spec.by_day
    return CustomerOutcome(
        customer_id=customer_id,
        arm=arm,
        measured=measured,
        success=success,
        guardrails={
            GuardrailMetric.UNSUBSCRIBED.value: emails_suppressed > 0,
            GuardrailMetric.CANCELLED.value: cancelled,
            GuardrailMetric.MILESTONE_MISSED.value: bool(milestones_missed),
        },
    )
