"""What the churn-risk model sees of a customer at a sweep: one flat row of features,
pure (no I/O, no clock), from the company's CRM properties, its health verdict and its
risk detectors' readings.

The sweep scores this row with the current model (:mod:`runtime.risk_model`) and records
it in the hub's own store with the estimate (:mod:`runtime.risk_history`); the outcomes the
hub sees later (churned, renewed) label those rows, so the hub learns from its own
history (``cshub risk train --from-history``). A model trained on a CSV export names the
export's columns instead: the row carries the company's properties too, so a column that
is a CRM property is found.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.health_model import INPUT_PROPERTIES
from domain.health_outreach import CREATED, TIER, CompanyHealth, parse_time
from domain.journeys import CUSTOMER_ID_PATTERN
from domain.risk_detectors import (
    PAYMENT_STATUS,
    SENTIMENT_RECENT,
    TICKETS_30D,
    TICKETS_PREV_30D,
    USAGE_WEEKLY,
    Detector,
    RiskVerdict,
    parse_sentiment,
    parse_weekly,
    weeks_back,
)

RISK_PROPERTY = "cshub_churn_risk"
"""The company property the sweep writes: the model's estimate, percent, one decimal."""

Value = float | str | None

SIGNAL_DETECTORS = [d for d in Detector if d is not Detector.CHURN_RISK]

FEATURES: tuple[str, ...] = (
    "health_score",
    "health_delta",
    *INPUT_PROPERTIES.keys(),
    "tier",
    "tenure_days",
    "tickets_30d",
    "tickets_prev_30d",
    "usage_change_4w",
    "usage_change_8w",
    "usage_vs_peak",
    "active_share",
    "negative_texts",
    "payment_status",
    *(f"sign_{d.value}" for d in SIGNAL_DETECTORS),
)
"""The hub's own features, in a fixed order (what ``--from-history`` trains on)."""


def _num(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return value if value is not None and value == value and abs(value) != float("inf") else None


def features(
    props: Mapping[str, str | None],
    health: CompanyHealth,
    verdict: RiskVerdict | None,
    at: datetime,
) -> dict[str, Value]:
    """The row for one company at ``at`` (missing values stay None: the model imputes)."""
    return features_of(props, health.score, health.delta, verdict, at)


def features_of(
    props: Mapping[str, str | None],
    score: float | None,
    delta: float | None,
    verdict: RiskVerdict | None,
    at: datetime,
) -> dict[str, Value]:
    """:func:`features` from the health score and its change alone."""
    row: dict[str, Value] = {"health_score": score, "health_delta": delta}
    for name, prop in INPUT_PROPERTIES.items():
        row[name] = _num(props.get(prop))
    row["tier"] = (props.get(TIER) or "").strip() or None
    created = parse_time(props.get(CREATED))
    row["tenure_days"] = (
        None if created is None else max(0.0, (at - created.astimezone(UTC)).days * 1.0)
    )
    row["tickets_30d"] = _num(props.get(TICKETS_30D))
    row["tickets_prev_30d"] = _num(props.get(TICKETS_PREV_30D))
    weekly = parse_weekly((verdict.properties if verdict else {}).get(USAGE_WEEKLY))
    now_w, then_w = weekly.get(weeks_back(at, 0)), weekly.get(weeks_back(at, 4))
    row["usage_change_4w"] = _change(now_w, then_w)
    row["usage_change_8w"] = _change(now_w, weekly.get(weeks_back(at, 8)))
    row["usage_vs_peak"] = _change(now_w, max(weekly.values(), default=None))
    seats, users = row.get("licensed_seats"), row.get("active_users")
    row["active_share"] = (
        round(users / seats, 4)
        if isinstance(users, float) and isinstance(seats, float) and seats > 0
        else None
    )
    row["negative_texts"] = float(
        sum(1 for e in parse_sentiment(props.get(SENTIMENT_RECENT)) if e.label == "negative")
    )
    row["payment_status"] = (props.get(PAYMENT_STATUS) or "").strip().lower() or None
    active = {r.detector for r in verdict.active} if verdict else set()
    for d in SIGNAL_DETECTORS:
        row[f"sign_{d.value}"] = 1.0 if d in active else 0.0
    return row


def _change(now: float | None, then: float | None) -> float | None:
    """The relative change from ``then`` to ``now`` (None when either is unknown or 0)."""
    return None if now is None or not then else round(now / then - 1, 4)


def model_row(props: Mapping[str, str | None], own: Mapping[str, Value]) -> dict[str, Value]:
    """What a model is given: the company's properties (a CSV-trained model names them)
    under the hub's own features."""
    return {**props, **own}


class RiskOutcomeRecord(BaseModel):
    """Input of the ``record_risk_outcome`` activity: what the hub saw happen."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    outcome: Literal["churned", "renewed"]
    at: datetime
    key: str = Field(min_length=1, max_length=400, description="once per key (idempotent)")
    source: str | None = Field(default=None, max_length=200)
