"""The sweep's verdict per company: trend, triggers, cooldowns, retries (pure code).

A one-metric model makes every score a number picked by hand: login days 25+ → 90,
20+ → 75, 15+ → 60, 10+ → 45, fewer → 20, with seed 001's bands (85 / 70 / 50).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from domain import health_properties as hp
from domain.health_model import HealthModel
from domain.health_outreach import OutreachPlan, Trigger, assess, sweep_stamp
from playbooks.loader import health_dir, load_health_models

SWEEP = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
STAMP = "2026-11-23T06:00:00Z"

MODEL = HealthModel.model_validate(
    {
        "name": "logins",
        "version": 3,
        "dimensions": [
            {
                "name": "usage",
                "weight": 1,
                "metrics": [
                    {
                        "name": "login_days",
                        "input": "login_days_last_30",
                        "thresholds": [
                            {"at_least": 25, "score": 90},
                            {"at_least": 20, "score": 75},
                            {"at_least": 15, "score": 60},
                            {"at_least": 10, "score": 45},
                        ],
                        "otherwise": 20,
                    }
                ],
            }
        ],
        "bands": [
            {"category": "healthy", "label": "Healthy", "at_least": 85},
            {"category": "good", "label": "Good", "at_least": 70},
            {"category": "at_risk", "label": "At risk", "at_least": 50},
            {"category": "critical", "label": "Critical", "at_least": 0},
        ],
    }
)
LOGINS = {"healthy": "25", "good": "20", "at_risk": "15", "critical_45": "10", "critical": "5"}
PLAN = OutreachPlan.model_validate(
    yaml.safe_load((health_dir() / "outreach.yaml").read_text(encoding="utf-8"))
)


def company(
    logins: str | None, previous: tuple[str, str] | None = None, **extra: str
) -> dict[str, str | None]:
    props: dict[str, str | None] = {"cshub_login_days_30d": logins}
    if previous is not None:
        props[hp.SCORE], props[hp.CATEGORY] = previous
        props[hp.SCORED_AT] = "2026-11-22T06:00:00Z"
        if previous[1] in hp.BANDS:  # what yesterday's sweep recorded
            props[hp.seen_property(previous[1])] = "2026-11-22T06:00:00Z"
    props.update(extra)
    return props


def fired(props: dict[str, str | None]) -> list[str]:
    h = assess("1001", props, MODEL, PLAN, SWEEP)
    assert h is not None
    return sorted(f.trigger.value for f in h.fired)


@pytest.mark.parametrize(
    ("logins", "previous", "expected"),
    [
        # first scores: At risk / Critical count as a fresh drop, the rest as nothing
        (LOGINS["healthy"], None, []),
        (LOGINS["good"], None, []),
        (LOGINS["at_risk"], None, ["health_decline"]),
        (LOGINS["critical"], None, ["critical", "health_decline"]),
        # crossings down
        (LOGINS["at_risk"], ("72.00", "good"), ["health_decline"]),
        (LOGINS["critical"], ("72.00", "good"), ["critical", "health_decline"]),
        (LOGINS["critical_45"], ("60.00", "at_risk"), ["critical"]),
        (LOGINS["good"], ("90.00", "healthy"), []),
        # staying in a band is no news
        (LOGINS["at_risk"], ("55.00", "at_risk"), []),
        (LOGINS["critical"], ("30.00", "critical"), []),
        # crossings up: recovery into Good / Healthy, milestone into Healthy
        (LOGINS["good"], ("60.00", "at_risk"), ["celebration"]),
        (LOGINS["healthy"], ("20.00", "critical"), ["celebration"]),
        (LOGINS["healthy"], ("75.00", "good"), ["celebration"]),
        (LOGINS["at_risk"], ("20.00", "critical"), []),  # still at risk: nothing to celebrate
        # unknown before: treated like a first score
        (LOGINS["at_risk"], ("", "unknown"), ["health_decline"]),
    ],
)
def test_band_triggers_fire_on_crossings(
    logins: str, previous: tuple[str, str] | None, expected: list[str]
) -> None:
    assert fired(company(logins, previous)) == expected


def test_what_is_written_records_the_trend_and_the_model() -> None:
    h = assess("1001", company(LOGINS["at_risk"], ("72.00", "good")), MODEL, PLAN, SWEEP)
    assert h is not None
    assert h.properties == {
        hp.SCORE: "60.00",
        hp.CATEGORY: "at_risk",
        hp.CATEGORY_LABEL: "At risk",
        hp.MODEL: "logins v3",
        hp.LOW_CONFIDENCE: "false",
        hp.BREAKDOWN: '{"usage":60.0}',
        hp.PREVIOUS_SCORE: "72.00",
        hp.PREVIOUS_CATEGORY: "good",
        hp.PREVIOUS_BREAKDOWN: "",
        hp.PREVIOUS_MODEL: "",
        hp.DELTA: "-12.00",
        hp.SCORED_AT: STAMP,
        hp.seen_property("at_risk"): STAMP,
        hp.cooldown_property("health_decline"): STAMP,
    }
    assert h.previous_score == 72.0 and h.delta == -12.0


def test_unknown_score_writes_blank_and_fires_nothing() -> None:
    h = assess("1001", company(None, ("72.00", "good")), MODEL, PLAN, SWEEP)
    assert h is not None
    assert (h.category.value, h.properties[hp.SCORE], h.properties[hp.DELTA]) == ("unknown", "", "")
    assert h.fired == []


@pytest.mark.parametrize(
    ("last_alert", "fires"),
    [
        (SWEEP - timedelta(days=3), False),
        (SWEEP - timedelta(days=13, hours=23), False),
        (SWEEP - timedelta(days=14), True),  # cooldown_days: 14
        (SWEEP - timedelta(days=40), True),
    ],
)
def test_a_trigger_stays_quiet_for_its_cooldown(last_alert: datetime, fires: bool) -> None:
    props = company(
        LOGINS["at_risk"],
        ("72.00", "good"),
        **{hp.cooldown_property("health_decline"): sweep_stamp(last_alert)},
    )
    h = assess("1001", props, MODEL, PLAN, SWEEP)
    assert h is not None
    assert [f.trigger for f in h.fired] == ([Trigger.HEALTH_DECLINE] if fires else [])
    stamp = h.properties.get(hp.cooldown_property("health_decline"))
    assert stamp == (STAMP if fires else None)  # a quiet trigger keeps its old stamp


def test_a_retried_page_sees_the_same_previous_score_and_fires_again() -> None:
    """The page wrote this sweep's score, then crashed: the retry must decide the same."""
    first = assess("1001", company(LOGINS["at_risk"], ("72.00", "good")), MODEL, PLAN, SWEEP)
    assert first is not None
    after_write = {**company(LOGINS["at_risk"]), **first.properties}
    again = assess("1001", after_write, MODEL, PLAN, SWEEP)
    assert again is not None
    assert again.properties == first.properties
    assert [f.trigger for f in again.fired] == [Trigger.HEALTH_DECLINE]
    # The next day's sweep sees yesterday's score as the previous one: no news.
    tomorrow = assess("1001", after_write, MODEL, PLAN, SWEEP + timedelta(days=1))
    assert tomorrow is not None
    assert tomorrow.fired == [] and tomorrow.previous_score == 60.0 and tomorrow.delta == 0


