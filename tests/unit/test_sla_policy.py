"""The SLA playbook (playbooks/sla.yaml): it loads, follows the seeds, the stricter of
severity and tier wins, and a broken file names its bad fields. Pure: no Temporal
server, no network."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.business_time import add_business_time
from domain.sla_policy import (
    EffectiveTargets,
    SlaPolicy,
    effective_targets,
    severity_for_priority,
)
from domain.support_records import Severity
from domain.tiers import Tier
from playbooks.loader import CAMPAIGN_PLAYBOOKS, PACKAGE_DIR, PlaybookError, load_playbook
from templates.renderer import slack_template_names

ET = ZoneInfo("America/New_York")
SHIPPED = PACKAGE_DIR / "sla.yaml"


@pytest.fixture(autouse=True)
def shipped_playbooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSHUB_PLAYBOOKS_DIR", str(PACKAGE_DIR))


@pytest.fixture
def policy() -> SlaPolicy:
    # Holiday rules expand around a fixed day: the test does not depend on today's date.
    return load_playbook("sla", SlaPolicy, today=date(2026, 6, 1))


def test_shipped_policy_loads_and_is_validated_with_the_playbooks(policy: SlaPolicy) -> None:
    assert CAMPAIGN_PLAYBOOKS["sla"] is SlaPolicy
    assert policy.name == "sla"
    assert {policy.warning_template, policy.breach_template} <= set(slack_template_names())


def test_shipped_policy_follows_the_seeds(policy: SlaPolicy) -> None:
    minutes = {
        s: (t.first_response, t.resolution, t.status_update_every)
        for s, t in policy.severities.items()
    }
    assert minutes == {
        Severity.CRITICAL: (15, 4 * 60, 30),
        Severity.HIGH: (60, 8 * 60, 2 * 60),
        Severity.MEDIUM: (4 * 60, 24 * 60, 4 * 60),
        Severity.LOW: (24 * 60, 72 * 60, None),
    }
    assert {n: t.first_response for n, t in policy.tiers.items()} == {
        "community": 24 * 60,
        "starter": 24 * 60,
        "professional": 4 * 60,
        "agency": 2 * 60,
        "enterprise": 60,
    }
    assert {t.value for t in Tier} <= set(policy.tiers)
    assert policy.default_tier == "starter"
    assert policy.warn_at_fraction == 0.75
    assert policy.pause_resolution_on == ["pending", "hold"]
    assert [level.name for level in policy.escalation] == [
        "support specialist",
        "senior support",
        "engineering",
        "engineering director",
    ]
    assert [level.zendesk_priority for level in policy.escalation] == [
        None,
        "high",
        "urgent",
        "urgent",
    ]
    # Only the engineering level moves the ticket: to the sandbox's "Engineering" group.
    assert [level.group_id for level in policy.escalation] == [None, None, 103, None]
    assert all(level.tag and level.slack_channel for level in policy.escalation[1:])
    assert policy.auto_acknowledge.enabled is False
    assert "{response_target}" in policy.auto_acknowledge.comment


def test_calendars(policy: SlaPolicy) -> None:
    assert policy.calendars["always"].always_open
    us = policy.calendars["us_business"]
    assert (us.timezone, us.weekdays, us.open_hour, us.close_hour) == (
        "America/New_York",
        [0, 1, 2, 3, 4],
        8,
        20,
    )
    assert {d.year for d in us.holidays} == {2025, 2026, 2027, 2028}  # from the rules
    assert len([d for d in us.holidays if d.year == 2026]) >= 10
    assert len([d for d in us.holidays if d.year == 2027]) >= 10
    # July 4, 2026 is a Saturday: the Friday before is the observed (weekday) holiday.
    assert {date(2026, 7, 3), date(2026, 7, 4)} <= set(us.holidays)
    assert {date(2026, 12, 25), date(2026, 11, 26), date(2027, 7, 5)} <= set(us.holidays)
    assert [n for n, t in policy.tiers.items() if t.calendar == "always"] == ["enterprise"]


# Expected first response (minutes) for tier x severity: min(severity, tier).
STRICTER: dict[str, dict[Severity, int]] = {
    "community": {Severity.CRITICAL: 15, Severity.HIGH: 60, Severity.MEDIUM: 240, Severity.LOW: 1440},
    "starter": {Severity.CRITICAL: 15, Severity.HIGH: 60, Severity.MEDIUM: 240, Severity.LOW: 1440},
    "professional": {Severity.CRITICAL: 15, Severity.HIGH: 60, Severity.MEDIUM: 240, Severity.LOW: 240},
    "agency": {Severity.CRITICAL: 15, Severity.HIGH: 60, Severity.MEDIUM: 120, Severity.LOW: 120},
    "enterprise": {Severity.CRITICAL: 15, Severity.HIGH: 60, Severity.MEDIUM: 60, Severity.LOW: 60},
}  # fmt: skip
RESOLUTION = {Severity.CRITICAL: 240, Severity.HIGH: 480, Severity.MEDIUM: 1440, Severity.LOW: 4320}
UPDATES = {Severity.CRITICAL: 30, Severity.HIGH: 120, Severity.MEDIUM: 240, Severity.LOW: None}


@pytest.mark.parametrize(
    ("tier", "severity"),
    [(t, s) for t in STRICTER for s in Severity],
    ids=[f"{t}-{s.value}" for t in STRICTER for s in Severity],
)
def test_the_stricter_of_severity_and_tier_wins(
    policy: SlaPolicy, tier: str, severity: Severity
) -> None:
    targets = effective_targets(policy, severity, tier)
    assert targets.first_response == timedelta(minutes=STRICTER[tier][severity])
    assert targets.resolution == timedelta(minutes=RESOLUTION[severity])
    every = UPDATES[severity]
    assert targets.status_update_every == (timedelta(minutes=every) if every else None)
    assert targets.calendar.name == ("always" if tier == "enterprise" else "us_business")
    assert (targets.severity, targets.tier) == (severity, tier)
    tier_minutes = policy.tiers[tier].first_response
    severity_minutes = policy.severities[severity].first_response
    assert targets.first_response_set_by == (
        "tier" if tier_minutes < severity_minutes else "severity"
    )


@pytest.mark.parametrize(
    ("tier", "used"),
    [(None, "starter"), ("", "starter"), ("platinum", "starter"), (" Enterprise ", "enterprise")],
)
def test_unknown_tier_uses_the_default(policy: SlaPolicy, tier: str | None, used: str) -> None:
    assert effective_targets(policy, Severity.LOW, tier).tier == used


@pytest.mark.parametrize(
    ("priority", "severity"),
    [
        ("urgent", Severity.CRITICAL),
        ("high", Severity.HIGH),
        ("normal", Severity.MEDIUM),
        ("low", Severity.LOW),
        ("URGENT", Severity.CRITICAL),
        (" High ", Severity.HIGH),
        (None, Severity.MEDIUM),
        ("", Severity.MEDIUM),
        ("blocker", Severity.MEDIUM),
    ],
)
def test_severity_for_priority(policy: SlaPolicy, priority: str | None, severity: Severity) -> None:
    assert severity_for_priority(policy, priority) is severity


def test_enterprise_ticket_at_3am_saturday_is_due_15_minutes_later(policy: SlaPolicy) -> None:
    targets = effective_targets(policy, severity_for_priority(policy, "urgent"), "enterprise")
    created = datetime(2026, 1, 3, 3, tzinfo=UTC)  # a Saturday
    due = add_business_time(targets.calendar, created, targets.first_response)
    assert due == datetime(2026, 1, 3, 3, 15, tzinfo=UTC)


def test_starter_medium_ticket_friday_evening_is_due_monday(policy: SlaPolicy) -> None:
    targets = effective_targets(policy, severity_for_priority(policy, "normal"), "starter")
    assert targets.first_response == timedelta(hours=4)  # min(4 h, 24 h)
    created = datetime(2026, 1, 9, 19, 30, tzinfo=ET).astimezone(UTC)  # Friday 19:30 ET
    due = add_business_time(targets.calendar, created, targets.first_response)
    assert due == datetime(2026, 1, 12, 11, 30, tzinfo=ET)  # 30 min Friday + 3.5 h Monday


def test_thanksgiving_and_christmas_are_closed_in_the_shipped_calendar(policy: SlaPolicy) -> None:
    cal = effective_targets(policy, Severity.HIGH, "professional").calendar
    wed = datetime(2026, 11, 25, 19, 30, tzinfo=ET)  # Thanksgiving Thursday + Friday off
    assert add_business_time(cal, wed, timedelta(hours=1)) == datetime(
        2026, 11, 30, 8, 30, tzinfo=ET
    )
    thu = datetime(2026, 12, 24, 19, tzinfo=ET)  # Christmas Friday off
    assert add_business_time(cal, thu, timedelta(hours=2)) == datetime(2026, 12, 28, 9, tzinfo=ET)


def test_policy_and_targets_survive_a_temporal_round_trip(policy: SlaPolicy) -> None:
    converter = pydantic_data_converter.payload_converter
    for value, kind in (
        (policy, SlaPolicy),
        (effective_targets(policy, Severity.HIGH, "agency"), EffectiveTargets),
    ):
        payload = converter.to_payloads([value])
        assert converter.from_payloads(payload, [kind]) == [value]


# ---------------------------------------------------------------- broken files


def _shipped() -> dict[str, Any]:
    raw = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw


def _drop_severity(raw: dict[str, Any]) -> None:
    del raw["severities"]["low"]


def _unknown_calendar(raw: dict[str, Any]) -> None:
    raw["tiers"]["starter"]["calendar"] = "uk_business"


def _one_level(raw: dict[str, Any]) -> None:
    raw["escalation"] = raw["escalation"][:1]


def _bad_zone(raw: dict[str, Any]) -> None:
    raw["calendars"]["us_business"]["timezone"] = "America/Nowhere"


def _bad_hours(raw: dict[str, Any]) -> None:
    raw["calendars"]["us_business"]["close_hour"] = 8


def _bad_default_tier(raw: dict[str, Any]) -> None:
    raw["default_tier"] = "gold"


def _missing_tier(raw: dict[str, Any]) -> None:
    del raw["tiers"]["professional"]


def _bad_priority(raw: dict[str, Any]) -> None:
    raw["priority_to_severity"]["urgnt"] = "critical"


def _bad_fraction(raw: dict[str, Any]) -> None:
    raw["warn_at_fraction"] = 1.5


def _bad_pause(raw: dict[str, Any]) -> None:
    raw["pause_resolution_on"] = ["pending", "open"]


def _bad_channel(raw: dict[str, Any]) -> None:
    raw["escalation"][2]["slack_channel"] = "#engineering"


def _bad_placeholder(raw: dict[str, Any]) -> None:
    raw["auto_acknowledge"]["comment"] = "Hi {requester_name}, we answer within {response_target}."


def _no_tag(raw: dict[str, Any]) -> None:
    del raw["escalation"][1]["tag"]


def _priority_lowered(raw: dict[str, Any]) -> None:
    raw["escalation"][3]["zendesk_priority"] = "normal"


def _unknown_field(raw: dict[str, Any]) -> None:
    raw["warn_at_percent"] = 75


def _resolution_too_short(raw: dict[str, Any]) -> None:
    raw["severities"]["high"]["resolution"] = 30


BROKEN = [
    (_drop_severity, "severities", "missing ['low']"),
    (_unknown_calendar, "tiers", "'uk_business' is not one of the calendars"),
    (_one_level, "escalation", "at least 2"),
    (_bad_zone, "calendars.us_business.timezone", "America/Nowhere"),
    (_bad_hours, "calendars.us_business", "close_hour"),
    (_bad_default_tier, "default_tier", "'gold'"),
    (_missing_tier, "tiers", "missing ['professional']"),
    (_bad_priority, "priority_to_severity.urgnt", "'urgent'"),
    (_bad_fraction, "warn_at_fraction", "less than 1"),
    (_bad_pause, "pause_resolution_on[1]", "'hold'"),
    (_bad_channel, "escalation[2].slack_channel", "pattern"),
    (_bad_placeholder, "auto_acknowledge.comment", "{requester_name}"),
    (_no_tag, "escalation", "[1].tag"),
    (_priority_lowered, "escalation", "[3].zendesk_priority"),
    (_unknown_field, "warn_at_percent", "Extra inputs"),
    (_resolution_too_short, "severities.high", "resolution"),
]


@pytest.mark.parametrize(
    ("breaks", "field", "message"), BROKEN, ids=[b[0].__name__.strip("_") for b in BROKEN]
)
def test_a_broken_policy_names_the_field(
    tmp_path: Path, breaks: Any, field: str, message: str
) -> None:
    raw = _shipped()
    breaks(raw)
    (tmp_path / "sla.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(PlaybookError) as info:
        load_playbook("sla", SlaPolicy, tmp_path)
    problems = [(p.field, p.message) for p in info.value.problems]
    assert any(f.startswith(field) and message in m for f, m in problems), problems


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    raw = _shipped()
    _bad_fraction(raw)
    _bad_zone(raw)
    _bad_channel(raw)
    (tmp_path / "sla.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(PlaybookError) as info:
        load_playbook("sla", SlaPolicy, tmp_path)
    fields = {p.field for p in info.value.problems}
    assert {
        "warn_at_fraction",
        "calendars.us_business.timezone",
        "escalation[2].slack_channel",
    } <= fields
