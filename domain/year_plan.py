"""The plays after onboarding, per tier: the rest of the customer's first term.

``playbooks/year/<tier>.yaml`` lists them as data (see that folder's comments for the
seed each number comes from):

* **reviews** -- business reviews (monthly, quarterly, executive) the CSM holds: a CRM
  meeting task with a review pack built from what the hub knows;
* **success plan** -- goals agreed once, then check-ins on those goals;
* **upgrade acceleration** -- every two weeks, for an account that is healthy and near a
  limit or rated upgrade-ready, until it converts or declines;
* **advocacy** -- a quarterly ask (review, case study, reference) to healthy promoters;
* **referrals** -- who referred whom and the commission owed.

Days count from the customer's day 0 (the onboarding's start), like the onboarding plan,
so the journey simulation reads one calendar. Pure: no I/O, no Temporal.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.health_model import HealthCategory, Rating
from domain.send_window import SendWindow
from domain.tiers import Tier


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cadence(_Strict):
    """Either explicit ``days`` or ``every_days`` from ``from_day`` to ``until_day``."""

    days: list[int] = Field(default_factory=list)
    every_days: int | None = Field(default=None, ge=1)
    from_day: int | None = Field(default=None, ge=0)
    until_day: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        stepped = (self.every_days, self.from_day, self.until_day)
        if self.days and any(v is not None for v in stepped):
            raise ValueError("give either days or every_days/from_day/until_day, not both")
        if not self.days:
            if any(v is None for v in stepped):
                raise ValueError("every_days, from_day and until_day go together")
            assert self.from_day is not None and self.until_day is not None
            if self.until_day < self.from_day:
                raise ValueError("until_day is before from_day")
        if any(d < 0 for d in self.days) or self.days != sorted(set(self.days)):
            raise ValueError("days must be distinct, ascending, not negative")
        return self

    def expand(self) -> list[int]:
        if self.days:
            return list(self.days)
        assert self.every_days and self.from_day is not None and self.until_day is not None
        return list(range(self.from_day, self.until_day + 1, self.every_days))


class ReviewKind(StrEnum):
    MONTHLY_BUSINESS_REVIEW = "monthly_business_review"
    QUARTERLY_BUSINESS_REVIEW = "quarterly_business_review"
    EXECUTIVE_REVIEW = "executive_review"


class Review(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: ReviewKind
    title: str = Field(min_length=1)
    when: Cadence
    duration_minutes: int = Field(default=60, ge=5)
    attendees: str = Field(min_length=1)
    agenda: list[str] = Field(min_length=1)
    source: str = Field(min_length=1)
    """The seed (and its section) the cadence comes from."""


class SuccessPlan(_Strict):
    goals: list[str] = Field(min_length=1)
    agree_on_day: int = Field(ge=0)
    """The CSM agrees the plan's goals with the customer (a CRM task)."""
    check_ins: Cadence
    source: str = Field(min_length=1)


class UpgradeAcceleration(_Strict):
    """Every ``when`` day the account is looked at: healthy (``categories``) and near a
    limit (``usage_at_least_percent``) or rated upgrade-ready (``ready_ratings``, the
    ``cshub_health_upgrade_readiness`` rating) → a task for the account executive and a
    Slack alert to the CSM. Stops for good when it converts (a higher tier in the CRM,
    or an ``upgrade_outcome`` signal) or declines (the signal)."""

    when: Cadence
    categories: list[HealthCategory] = Field(min_length=1)
    usage_at_least_percent: float = Field(gt=0, le=1000)
    ready_ratings: list[Rating] = Field(default_factory=list)
    alert_template: str = Field(min_length=1)
    task_subject: str = Field(min_length=1)
    task_body: str = Field(min_length=1)
    source: str = Field(min_length=1)


class AdvocacyAsk(StrEnum):
    REVIEW = "review"
    CASE_STUDY = "case_study"
    REFERENCE = "reference"


class Advocacy(_Strict):
    """Each ``when`` day, a healthy promoter (``categories``, NPS ``nps_at_least``) gets
    the next ask in ``asks`` (in turn), e-mailed with ``template``."""

    when: Cadence
    categories: list[HealthCategory] = Field(min_length=1)
    nps_at_least: float = Field(ge=0, le=10)
    asks: list[AdvocacyAsk] = Field(min_length=1)
    template: str = Field(min_length=1)
    source: str = Field(min_length=1)


class Referrals(_Strict):
    commission_percent: float = Field(gt=0, le=100)
    """Of the referred customer's first-year contract value (seed 002: 30 %)."""
    source: str = Field(min_length=1)


