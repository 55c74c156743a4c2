"""Health scoring rules the seed models do not exercise, on a model built here: metric
weights other than 1 inside a dimension, a denominator of 1, the ``otherwise`` fallback
(with and without a value), boolean and level rules, every band's own label, and the
exact text of ``explain`` for them. Pure: no files, no server."""

from __future__ import annotations

from typing import Any

import pytest

from domain.health_model import HealthCategory, HealthInputs, HealthModel
from domain.health_scoring import category_for, explain, score, score_metric

MODEL = HealthModel.model_validate(
    {
        "name": "rules",
        "version": 3,
        "dimensions": [
            {
                "name": "usage",
                "weight": 0.5,
                "metrics": [
                    {
                        "name": "seats",
                        "percent_of": ["active_users", "licensed_seats"],
                        "weight": 3,
                        "thresholds": [
                            {"at_least": 80, "score": 100},
                            {"at_least": 50, "score": 60},
                        ],
                        "otherwise": 20,
                    },
                    {
                        "name": "logins",
                        "input": "login_days_last_30",
                        "thresholds": [{"at_least": 10, "score": 100}],
                    },  # no otherwise: 0
                ],
            },
            {
                "name": "payment",
                "label": "Paying on time",
                "weight": 0.3,
                "metrics": [
                    {
                        "name": "paid",
                        "input": "payment_current",
                        "boolean": {"if_true": 100, "if_false": 10},
                    }
                ],
            },
            {
                "name": "engagement",
                "weight": 0.2,
                "metrics": [
                    {
                        "name": "rating",
                        "input": "engagement_rating",
                        "levels": {"excellent": 100, "good": 80, "fair": 40, "poor": 0},
                    }
                ],
            },
        ],
        "bands": [
            {"category": "healthy", "label": "Thriving", "at_least": 80},
            {"category": "good", "label": "Steady", "at_least": 60},
            {"category": "at_risk", "label": "Wobbly", "at_least": 40},
            {"category": "critical", "label": "Sinking", "at_least": 0},
        ],
    }
)
USAGE, PAYMENT, ENGAGEMENT = MODEL.dimensions
SEATS, LOGINS = USAGE.metrics


def inputs(**values: Any) -> HealthInputs:
    return HealthInputs.model_validate(values)


# (case, inputs, metric, value seen, score, rule)
METRIC_CASES: list[tuple[str, dict[str, Any], Any, Any, float | None, str]] = [
    ("1 of 1 seat: a denominator of 1 is 100 %", {"active_users": 1, "licensed_seats": 1},
     SEATS, 100.0, 100, ">= 80 → 100"),
    ("0 of 1 seat", {"active_users": 0, "licensed_seats": 1}, SEATS, 0.0, 20, "otherwise → 20"),
    ("half the seats", {"active_users": 10, "licensed_seats": 20}, SEATS, 50.0, 60, ">= 50 → 60"),
    ("a tenth: otherwise", {"active_users": 1, "licensed_seats": 10}, SEATS, 10.0, 20,
     "otherwise → 20"),
    ("0 seats: no score", {"active_users": 3, "licensed_seats": 0}, SEATS, None, None, ""),
    ("no seat count: no score", {"active_users": 3}, SEATS, None, None, ""),
    ("10 login days", {"login_days_last_30": 10}, LOGINS, 10.0, 100, ">= 10 → 100"),
    ("2 login days: otherwise defaults to 0", {"login_days_last_30": 2}, LOGINS, 2.0, 0,
     "otherwise → 0"),
    ("paid", {"payment_current": True}, PAYMENT.metrics[0], True, 100, "yes → 100"),
    ("not paid", {"payment_current": False}, PAYMENT.metrics[0], False, 10, "no → 10"),
    ("fair rating", {"engagement_rating": "fair"}, ENGAGEMENT.metrics[0], "fair", 40,
     "fair → 40"),
    ("poor rating", {"engagement_rating": "poor"}, ENGAGEMENT.metrics[0], "poor", 0, "poor → 0"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "metric", "seen", "expected", "rule"),
    [c[1:] for c in METRIC_CASES],
    ids=[c[0] for c in METRIC_CASES],
)
def test_metric_rules(
    values: dict[str, Any], metric: Any, seen: Any, expected: float | None, rule: str
) -> None:
    result = score_metric(metric, inputs(**values))
    assert (result.value, result.score, result.rule) == (seen, expected, rule)
    assert set(result.inputs) == set(metric.inputs)


def test_ratings_are_reported_as_plain_text() -> None:
    result = score_metric(ENGAGEMENT.metrics[0], inputs(engagement_rating="good"))
    assert result.inputs == {"engagement_rating": "good"}
    assert type(result.inputs["engagement_rating"]) is str


