"""Health scoring against worked examples from the seeds' tables (computed by hand in the
comments), band edges, renormalisation, low confidence, triggers and ``explain``."""

from __future__ import annotations

from typing import Any

import pytest

from domain.health_model import HealthCategory, HealthInputs, HealthModel
from domain.health_scoring import crossed, explain, round_half_up, score, trend
from playbooks.loader import load_health_model

SEED001 = load_health_model("seed001")
SEED003 = load_health_model("seed003")

# Every seed 001 input "good" (75) unless overridden.
GOOD_001: dict[str, Any] = {
    "active_users": 14,  # 70 % of 20 → 60-80 % → 75
    "licensed_seats": 20,
    "features_adopted": 15,  # 60 % of 25 → 50-70 % → 75
    "features_available": 25,
    "workflow_runs": 35,  # 70 % of 50 → 75
    "workflow_limit": 50,
    "days_to_first_value": 45,  # 30-60 days → 75
    "roi_percent": 150,  # 100-200 % → 75
    "use_cases_expanded_90d": 1,  # one more use case → 75
    "engagement_rating": "good",
    "nps": 7,  # passive 7-8 → 75
    "feedback_rating": "good",
    "integration_rating": "good",
    "performance_rating": "good",
    "security_rating": "good",
    "critical_tickets_open": 1,  # ours: one open critical ticket → 50
    "upgrade_readiness": "good",
    "account_expansion": "good",
}


def s001(**changes: Any) -> HealthInputs:
    return HealthInputs.model_validate({**GOOD_001, **changes})


def test_seed001_acme_worked_example() -> None:
    # Seed 001's "Acme Healthcare" view, turned into inputs:
    # product usage: 17/20 = 85 % (> 80) → 100; 18/25 = 72 % (> 70) → 100;
    #   39/50 = 78 % (60-80) → 75                            mean 275/3 = 91.6667
    # business value: 28 days (< 30) → 100; ROI 150 % → 75; 3 use cases → 100  = 91.6667
    # engagement: excellent 100, NPS 8.5 (> 8) → 100, excellent 100,
    #   last CSM touch 12 days ago (<= 30) → 100                                 = 100
    # technical: excellent 100, excellent 100, good 75, 0 critical → 100   375/4 = 93.75
    # growth: good 75, good 75                                                  = 75
    # 0.30 x 91.6667 + 0.25 x 91.6667 + 0.20 x 100 + 0.15 x 93.75 + 0.10 x 75
    #   = 27.5 + 22.9167 + 20 + 14.0625 + 7.5 = 91.9792 → 91.98 Healthy
    inputs = HealthInputs(
        active_users=17,
        licensed_seats=20,
        features_adopted=18,
        features_available=25,
        workflow_runs=39,
        workflow_limit=50,
        days_to_first_value=28,
        roi_percent=150,
        use_cases_expanded_90d=3,
        engagement_rating="excellent",
        nps=8.5,
        feedback_rating="excellent",
        days_since_csm_touch=12,
        integration_rating="excellent",
        performance_rating="excellent",
        security_rating="good",
        critical_tickets_open=0,
        upgrade_readiness="good",
        account_expansion="good",
    )
    result = score(SEED001, inputs)
    assert result.score == 91.98
    assert result.category is HealthCategory.HEALTHY
    assert result.category_label == "Healthy"
    assert (result.model, result.model_version) == ("seed001", 3)
    assert not result.low_confidence
    assert result.missing_dimensions == [] and result.missing_inputs == []
    by_name = {d.name: d for d in result.dimensions}
    assert by_name["product_usage"].score == 91.67
    assert by_name["product_usage"].contribution == 27.5
    assert by_name["business_value"].contribution == 22.92
    assert by_name["technical_health"].score == 93.75
    assert by_name["technical_health"].contribution == 14.06
    assert by_name["product_usage"].inputs["active_users"] == 17
    assert [m.score for m in by_name["product_usage"].metrics] == [100, 100, 75]