def test_a_company_scored_by_a_later_sweep_is_left_alone() -> None:
    props = company(LOGINS["at_risk"], ("72.00", "good"))
    props[hp.SCORED_AT] = "2026-11-24T06:00:00Z"
    assert assess("1001", props, MODEL, PLAN, SWEEP) is None


@pytest.mark.parametrize(
    ("seats", "runs", "expected"),
    [
        (("17", "20"), None, ["usage_limit"]),  # exactly 85 %
        (("16", "20"), None, []),  # 80 %: Good is not enough for expansion
        # runs (the sweep is on Nov 23rd at 06:00, 22.25 days into the month): 851 runs is
        # 38.25 a day, the limit 3.9 days away → warned; 700 is 31.5 a day, 9.5 days away
        (None, ("851", "1000"), ["usage_limit"]),
        (None, ("700", "1000"), []),
        (None, ("1000", "1000"), ["usage_limit"]),  # reached
        (("1", "0"), None, []),  # no limit known
    ],
)
def test_usage_seats_at_85_percent_runs_7_days_before_the_limit(
    seats: tuple[str, str] | None, runs: tuple[str, str] | None, expected: list[str]
) -> None:
    extra: dict[str, str] = {}
    if seats:
        extra |= {"cshub_active_users": seats[0], "cshub_licensed_seats": seats[1]}
    if runs:
        extra |= {"cshub_workflow_runs": runs[0], "cshub_workflow_limit": runs[1]}
    # At risk: no expansion signal muddles the picture
    assert fired(company(LOGINS["at_risk"], ("60.00", "at_risk"), **extra)) == expected


