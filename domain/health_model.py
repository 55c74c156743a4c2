"""Health models as data (``playbooks/health/*.yaml``): what a health score is made of.

A model is a weighted set of **dimensions** (seed 001: product usage 0.30, business value
0.25, engagement 0.20, technical health 0.15, growth potential 0.10; seed 003: usage 40 %,
engagement 30 %, satisfaction 20 %, payment 10 %). Each dimension averages one or more
**metrics**; a metric reads one input (or a percentage of two inputs) and maps it to a
0-100 score with a small declarative rule:

- ``thresholds``: ordered steps, the first that matches gives the score, ``otherwise``
  (default 0) when none does. Higher-is-better steps use ``at_least`` (>=) or ``above``
  (>); lower-is-better steps use ``at_most`` (<=) or ``below`` (<); one direction per
  metric, bounds strictly ordered (``above: 80`` may precede ``at_least: 80``).
  ``otherwise_if: {input: <yes/no input>, score: N}`` scores N instead of ``otherwise``
  when that input is yes (seed 001: no use case added yet but expansion planned → fair).
- ``boolean``: ``{if_true: 100, if_false: 0}`` (seed 003's binary payment).
- ``levels``: a score per :class:`Rating` (excellent/good/fair/poor), for the seed 001
  metrics a CSM assesses (integration status, upgrade readiness …).

**Bands** turn the score into a category: four lower bounds, best first, with the seed's
own labels (seed 001: Healthy 85 / Good 70 / At risk 50 / Critical 0; seed 003: Healthy
80 / Neutral 60 / At risk 40 / Critical 0). Each band carries a fixed machine key
(:class:`HealthCategory`) so triggers ("dropped into at_risk") mean the same under every
model whatever its labels and bounds.

The inputs (:class:`HealthInputs`) are read from CRM company properties, one property
per input, listed in :data:`INPUT_PROPERTIES`; :func:`inputs_from_properties` turns a
company's property values into inputs (blank or unreadable values count as missing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from domain.playbook_model import PlaybookModel
from domain.tiers import Tier
from domain.unique_names import repeated

WEIGHT_TOLERANCE = 1e-9
"""How far the dimension weights' sum may be from 1 (floating-point noise only)."""


class Rating(StrEnum):
    """A CSM's assessment, stored as a dropdown on the CRM company (seed 001's
    excellent/good/fair/poor wording)."""

    EXCELLENT = "excellent"
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


class InputKind(StrEnum):
    NUMBER = "number"
    BOOLEAN = "boolean"
    RATING = "rating"
    DAYS_SINCE = "days_since"  # the property is a date; the input is its age in days

    @property
    def numeric(self) -> bool:
        return self in (InputKind.NUMBER, InputKind.DAYS_SINCE)


class InputSpec(NamedTuple):
    property: str
    kind: InputKind
    description: str


