"""domain.health_report on a handcrafted portfolio whose figures were worked out by hand:
unknown and never-scored companies, a bad category value, a computed delta, an odd tier,
companies without tier or owner."""

from __future__ import annotations

import pytest

from domain import health_properties as hp
from domain.health_model import HealthCategory
from domain.health_report import (
    NO_TIER,
    AccountHealth,
    account_health,
    build_portfolio_health,
    csm_digests,
    format_delta,
    format_score,
    parse_number,
    render_text,
    unowned_needing_attention,
    worst_first,
)

H, G, R, C, U = (
    HealthCategory.HEALTHY,
    HealthCategory.GOOD,
    HealthCategory.AT_RISK,
    HealthCategory.CRITICAL,
    HealthCategory.UNKNOWN,
)
SWEEP = "2026-05-04T06:00:00Z"
V1 = "seed001 v1"


def props(
    category: str | None,
    score: str | None = None,
    previous: str | None = None,
    delta: str | None = None,
    *,
    model: str | None = V1,
    low: str | None = "false",
    scored_at: str | None = SWEEP,
    label: str | None = None,
) -> dict[str, str | None]:
    return {
        hp.CATEGORY: category,
        hp.SCORE: score,
        hp.PREVIOUS_SCORE: previous,
        hp.DELTA: delta,
        hp.MODEL: model,
        hp.LOW_CONFIDENCE: low,
        hp.SCORED_AT: scored_at,
        hp.CATEGORY_LABEL: label,
    }


# (id, name, tier, owner, properties)
ROWS: list[tuple[str, str, str | None, str | None, dict[str, str | None]]] = [
    ("1", "Alpha", "enterprise", "501", props("healthy", "90", "88", "2", label="Healthy")),
    ("2", "Beta", "enterprise", "502", props("good", "75.5", "80", "-4.5", label="Neutral")),
    ("3", "Gamma", "professional", "501", props("at_risk", "60", "72", "-12", low="true")),
    ("4", "Delta", "starter", "502", props("critical", "30.2", "45.2", "-15", low="TRUE")),
    ("5", "Epsilon", "starter", "503", props("critical", "42", "40", "2")),
    ("6", "Zeta", "community", "501", props("at_risk", "55", "", "")),  # first sweep
    # Swept, nothing known: unknown; its low-confidence flag and model do not count.
    (
        "7",
        "Eta",
        "community",
        None,
        props("unknown", "", low="true", scored_at=f"{SWEEP[:9]}5T06:00:00Z"),
    ),
    ("8", "Theta", None, "503", {}),  # never swept
    ("9", "Iota", " Starter ", "503", props("healthy", "88", "88", "0", model="seed003 v1")),
    ("10", "Kappa", "agency", "502", props("bogus", "77", scored_at=None)),  # not a category
    ("11", "Lambda", "enterprise", "501", props("at_risk", "65", "60", "")),  # delta computed
    ("12", "Mu", "enterprise", None, props("critical", "20", "20.3", "-0.3")),
]
NAMES = {"501": "Dana Reyes", "502": "Marcus Chen"}  # 503 unknown to the CRM


def accounts() -> list[AccountHealth]:
    return [
        account_health(id=i, name=n, tier=t, owner_id=o, properties=p) for i, n, t, o, p in ROWS
    ]


def test_reading_one_company() -> None:
    by_id = {a.id: a for a in accounts()}
    assert by_id["9"].tier == "starter"
    assert by_id["11"].delta == 5.0  # 65 - 60: the sweep left it blank
    assert by_id["6"].delta is None and by_id["6"].previous_score is None
    assert by_id["10"].category is U and by_id["10"].score is None  # score ignored
    assert by_id["7"].category is U and by_id["7"].model is None
    assert by_id["8"].category is U and by_id["8"].scored_at is None
    assert by_id["2"].category_label == "Neutral"
    assert by_id["4"].low_confidence and not by_id["5"].low_confidence
    assert parse_number("nan") is None and parse_number(" -3.5 ") == -3.5


def test_portfolio_figures() -> None:
    report = build_portfolio_health(accounts(), NAMES)
    assert report.total == 12
    assert report.scored == 9
    assert report.never_scored == 2  # Theta, Kappa
    assert [(c.category, c.count, c.percent) for c in report.categories] == [
        (H, 2, 16.7),
        (G, 1, 8.3),
        (R, 3, 25.0),
        (C, 3, 25.0),
        (U, 3, 25.0),
    ]
    assert report.count(C) == 3
    # (90 + 75.5 + 60 + 30.2 + 42 + 55 + 88 + 65 + 20) / 9 = 525.7 / 9
    assert report.average_score == 58.41
    t = report.trend
    assert (t.improving, t.declining, t.unchanged, t.no_trend) == (3, 4, 1, 4)
    # (2 - 4.5 - 12 - 15 + 2 + 0 + 5 - 0.3) / 8 = -22.8 / 8
    assert t.average_delta == -2.85
    assert report.low_confidence == 2  # Gamma, Delta (Eta is unknown)
    assert report.models == {V1: 8, "seed003 v1": 1}
    assert report.last_scored_at == "2026-05-05T06:00:00Z"  # Eta's, unknown or not


