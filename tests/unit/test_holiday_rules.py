"""Support holidays as rules (the `holidays` package, pinned): the SLA calendars work in
any year without editing, other countries' calendars compute their own holidays, and a
calendar without holiday data for the next 12 months fails validation. The dates are
expanded by the load_playbook activity, outside the workflow, and travel in its result."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from temporalio.testing import ActivityEnvironment

from activities.playbooks import LoadPlaybookRequest, load_playbook_activity
from domain.business_time import BusinessCalendar, add_business_time
from domain.holiday_rules import HolidayRuleError, HolidayRules, holiday_dates
from domain.sla_policy import SlaPolicy
from playbooks.loader import PACKAGE_DIR, PlaybookError, load_playbook, validate_all

ET = ZoneInfo("America/New_York")

# What playbooks/sla.yaml listed by hand for 2026-27 (US federal minus Columbus and
# Veterans Day, plus the day after Thanksgiving, observed days on weekdays).
HAND_LIST_2026_27 = [
    "2026-01-01",
    "2026-01-19",
    "2026-02-16",
    "2026-05-25",
    "2026-06-19",
    "2026-07-03",
    "2026-09-07",
    "2026-11-26",
    "2026-11-27",
    "2026-12-25",
    "2027-01-01",
    "2027-01-18",
    "2027-02-15",
    "2027-05-31",
    "2027-06-18",
    "2027-07-05",
    "2027-09-06",
    "2027-11-25",
    "2027-11-26",
    "2027-12-24",
    "2027-12-31",
]


def _us(today: date) -> BusinessCalendar:
    return load_playbook("sla", SlaPolicy, today=today).calendars["us_business"]


def _weekdays(cal: BusinessCalendar, *years: int) -> list[str]:
    return [d.isoformat() for d in cal.holidays if d.year in years and d.weekday() < 5]


def test_the_rules_give_exactly_the_list_the_team_kept_by_hand() -> None:
    assert _weekdays(_us(date(2026, 12, 7)), 2026, 2027) == HAND_LIST_2026_27


def test_2028_and_2029_carry_their_holidays() -> None:
    cal = _us(date(2028, 3, 1))
    assert _weekdays(cal, 2028) == [
        "2028-01-17",  # Martin Luther King Jr. Day
        "2028-02-21",  # Washington's Birthday
        "2028-05-29",  # Memorial Day
        "2028-06-19",  # Juneteenth
        "2028-07-04",  # Independence Day
        "2028-09-04",  # Labor Day
        "2028-11-23",  # Thanksgiving
        "2028-11-24",  # the day after (the team's addition)
        "2028-12-25",  # Christmas
    ]  # no Columbus Day (Oct 9) nor Veterans Day (observed Fri Nov 10): the team works them
    assert _weekdays(cal, 2029) == [
        "2029-01-01",
        "2029-01-15",
        "2029-02-19",
        "2029-05-28",
        "2029-06-19",
        "2029-07-04",
        "2029-09-03",
        "2029-11-22",
        "2029-11-23",
        "2029-12-25",
    ]
    # The clock skips them: Wednesday 19:00 before Thanksgiving 2028 + 2 business hours
    # is Monday 09:00 (Thursday and Friday closed, then the weekend).
    due = add_business_time(cal, datetime(2028, 11, 22, 19, tzinfo=ET), timedelta(hours=2))
    assert due == datetime(2028, 11, 27, 9, tzinfo=ET).astimezone(UTC)


def test_tokyo_and_berlin_calendars_compute_their_own() -> None:
    tokyo = holiday_dates(HolidayRules(country="JP"), [2027])  # national holidays
    assert {date(2027, 1, 11), date(2027, 5, 3), date(2027, 5, 4), date(2027, 5, 5)} <= set(
        tokyo
    )  # Coming of Age Day, Golden Week
    assert date(2027, 11, 25) not in tokyo  # no Thanksgiving in Japan
    berlin = holiday_dates(HolidayRules(country="DE", subdivision="BE"), [2027])
    bavaria = holiday_dates(HolidayRules(country="DE", subdivision="BY"), [2027])
    assert date(2027, 3, 8) in berlin and date(2027, 3, 8) not in bavaria  # Women's Day
    assert date(2027, 1, 6) in bavaria and date(2027, 1, 6) not in berlin  # Epiphany
    assert date(2027, 10, 3) in berlin and date(2027, 10, 3) in bavaria  # German Unity Day


def test_misspelt_names_and_unknown_places_are_refused_with_what_is_known() -> None:
    with pytest.raises(HolidayRuleError, match=r"'Columbus day'.*its holidays are: .*Columbus Day"):
        holiday_dates(HolidayRules(country="US", exclude=["Columbus day"]), [2027])
    with pytest.raises(HolidayRuleError, match="does not have subdivision ZZ"):
        holiday_dates(HolidayRules(country="DE", subdivision="ZZ"), [2027])
    with pytest.raises(HolidayRuleError, match="Country XX not available"):
        holiday_dates(HolidayRules(country="XX"), [2027])


def _playbooks(tmp_path: Path, calendar: dict[str, Any]) -> Path:
    root = tmp_path / "playbooks"
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    sla = root / "sla.yaml"
    raw = yaml.safe_load(sla.read_text())
    raw["calendars"]["us_business"] = {"name": "us_business", **calendar}
    sla.write_text(yaml.safe_dump(raw, sort_keys=False))
    return root


def test_a_calendar_without_next_years_holidays_fails_validation(tmp_path: Path) -> None:
    # The list the playbook had: fine in December 2026, not once 2027 has begun.
    hand = {"timezone": "America/New_York", "holidays": HAND_LIST_2026_27}
    root = _playbooks(tmp_path, hand)
    assert validate_all(root, today=date(2026, 12, 7))[1] == []
    _, problems = validate_all(root, today=date(2027, 2, 1))
    assert [(p.file.name, p.field) for p in problems] == [
        ("sla.yaml", "calendars.us_business.holidays")
    ]
    assert "its holiday list ends on 2027-12-31, before 2028-02-01" in problems[0].message
    result = subprocess.run(
        [sys.executable, "-m", "cshub", "playbooks", "validate", str(root), "--on", "2027-02-01"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "sla.yaml: calendars.us_business.holidays: calendar 'us_business'" in result.stderr

    # Rules whose country has no data for the coming year (Japan's end in 2099).
    root = _playbooks(
        tmp_path / "jp", {"timezone": "Asia/Tokyo", "holiday_rules": {"country": "JP"}}
    )
    assert validate_all(root, today=date(2098, 1, 10))[1] == []
    _, problems = validate_all(root, today=date(2100, 1, 10))
    assert [p.field for p in problems] == ["calendars.us_business.holidays"]
    assert "holiday rules give no holiday between 2100-01-10 and 2101-01-10" in problems[0].message


def test_a_misspelt_holiday_name_fails_validation_with_its_field(tmp_path: Path) -> None:
    rules = {"country": "US", "exclude": ["Veteran's Day"]}
    root = _playbooks(tmp_path, {"timezone": "America/New_York", "holiday_rules": rules})
    _, problems = validate_all(root, today=date(2027, 2, 1))
    assert [p.field for p in problems] == ["calendars.us_business.holiday_rules"]
    with pytest.raises(PlaybookError, match='no holiday named "Veteran\'s Day" in US'):
        load_playbook("sla", SlaPolicy, root, today=date(2027, 2, 1))


def test_the_activity_hands_the_workflow_dates_not_rules() -> None:
    """The loaded playbook is the activity's result, recorded in the workflow's history:
    a replay reads these dates back, whatever the package or the year says later."""
    env = ActivityEnvironment()
    # The Temporal server's clock (time-skipping in tests), not the worker machine's.
    env.info = dataclasses.replace(
        env.info, current_attempt_scheduled_time=datetime(2031, 5, 1, tzinfo=UTC)
    )
    before = os.environ.pop("CSHUB_PLAYBOOKS_DIR", None)
    try:
        raw = env.run(load_playbook_activity, LoadPlaybookRequest(kind="sla"))
    finally:
        if before is not None:
            os.environ["CSHUB_PLAYBOOKS_DIR"] = before
    us = raw["calendars"]["us_business"]
    assert {d.year for d in us["holidays"]} == {2030, 2031, 2032, 2033}
    assert us["holiday_rules"]["country"] == "US"  # kept, for the UI's readers
    policy = SlaPolicy.model_validate(raw)  # what the workflow does with it
    assert date(2032, 11, 26) in policy.calendars["us_business"].holidays  # day after T.


def test_the_teams_own_days_are_added_to_the_rules(tmp_path: Path) -> None:
    rules = {"country": "US", "exclude": ["Columbus Day", "Veterans Day"]}
    own = [date(2027, 3, 15), "2027-11-25", "2027-08-02"]  # an offsite, a duplicate, quoted
    root = _playbooks(
        tmp_path,
        {"timezone": "America/New_York", "holiday_rules": rules, "holidays": own},
    )
    days = _weekdays(
        load_playbook("sla", SlaPolicy, root, today=date(2027, 2, 1)).calendars["us_business"], 2027
    )
    assert {"2027-03-15", "2027-08-02", "2027-11-25"} <= set(days)
    assert days.count("2027-11-25") == 1
    assert "2027-11-26" not in days  # no closed_days_after here