@pytest.mark.parametrize(
    ("changes", "expected", "category"),
    [
        # all good: every dimension 75 except technical (75,75,75,50)/4 = 68.75
        # 22.5 + 18.75 + 15 + 0.15 x 68.75 (10.3125) + 7.5 = 74.0625 → 74.06 Good
        ({}, 74.06, HealthCategory.GOOD),
        # technical all fair (50) and growth good+fair (62.5):
        # 22.5 + 18.75 + 15 + 7.5 + 6.25 = 70.00 → Good (70 is Good's lower bound)
        (
            {
                "integration_rating": "fair",
                "performance_rating": "fair",
                "security_rating": "fair",
                "account_expansion": "fair",
            },
            70.0,
            HealthCategory.GOOD,
        ),
        # as above with growth fair+fair (50): 70 - 1.25 = 68.75 → At risk
        (
            {
                "integration_rating": "fair",
                "performance_rating": "fair",
                "security_rating": "fair",
                "account_expansion": "fair",
                "upgrade_readiness": "fair",
            },
            68.75,
            HealthCategory.AT_RISK,
        ),
        # everything poor → 0 Critical; 2 critical tickets → 0
        (
            {
                k: ("poor" if isinstance(v, str) else 0)
                for k, v in GOOD_001.items()
                if k not in ("licensed_seats", "features_available", "workflow_limit")
            }
            | {"days_to_first_value": 120, "critical_tickets_open": 2},
            0.0,
            HealthCategory.CRITICAL,
        ),
    ],
)
def test_seed001_table(changes: dict[str, Any], expected: float, category: HealthCategory) -> None:
    result = score(SEED001, s001(**changes))
    assert result.score == expected
    assert result.category is category


@pytest.mark.parametrize(
    ("field", "value", "metric_score"),
    [
        # seed 001 edges: "> 80 %" is strict, shared edges go to the better level
        ("active_users", 16, 75),  # exactly 80 % → good
        ("active_users", 16.2, 100),  # 81 % → excellent
        ("active_users", 12, 75),  # exactly 60 % → good
        ("active_users", 8, 50),  # exactly 40 % → fair
        ("active_users", 7.8, 0),  # 39 % → poor
        ("days_to_first_value", 29, 100),  # < 30 → excellent
        ("days_to_first_value", 30, 75),
        ("days_to_first_value", 60, 75),
        ("days_to_first_value", 90, 50),
        ("days_to_first_value", 91, 0),
        ("nps", 8, 75),  # NPS > 8 is promoter; 8 is passive
        ("nps", 9, 100),
        ("nps", 6, 0),  # a detractor, as in the NPS play (seed001.yaml v3)
        ("nps", 7, 75),
        ("nps", 5, 0),
        ("roi_percent", 200, 75),
        ("roi_percent", 201, 100),
        ("roi_percent", 10, 50),
        ("roi_percent", -5, 0),
    ],
)
def test_seed001_metric_edges(field: str, value: float, metric_score: float) -> None:
    result = score(SEED001, s001(**{field: value}))
    metrics = {m.name: m for d in result.dimensions for m in d.metrics if field in m.inputs}
    assert len(metrics) == 1
    assert next(iter(metrics.values())).score == metric_score


def s003(**values: Any) -> HealthInputs:
    return HealthInputs.model_validate(values)