def test_expansion_needs_good_health_and_usage_near_a_limit() -> None:
    seats_80 = {"cshub_active_users": "16", "cshub_licensed_seats": "20"}
    assert fired(company(LOGINS["healthy"], ("90.00", "healthy"), **seats_80)) == ["expansion"]
    full = {"cshub_active_users": "20", "cshub_licensed_seats": "20"}
    assert fired(company(LOGINS["healthy"], ("90.00", "healthy"), **full)) == [
        "expansion",
        "usage_limit",
    ]
    assert fired(company(LOGINS["good"], ("75.00", "good"), **seats_80)) == []  # Healthy only
    assert fired(company(LOGINS["at_risk"], ("60.00", "at_risk"), **full)) == ["usage_limit"]
    seats_75 = {"cshub_active_users": "15", "cshub_licensed_seats": "20"}
    assert fired(company(LOGINS["healthy"], ("90.00", "healthy"), **seats_75)) == []


@pytest.mark.parametrize(
    ("adopted", "age_days", "fires"),
    [("2", 31, True), ("2", 29, False), ("3", 60, False), ("2", 30, True)],
)
def test_low_adoption_after_30_days(adopted: str, age_days: int, fires: bool) -> None:
    props = company(
        LOGINS["good"],
        ("72.00", "good"),
        cshub_features_adopted=adopted,
        cshub_features_available="10",
        createdate=sweep_stamp(SWEEP - timedelta(days=age_days)),
    )
    assert fired(props) == (["low_adoption"] if fires else [])


def test_a_running_churn_campaign_is_flagged_when_the_score_moves() -> None:
    base = company(LOGINS["at_risk"], ("55.00", "at_risk"), cshub_churn_campaign_outcome="active")
    h = assess("1001", base, MODEL, PLAN, SWEEP)
    assert h is not None and h.churn_campaign_active and h.changed
    same = company(LOGINS["at_risk"], ("60.00", "at_risk"), cshub_churn_campaign_outcome="active")
    h2 = assess("1001", same, MODEL, PLAN, SWEEP)
    assert h2 is not None and h2.churn_campaign_active and not h2.changed


def test_weakest_dimensions_and_breakdown_under_seed001() -> None:
    model = load_health_models().for_tier("enterprise")
    props = {
        "cshub_active_users": "17",
        "cshub_licensed_seats": "20",
        "cshub_features_adopted": "18",
        "cshub_features_available": "25",
        "cshub_workflow_runs": "39",
        "cshub_workflow_limit": "50",
    }
    h = assess("1001", props, model, PLAN, SWEEP)
    assert h is not None
    assert h.low_confidence and h.model == f"seed001 v{model.version}"
    breakdown = json.loads(h.properties[hp.BREAKDOWN])
    assert list(breakdown) == [d.name for d in model.dimensions]
    assert breakdown["product_usage"] == pytest.approx(91.67)  # (100 + 100 + 75) / 3
    assert [w["label"] for w in h.weakest] == ["Product usage"]
    assert h.usage is not None and h.usage.limit_name == "licensed seats"
    assert h.usage.percent == 85.0


