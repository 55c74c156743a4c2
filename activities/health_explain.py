"""``cshub health explain CUSTOMER``: why a customer has the health score they have.

Reads the company from the CRM, scores its current inputs with its tier's model (the
same pure code the sweep runs) and compares with the last score recorded: the one the
last sweep wrote or, when nothing changed since that sweep, the score before it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from activities.health import READ_PROPERTIES
from connectors.base import Company, Crm
from domain import health_properties as hp
from domain.churn_risk import RISK_PROPERTY
from domain.health_model import HealthCategory, HealthModel, HealthModels, inputs_from_properties
from domain.health_outreach import parse_category, parse_number
from domain.health_scoring import (
    DimensionScore,
    HealthScore,
    category_for,
    explain,
    score,
)
from domain.risk_detectors import (
    LABELS,
    ChurnRiskRule,
    Detector,
    DetectorRules,
    Reading,
    evaluate,
    since_property,
)
from playbooks.loader import load_detector_rules, load_health_models


class CustomerNotFound(LookupError):
    pass


def _recorded(
    model: HealthModel,
    score_raw: str | None,
    cat_raw: str | None,
    breakdown_raw: str | None,
    model_raw: str | None,
) -> HealthScore | None:
    """A stored score as a HealthScore (dimension scores only; enough to compare)."""
    value = parse_number(score_raw)
    category = parse_category(cat_raw)
    if value is None and category is None:
        return None
    try:
        parts = json.loads(breakdown_raw) if breakdown_raw else {}
    except ValueError:
        parts = {}
    name, _, version = (model_raw or f"{model.name} v{model.version}").partition(" v")
    cat, label = category_for(model, value)
    if category is not None and category is not cat:
        cat, label = category, category.value.replace("_", " ").capitalize()
    dims = [
        DimensionScore(
            name=d.name,
            label=d.title,
            weight=d.weight,
            effective_weight=0,
            score=parts.get(d.name) if isinstance(parts, dict) else None,
            contribution=0,
            inputs={},
            metrics=[],
        )
        for d in model.dimensions
    ]
    return HealthScore(
        model=name,
        model_version=int(version) if version.isdigit() else model.version,
        score=value,
        category=cat if value is not None else HealthCategory.UNKNOWN,
        category_label=label,
        low_confidence=False,
        dimensions=dims,
    )


def _compared_with(
    last: HealthScore | None, before_last: HealthScore | None, unchanged: bool
) -> str:
    if last is None:
        return "nothing (no score recorded yet)"
    if not unchanged:
        return "the last sweep's score (the inputs changed since)"
    if before_last is None:
        return "nothing (the last sweep gave the first score; nothing changed since)"
    return "the score before the last sweep (nothing changed since the last one)"


def explain_risks(props: dict[str, str | None], rules: DetectorRules, now: datetime) -> str:
    """The risk detectors on the company now: each one's reading and episode, in words."""
    verdict = evaluate(props, rules, now)
    lines = [f"Risk detectors ({rules.name} v{rules.version}):"]
    for r in verdict.readings:
        if r.raised_now:
            state = "RAISED at the next sweep"
        elif r.active and r.since is not None:
            state = f"RAISED since {r.since:%Y-%m-%d}"
        elif r.reading is Reading.UNKNOWN:
            state = "no data"
        else:
            state = "clear"
        lines.append(f"  {r.label:<26} {state:<24} {r.evidence}")
    if not verdict.readings:
        lines.append("  (all detectors are off)")
    if rules.churn_risk is not None:
        lines.append(_churn_risk_line(props, rules.churn_risk))
    return "\n".join(lines) + "\n"


def _churn_risk_line(props: dict[str, str | None], rule: ChurnRiskRule) -> str:
    """The churn-risk model's last estimate (written by the sweep) and its episode."""
    raw = props.get(RISK_PROPERTY)
    since = props.get(since_property(Detector.CHURN_RISK))
    if not raw:
        return f"  {LABELS[Detector.CHURN_RISK]:<26} {'no estimate':<24} no model scored it yet"
    state = f"RAISED since {since[:10]}" if since else "not raised"
    return (
        f"  {LABELS[Detector.CHURN_RISK]:<26} {state:<24} churn-risk model: {raw} % in the "
        f"next {rule.horizon_days} days (raised from {rule.high_risk:g} %; "
        "`cshub risk explain` for the factors)"
    )


def explain_company(
    company: Company, models: HealthModels, rules: DetectorRules | None = None
) -> str:
    model = models.for_tier(company.tier)
    props = company.properties
    current = score(model, inputs_from_properties(props, as_of=datetime.now(UTC)))
    last, before_last = (
        _recorded(model, *(props.get(name) for name in names))
        for names in (
            (hp.SCORE, hp.CATEGORY, hp.BREAKDOWN, hp.MODEL),
            (hp.PREVIOUS_SCORE, hp.PREVIOUS_CATEGORY, hp.PREVIOUS_BREAKDOWN, hp.PREVIOUS_MODEL),
        )
    )
    unchanged = (
        last is not None
        and last.score == current.score
        and [d.score for d in last.dimensions] == [d.score for d in current.dimensions]
    )
    previous = before_last if unchanged else last
    header = [
        f"{company.name} (customer {company.id}) · tier {company.tier or 'unknown'}",
        f"Last sweep: {props.get(hp.SCORED_AT) or 'never scored'}"
        + (
            f" · recorded {props.get(hp.SCORE) or 'unknown'} "
            f"{props.get(hp.CATEGORY_LABEL) or ''}".rstrip()
            if props.get(hp.SCORED_AT)
            else ""
        ),
        "Compared with: " + _compared_with(last, before_last, unchanged),
        "",
    ]
    out = "\n".join(header) + "\n" + explain(current, previous)
    if rules is not None:
        out += "\n" + explain_risks(dict(props), rules, datetime.now(UTC))
    return out


def explain_customer(crm: Crm, customer_id: str) -> str:
    found = crm.batch_read_companies([customer_id], READ_PROPERTIES)
    if not found:
        raise CustomerNotFound(f"no CRM company with id {customer_id}")
    return explain_company(found[0], load_health_models(), load_detector_rules())