@pytest.mark.parametrize(
    ("inputs", "expected", "category", "label"),
    [
        # usage: 10 login days → 100; features 12/40 = 30 % → 50; NPS 9 → 100, CSAT 85 → 50
        # (satisfaction 75); paid → 100:  40 + 15 + 15 + 10 = 80 → Healthy (80 is the bound)
        (
            {
                "login_days_last_30": 10,
                "features_adopted": 12,
                "features_available": 40,
                "nps": 9,
                "csat_percent": 85,
                "payment_current": True,
            },
            80.0,
            HealthCategory.HEALTHY,
            "Healthy",
        ),
        # same, payment failed: 70 → Neutral
        (
            {
                "login_days_last_30": 10,
                "features_adopted": 12,
                "features_available": 40,
                "nps": 9,
                "csat_percent": 85,
                "payment_current": False,
            },
            70.0,
            HealthCategory.GOOD,
            "Neutral",
        ),
        # usage 100 (40) + features 11/40 = 27.5 % → 0 + satisfaction NPS 7 (50) & CSAT 80
        # (not > 80 → 0) = 25 → 5 + paid 10 = 55 → At risk
        (
            {
                "login_days_last_30": 4,
                "features_adopted": 11,
                "features_available": 40,
                "nps": 7,
                "csat_percent": 80,
                "payment_current": True,
            },
            55.0,
            HealthCategory.AT_RISK,
            "At risk",
        ),
        # usage 100 (40) + engagement 0 + satisfaction (50+50)/2 → 10 + paid 10 = 60 → Neutral
        (
            {
                "login_days_last_30": 4,
                "features_adopted": 0,
                "features_available": 40,
                "nps": 8,
                "csat_percent": 81,
                "payment_current": True,
            },
            60.0,
            HealthCategory.GOOD,
            "Neutral",
        ),
        # monthly logins (3 days) → 50 (20) + engagement 50 (15) + satisfaction 0 + paid 10
        # = 45 → At risk; 40 is At risk's bound
        (
            {
                "login_days_last_30": 3,
                "features_adopted": 20,
                "features_available": 40,
                "nps": 3,
                "csat_percent": 50,
                "payment_current": True,
            },
            45.0,
            HealthCategory.AT_RISK,
            "At risk",
        ),
        # no login in 30 days, setup only, detractor, failed payment → 0 Critical
        (
            {
                "login_days_last_30": 0,
                "features_adopted": 2,
                "features_available": 40,
                "nps": 6,
                "csat_percent": 40,
                "payment_current": False,
            },
            0.0,
            HealthCategory.CRITICAL,
            "Critical",
        ),
        # 20 + 15 + 0 + 0 = 35 → Critical (below 40)
        (
            {
                "login_days_last_30": 1,
                "features_adopted": 12,
                "features_available": 40,
                "nps": 0,
                "csat_percent": 0,
                "payment_current": False,
            },
            35.0,
            HealthCategory.CRITICAL,
            "Critical",
        ),
    ],
)
def test_seed003_table(
    inputs: dict[str, Any], expected: float, category: HealthCategory, label: str
) -> None:
    result = score(SEED003, s003(**inputs))
    assert result.score == expected
    assert (result.category, result.category_label) == (category, label)
    assert not result.low_confidence


def _one_dimension_model(bands_from: HealthModel) -> HealthModel:
    """A model whose score is exactly the score given to a rating (to hit any value)."""
    return HealthModel.model_validate(
        {
            "name": "edge",
            "version": 3,
            "dimensions": [
                {
                    "name": "only",
                    "weight": 1,
                    "metrics": [
                        {
                            "name": "r",
                            "input": "integration_rating",
                            "levels": {
                                "excellent": 69.995,
                                "good": 69.99,
                                "fair": 69.994999,
                                "poor": 70,
                            },
                        }
                    ],
                }
            ],
            "bands": [b.model_dump() for b in bands_from.bands],
        }
    )


@pytest.mark.parametrize(
    ("rating", "expected", "category"),
    [
        ("good", 69.99, HealthCategory.AT_RISK),  # 69.99 < 70 → At risk
        ("poor", 70.0, HealthCategory.GOOD),  # 70 → Good
        ("excellent", 70.0, HealthCategory.GOOD),  # 69.995 rounds half up to 70.00 → Good
        ("fair", 69.99, HealthCategory.AT_RISK),  # 69.994999 → 69.99 → At risk
    ],
)
def test_69_99_vs_70(rating: str, expected: float, category: HealthCategory) -> None:
    model = _one_dimension_model(SEED001)
    result = score(model, HealthInputs(integration_rating=rating))
    assert result.score == expected
    assert result.category is category
    assert result.model_version == 3