def run_sweeps(days: list[tuple[int, str]]) -> list[list[str]]:
    """Sweep one company on each (day, logins) and apply what was written, like the CRM."""
    props: dict[str, str | None] = {}
    out: list[list[str]] = []
    for day, logins in days:
        props["cshub_login_days_30d"] = logins
        h = assess("1001", props, MODEL, PLAN, SWEEP + timedelta(days=day))
        assert h is not None
        props.update(h.properties)
        out.append(sorted(f.trigger.value for f in h.fired))
    return out


def test_a_drop_during_a_cooldown_alerts_when_the_cooldown_ends() -> None:
    """Healthy → Critical, a day back in Good, Critical again: the second drop falls in
    the 14-day cooldown, and fires once it is over while the company is still there."""
    fired = run_sweeps(
        [
            (0, LOGINS["healthy"]),
            (1, LOGINS["critical"]),
            (2, LOGINS["good"]),
            (3, LOGINS["critical"]),
            (14, LOGINS["critical"]),
            (15, LOGINS["critical"]),
            (16, LOGINS["critical"]),
        ]
    )
    assert fired == [
        [],
        ["critical", "health_decline"],
        ["celebration"],  # recovery
        [],  # cooldown: 2 days after the last alerts
        [],  # 13 days after
        ["critical", "health_decline"],  # 14 days: the pending drop alerts now
        [],  # once per visit
    ]


def test_staying_in_a_band_alerts_once_and_leaving_it_rearms() -> None:
    fired = run_sweeps(
        [(0, LOGINS["at_risk"])]
        + [(d, LOGINS["at_risk"]) for d in range(1, 40)]
        + [(40, LOGINS["good"]), (41, LOGINS["at_risk"]), (80, LOGINS["healthy"])]
    )
    assert fired[0] == ["health_decline"]  # a first score At risk
    assert all(f == [] for f in fired[1:40])  # 39 more days At risk: nothing
    assert fired[40] == ["celebration"]  # recovery into Good
    assert fired[41] == ["health_decline"]  # 41 days since the first alert: re-armed
    assert fired[42] == ["celebration"]  # milestone 39 days after the recovery


def test_a_retry_recognises_its_stamps_in_hubspots_datetime_format() -> None:
    """A date-time property comes back with milliseconds (…06:00:00.000Z)."""
    first = assess("1001", company(LOGINS["critical"], ("72.00", "good")), MODEL, PLAN, SWEEP)
    assert first is not None
    written = {
        k: v.replace("Z", ".000Z") if v.endswith(":00Z") else v for k, v in first.properties.items()
    }
    again = assess("1001", {**company(LOGINS["critical"]), **written}, MODEL, PLAN, SWEEP)
    assert again is not None
    assert sorted(f.trigger for f in again.fired) == sorted(f.trigger for f in first.fired)
    assert again.previous_score == 72.0


def test_a_quiet_sweep_records_scores_and_fires_nothing() -> None:
    props = company(LOGINS["critical"], cshub_active_users="20", cshub_licensed_seats="20")
    h = assess("1001", props, MODEL, PLAN, SWEEP, quiet=True)  # never scored before
    assert h is not None and h.fired == []
    assert h.properties[hp.SCORE] == "20.00"
    assert h.properties[hp.seen_property("critical")] == STAMP
    assert not any(k.startswith(hp.COOLDOWN_PREFIX) for k in h.properties)
    # After a quiet baseline, a company that stays Critical is not alerted later either.
    later = assess("1001", {**props, **h.properties}, MODEL, PLAN, SWEEP + timedelta(days=1))
    assert later is not None
    assert [f.trigger for f in later.fired] == [Trigger.USAGE_LIMIT]  # a level trigger