def test_tier_table() -> None:
    report = build_portfolio_health(accounts())
    table = {t.tier: ([t.counts[c] for c in (H, G, R, C, U)], t.total) for t in report.tiers}
    assert list(table) == ["community", "starter", "professional", "enterprise", "agency", NO_TIER]
    assert table == {
        "community": ([0, 0, 1, 0, 1], 2),
        "starter": ([1, 0, 0, 2, 0], 3),
        "professional": ([0, 0, 1, 0, 0], 1),
        "enterprise": ([1, 1, 1, 1, 0], 4),
        "agency": ([0, 0, 0, 0, 1], 1),
        NO_TIER: ([0, 0, 0, 0, 1], 1),
    }
    assert sum(total for _, total in table.values()) == report.total


def test_at_risk_list_worst_first_with_owner_names() -> None:
    report = build_portfolio_health(accounts(), NAMES)
    assert [(a.id, a.category, a.score) for a in report.at_risk] == [
        ("12", C, 20.0),
        ("4", C, 30.2),
        ("5", C, 42.0),
        ("6", R, 55.0),
        ("3", R, 60.0),
        ("11", R, 65.0),
    ]
    assert [a.owner_name for a in report.at_risk] == [
        None,
        "Marcus Chen",
        None,
        "Dana Reyes",
        "Dana Reyes",
        "Dana Reyes",
    ]


def test_owner_summaries() -> None:
    report = build_portfolio_health(accounts(), NAMES)
    rows = [
        (o.owner_id, o.owner_name, o.accounts, o.at_risk, o.critical, o.declining, o.average_score)
        for o in report.owners
    ]
    assert rows == [
        ("501", "Dana Reyes", 4, 3, 0, 1, 67.5),  # (90 + 60 + 55 + 65) / 4
        ("502", "Marcus Chen", 3, 0, 1, 2, 52.85),  # (75.5 + 30.2) / 2; Kappa unknown
        ("503", None, 3, 0, 1, 0, 65.0),  # (42 + 88) / 2; Theta never scored
        (None, None, 2, 0, 1, 1, 20.0),
    ]


def test_worst_first_breaks_ties_by_unknown_score_then_drop() -> None:
    def acc(i: str, cat: HealthCategory, score: float | None, delta: float | None) -> AccountHealth:
        return AccountHealth(id=i, name=f"n{i}", category=cat, score=score, delta=delta)

    ordered = worst_first(
        [
            acc("a", R, 50, -1),
            acc("b", R, None, None),
            acc("c", C, 45, 0),
            acc("d", R, 50, -9),
            acc("e", R, 50, None),
        ]
    )
    assert [a.id for a in ordered] == ["c", "d", "a", "e", "b"]


def test_csm_digests() -> None:
    digests = csm_digests(accounts())
    assert [(d.owner_id, [a.id for a in d.accounts], d.owned_accounts) for d in digests] == [
        ("501", ["6", "3", "11"], 4),
        ("502", ["4"], 3),
        ("503", ["5"], 3),
    ]
    first = digests[0]
    assert (first.critical, first.at_risk, first.declining) == (0, 3, 1)
    assert [a.id for a in unowned_needing_attention(accounts())] == ["12"]
    only = csm_digests(accounts(), only_owner_id="502")
    assert [(d.owner_id, [a.id for a in d.accounts]) for d in only] == [("502", ["4"])]
    assert csm_digests(accounts(), only_owner_id="999") == []


def test_empty_portfolio() -> None:
    report = build_portfolio_health([])
    assert report.total == 0 and report.average_score is None
    assert report.trend.average_delta is None
    assert all(c.count == 0 and c.percent == 0 for c in report.categories)
    assert [t.tier for t in report.tiers] == [
        "community",
        "starter",
        "professional",
        "enterprise",
        "agency",
    ]
    assert "Portfolio health: 0 companies, 0 scored" in render_text(report)


@pytest.mark.parametrize(
    ("value", "score", "delta"),
    [(None, "-", "-"), (0.0, "0", "0"), (72.5, "72.5", "+72.5"), (-3.25, "-3.25", "-3.25")],
)
def test_formatting(value: float | None, score: str, delta: str) -> None:
    assert format_score(value) == score
    assert format_delta(value) == delta
    assert format_score(100.0) == "100"


def test_render_text() -> None:
    report = build_portfolio_health(accounts(), NAMES, warnings=["owner 503 is not a CRM user"])
    text = render_text(report, at_risk_shown=4)
    lines = text.splitlines()
    assert lines[0] == "Portfolio health: 12 companies, 9 scored, 2 never scored"
    assert lines[1] == "last sweep: 2026-05-05T06:00:00Z"
    assert lines[2] == "models: seed001 v1 (8), seed003 v1 (1)"
    assert "category  companies   share" in text
    assert "Critical          3  25.0 %" in text
    assert "Unknown           3  25.0 %" in text
    assert "tier          Healthy  Good  At risk  Critical  Unknown  total" in text
    assert "enterprise          1     1        1         1        0      4" in text
    assert "average score: 58.41 (of 9 scored)" in text
    assert "average delta: -2.85 (improving 3, declining 4, unchanged 1, no trend 4)" in text
    assert "low confidence: 2" in text
    assert "Dana Reyes (501)" in text and "owner 503" in text and "(no owner)" in text
    start = lines.index("at risk or critical: 6 (worst first)")
    assert lines[start + 1 : start + 7] == [
        "  score  delta  category  tier        company      CSM",
        "     20   -0.3  Critical  enterprise  Mu (12)      (no owner)",
        "   30.2    -15  Critical  starter     Delta (4)    Marcus Chen (502)",
        "     42     +2  Critical  starter     Epsilon (5)  owner 503",
        "     55      -  At risk   community   Zeta (6)     Dana Reyes (501)",
        "  ... and 2 more (see --json)",
    ]
    assert text.endswith("warnings:\n  owner 503 is not a CRM user")