# (case, inputs, usage score, total, category, label)
SCORE_CASES: list[tuple[str, dict[str, Any], float | None, float | None, HealthCategory, str]] = [
    ("metric weights 3 and 1: (60 x 3 + 0 x 1) / 4 = 45",
     {"active_users": 10, "licensed_seats": 20, "login_days_last_30": 2,
      "payment_current": True, "engagement_rating": "fair"},
     45.0, 60.5, HealthCategory.GOOD, "Steady"),  # 45 x .5 + 100 x .3 + 40 x .2
    ("weights 3 and 1 the other way: (20 x 3 + 100 x 1) / 4 = 40",
     {"active_users": 1, "licensed_seats": 10, "login_days_last_30": 12,
      "payment_current": False, "engagement_rating": "excellent"},
     40.0, 43.0, HealthCategory.AT_RISK, "Wobbly"),  # 20 + 3 + 20
    ("one metric of two missing: the other alone (weight renormalised)",
     {"login_days_last_30": 12, "payment_current": True, "engagement_rating": "excellent"},
     100.0, 100.0, HealthCategory.HEALTHY, "Thriving"),
    ("a dimension missing: the others renormalised over 0.5",
     {"payment_current": False, "engagement_rating": "poor"},
     None, 6.0, HealthCategory.CRITICAL, "Sinking"),  # (10 x .3 + 0) / .5
    ("nothing known", {}, None, None, HealthCategory.UNKNOWN, "Unknown"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "usage", "total", "category", "label"),
    [c[1:] for c in SCORE_CASES],
    ids=[c[0] for c in SCORE_CASES],
)
def test_weighted_dimensions(
    values: dict[str, Any],
    usage: float | None,
    total: float | None,
    category: HealthCategory,
    label: str,
) -> None:
    result = score(MODEL, inputs(**values))
    assert result.dimensions[0].score == usage
    assert (result.score, result.category, result.category_label) == (total, category, label)
    assert (result.model, result.model_version) == ("rules", 3)


def test_category_for_every_band_and_below_the_last() -> None:
    assert category_for(MODEL, 80) == (HealthCategory.HEALTHY, "Thriving")
    assert category_for(MODEL, 79.99) == (HealthCategory.GOOD, "Steady")
    assert category_for(MODEL, 40) == (HealthCategory.AT_RISK, "Wobbly")
    assert category_for(MODEL, 0) == (HealthCategory.CRITICAL, "Sinking")
    assert category_for(MODEL, -0.01) == (HealthCategory.CRITICAL, "Sinking")
    assert category_for(MODEL, None) == (HealthCategory.UNKNOWN, "Unknown")


STEADY = inputs(
    active_users=10,
    licensed_seats=20,
    login_days_last_30=2,
    payment_current=True,
    engagement_rating="fair",
)  # 60.50 Steady
WOBBLY = inputs(
    active_users=1,
    licensed_seats=10,
    login_days_last_30=12,
    payment_current=False,
    engagement_rating="excellent",
)  # 43.00 Wobbly


def test_explain_weights_fallbacks_and_rules() -> None:
    text = explain(score(MODEL, WOBBLY), score(MODEL, STEADY))
    assert text == (
        "Score: 43.00 Wobbly (at_risk)\n"
        "Model: rules v3\n"
        "Confidence: normal\n"
        "Previous: 60.50 Steady; change -17.50\n"
        "Crossed down: Steady → Wobbly (entered at_risk)\n"
        "\n"
        "dimension            weight effective   score contribution  change\n"
        "usage                  0.50    0.5000   40.00        20.00   -5.00\n"
        "payment                0.30    0.3000   10.00         3.00  -90.00\n"
        "engagement             0.20    0.2000  100.00        20.00  +60.00\n"
        "total                                                43.00\n"
        "\n"
        "Inputs:\n"
        "  usage.seats: active_users=1, licensed_seats=10 → 10.0% otherwise → 20\n"
        "  usage.logins: login_days_last_30=12 → >= 10 → 100\n"
        "  payment.paid: payment_current=no → no → 10\n"
        "  engagement.rating: engagement_rating=excellent → excellent → 100\n"
    )


def test_explain_with_nothing_known() -> None:
    assert explain(score(MODEL, inputs())) == (
        "Score: unknown (no data) (unknown)\n"
        "Model: rules v3\n"
        "Confidence: none: no dimension has data\n"
        "Previous: none\n"
        "\n"
        "dimension            weight effective   score contribution  change\n"
        "usage                  0.50         - missing            -       -\n"
        "payment                0.30         - missing            -       -\n"
        "engagement             0.20         - missing            -       -\n"
        "total                                                    -\n"
        "\n"
        "Inputs:\n"
        "  usage.seats: active_users=missing, licensed_seats=missing → no score (missing)\n"
        "  usage.logins: login_days_last_30=missing → no score (missing)\n"
        "  payment.paid: payment_current=missing → no score (missing)\n"
        "  engagement.rating: engagement_rating=missing → no score (missing)\n"
    )


def test_explain_after_an_unknown_score() -> None:
    current = score(MODEL, inputs(login_days_last_30=2.5, payment_current=True))
    assert explain(current, score(MODEL, inputs())) == (
        "Score: 37.50 Sinking (critical)\n"
        "Model: rules v3\n"
        "Confidence: LOW: no data for engagement; weights renormalised over the other "
        "dimensions\n"
        "Previous: unknown (no data); change -\n"
        "\n"
        "dimension            weight effective   score contribution  change\n"
        "usage                  0.50    0.6250    0.00         0.00       -\n"
        "payment                0.30    0.3750  100.00        37.50       -\n"
        "engagement             0.20         - missing            -       -\n"
        "total                                                37.50\n"
        "\n"
        "Inputs:\n"
        "  usage.seats: active_users=missing, licensed_seats=missing → no score (missing)\n"
        "  usage.logins: login_days_last_30=2.5 → otherwise → 0\n"
        "  payment.paid: payment_current=yes → yes → 100\n"
        "  engagement.rating: engagement_rating=missing → no score (missing)\n"
    )


def test_explain_a_fall_through_two_bands_and_a_rise() -> None:
    sinking = score(MODEL, inputs(payment_current=False, engagement_rating="poor"))
    assert sinking.score == 6.0
    down = explain(sinking, score(MODEL, STEADY)).splitlines()
    assert down[4] == "Crossed down: Steady → Sinking (entered at_risk, critical)"
    up = explain(score(MODEL, STEADY), sinking).splitlines()
    assert up[3] == "Previous: 6.00 Sinking; change +54.50"
    assert up[4] == "Crossed up: Sinking → Steady (entered at_risk, good)"
