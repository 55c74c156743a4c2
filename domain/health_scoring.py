"""Health scoring: pure functions over a :class:`HealthModel` and :class:`HealthInputs`.

How a score is computed (``score``):

1. Each metric reads its input (or ``percent_of`` two inputs) and its rule gives 0-100;
   a metric with a missing input (or a zero denominator) has no score.
2. A dimension's score is the weighted mean of its metrics that have a score (metric
   weights renormalised over those). A dimension none of whose metrics has a score is
   **missing**.
3. Missing dimensions drop out; the remaining dimension weights are renormalised to sum
   to 1 (``effective_weight``) and the score is marked ``low_confidence``. When every
   dimension is missing the score is None and the category ``unknown``.
4. The score is the sum of ``dimension score x effective weight`` computed unrounded,
   then rounded **half up to 2 decimals**. The category is looked up with the *rounded*
   score against the bands' inclusive lower bounds, so the number shown and the category
   always agree: 69.994 → 69.99 → At risk, 69.995 → 70.00 → Good (seed 001 bands).
   Dimension scores, effective weights and contributions are rounded for the record
   only (2, 4 and 2 decimals); the total never uses the rounded parts.

The model's name and version travel with every score (``model``, ``model_version``).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, Field

from domain.health_model import (
    BAND_ORDER,
    Dimension,
    HealthCategory,
    HealthInputs,
    HealthModel,
    InputValue,
    Metric,
    Rating,
)


def round_half_up(value: float, places: int = 2) -> float:
    """Round half up (not to even) after clearing binary noise: 69.995 → 70.0."""
    cleaned = Decimal(f"{value:.9f}")
    return float(cleaned.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


class MetricScore(BaseModel):
    name: str
    inputs: dict[str, InputValue] = Field(description="the inputs read, None = missing")
    value: InputValue = Field(
        default=None, description="what the rule saw (a percentage for percent_of)"
    )
    score: float | None = None
    rule: str = Field(default="", description="which step matched, e.g. '> 80 → 100'")


class DimensionScore(BaseModel):
    name: str
    label: str
    weight: float = Field(description="weight in the model")
    effective_weight: float = Field(
        description="weight after renormalising over the dimensions with data (0 if missing)"
    )
    score: float | None = Field(description="0-100, None when every metric is missing")
    contribution: float = Field(description="score x effective weight")
    inputs: dict[str, InputValue]
    metrics: list[MetricScore]


class HealthScore(BaseModel):
    model: str
    model_version: int
    score: float | None = Field(description="0-100, 2 decimals; None when nothing is known")
    category: HealthCategory
    category_label: str
    low_confidence: bool
    missing_dimensions: list[str] = Field(default_factory=list)
    missing_inputs: list[str] = Field(default_factory=list)
    dimensions: list[DimensionScore]


def _value_of(metric: Metric, inputs: HealthInputs) -> tuple[dict[str, InputValue], InputValue]:
    read: dict[str, InputValue] = {}
    for name in metric.inputs:
        v = inputs.get(name)
        read[name] = v.value if isinstance(v, Rating) else v
    if metric.percent_of is not None:
        num, den = (read[n] for n in metric.percent_of)
        if isinstance(num, int | float) and isinstance(den, int | float) and den > 0:
            return read, float(num) / float(den) * 100
        return read, None
    return read, read[metric.inputs[0]]


def score_metric(metric: Metric, inputs: HealthInputs) -> MetricScore:
    read, value = _value_of(metric, inputs)
    result = MetricScore(name=metric.name, inputs=read, value=value)
    if value is None:
        return result
    if metric.thresholds is not None and isinstance(value, int | float):
        for step in metric.thresholds:
            if step.matches(float(value)):
                result.score, result.rule = step.score, f"{step.text()} → {step.score:g}"
                return result
        alt = metric.otherwise_if
        if alt is not None and inputs.get(alt.input) is True:
            result.score, result.rule = alt.score, f"otherwise, {alt.input}=yes → {alt.score:g}"
            return result
        other = metric.otherwise if metric.otherwise is not None else 0.0
        result.score, result.rule = other, f"otherwise → {other:g}"
    elif metric.boolean is not None and isinstance(value, bool):
        s = metric.boolean.if_true if value else metric.boolean.if_false
        result.score, result.rule = s, f"{'yes' if value else 'no'} → {s:g}"
    elif metric.levels is not None and isinstance(value, str):
        s = metric.levels[Rating(value)]
        result.score, result.rule = s, f"{value} → {s:g}"
    return result


def _dimension_raw(dim: Dimension, metrics: list[MetricScore]) -> float | None:
    pairs = [(m.score, spec.weight) for m, spec in zip(metrics, dim.metrics, strict=True)]
    known = [(s, w) for s, w in pairs if s is not None]
    if not known:
        return None
    total_w = math.fsum(w for _, w in known)
    return math.fsum(s * w for s, w in known) / total_w


def category_for(model: HealthModel, score: float | None) -> tuple[HealthCategory, str]:
    """The band of an already rounded score (inclusive lower bounds, best first)."""
    if score is None:
        return HealthCategory.UNKNOWN, "Unknown"
    for band in model.bands:
        if score >= band.at_least:
            return band.category, band.label
    last = model.bands[-1]
    return last.category, last.label


def score(model: HealthModel, inputs: HealthInputs) -> HealthScore:
    """Score ``inputs`` with ``model`` (see the module doc for the rules)."""
    per_dim: list[tuple[Dimension, list[MetricScore], float | None]] = []
    for dim in model.dimensions:
        metrics = [score_metric(m, inputs) for m in dim.metrics]
        per_dim.append((dim, metrics, _dimension_raw(dim, metrics)))
    present_w = math.fsum(d.weight for d, _, raw in per_dim if raw is not None)
    total = 0.0
    dims: list[DimensionScore] = []
    for dim, metrics, raw in per_dim:
        eff = dim.weight / present_w if raw is not None else 0.0
        contribution = raw * eff if raw is not None else 0.0
        total += contribution
        read: dict[str, InputValue] = {}
        for m in metrics:
            read.update(m.inputs)
        dims.append(
            DimensionScore(
                name=dim.name,
                label=dim.title,
                weight=dim.weight,
                effective_weight=round_half_up(eff, 4),
                score=None if raw is None else round_half_up(raw),
                contribution=round_half_up(contribution),
                inputs=read,
                metrics=metrics,
            )
        )
    missing_dims = [d.name for d, _, raw in per_dim if raw is None]
    value = None if present_w == 0 else round_half_up(min(100.0, max(0.0, total)))
    category, label = category_for(model, value)
    missing_inputs = [n for n in model.inputs if inputs.get(n) is None]
    return HealthScore(
        model=model.name,
        model_version=model.version,
        score=value,
        category=category,
        category_label=label,
        low_confidence=bool(missing_dims),
        missing_dimensions=missing_dims,
        missing_inputs=missing_inputs,
        dimensions=dims,
    )


# ------------------------------------------------------------------ triggers
def trend(previous: float | None, current: float | None) -> tuple[float | None, float | None]:
    """``(previous, delta)``; delta is None when either score is unknown."""
    if previous is None or current is None:
        return previous, None
    return previous, round_half_up(current - previous)


class Crossing(BaseModel):
    """A move between bands. ``entered`` lists each band entered on the way, in order:
    good → critical is ``[at_risk, critical]`` (down), critical → good ``[at_risk, good]``
    (up). Triggers test membership: ``HealthCategory.CRITICAL in c.entered`` and
    ``c.direction == "down"`` → executive escalation."""

    direction: Literal["down", "up"]
    previous: HealthCategory
    current: HealthCategory
    entered: list[HealthCategory]


def crossed(
    previous: HealthCategory | str | None, current: HealthCategory | str | None
) -> Crossing | None:
    """The band boundaries crossed between two categories, or None when the category did
    not change or either side is unknown (a first score is not a crossing: the caller
    decides what a first Critical score means)."""
    if previous is None or current is None:
        return None
    prev, cur = HealthCategory(previous), HealthCategory(current)
    if HealthCategory.UNKNOWN in (prev, cur) or prev is cur:
        return None
    i, j = BAND_ORDER.index(prev), BAND_ORDER.index(cur)
    if j > i:
        return Crossing(
            direction="down", previous=prev, current=cur, entered=list(BAND_ORDER[i + 1 : j + 1])
        )
    return Crossing(direction="up", previous=prev, current=cur, entered=list(BAND_ORDER[j:i][::-1]))


# ------------------------------------------------------------------ explain
def _num(v: float | None, places: int = 2) -> str:
    return "-" if v is None else f"{v:.{places}f}"


def _signed(v: float | None) -> str:
    return "-" if v is None else f"{v:+.2f}"


def _value_text(v: InputValue) -> str:
    if v is None:
        return "missing"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _headline(s: HealthScore) -> str:
    if s.score is None:
        return "unknown (no data)"
    return f"{s.score:.2f} {s.category_label}"


def explain(score: HealthScore, previous: HealthScore | None = None) -> str:
    """What ``cshub health explain CUSTOMER`` prints after its own header line: the
    score, its model and confidence, the dimension table, each metric's inputs and rule,
    and what changed since ``previous``."""
    s = score
    lines = [
        f"Score: {_headline(s)} ({s.category.value})",
        f"Model: {s.model} v{s.model_version}",
    ]
    if s.score is None:
        lines.append("Confidence: none: no dimension has data")
    elif s.low_confidence:
        lines.append(
            f"Confidence: LOW: no data for {', '.join(s.missing_dimensions)}; "
            "weights renormalised over the other dimensions"
        )
    else:
        lines.append("Confidence: normal")
    prev_dims: dict[str, DimensionScore] = {}
    if previous is not None:
        _, delta = trend(previous.score, s.score)
        lines.append(f"Previous: {_headline(previous)}; change {_signed(delta)}")
        if (previous.model, previous.model_version) != (s.model, s.model_version):
            lines.append(
                f"Note: the previous score used {previous.model} v{previous.model_version}"
            )
        crossing = crossed(previous.category, s.category)
        if crossing is not None:
            entered = ", ".join(c.value for c in crossing.entered)
            lines.append(
                f"Crossed {crossing.direction}: {previous.category_label} → "
                f"{s.category_label} (entered {entered})"
            )
        prev_dims = {d.name: d for d in previous.dimensions}
    else:
        lines.append("Previous: none")
    lines.append("")
    header = (
        f"{'dimension':<20} {'weight':>6} {'effective':>9} {'score':>7} "
        f"{'contribution':>12} {'change':>7}"
    )
    lines.append(header)
    for d in s.dimensions:
        before = prev_dims.get(d.name)
        change = (
            None
            if before is None or before.score is None or d.score is None
            else round_half_up(d.score - before.score)
        )
        missing = d.score is None
        eff = "-" if missing else _num(d.effective_weight, 4)
        contribution = "-" if missing else _num(d.contribution)
        score_text = "missing" if missing else _num(d.score)
        lines.append(
            f"{d.name:<20} {d.weight:>6.2f} {eff:>9} "
            f"{score_text:>7} {contribution:>12} {_signed(change):>7}"
        )
    total = "-" if s.score is None else f"{s.score:.2f}"
    lines.append(f"{'total':<20} {'':>6} {'':>9} {'':>7} {total:>12}")
    lines.append("")
    lines.append("Inputs:")
    for d in s.dimensions:
        for m in d.metrics:
            read = ", ".join(f"{k}={_value_text(v)}" for k, v in m.inputs.items())
            if m.score is None:
                outcome = "no score (missing)"
            elif len(m.inputs) > 1 and isinstance(m.value, float):
                outcome = f"{m.value:.1f}% {m.rule}"
            else:
                outcome = m.rule
            lines.append(f"  {d.name}.{m.name}: {read} → {outcome}")
    return "\n".join(lines) + "\n"