INPUTS: dict[str, InputSpec] = {
    # -- product usage (seed 001 productUsage; seed 003 login frequency / feature usage)
    "active_users": InputSpec(
        "cshub_active_users", InputKind.NUMBER, "users active in the last 30 days"
    ),
    "licensed_seats": InputSpec("cshub_licensed_seats", InputKind.NUMBER, "seats on the plan"),
    "features_adopted": InputSpec(
        "cshub_features_adopted", InputKind.NUMBER, "features used in the last 30 days"
    ),
    "features_available": InputSpec(
        "cshub_features_available", InputKind.NUMBER, "features the plan includes"
    ),
    "workflow_runs": InputSpec(
        "cshub_workflow_runs", InputKind.NUMBER, "workflow runs this billing month"
    ),
    "workflow_limit": InputSpec(
        "cshub_workflow_limit", InputKind.NUMBER, "the plan's monthly workflow limit"
    ),
    "login_days_last_30": InputSpec(
        "cshub_login_days_30d", InputKind.NUMBER, "days with at least one login, last 30 days"
    ),
    # -- business value (seed 001 businessValue)
    "days_to_first_value": InputSpec(
        "cshub_days_to_first_value",
        InputKind.NUMBER,
        "days from the start to the first production workflow",
    ),
    "roi_percent": InputSpec(
        "cshub_roi_percent",
        InputKind.NUMBER,
        "quantified ROI as % of the subscription cost (0 or less: none or negative)",
    ),
    "use_cases_expanded_90d": InputSpec(
        "cshub_use_cases_expanded_90d",
        InputKind.NUMBER,
        "additional use cases adopted within the first 90 days",
    ),
    "expansion_planned": InputSpec(
        "cshub_expansion_planned",
        InputKind.BOOLEAN,
        "the customer is planning expansion to additional use cases (CSM's checkbox; seed "
        "001 rates it fair when no use case was added yet)",
    ),
    # -- satisfaction / engagement (seed 001 npsScore; seed 003 NPS/Satisfaction, CSAT)
    "nps": InputSpec(
        "cshub_nps_last_score",
        InputKind.NUMBER,
        "the latest NPS answer of any contact, 0-10 (written by the NPS survey workflow; "
        "the company's cshub_nps_score is the -100..100 figure and is not used)",
    ),
    "csat_percent": InputSpec(
        "cshub_csat_percent", InputKind.NUMBER, "satisfied CSAT answers / all answers x 100"
    ),
    "days_since_csm_touch": InputSpec(
        "notes_last_contacted",
        InputKind.DAYS_SINCE,
        "days since the last call, e-mail or meeting logged on the company (HubSpot's "
        "'Last contacted', kept by HubSpot itself)",
    ),
    # -- support (seed 001 technical health; measurable proxy)
    "critical_tickets_open": InputSpec(
        "cshub_critical_tickets_open", InputKind.NUMBER, "open tickets of severity critical"
    ),
    # -- payment (seed 003, binary)
    "payment_current": InputSpec(
        "cshub_payment_status",
        InputKind.BOOLEAN,
        "current → true; past_due / late / failed / unpaid → false (dunning writes it)",
    ),
    # -- CSM assessments (seed 001's qualitative metrics), dropdowns excellent/good/fair/poor
    "engagement_rating": InputSpec(
        "cshub_health_engagement", InputKind.RATING, "support interaction / proactivity"
    ),
    "feedback_rating": InputSpec(
        "cshub_health_feedback", InputKind.RATING, "quality of product feedback"
    ),
    "integration_rating": InputSpec(
        "cshub_health_integration", InputKind.RATING, "integration status"
    ),
    "performance_rating": InputSpec(
        "cshub_health_performance", InputKind.RATING, "performance as the customer sees it"
    ),
    "security_rating": InputSpec(
        "cshub_health_security", InputKind.RATING, "security and compliance"
    ),
    "upgrade_readiness": InputSpec(
        "cshub_health_upgrade_readiness", InputKind.RATING, "readiness to upgrade"
    ),
    "account_expansion": InputSpec(
        "cshub_health_account_expansion", InputKind.RATING, "expansion potential"
    ),
}
"""Every health input: the CRM company property it is read from, its kind, its meaning."""

INPUT_PROPERTIES: dict[str, str] = {name: spec.property for name, spec in INPUTS.items()}
"""HealthInputs field → CRM company property. The health sweep reads exactly these."""


