"""What a health sweep does for one company: score it, record the trend, and decide which
outreach triggers fire (``playbooks/health/outreach.yaml``). Pure and deterministic.

One sweep writes the same thing however often a page is retried: every company of a
sweep is stamped with the sweep's time (``cshub_health_scored_at``). A company already
stamped by *this* sweep is a retry: its "previous" score is the one saved next to the
new one, and a trigger stamped with this sweep's time fires again (its side effects are
idempotent by key), so a page that crashed after writing loses nothing and repeats
nothing. A company stamped by a *later* sweep is left alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from domain import health_properties as hp
from domain.health_model import (
    BAND_ORDER,
    INPUT_PROPERTIES,
    HealthCategory,
    HealthModel,
    Rating,
    inputs_from_properties,
)
from domain.health_scoring import HealthScore, round_half_up, score, trend
from domain.risk_detectors import RiskRaise
from domain.usage import USAGE_AS_OF
from domain.wording import days


class Trigger(StrEnum):
    HEALTH_DECLINE = "health_decline"
    CRITICAL = "critical"
    USAGE_LIMIT = "usage_limit"
    LOW_ADOPTION = "low_adoption"
    CELEBRATION = "celebration"
    EXPANSION = "expansion"


# ------------------------------------------------------------------ the playbook
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskSpec(_Strict):
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)
    priority: str = Field(default="MEDIUM", pattern="^(LOW|MEDIUM|HIGH)$")
    due_in_days: int = Field(default=1, ge=0, le=90)


class _Cooldown(_Strict):
    cooldown_days: int = Field(ge=1, le=365)


class DeclineTrigger(_Cooldown):
    alert_template: str
    task: TaskSpec


class CriticalTrigger(_Cooldown):
    start_churn_prevention: bool = True


class UsageLimitTrigger(_Cooldown):
    """Seed 001: "approaching 85 % of any usage limit", timing "7 days before limit
    reached". Seats have no pace to project, so they warn at ``at_percent``; the monthly
    workflow-run limit warns when this month's pace reaches it within
    ``days_before_limit`` days (before the month's counter resets), or when it is reached.
    Without ``days_before_limit`` runs warn at ``at_percent`` too."""

    at_percent: float = Field(gt=0, le=1000)
    days_before_limit: int | None = Field(default=None, ge=1, le=31)
    email_template: str
    alert_template: str


class LowAdoptionTrigger(_Cooldown):
    below_percent: float = Field(gt=0, le=100)
    after_days: int = Field(ge=0)
    task: TaskSpec


class CelebrationTrigger(_Cooldown):
    email_template: str
    alert_template: str


class ExpansionTrigger(_Cooldown):
    """A healthy account (``categories``) that is near a limit (``usage_at_least_percent``)
    *or* that its CSM rated upgrade-ready (``upgrade_readiness`` in ``ready_ratings``, the
    ``cshub_health_upgrade_readiness`` dropdown seed 001's growth dimension already reads)."""

    categories: list[HealthCategory] = Field(min_length=1)
    usage_at_least_percent: float = Field(gt=0, le=1000)
    ready_ratings: list[Rating] = Field(default_factory=list)
    task: TaskSpec


class OutreachPlan(_Strict):
    name: str
    version: int = Field(ge=1)
    health_decline: DeclineTrigger
    critical: CriticalTrigger
    usage_limit: UsageLimitTrigger
    low_adoption: LowAdoptionTrigger
    celebration: CelebrationTrigger
    expansion: ExpansionTrigger

    def cooldown(self, trigger: Trigger) -> timedelta:
        spec: _Cooldown = getattr(self, trigger.value)
        return timedelta(days=spec.cooldown_days)

    def templates_used(self) -> dict[str, set[str]]:
        """Template names by kind (``email`` / ``slack``), for ``playbooks validate``."""
        return {
            "email": {self.usage_limit.email_template, self.celebration.email_template},
            "slack": {
                self.health_decline.alert_template,
                self.usage_limit.alert_template,
                self.celebration.alert_template,
            },
        }


# ------------------------------------------------------------------ one company
class UsageFigure(BaseModel):
    """The most used of a plan's limits (seats or workflow runs)."""

    limit_name: str
    used: float
    limit: float
    percent: float


class Fired(BaseModel):
    trigger: Trigger
    reason: str


class CompanyHealth(BaseModel):
    """The sweep's verdict on one company: what to write and which triggers fire."""

    customer_id: str
    score: float | None
    category: HealthCategory
    category_label: str
    model: str
    low_confidence: bool
    previous_score: float | None
    previous_category: HealthCategory | None
    delta: float | None
    weakest: list[dict[str, object]] = Field(
        default_factory=list, description="up to 3 dimensions with data, lowest first"
    )
    usage: UsageFigure | None = None
    fired: list[Fired] = Field(default_factory=list)
    churn_campaign_active: bool = False
    churn_risk: float | None = Field(
        default=None, description="the churn-risk model's estimate, percent (None: no model)"
    )
    risks: list[RiskRaise] = Field(
        default_factory=list, description="warning signs to announce to the churn campaign"
    )
    properties: dict[str, str] = Field(
        default_factory=dict, description="company properties to write"
    )

    @property
    def changed(self) -> bool:
        """The score differs from the previous one (or is the first)."""
        return self.score != self.previous_score


# The company properties a sweep reads besides the inputs and its own outputs.
TIER = "cshub_tier"
CREATED = "createdate"
CHURN_OUTCOME = "cshub_churn_campaign_outcome"


def parse_time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    text = raw.strip()
    try:
        if text.isdigit():  # HubSpot sometimes gives epoch milliseconds
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_number(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def parse_category(raw: str | None) -> HealthCategory | None:
    try:
        return HealthCategory(raw) if raw else None
    except ValueError:
        return None


def stamp_time(at: datetime) -> datetime:
    """A sweep's time as stamped: UTC, to the millisecond (HubSpot keeps milliseconds).
    Seconds would not do: two sweeps started within one second would take the second
    for a retry of the first (make bench's quick sweeps did)."""
    at = at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def sweep_stamp(at: datetime) -> str:
    """The ISO text a sweep stamps companies with (UTC; milliseconds when not zero)."""
    t = stamp_time(at)
    return t.isoformat(timespec="milliseconds" if t.microsecond else "seconds").replace(
        "+00:00", "Z"
    )


def breakdown_json(s: HealthScore) -> str:
    return json.dumps({d.name: d.score for d in s.dimensions}, separators=(",", ":"))


_LIMIT_PAIRS = {
    "licensed seats": ("cshub_active_users", "cshub_licensed_seats"),
    "workflow runs this month": ("cshub_workflow_runs", "cshub_workflow_limit"),
}


def usage_figure_of(props: Mapping[str, str | None], name: str) -> UsageFigure | None:
    used_prop, limit_prop = _LIMIT_PAIRS[name]
    used, limit = parse_number(props.get(used_prop)), parse_number(props.get(limit_prop))
    if used is None or limit is None or limit <= 0:
        return None
    return UsageFigure(
        limit_name=name, used=used, limit=limit, percent=round_half_up(used / limit * 100, 1)
    )


def usage_figure(s: HealthScore, props: Mapping[str, str | None]) -> UsageFigure | None:
    """Seats and workflow runs against the plan's limits; the fuller one."""
    best: UsageFigure | None = None
    for name in _LIMIT_PAIRS:
        fig = usage_figure_of(props, name)
        if fig is not None and (best is None or fig.percent > best.percent):
            best = fig
    return best


class RunsProjection(NamedTuple):
    runs: float
    limit: float
    days_to_limit: float
    """0 when reached; at this month's pace otherwise."""


def runs_projection(props: Mapping[str, str | None], at: datetime) -> RunsProjection | None:
    """When this billing month's workflow runs reach the plan's monthly limit at the
    month's pace so far (runs / days elapsed since the 1st, UTC, at the figures' time
    ``cshub_usage_as_of`` or else ``at``). None without figures, before a full day of the
    month has passed, with no runs yet, or when the counter resets (1st of next month)
    before the limit is reached."""
    runs = parse_number(props.get("cshub_workflow_runs"))
    limit = parse_number(props.get("cshub_workflow_limit"))
    if runs is None or limit is None or limit <= 0:
        return None
    if runs >= limit:
        return RunsProjection(runs, limit, 0.0)
    as_of = parse_time(props.get(USAGE_AS_OF)) or at
    start = as_of.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elapsed = (as_of - start).total_seconds() / 86_400
    if elapsed < 1 or runs <= 0:
        return None
    days = (limit - runs) / (runs / elapsed)
    next_month = (start + timedelta(days=32)).replace(day=1)
    if as_of + timedelta(days=days) >= next_month:
        return None
    return RunsProjection(runs, limit, round_half_up(days, 1))


def adoption_percent(props: Mapping[str, str | None]) -> float | None:
    adopted = parse_number(props.get("cshub_features_adopted"))
    available = parse_number(props.get("cshub_features_available"))
    if adopted is None or available is None or available <= 0:
        return None
    return round_half_up(adopted / available * 100, 1)


def assess(
    customer_id: str,
    props: Mapping[str, str | None],
    model: HealthModel,
    plan: OutreachPlan,
    sweep_at: datetime,
    *,
    quiet: bool = False,
) -> CompanyHealth | None:
    """Score one company for the sweep of ``sweep_at``; None when a later sweep already
    scored it (this one is stale). ``quiet``: score and record, fire no trigger (a
    baseline sweep of a portfolio the hub has not watched before)."""
    at = stamp_time(sweep_at)
    stamp = sweep_stamp(at)
    scored_at = parse_time(props.get(hp.SCORED_AT))
    if scored_at is not None and scored_at > at:
        return None
    # Times are compared parsed: a date-time property comes back as ...06:00:00.000Z.
    retry = scored_at == at
    prev_score_raw = props.get(hp.PREVIOUS_SCORE if retry else hp.SCORE)
    prev_cat_raw = props.get(hp.PREVIOUS_CATEGORY if retry else hp.CATEGORY)
    prev_breakdown = props.get(hp.PREVIOUS_BREAKDOWN if retry else hp.BREAKDOWN) or ""
    prev_model = props.get(hp.PREVIOUS_MODEL if retry else hp.MODEL) or ""

    result = score(model, inputs_from_properties(props, as_of=at))
    previous_score = parse_number(prev_score_raw)
    previous_category = parse_category(prev_cat_raw)
    _, delta = trend(previous_score, result.score)
    weakest = sorted(
        (d for d in result.dimensions if d.score is not None), key=lambda d: (d.score, d.name)
    )[:3]
    health = CompanyHealth(
        customer_id=customer_id,
        score=result.score,
        category=result.category,
        category_label=result.category_label,
        model=f"{result.model} v{result.model_version}",
        low_confidence=result.low_confidence,
        previous_score=previous_score,
        previous_category=previous_category,
        delta=delta,
        weakest=[{"label": d.label, "score": d.score} for d in weakest],
        usage=usage_figure(result, props),
        churn_campaign_active=(props.get(CHURN_OUTCOME) or "") == "active",
    )
    health.properties = {
        hp.SCORE: "" if result.score is None else f"{result.score:.2f}",
        hp.CATEGORY: result.category.value,
        hp.CATEGORY_LABEL: result.category_label,
        hp.MODEL: health.model,
        hp.LOW_CONFIDENCE: "true" if result.low_confidence else "false",
        hp.BREAKDOWN: breakdown_json(result),
        hp.PREVIOUS_SCORE: prev_score_raw or "",
        hp.PREVIOUS_CATEGORY: prev_cat_raw or "",
        hp.PREVIOUS_BREAKDOWN: prev_breakdown,
        hp.PREVIOUS_MODEL: prev_model,
        hp.DELTA: "" if delta is None else f"{delta:+.2f}",
        hp.SCORED_AT: stamp,
    }
    if result.category is not HealthCategory.UNKNOWN:
        health.properties[hp.seen_property(result.category)] = stamp
    if quiet:
        return health
    seen = _seen_before(props, at, previous_category)
    snoozed_until = parse_time(props.get(hp.ALERTS_SNOOZED_UNTIL))
    for fired, armed_by in _conditions(health, props, plan, at):
        last = parse_time(props.get(hp.cooldown_property(fired.trigger)))
        if last == at:  # this sweep fired it before a retry: decide the same again
            pass
        elif (
            fired.trigger is Trigger.HEALTH_DECLINE
            and snoozed_until is not None
            and at < snoozed_until
        ):
            continue  # a CSM snoozed this customer's health alerts from Slack
        elif not _armed(armed_by, seen, last) or (
            last is not None and at - last < plan.cooldown(fired.trigger)
        ):
            continue
        health.fired.append(fired)
        health.properties[hp.cooldown_property(fired.trigger)] = stamp
    return health


NEVER_SCORED = "never scored"
"""``armed_by`` marker: a band trigger that may fire on a company's first score."""


def _seen_before(
    props: Mapping[str, str | None], at: datetime, previous: HealthCategory | None
) -> dict[str, datetime]:
    """When each band was last seen by an earlier sweep (``cshub_health_seen_<band>``).
    A company scored before these stamps existed has its previous band counted as seen
    long ago (never more recent than a trigger that fired)."""
    seen: dict[str, datetime] = {}
    for cat in BAND_ORDER:
        t = parse_time(props.get(hp.seen_property(cat)))
        if t is not None and t < at:
            seen[cat.value] = t
    if previous in BAND_ORDER and previous is not None and previous.value not in seen:
        seen[previous.value] = datetime.min.replace(tzinfo=UTC)
    return seen


def _armed(
    armed_by: frozenset[str] | None, seen: dict[str, datetime], last: datetime | None
) -> bool:
    """Whether a trigger may fire again: not a band trigger (``armed_by`` None), or the
    company was seen in one of the ``armed_by`` bands since the trigger last fired (a
    decline re-arms once the company has been Good or Healthy again); a first score
    arms the triggers that list :data:`NEVER_SCORED`."""
    if armed_by is None:
        return True
    if not seen:
        return NEVER_SCORED in armed_by
    times = [t for band, t in seen.items() if band in armed_by]
    if not times:
        return False
    return last is None or max(times) > last


_DECLINE_ARMED = frozenset({"healthy", "good", NEVER_SCORED})
_CRITICAL_ARMED = frozenset({"healthy", "good", "at_risk", NEVER_SCORED})
_RECOVERY_ARMED = frozenset({"at_risk", "critical"})
_MILESTONE_ARMED = frozenset({"good", "at_risk", "critical"})


def _conditions(
    h: CompanyHealth, props: Mapping[str, str | None], plan: OutreachPlan, at: datetime
) -> list[tuple[Fired, frozenset[str] | None]]:
    """Every trigger whose condition holds now, with the bands that arm it (None: not a
    band trigger), before arming and cooldowns are checked.

    Band triggers hold while the company is *in* the band (decline: At risk or Critical;
    critical: Critical; celebration: Good or Healthy) and fire once per visit: they are
    armed again only by a sweep that saw the company in another band. So a drop that
    came during a cooldown still alerts once the cooldown is over, if the company is
    still there, and a company that stays At risk is not alerted every day."""
    out: list[tuple[Fired, frozenset[str] | None]] = []
    cur = h.category
    if cur is not HealthCategory.UNKNOWN:
        was = (
            "first score"
            if h.previous_score is None
            else f"was {h.previous_score:.2f} {h.previous_category or ''}".rstrip()
        )
        now_text = f"{h.score:.2f} {h.category_label}"
        if cur in (HealthCategory.AT_RISK, HealthCategory.CRITICAL):
            fired = Fired(trigger=Trigger.HEALTH_DECLINE, reason=f"{now_text} ({was})")
            out.append((fired, _DECLINE_ARMED))
        if cur is HealthCategory.CRITICAL and plan.critical.start_churn_prevention:
            fired = Fired(trigger=Trigger.CRITICAL, reason=f"{now_text} ({was})")
            out.append((fired, _CRITICAL_ARMED))
        if cur in (HealthCategory.GOOD, HealthCategory.HEALTHY):
            recovering = h.previous_category in (HealthCategory.AT_RISK, HealthCategory.CRITICAL)
            if cur is HealthCategory.HEALTHY and not recovering:
                fired = Fired(trigger=Trigger.CELEBRATION, reason=f"milestone: {now_text} ({was})")
                out.append((fired, _MILESTONE_ARMED))
            else:
                fired = Fired(trigger=Trigger.CELEBRATION, reason=f"recovery: {now_text} ({was})")
                out.append((fired, _RECOVERY_ARMED))
    usage = h.usage
    out.extend(_usage_limit(usage, props, plan.usage_limit, at))
    adoption = adoption_percent(props)
    created = parse_time(props.get(CREATED))
    if (
        adoption is not None
        and adoption < plan.low_adoption.below_percent
        and created is not None
        and at - created >= timedelta(days=plan.low_adoption.after_days)
    ):
        age = (at - created).days
        out.append(
            _level(
                trigger=Trigger.LOW_ADOPTION,
                reason=f"{adoption:g} % of features in use after {days(age)}",
            )
        )
    if cur in plan.expansion.categories:
        near = usage is not None and usage.percent >= plan.expansion.usage_at_least_percent
        rating = (props.get(INPUT_PROPERTIES["upgrade_readiness"]) or "").strip().lower()
        ready = rating in {r.value for r in plan.expansion.ready_ratings}
        reasons = []
        if near and usage is not None:
            reasons.append(f"{usage.limit_name} at {usage.percent:g} %")
        if ready:
            reasons.append(f"rated upgrade-ready ({rating})")
        if reasons:
            out.append(
                _level(
                    trigger=Trigger.EXPANSION,
                    reason=f"{h.category_label} and {' and '.join(reasons)}",
                )
            )
    return out


def _usage_limit(
    usage: UsageFigure | None,
    props: Mapping[str, str | None],
    spec: UsageLimitTrigger,
    at: datetime,
) -> list[tuple[Fired, None]]:
    if spec.days_before_limit is None:
        if usage is not None and usage.percent >= spec.at_percent:
            reason = f"{usage.limit_name}: {usage.used:g} of {usage.limit:g} ({usage.percent:g} %)"
            return [_level(trigger=Trigger.USAGE_LIMIT, reason=reason)]
        return []
    reasons: list[str] = []
    seats = usage_figure_of(props, "licensed seats")
    if seats is not None and seats.percent >= spec.at_percent:
        reasons.append(f"licensed seats: {seats.used:g} of {seats.limit:g} ({seats.percent:g} %)")
    runs = runs_projection(props, at)
    if runs is not None and runs.days_to_limit <= spec.days_before_limit:
        when = (
            "reached"
            if runs.days_to_limit == 0
            else f"limit in {runs.days_to_limit:g} days at this month's pace"
        )
        reasons.append(f"workflow runs this month: {runs.runs:g} of {runs.limit:g} ({when})")
    if not reasons:
        return []
    return [_level(trigger=Trigger.USAGE_LIMIT, reason="; ".join(reasons))]


def _level(trigger: Trigger, reason: str) -> tuple[Fired, None]:
    """A level trigger (usage, adoption, expansion): holds while the condition does,
    limited by its cooldown only."""
    return Fired(trigger=trigger, reason=reason), None