class YearPlan(_Strict):
    name: str = Field(min_length=1)
    tier: Tier
    version: int = Field(ge=1)
    starts_on_day: int = Field(ge=0)
    """Plays before this day are the onboarding plan's (the workflow starts when it ends)."""
    term_days: int = Field(default=365, ge=30)
    send_window: SendWindow = Field(default_factory=SendWindow)
    reviews: list[Review] = Field(default_factory=list)
    success_plan: SuccessPlan | None = None
    upgrade_acceleration: UpgradeAcceleration | None = None
    advocacy: Advocacy | None = None
    referrals: Referrals | None = None

    @model_validator(mode="after")
    def _days_in_term(self) -> Self:
        keys = [r.key for r in self.reviews]
        if len(keys) != len(set(keys)):
            raise ValueError("review keys must be unique")
        for step in build_year_schedule(self):
            if not self.starts_on_day < step.day <= self.term_days:
                raise ValueError(
                    f"{step.key}: day {step.day} is outside days "
                    f"{self.starts_on_day + 1}-{self.term_days} (after onboarding, in the term)"
                )
        return self

    def templates_used(self) -> dict[str, set[str]]:
        emails = {self.advocacy.template} if self.advocacy else set()
        slack = {self.upgrade_acceleration.alert_template} if self.upgrade_acceleration else set()
        return {"email": emails, "slack": slack}


class YearStepKind(StrEnum):
    REVIEW = "review"
    SUCCESS_PLAN = "success_plan"
    SUCCESS_CHECK_IN = "success_check_in"
    UPGRADE_CHECK = "upgrade_check"
    ADVOCACY = "advocacy"


class YearStep(_Strict):
    day: int
    kind: YearStepKind
    key: str
    ref: str = ""
    """The review's key; the advocacy ask."""
    title: str


def _dated(
    kind: YearStepKind, prefix: str, days: list[int], title: str, ref: str = ""
) -> list[YearStep]:
    return [YearStep(day=d, kind=kind, key=f"{prefix}:{d}", ref=ref, title=title) for d in days]


def build_year_schedule(plan: YearPlan) -> list[YearStep]:
    """Every dated play of the plan, by day (reviews first on a shared day)."""
    steps: list[YearStep] = []
    for r in plan.reviews:
        steps += _dated(YearStepKind.REVIEW, f"review:{r.key}", r.when.expand(), r.title, r.key)
    sp = plan.success_plan
    if sp is not None:
        steps += _dated(
            YearStepKind.SUCCESS_PLAN,
            "success_plan",
            [sp.agree_on_day],
            "Agree the success plan's goals",
        )
        steps += _dated(
            YearStepKind.SUCCESS_CHECK_IN,
            "success_check_in",
            sp.check_ins.expand(),
            "Success plan check-in",
        )
    if plan.upgrade_acceleration is not None:
        steps += _dated(
            YearStepKind.UPGRADE_CHECK,
            "upgrade",
            plan.upgrade_acceleration.when.expand(),
            "Upgrade acceleration",
        )
    adv = plan.advocacy
    if adv is not None:
        for n, d in enumerate(adv.when.expand()):
            ask = adv.asks[n % len(adv.asks)].value
            title = f"Advocacy ask: {ask.replace('_', ' ')}"
            steps += _dated(YearStepKind.ADVOCACY, "advocacy", [d], title, ask)
    order = list(YearStepKind)
    return sorted(steps, key=lambda s: (s.day, order.index(s.kind), s.key))


# ---------------------------------------------------------------- account signals
class AccountSignals(BaseModel):
    """What the plays read about the account now (from the CRM company)."""

    tier: Tier | None = None
    health_score: float | None = None
    health_category: HealthCategory | None = None
    health_label: str | None = None
    nps: float | None = None
    usage_name: str | None = None
    usage_percent: float | None = None
    upgrade_readiness: str | None = None


def upgrade_reasons(signals: AccountSignals, spec: UpgradeAcceleration) -> list[str]:
    """Why the account is an upgrade candidate now (empty: it is not)."""
    if signals.health_category not in spec.categories:
        return []
    reasons = []
    if signals.usage_percent is not None and signals.usage_percent >= spec.usage_at_least_percent:
        reasons.append(f"{signals.usage_name or 'usage'} at {signals.usage_percent:g} %")
    rating = (signals.upgrade_readiness or "").strip().lower()
    if rating and rating in {r.value for r in spec.ready_ratings}:
        reasons.append(f"rated upgrade-ready ({rating})")
    return reasons


def is_promoter(signals: AccountSignals, spec: Advocacy) -> bool:
    """Healthy (one of the plan's categories) and an NPS promoter."""
    return (
        signals.health_category in spec.categories
        and signals.nps is not None
        and signals.nps >= spec.nps_at_least
    )


TIER_ORDER: Mapping[Tier, int] = {
    Tier.COMMUNITY: 0,
    Tier.STARTER: 1,
    Tier.PROFESSIONAL: 2,
    Tier.AGENCY: 3,
    Tier.ENTERPRISE: 4,
}


def upgraded(start: Tier, now: Tier | None) -> bool:
    return now is not None and TIER_ORDER.get(now, 0) > TIER_ORDER.get(start, 0)


def commission_minor(value_minor: int, percent: float) -> int:
    """The referral commission in minor units, rounded half up to the cent."""
    return int(value_minor * percent / 100 + 0.5)
