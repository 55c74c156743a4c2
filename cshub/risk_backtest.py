"""``cshub risk backtest``: does the churn-risk model warn earlier and better than the
health-score bands? Replayed on the hub's recorded history (``--history``: the rows the
sweeps scored and the outcomes recorded) or on a generated portfolio (the default).

**The generated portfolio's churn mechanism** (what happens to the simulated customers;
nothing of it is given to the model, which sees only the hub's own features, computed by
the hub's own code: :func:`domain.churn_risk.features_of` after the real health model
(``playbooks/health``, tier starter) and the real risk detectors (``playbooks/risk``)):

- Each customer has a latent *engagement* ``e`` in [0, 1] (base 0.55-0.95) that the hub
  never sees. Customers who stay wander around their base (weekly noise) and now and
  then dip for a few weeks (holidays, a re-organisation) and recover: false alarms.
- About 30 % start to disengage at a random week: ``e`` decays from its base to zero
  over 14-30 weeks (``(1 - x^p)``, p in 0.7-1.5); they churn when it reaches zero.
- What the hub observes follows ``e`` with different lags: active users fall first and
  fastest (``seats * e``); support tickets rise while engagement is falling (frustration:
  Poisson with a rate growing with the fall over the last 4 weeks); texts turn negative
  with the fall; logins and features adopted are sticky (``sqrt(e)``); NPS is asked
  quarterly and CSAT moves slowly; a late payment shows in the last month for some.

Each simulated week is one sweep: a feature row and the health category. Customers are
split in two (train, test): the model is trained by the hub's own code
(:func:`runtime.risk_model.train_frame`) on the training half's labelled rows (churned
within ``horizon_days`` or not) and both signals are evaluated on the test half:

- **AUC** of each signal over the test rows (the bands as an ordinal risk: Healthy 0,
  Good 1, At risk 2, Critical 3);
- **lead**: for each test customer who churned, days between the first warning in the
  ``lookback_days`` before the churn (the model's estimate at or above ``high_risk``;
  the bands At risk or Critical) and the churn; a churn never warned counts 0 days.
  The median over churned customers.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field
from sklearn.metrics import roc_auc_score

from domain import risk_detectors as risk
from domain.churn_risk import Value, features_of
from domain.health_model import HealthCategory, HealthModel, inputs_from_properties
from domain.health_scoring import category_for, trend
from domain.health_scoring import score as health_score

BAND_RISK = {
    HealthCategory.HEALTHY: 0,
    HealthCategory.GOOD: 1,
    HealthCategory.AT_RISK: 2,
    HealthCategory.CRITICAL: 3,
    HealthCategory.UNKNOWN: 1,
}
if TYPE_CHECKING:
    from runtime.risk_model import LoadedModel

START = datetime(2025, 1, 6, 6, 0, tzinfo=UTC)


class SignalFigures(BaseModel):
    auc: float
    median_lead_days: float
    warned: int = Field(description="churned test customers warned before churning")


class BacktestResult(BaseModel):
    source: str
    customers: int
    churned: int
    rows: int
    test_rows: int
    model: SignalFigures
    health_bands: SignalFigures
    health_score_auc: float = Field(description="the raw score (lower: riskier), for reference")
    lead_gain_days: float
    high_risk: float
    horizon_days: int
    seed: int


@dataclass
class Row:
    customer: str
    at: datetime
    features: dict[str, Value]
    band: HealthCategory
    score: float | None
    label: bool | None = None


@dataclass
class Customer:
    id: str
    churn_at: datetime | None
    rows: list[Row] = field(default_factory=list)


def _clip(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def simulate(
    customers: int,
    weeks: int,
    seed: int,
    health: HealthModel,
    rules: risk.DetectorRules,
) -> list[Customer]:
    """The generated portfolio (mechanism in the module's docstring), week by week
    through the hub's own scoring code."""
    rng = random.Random(seed)
    out: list[Customer] = []
    for i in range(customers):
        seats = rng.randint(10, 60)
        base = rng.uniform(0.55, 0.95)
        churner = rng.random() < 0.3
        onset = rng.randint(10, max(11, weeks - 8)) if churner else None
        span = rng.randint(14, 30)
        power = rng.uniform(0.7, 1.5)
        churn_week = onset + span if onset is not None else None
        cust = Customer(
            id=str(500000 + i),
            churn_at=START + timedelta(weeks=churn_week)
            if churn_week is not None and churn_week < weeks
            else None,
        )
        e_hist: list[float] = []
        weekly_tickets: list[int] = []
        noise = 0.0
        dip_left, dip_depth = 0, 0.0
        props: dict[str, str | None] = {
            "cshub_tier": "starter",
            "cshub_licensed_seats": str(seats),
            "cshub_features_available": "15",
            "cshub_payment_status": "current",
        }
        recent: list[dict[str, Any]] = []
        nps = _clip(round(10 * base + rng.gauss(0, 1)), 0, 10)
        csat = 100 * (0.6 + 0.4 * base)
        previous: float | None = None
        for w in range(weeks):
            if churn_week is not None and w >= churn_week:
                break
            at = START + timedelta(weeks=w)
            noise = 0.7 * noise + rng.gauss(0, 0.03)
            if dip_left == 0 and rng.random() < 0.02:
                dip_left, dip_depth = rng.randint(3, 8), rng.uniform(0.15, 0.35)
            dip = dip_depth if dip_left > 0 else 0.0
            dip_left = max(0, dip_left - 1)
            level = base
            if onset is not None and w >= onset:
                x = (w - onset) / span
                level = base * (1 - x**power)
            e = _clip(level - dip + noise, 0.0, 1.0)
            e_hist.append(e)
            fall = max(0.0, e_hist[max(0, w - 4)] - e)
            weekly_tickets.append(_poisson(rng, 0.25 + 3.0 * fall))
            last4 = sum(weekly_tickets[-4:])
            prev4 = sum(weekly_tickets[-8:-4]) if w >= 4 else None
            if w % 13 == 0:
                nps = _clip(round(10 * e + rng.gauss(0, 1.2)), 0, 10)
            csat = 0.85 * csat + 0.15 * 100 * _clip(0.55 + 0.45 * e + rng.gauss(0, 0.05), 0, 1)
            if rng.random() < 0.15:
                negative = rng.random() < _clip(0.1 + 2.5 * fall, 0, 0.95)
                recent = [
                    *recent[-9:],
                    {"at": at.isoformat(), "label": "negative" if negative else "positive"},
                ]
            late = churn_week is not None and churn_week - w <= 4 and rng.random() < 0.3
            props.update(
                {
                    "cshub_active_users": str(max(0, round(seats * e + rng.gauss(0, 1)))),
                    "cshub_login_days_30d": str(
                        int(_clip(round(30 * math.sqrt(e) + rng.gauss(0, 2)), 0, 30))
                    ),
                    "cshub_features_adopted": str(int(_clip(round(15 * math.sqrt(e)), 0, 15))),
                    "cshub_nps_last_score": str(int(nps)),
                    "cshub_csat_percent": f"{csat:.0f}",
                    risk.TICKETS_30D: str(last4),
                    risk.TICKETS_PREV_30D: "" if prev4 is None else str(prev4),
                    risk.SENTIMENT_RECENT: json.dumps(recent),
                    "cshub_payment_status": "past_due" if late else "current",
                }
            )
            result = health_score(health, inputs_from_properties(props, as_of=at))
            _, delta = trend(previous, result.score)
            previous = result.score
            verdict = risk.evaluate(props, rules, at)
            props.update(verdict.properties)
            cust.rows.append(
                Row(
                    cust.id,
                    at,
                    features_of(props, result.score, delta, verdict, at),
                    result.category,
                    result.score,
                )
            )
        out.append(cust)
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def label_rows(customers: list[Customer], horizon_days: int, end: datetime) -> None:
    """Churned within the horizon: True; stayed through a whole horizon: False; a row
    whose horizon runs past the end of the data (and no churn): None (not used)."""
    horizon = timedelta(days=horizon_days)
    for c in customers:
        for r in c.rows:
            if c.churn_at is not None and r.at < c.churn_at <= r.at + horizon:
                r.label = True
            elif r.at + horizon <= end and (c.churn_at is None or c.churn_at > r.at + horizon):
                r.label = False


def _lead(rows: list[Row], churn_at: datetime, warn: list[bool], lookback: timedelta) -> float:
    for r, w in zip(rows, warn, strict=True):
        if w and churn_at - lookback <= r.at < churn_at:
            return (churn_at - r.at).total_seconds() / 86400
    return 0.0


def trained_model(customers: list[Customer], *, source: str, seed: int) -> LoadedModel:
    """The churn-risk model trained by the hub's own code (:func:`runtime.risk_model.train_frame`)
    on the labelled rows of ``customers`` (see :func:`label_rows`)."""
    from runtime.risk_model import load_current, rows_frame, train_frame

    rows = [
        {**r.features, "churned": "yes" if r.label else "no"}
        for c in customers
        for r in c.rows
        if r.label is not None
    ]
    with tempfile.TemporaryDirectory() as tmp:
        train_frame(
            rows_frame(rows), "churned", source=source, positive="yes", seed=seed,
            directory=Path(tmp),
        )  # fmt: skip
        model = load_current(Path(tmp))
    assert model is not None
    return model


def backtest(
    customers: list[Customer],
    *,
    source: str,
    high_risk: float,
    horizon_days: int,
    seed: int,
    end: datetime,
    lookback_days: int = 180,
) -> BacktestResult:
    label_rows(customers, horizon_days, end)
    rng = random.Random(seed)
    order = list(customers)
    rng.shuffle(order)
    half = len(order) // 2
    train, test = order[:half], order[half:]
    model = trained_model(train, source=source, seed=seed)
    test_rows = [r for c in test for r in c.rows]
    probs = model.predict([dict(r.features) for r in test_rows]) if test_rows else []
    by_row = {id(r): p * 100 for r, p in zip(test_rows, probs, strict=True)}
    labelled = [r for r in test_rows if r.label is not None]
    y = np.array([bool(r.label) for r in labelled])
    if len(set(y.tolist())) < 2:
        raise ValueError("the test half has one class only: generate more customers")
    model_auc = float(roc_auc_score(y, [by_row[id(r)] for r in labelled]))
    band_auc = float(roc_auc_score(y, [BAND_RISK[r.band] for r in labelled]))
    score_auc = float(
        roc_auc_score(y, [-(r.score if r.score is not None else 50.0) for r in labelled])
    )
    lookback = timedelta(days=lookback_days)
    model_leads: list[float] = []
    band_leads: list[float] = []
    for c in test:
        if c.churn_at is None:
            continue
        model_warn = [by_row[id(r)] >= high_risk for r in c.rows]
        band_warn = [BAND_RISK[r.band] >= 2 for r in c.rows]
        model_leads.append(_lead(c.rows, c.churn_at, model_warn, lookback))
        band_leads.append(_lead(c.rows, c.churn_at, band_warn, lookback))
    m_lead = statistics.median(model_leads) if model_leads else 0.0
    b_lead = statistics.median(band_leads) if band_leads else 0.0
    return BacktestResult(
        source=source,
        customers=len(customers),
        churned=sum(1 for c in customers if c.churn_at is not None),
        rows=sum(len(c.rows) for c in customers),
        test_rows=len(labelled),
        model=SignalFigures(
            auc=round(model_auc, 4),
            median_lead_days=round(m_lead, 1),
            warned=sum(1 for x in model_leads if x > 0),
        ),
        health_bands=SignalFigures(
            auc=round(band_auc, 4),
            median_lead_days=round(b_lead, 1),
            warned=sum(1 for x in band_leads if x > 0),
        ),
        health_score_auc=round(score_auc, 4),
        lead_gain_days=round(m_lead - b_lead, 1),
        high_risk=high_risk,
        horizon_days=horizon_days,
        seed=seed,
    )


def generated(
    customers: int = 1000, weeks: int = 104, seed: int = 23, high_risk: float | None = None
) -> BacktestResult:
    """The backtest on a generated portfolio, with the hub's playbooks."""
    from playbooks.loader import load_detector_rules, load_health_models

    rules = load_detector_rules()
    rule = rules.churn_risk or risk.ChurnRiskRule()
    portfolio = simulate(customers, weeks, seed, load_health_models().for_tier("starter"), rules)
    return backtest(
        portfolio,
        source=f"generated portfolio ({customers} customers, {weeks} weeks, seed {seed})",
        high_risk=high_risk or rule.high_risk,
        horizon_days=rule.horizon_days,
        seed=seed,
        end=START + timedelta(weeks=weeks),
    )


def from_history(history: Any, seed: int = 23, high_risk: float | None = None) -> BacktestResult:
    """The backtest on the hub's recorded history (:class:`runtime.risk_history.RiskHistory`):
    its rows carry the features and the health score the sweep saw."""
    from playbooks.loader import load_detector_rules, load_health_models

    rule = load_detector_rules().churn_risk or risk.ChurnRiskRule()
    models = load_health_models()
    churn_at: dict[str, datetime] = {}
    for o in history.outcomes():
        if o.outcome == "churned":
            churn_at.setdefault(o.customer_id, o.at)
    by_customer: dict[str, Customer] = {}
    end = START
    for s in history.snapshots():
        c = by_customer.setdefault(
            s.customer_id, Customer(s.customer_id, churn_at.get(s.customer_id))
        )
        score = s.features.get("health_score")
        value = float(score) if isinstance(score, int | float) else None
        tier = s.features.get("tier")
        band, _ = category_for(models.for_tier(str(tier) if tier else None), value)
        c.rows.append(Row(s.customer_id, s.scored_at, dict(s.features), band, value))
        end = max(end, s.scored_at)
    return backtest(
        list(by_customer.values()),
        source="recorded history",
        high_risk=high_risk or rule.high_risk,
        horizon_days=rule.horizon_days,
        seed=seed,
        end=end,
    )