def test_round_half_up() -> None:
    assert round_half_up(0.125) == 0.13  # round() would give 0.12
    assert round_half_up(69.995) == 70.0
    assert round_half_up(2 / 3, 4) == 0.6667


def test_renormalises_one_missing_dimension() -> None:
    # seed 003, payment unknown: usage 100, engagement 30 % → 50, satisfaction NPS 9 → 100
    # (CSAT missing: the dimension uses NPS alone). Weights 0.4 + 0.3 + 0.2 = 0.9:
    # (40 + 15 + 20) / 0.9 = 83.333 → 83.33 Healthy, low confidence.
    result = score(
        SEED003,
        s003(login_days_last_30=12, features_adopted=3, features_available=10, nps=9),
    )
    assert result.score == 83.33
    assert result.category is HealthCategory.HEALTHY
    assert result.low_confidence
    assert result.missing_dimensions == ["payment"]
    assert result.missing_inputs == ["csat_percent", "payment_current"]
    eff = {d.name: d.effective_weight for d in result.dimensions}
    assert eff == {"usage": 0.4444, "engagement": 0.3333, "satisfaction": 0.2222, "payment": 0}
    payment = result.dimensions[-1]
    assert payment.score is None and payment.contribution == 0


def test_a_missing_metric_alone_is_not_low_confidence() -> None:
    result = score(
        SEED003,
        s003(
            login_days_last_30=12,
            features_adopted=3,
            features_available=10,
            nps=9,
            payment_current=True,
        ),
    )
    # 40 + 15 + 20 + 10 = 85
    assert result.score == 85.0
    assert not result.low_confidence
    assert result.missing_inputs == ["csat_percent"]


def test_renormalises_two_missing_dimensions() -> None:
    # seed 003, satisfaction and payment unknown: usage 2 days → 50, engagement 25/40 =
    # 62.5 % → 100: (0.4 x 50 + 0.3 x 100) / 0.7 = 50 / 0.7 = 71.4286 → 71.43 Neutral
    result = score(SEED003, s003(login_days_last_30=2, features_adopted=25, features_available=40))
    assert result.score == 71.43
    assert result.category_label == "Neutral"
    assert result.low_confidence
    assert result.missing_dimensions == ["satisfaction", "payment"]
    # seed 001, technical and growth unknown: product 100, business 75, engagement 50:
    # (30 + 18.75 + 10) / 0.75 = 78.333 → 78.33 Good
    result = score(
        SEED001,
        HealthInputs(
            active_users=9,
            licensed_seats=10,
            days_to_first_value=40,
            engagement_rating="fair",
        ),
    )
    assert result.score == 78.33
    assert result.category is HealthCategory.GOOD
    assert result.missing_dimensions == ["technical_health", "growth_potential"]


def test_zero_denominator_is_missing() -> None:
    result = score(SEED003, s003(features_adopted=3, features_available=0, nps=10))
    engagement = next(d for d in result.dimensions if d.name == "engagement")
    assert engagement.score is None
    assert result.score == 100.0  # satisfaction alone
    assert result.missing_dimensions == ["usage", "engagement", "payment"]


def test_all_missing_is_unknown() -> None:
    for model in (SEED001, SEED003):
        result = score(model, HealthInputs())
        assert result.score is None
        assert result.category is HealthCategory.UNKNOWN
        assert result.low_confidence
        assert result.missing_dimensions == [d.name for d in model.dimensions]
        assert all(d.contribution == 0 for d in result.dimensions)
        assert "unknown (no data)" in explain(result)


def test_trend() -> None:
    assert trend(None, 72.5) == (None, None)
    assert trend(80, 72.5) == (80, -7.5)
    assert trend(69.99, 70) == (69.99, 0.01)
    assert trend(70, None) == (70, None)