@pytest.mark.parametrize(
    ("logins", "previous", "rating", "expected"),
    [
        ("healthy", ("90.00", "healthy"), "excellent", ["expansion"]),
        ("healthy", ("90.00", "healthy"), "Good", ["expansion"]),  # dropdown case ignored
        ("healthy", ("90.00", "healthy"), "fair", []),  # "open to discussions": not yet
        ("healthy", ("90.00", "healthy"), None, []),
        ("good", ("75.00", "good"), "excellent", []),  # Healthy only
    ],
)
def test_expansion_fires_for_a_healthy_account_rated_upgrade_ready(
    logins: str, previous: tuple[str, str], rating: str | None, expected: list[str]
) -> None:
    """Issue 24: the CSM's upgrade-readiness rating (stored, and read by seed 001's growth
    dimension) is an expansion signal on its own, with no usage near a limit. Before: only
    usage at 80 % of a limit fired it."""
    extra = {"cshub_health_upgrade_readiness": rating} if rating else {}
    props = company(LOGINS[logins], previous, **extra)
    assert fired(props) == expected
    if expected:
        h = assess("1001", props, MODEL, PLAN, SWEEP)
        assert h is not None
        assert [f.reason for f in h.fired] == [
            f"Healthy and rated upgrade-ready ({str(rating).lower()})"
        ]


@pytest.mark.parametrize(
    ("as_of", "runs", "days", "fires"),
    [
        # Nov 5th 00:00: 4 days elapsed, 600 runs = 150 a day, 400 left → 2.7 days
        ("2026-11-05T00:00:00Z", "600", 2.7, True),  # at 60 %: the 85 % rule said nothing
        # Nov 29th 00:00: 28 days, 900 runs = 32.1 a day, 100 left → 3.1 days, but the
        # counter resets on Dec 1st (2 days) first
        ("2026-11-29T00:00:00Z", "900", None, False),  # at 90 %: the 85 % rule warned
        # Nov 11th 00:00: 10 days, 500 runs = 50 a day, 500 left → 10 days
        ("2026-11-11T00:00:00Z", "500", 10.0, False),
        # Nov 16th 00:00: 15 days, 700 = 46.7 a day, 300 left → 6.4 days
        ("2026-11-16T00:00:00Z", "700", 6.4, True),
    ],
)
def test_usage_limit_is_a_projection_7_days_ahead(
    as_of: str, runs: str, days: float | None, fires: bool
) -> None:
    """Issue 24: seed 001 warns "7 days before limit reached"; the sweep warned at 85 %
    whatever the pace. The projection uses the figures' own time (cshub_usage_as_of)."""
    from domain.health_outreach import runs_projection

    extra = {
        "cshub_workflow_runs": runs,
        "cshub_workflow_limit": "1000",
        "cshub_usage_as_of": as_of,
    }
    props = company(LOGINS["at_risk"], ("60.00", "at_risk"), **extra)
    projection = runs_projection(props, SWEEP)
    assert (projection.days_to_limit if projection else None) == days
    assert fired(props) == (["usage_limit"] if fires else [])


@pytest.mark.parametrize(
    ("snoozed_until", "expected"),
    [
        (SWEEP + timedelta(seconds=1), ["critical"]),  # snoozed: the decline alert waits
        (SWEEP + timedelta(days=6, hours=23), ["critical"]),
        (SWEEP, ["critical", "health_decline"]),  # the snooze ended at the sweep
        (SWEEP - timedelta(days=1), ["critical", "health_decline"]),
        (None, ["critical", "health_decline"]),
    ],
)
def test_a_health_snooze_from_slack_holds_the_decline_alert_until_it_ends(
    snoozed_until: datetime | None, expected: list[str]
) -> None:
    """``cshub_health_alerts_snoozed_until`` (a *Snooze N days* click on a health alert)
    holds the health-decline alert and its task; the churn campaign (critical) is not an
    alert and still starts; a held decline is not stamped (no cooldown starts from it)."""
    extra = {} if snoozed_until is None else {hp.ALERTS_SNOOZED_UNTIL: sweep_stamp(snoozed_until)}
    props = company(LOGINS["critical"], ("72.00", "good"), **extra)
    assert fired(props) == expected
    h = assess("1001", props, MODEL, PLAN, SWEEP)
    assert h is not None
    stamped = hp.cooldown_property("health_decline") in h.properties
    assert stamped == ("health_decline" in expected)