class HealthInputs(BaseModel):
    """One customer's raw health signals; None = missing (not known, not zero)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    active_users: float | None = Field(None, ge=0)
    licensed_seats: float | None = Field(None, ge=0)
    features_adopted: float | None = Field(None, ge=0)
    features_available: float | None = Field(None, ge=0)
    workflow_runs: float | None = Field(None, ge=0)
    workflow_limit: float | None = Field(None, ge=0)
    login_days_last_30: float | None = Field(None, ge=0, le=31)
    days_to_first_value: float | None = Field(None, ge=0)
    roi_percent: float | None = None
    use_cases_expanded_90d: float | None = Field(None, ge=0)
    expansion_planned: bool | None = None
    nps: float | None = Field(None, ge=0, le=10)
    csat_percent: float | None = Field(None, ge=0, le=100)
    days_since_csm_touch: float | None = Field(None, ge=0)
    critical_tickets_open: float | None = Field(None, ge=0)
    payment_current: bool | None = None
    engagement_rating: Rating | None = None
    feedback_rating: Rating | None = None
    integration_rating: Rating | None = None
    performance_rating: Rating | None = None
    security_rating: Rating | None = None
    upgrade_readiness: Rating | None = None
    account_expansion: Rating | None = None

    def get(self, name: str) -> float | bool | Rating | None:
        value: float | bool | Rating | None = getattr(self, name)
        return value


_TRUE = {"true", "yes", "1", "current", "paid", "active"}
_FALSE = {"false", "no", "0", "past_due", "late", "failed", "unpaid"}


def _age_in_days(text: str, as_of: datetime | None) -> float | None:
    """Whole days from a date / date-time / epoch-milliseconds value to ``as_of``; a
    date in the future counts as today."""
    if as_of is None:
        return None
    try:
        if text.isdigit():
            when = datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        else:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return float(max(0, (as_of - when).days))


def _parse(kind: InputKind, raw: str, as_of: datetime | None = None) -> float | bool | str | None:
    text = raw.strip()
    if not text:
        return None
    if kind is InputKind.DAYS_SINCE:
        return _age_in_days(text, as_of)
    if kind is InputKind.BOOLEAN:
        low = text.lower()
        return True if low in _TRUE else False if low in _FALSE else None
    if kind is InputKind.RATING:
        low = text.lower()
        return low if low in {r.value for r in Rating} else None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def inputs_from_properties(
    properties: Mapping[str, Any], as_of: datetime | None = None
) -> HealthInputs:
    """Build inputs from a CRM company's properties (keys of :data:`INPUT_PROPERTIES`'s
    values). Blank, unreadable or out-of-range values count as missing: one bad field
    makes the score low-confidence, it does not stop a sweep. Ages in days (the last CSM
    touch) are counted to ``as_of`` (the sweep's time); without it they are missing."""
    values: dict[str, Any] = {}
    for name, spec in INPUTS.items():
        raw = properties.get(spec.property)
        if raw is None:
            continue
        parsed = _parse(spec.kind, str(raw), as_of)
        if parsed is not None:
            values[name] = parsed
    try:
        return HealthInputs.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors():
            if err["loc"]:
                values.pop(str(err["loc"][0]), None)
        return HealthInputs.model_validate(values)


# ------------------------------------------------------------------ the model file
class Step(PlaybookModel):
    """One threshold step: exactly one bound, and the score when it matches."""

    at_least: float | None = None
    above: float | None = None
    at_most: float | None = None
    below: float | None = None
    score: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _one_bound(self) -> Step:
        if len(self._bounds()) != 1:
            raise ValueError("give exactly one of at_least, above, at_most, below")
        return self

    def _bounds(self) -> list[tuple[str, float]]:
        return [
            (op, v)
            for op, v in (
                ("at_least", self.at_least),
                ("above", self.above),
                ("at_most", self.at_most),
                ("below", self.below),
            )
            if v is not None
        ]

    @property
    def op(self) -> str:
        return self._bounds()[0][0]

    @property
    def bound(self) -> float:
        return self._bounds()[0][1]

    @property
    def higher_is_better(self) -> bool:
        return self.op in ("at_least", "above")

    def matches(self, value: float) -> bool:
        b = self.bound
        return {
            "at_least": value >= b,
            "above": value > b,
            "at_most": value <= b,
            "below": value < b,
        }[self.op]

    def text(self) -> str:
        sign = {"at_least": ">=", "above": ">", "at_most": "<=", "below": "<"}[self.op]
        return f"{sign} {self.bound:g}"

    def order_key(self) -> tuple[float, int]:
        """Steps must be strictly descending (higher is better) or ascending (lower is
        better) by this key; the strict bound of a value comes before the inclusive one."""
        strict = self.op in ("above", "below")
        if self.higher_is_better:
            return (self.bound, 1 if strict else 0)
        return (self.bound, 0 if strict else 1)


class BooleanRule(PlaybookModel):
    if_true: float = Field(default=100, ge=0, le=100)
    if_false: float = Field(default=0, ge=0, le=100)


class OtherwiseIf(PlaybookModel):
    """A score for a thresholds metric when no step matches but a yes/no input is yes
    (seed 001's expansion velocity: no use case added yet, but expansion planned → fair)."""

    input: str
    score: float = Field(ge=0, le=100)

    @field_validator("input")
    @classmethod
    def _boolean_input(cls, v: str) -> str:
        if v not in INPUTS or INPUTS[v].kind is not InputKind.BOOLEAN:
            known = ", ".join(n for n, s in INPUTS.items() if s.kind is InputKind.BOOLEAN)
            raise ValueError(f"{v!r} is not a yes/no input; those are: {known}")
        return v


class Metric(PlaybookModel):
    """One measured signal of a dimension and how it maps to 0-100."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    input: str | None = Field(default=None, description="a HealthInputs field")
    percent_of: tuple[str, str] | None = Field(
        default=None,
        description="[numerator, denominator]: the value is numerator / denominator x 100 "
        "(missing when either is missing or the denominator is 0)",
    )
    weight: float = Field(default=1, gt=0, description="relative weight inside the dimension")
    thresholds: list[Step] | None = None
    otherwise: float | None = Field(
        default=None, ge=0, le=100, description="score when no step matches (default 0)"
    )
    otherwise_if: OtherwiseIf | None = Field(
        default=None, description="thresholds only: the score when no step matches but this is yes"
    )
    boolean: BooleanRule | None = None
    levels: dict[Rating, float] | None = None

    @field_validator("input")
    @classmethod
    def _known_input(cls, v: str | None) -> str | None:
        if v is not None and v not in INPUTS:
            raise ValueError(f"unknown input {v!r}; known: {', '.join(INPUTS)}")
        return v

    @field_validator("percent_of")
    @classmethod
    def _known_pair(cls, v: tuple[str, str] | None) -> tuple[str, str] | None:
        for name in v or ():
            if name not in INPUTS:
                raise ValueError(f"unknown input {name!r}; known: {', '.join(INPUTS)}")
            if not INPUTS[name].kind.numeric:
                raise ValueError(f"{name!r} is not a number")
        return v

    @field_validator("levels")
    @classmethod
    def _level_scores(cls, v: dict[Rating, float] | None) -> dict[Rating, float] | None:
        if v is None:
            return v
        missing = [r.value for r in Rating if r not in v]
        if missing:
            raise ValueError(f"needs a score for every rating; missing {', '.join(missing)}")
        bad = [r.value for r, s in v.items() if not 0 <= s <= 100]
        if bad:
            raise ValueError(f"scores must be 0-100 ({', '.join(bad)})")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Metric:
        if (self.input is None) == (self.percent_of is None):
            raise ValueError("give exactly one of input, percent_of")
        rules = [r for r in (self.thresholds, self.boolean, self.levels) if r is not None]
        if len(rules) != 1:
            raise ValueError("give exactly one rule: thresholds, boolean or levels")
        kind = InputKind.NUMBER if self.input is None else INPUTS[self.input].kind
        if self.thresholds is not None:
            if not kind.numeric:
                raise ValueError(f"thresholds need a number input; {self.input!r} is a {kind}")
            self._check_steps(self.thresholds)
        elif self.otherwise is not None or self.otherwise_if is not None:
            raise ValueError("otherwise and otherwise_if belong to thresholds")
        if self.boolean is not None and kind is not InputKind.BOOLEAN:
            raise ValueError(f"boolean needs a boolean input; {self.input!r} is a {kind}")
        if self.levels is not None and kind is not InputKind.RATING:
            raise ValueError(f"levels need a rating input; {self.input!r} is a {kind}")
        return self

    @staticmethod
    def _check_steps(steps: list[Step]) -> None:
        if not steps:
            raise ValueError("thresholds: give at least one step")
        higher = steps[0].higher_is_better
        for i, step in enumerate(steps):
            if step.higher_is_better != higher:
                raise ValueError(
                    f"thresholds[{i}]: mixes at_least/above with at_most/below; "
                    "one direction per metric"
                )
            if i == 0:
                continue
            prev, key = steps[i - 1].order_key(), step.order_key()
            ordered = key < prev if higher else key > prev
            if not ordered:
                want = "descending" if higher else "ascending"
                raise ValueError(
                    f"thresholds[{i}]: {step.text()} after {steps[i - 1].text()}; "
                    f"bounds must be strictly {want}"
                )

    @property
    def inputs(self) -> list[str]:
        return [self.input] if self.input is not None else list(self.percent_of or ())


def _refuse_repeated_names(kind: str, names: list[str]) -> None:
    """``metric names repeat: a, b`` when a list names the same metric (dimension) twice."""
    if dupes := repeated(names):
        raise ValueError(f"{kind} names repeat: {', '.join(dupes)}")


class Dimension(PlaybookModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str | None = None
    weight: float = Field(gt=0, le=1)
    metrics: list[Metric] = Field(min_length=1)

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, v: list[Metric]) -> list[Metric]:
        _refuse_repeated_names("metric", [m.name for m in v])
        return v

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def inputs(self) -> list[str]:
        """The HealthInputs fields this dimension reads, in order, without repeats."""
        return list(dict.fromkeys(n for m in self.metrics for n in m.inputs))


class HealthCategory(StrEnum):
    """Machine keys of the bands, best first; labels differ per model (seed 003 calls
    ``good`` "Neutral")."""

    HEALTHY = "healthy"
    GOOD = "good"
    AT_RISK = "at_risk"
    CRITICAL = "critical"
    UNKNOWN = "unknown"  # no dimension had data


BAND_ORDER: tuple[HealthCategory, ...] = (
    HealthCategory.HEALTHY,
    HealthCategory.GOOD,
    HealthCategory.AT_RISK,
    HealthCategory.CRITICAL,
)


class Band(PlaybookModel):
    category: HealthCategory
    label: str = Field(min_length=1)
    at_least: float = Field(ge=0, le=100, description="lower bound, inclusive")


class HealthModel(PlaybookModel):
    """One health model file (``playbooks/health/<name>.yaml``)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    version: int = Field(ge=1, description="raise it on every change; recorded with scores")
    description: str = ""
    dimensions: list[Dimension] = Field(min_length=1)
    bands: list[Band]

    @field_validator("dimensions")
    @classmethod
    def _weights(cls, v: list[Dimension]) -> list[Dimension]:
        _refuse_repeated_names("dimension", [d.name for d in v])
        total = math.fsum(d.weight for d in v)
        if abs(total - 1) > WEIGHT_TOLERANCE:
            parts = " + ".join(f"{d.weight:g}" for d in v)
            raise ValueError(f"weights must sum to 1; {parts} = {total:g}")
        return v

    @field_validator("bands")
    @classmethod
    def _bands(cls, v: list[Band]) -> list[Band]:
        got = tuple(b.category for b in v)
        if got != BAND_ORDER:
            want = ", ".join(c.value for c in BAND_ORDER)
            raise ValueError(f"need exactly the bands {want}, best first; got {_cats_text(got)}")
        for i in range(1, len(v)):
            if not v[i].at_least < v[i - 1].at_least:
                raise ValueError(
                    f"[{i}] {v[i].category}: lower bound {v[i].at_least:g} must be below "
                    f"{v[i - 1].category}'s {v[i - 1].at_least:g} (bands descending)"
                )
        if v[-1].at_least != 0:
            raise ValueError(f"the last band ({v[-1].category}) must start at 0")
        return v

    @property
    def inputs(self) -> list[str]:
        return list(dict.fromkeys(n for d in self.dimensions for n in d.inputs))

    def band(self, category: HealthCategory) -> Band | None:
        return next((b for b in self.bands if b.category is category), None)


def _cats_text(cats: tuple[HealthCategory, ...]) -> str:
    return ", ".join(c.value for c in cats) or "none"


# ------------------------------------------------------------------ selection per tier
class HealthModelsConfig(PlaybookModel):
    """``playbooks/health/models.yaml``: which model each tier is scored with."""

    default: str = Field(description="model for a tier not listed (or an unknown tier)")
    tiers: dict[Tier, str] = Field(default_factory=dict)

    def model_names(self) -> list[str]:
        return list(dict.fromkeys([self.default, *self.tiers.values()]))


class HealthModels(PlaybookModel):
    """The loaded configuration and every model it references, by name."""

    config: HealthModelsConfig
    models: dict[str, HealthModel]

    @model_validator(mode="after")
    def _all_present(self) -> HealthModels:
        missing = [n for n in self.config.model_names() if n not in self.models]
        if missing:
            raise ValueError(f"models not loaded: {', '.join(missing)}")
        return self

    def name_for(self, tier: Tier | str | None) -> str:
        try:
            key = Tier(tier) if tier is not None else None
        except ValueError:
            key = None
        return self.config.tiers.get(key, self.config.default) if key else self.config.default

    def for_tier(self, tier: Tier | str | None) -> HealthModel:
        return self.models[self.name_for(tier)]


InputValue = bool | float | str | None
"""An input value as reported with a score (ratings as their string)."""