def test_crossed() -> None:
    c = crossed(HealthCategory.GOOD, HealthCategory.CRITICAL)
    assert c is not None and c.direction == "down"
    assert c.entered == [HealthCategory.AT_RISK, HealthCategory.CRITICAL]
    c = crossed("healthy", "good")
    assert c is not None and (c.direction, c.entered) == ("down", [HealthCategory.GOOD])
    c = crossed(HealthCategory.CRITICAL, HealthCategory.GOOD)
    assert c is not None and c.direction == "up"
    assert c.entered == [HealthCategory.AT_RISK, HealthCategory.GOOD]
    assert crossed("good", "good") is None
    assert crossed(None, "critical") is None
    assert crossed("unknown", "critical") is None


CURRENT_003 = s003(
    login_days_last_30=10,
    features_adopted=12,
    features_available=40,
    nps=9,
    csat_percent=85,
    payment_current=False,
)
PREVIOUS_003 = s003(
    login_days_last_30=10,
    features_adopted=30,
    features_available=40,
    nps=9,
    csat_percent=95,
    payment_current=True,
)


def test_explain_known_customer() -> None:
    # Now: 40 + 30 % features → 50 x 0.3 = 15 + (100 + 50)/2 x 0.2 = 15 + unpaid 0 = 70.
    # Before: everything 100 → 100.  Change -30; Healthy → Neutral.
    text = explain(score(SEED003, CURRENT_003), score(SEED003, PREVIOUS_003))
    assert text == (
        "Score: 70.00 Neutral (good)\n"
        "Model: seed003 v1\n"
        "Confidence: normal\n"
        "Previous: 100.00 Healthy; change -30.00\n"
        "Crossed down: Healthy → Neutral (entered good)\n"
        "\n"
        "dimension            weight effective   score contribution  change\n"
        "usage                  0.40    0.4000  100.00        40.00   +0.00\n"
        "engagement             0.30    0.3000   50.00        15.00  -50.00\n"
        "satisfaction           0.20    0.2000   75.00        15.00  -25.00\n"
        "payment                0.10    0.1000    0.00         0.00 -100.00\n"
        "total                                                70.00\n"
        "\n"
        "Inputs:\n"
        "  usage.login_frequency: login_days_last_30=10 → >= 4 → 100\n"
        "  engagement.feature_depth: features_adopted=12, features_available=40"
        " → 30.0% >= 30 → 50\n"
        "  satisfaction.nps: nps=9 → >= 9 → 100\n"
        "  satisfaction.csat: csat_percent=85 → > 80 → 50\n"
        "  payment.payment_current: payment_current=no → no → 0\n"
    )


def test_explain_low_confidence_and_model_change() -> None:
    current = score(SEED003, s003(login_days_last_30=2, features_adopted=25, features_available=40))
    previous = score(SEED001, HealthInputs(active_users=10, licensed_seats=10))
    lines = explain(current, previous).splitlines()
    assert lines[0] == "Score: 71.43 Neutral (good)"
    assert lines[2] == (
        "Confidence: LOW: no data for satisfaction, payment; "
        "weights renormalised over the other dimensions"
    )
    assert lines[3] == "Previous: 100.00 Healthy; change -28.57"
    assert lines[4] == f"Note: the previous score used seed001 v{SEED001.version}"
    assert "payment                0.10         - missing            -       -" in lines
    assert "  satisfaction.nps: nps=missing → no score (missing)" in lines
    assert explain(current).splitlines()[3] == "Previous: none"


@pytest.mark.parametrize(
    ("days", "expected"), [(0, 100), (30, 100), (31, 75), (60, 75), (61, 50), (90, 50), (91, 0)]
)
def test_seed001_counts_the_last_csm_touch_in_engagement(days: int, expected: float) -> None:
    result = score(SEED001, HealthInputs(days_since_csm_touch=days))
    engagement = next(d for d in result.dimensions if d.name == "engagement")
    assert engagement.score == expected
    assert result.score == expected  # the only dimension with data: weight renormalised to 1
    assert result.low_confidence
