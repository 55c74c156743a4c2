"""Business-time arithmetic: calendars, weekends, holidays, DST, long durations and the
inverse property (a seeded random table, checked against a minute-by-minute reference).
Pure: no Temporal server, no network."""

from __future__ import annotations

import random
import time as clock
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from domain.business_time import (
    BusinessCalendar,
    add_business_time,
    business_time_between,
    is_open,
    next_opening,
)

ET = ZoneInfo("America/New_York")

ALWAYS = BusinessCalendar(name="always", always_open=True)
US = BusinessCalendar(
    name="us_business",
    timezone="America/New_York",
    holidays=[date(2026, 1, 19), date(2026, 12, 25), date(2027, 1, 1)],
)
"""8 AM - 8 PM New York, Monday to Friday."""
EVERY_DAY_ET = BusinessCalendar(
    name="every_day", timezone="America/New_York", weekdays=list(range(7)), open_hour=0,
    close_hour=24,
)  # fmt: skip
"""Every local hour of every day: a DST day has 23 or 25 business hours."""
BERLIN_SHORT = BusinessCalendar(
    name="berlin", timezone="Europe/Berlin", weekdays=[0, 2, 4], open_hour=9, close_hour=13,
    holidays=[date(2026, 3, 30)],
)  # fmt: skip
CALENDARS = [ALWAYS, US, EVERY_DAY_ET, BERLIN_SHORT]


def et(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A New York wall-clock time, as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ET).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


H = timedelta(hours=1)
M = timedelta(minutes=1)

# (case, calendar, start, business duration, expected end)
ADD_CASES: list[tuple[str, BusinessCalendar, datetime, timedelta, datetime]] = [
    ("enterprise: 03:00 Saturday, 24/7, 15 min", ALWAYS, utc(2026, 1, 3, 3), 15 * M,
     utc(2026, 1, 3, 3, 15)),
    ("enterprise: across the spring DST change, wall clock moves", ALWAYS,
     et(2026, 3, 8, 1, 30), 1 * H, et(2026, 3, 8, 3, 30)),
    ("starter medium: Friday 19:30 ET, 4 h -> Monday 11:30", US, et(2026, 1, 9, 19, 30),
     4 * H, et(2026, 1, 12, 11, 30)),
    ("inside the day", US, et(2026, 1, 6, 9), 2 * H, et(2026, 1, 6, 11)),
    ("before opening: counts from 08:00", US, et(2026, 1, 6, 6), 15 * M, et(2026, 1, 6, 8, 15)),
    ("ends exactly at closing", US, et(2026, 1, 6, 16), 4 * H, et(2026, 1, 6, 20)),
    ("Saturday: counts from Monday 08:00", US, et(2026, 1, 10, 12), 1 * H,
     et(2026, 1, 12, 9)),
    ("holiday Friday 2026-12-25: Thursday 18:00 + 4 h -> Monday 10:00", US,
     et(2026, 12, 24, 18), 4 * H, et(2026, 12, 28, 10)),
    ("started on the holiday itself", US, et(2026, 12, 25, 10), 30 * M, et(2026, 12, 28, 8, 30)),
    ("MLK Monday in a 72 h target: Tue 08:00 -> next Wed 20:00", US, et(2026, 1, 13, 8),
     72 * H, et(2026, 1, 21, 20)),
    ("New Year's Day holiday, then a weekend", US, et(2026, 12, 31, 19), 2 * H,
     et(2027, 1, 4, 9)),
    ("fall DST week: Fri 19:00 EDT + 4 h -> Mon 11:00 EST", US, et(2026, 10, 30, 19), 4 * H,
     et(2026, 11, 2, 11)),
    ("spring DST week: Fri 19:00 EST + 4 h -> Mon 11:00 EDT", US, et(2026, 3, 6, 19), 4 * H,
     et(2026, 3, 9, 11)),
    ("24 h business from Friday of the fall DST week", US, et(2026, 10, 30, 8), 24 * H,
     et(2026, 11, 2, 20)),
    ("spring-forward day has 23 hours", EVERY_DAY_ET, et(2026, 3, 8), 23 * H, et(2026, 3, 9)),
    ("fall-back day has 25 hours", EVERY_DAY_ET, et(2026, 11, 1), 25 * H, et(2026, 11, 2)),
    ("zero duration when open: start", US, et(2026, 1, 6, 9, 7), timedelta(0),
     et(2026, 1, 6, 9, 7)),
    ("zero duration at closing: next opening", US, et(2026, 1, 9, 20), timedelta(0),
     et(2026, 1, 12, 8)),
    ("Berlin Mon/Wed/Fri 9-13: a closed Monday and the European DST change", BERLIN_SHORT,
     datetime(2026, 3, 27, 12, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC), 5 * H,
     datetime(2026, 4, 1, 13, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("cal", "start", "duration", "expected"),
    [c[1:] for c in ADD_CASES],
    ids=[c[0] for c in ADD_CASES],
)
def test_add_business_time(
    cal: BusinessCalendar, start: datetime, duration: timedelta, expected: datetime
) -> None:
    end = add_business_time(cal, start, duration)
    assert end == expected
    assert end.tzinfo is UTC
    assert business_time_between(cal, start, end) == duration


def test_wall_clock_hours_stay_local_across_dst() -> None:
    # 08:00 New York is 13:00 UTC in winter and 12:00 UTC in summer.
    assert next_opening(US, utc(2026, 3, 6, 12)) == utc(2026, 3, 6, 13)
    assert next_opening(US, utc(2026, 3, 9, 11)) == utc(2026, 3, 9, 12)
    assert next_opening(US, utc(2026, 11, 2, 12)) == utc(2026, 11, 2, 13)
    # The week of each change has 5 x 12 business hours.
    for monday in (date(2026, 3, 2), date(2026, 3, 9), date(2026, 10, 26), date(2026, 11, 2)):
        start = datetime(monday.year, monday.month, monday.day, tzinfo=ET)
        assert business_time_between(US, start, start + timedelta(days=7)) == 60 * H


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (et(2026, 1, 6, 8), True),
        (et(2026, 1, 6, 7, 59, 59), False),
        (et(2026, 1, 6, 19, 59, 59), True),
        (et(2026, 1, 6, 20), False),
        (et(2026, 1, 10, 12), False),  # Saturday
        (et(2026, 1, 19, 12), False),  # MLK day, a holiday
        (et(2026, 12, 25, 12), False),  # Christmas, a holiday
        (et(2026, 3, 9, 8), True),  # first Monday of daylight time
        (et(2026, 11, 2, 8), True),  # first Monday of standard time
    ],
)
def test_is_open(at: datetime, expected: bool) -> None:
    assert is_open(US, at) is expected
    assert is_open(ALWAYS, at) is True


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (et(2026, 1, 6, 9, 30), et(2026, 1, 6, 9, 30)),
        (et(2026, 1, 6, 5), et(2026, 1, 6, 8)),
        (et(2026, 1, 9, 20), et(2026, 1, 12, 8)),
        (et(2026, 12, 24, 21), et(2026, 12, 28, 8)),
        (et(2026, 1, 16, 20), et(2026, 1, 20, 8)),  # weekend, then MLK Monday
    ],
)
def test_next_opening(at: datetime, expected: datetime) -> None:
    assert next_opening(US, at) == expected
    assert next_opening(ALWAYS, at) == at


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (et(2026, 1, 6, 9), et(2026, 1, 6, 9), timedelta(0)),
        (et(2026, 1, 6, 10), et(2026, 1, 6, 9), timedelta(0)),
        (et(2026, 1, 9, 19, 30), et(2026, 1, 12, 11, 30), 4 * H),
        (et(2026, 1, 10), et(2026, 1, 12), timedelta(0)),  # a weekend
        (et(2026, 1, 5), et(2026, 2, 2), 19 * 12 * H),  # 4 weeks, MLK day off
        (et(2026, 1, 1), et(2028, 1, 1), (2 * 261 - 3) * 12 * H),  # 2 years, 3 holidays
    ],
)
def test_business_time_between(start: datetime, end: datetime, expected: timedelta) -> None:
    assert business_time_between(US, start, end) == expected


def test_always_open_counts_every_minute() -> None:
    start, end = et(2026, 3, 7, 22), et(2026, 3, 9, 2)  # spring forward in between
    assert business_time_between(ALWAYS, start, end) == end - start == 27 * H


def _reference_minutes(cal: BusinessCalendar, start: datetime, end: datetime) -> int:
    """Minute-by-minute count from the local wall clock (the slow, obvious way)."""
    tz = ZoneInfo(cal.timezone)
    count, at = 0, start
    while at < end:
        local = at.astimezone(tz)
        if cal.always_open or (
            local.weekday() in cal.weekdays
            and local.date() not in cal.holidays
            and cal.open_hour <= local.hour < cal.close_hour
        ):
            count += 1
        at += M
    return count


@pytest.mark.parametrize("cal", CALENDARS, ids=[c.name for c in CALENDARS])
def test_matches_a_minute_by_minute_count_around_dst_and_holidays(
    cal: BusinessCalendar,
) -> None:
    rng = random.Random(f"reference-{cal.name}")
    windows = [et(2026, 3, 5), et(2026, 10, 29), et(2026, 12, 22), et(2026, 3, 26)]
    for _ in range(40):
        base = rng.choice(windows)
        start = base + rng.randrange(0, 6 * 24 * 60) * M
        end = start + rng.randrange(0, 5 * 24 * 60) * M
        expected = _reference_minutes(cal, start, end) * M
        assert business_time_between(cal, start, end) == expected, (start, end)


@pytest.mark.parametrize("cal", CALENDARS, ids=[c.name for c in CALENDARS])
def test_inverse_property(cal: BusinessCalendar) -> None:
    """business_time_between(start, add_business_time(start, d)) == d, and the end is the
    *first* such instant; over random starts in 2026-2027 and durations up to 200 h."""
    rng = random.Random(f"inverse-{cal.name}")
    first, span = utc(2026, 1, 1), 730 * 24 * 3600
    for _ in range(400):
        start = first + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6))
        duration = rng.choice(
            [
                timedelta(0),
                timedelta(seconds=rng.randrange(1, 3600)),
                timedelta(minutes=rng.choice([15, 60, 240, 480, 1440, 4320])),
                timedelta(seconds=rng.randrange(1, 200 * 3600), microseconds=rng.randrange(10**6)),
            ]
        )
        end = add_business_time(cal, start, duration)
        assert end >= start
        assert business_time_between(cal, start, end) == duration, (start, duration)
        if duration > timedelta(0):
            tick = timedelta(microseconds=1)
            assert business_time_between(cal, start, end - tick) < duration
            assert is_open(cal, end - tick)
        else:
            assert end == next_opening(cal, start)
            assert is_open(cal, end)


def test_long_durations_step_whole_days() -> None:
    started = clock.perf_counter()
    end = add_business_time(US, et(2026, 1, 5, 8), 4000 * H)  # ~333 business days
    total = business_time_between(US, et(2026, 1, 5, 8), end)
    assert total == 4000 * H
    assert clock.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "call",
    [
        lambda: add_business_time(US, datetime(2026, 1, 6, 9), H),
        lambda: business_time_between(US, et(2026, 1, 6, 9), datetime(2026, 1, 6, 10)),
        lambda: is_open(US, datetime(2026, 1, 6, 9)),
        lambda: add_business_time(US, et(2026, 1, 6, 9), -H),
    ],
    ids=["naive start", "naive end", "naive at", "negative duration"],
)
def test_rejects_naive_datetimes_and_negative_durations(call: Any) -> None:
    with pytest.raises(ValueError):
        call()


def test_input_in_any_zone_comes_back_in_utc() -> None:
    start = datetime(2026, 1, 9, 19, 30, tzinfo=ET)
    assert add_business_time(US, start, 4 * H) == et(2026, 1, 12, 11, 30)
    assert add_business_time(US, start, 4 * H).tzinfo is UTC


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"open_hour": 20, "close_hour": 8}, "close_hour"),
        ({"open_hour": 24}, "open_hour"),
        ({"close_hour": 25}, "close_hour"),
        ({"weekdays": [0, 7]}, "weekdays"),
        ({"weekdays": [1, 1]}, "weekdays"),
        ({"weekdays": []}, "weekdays"),
        ({"holidays": ["2026-13-01"]}, "holidays"),
        ({"opening": 8}, "opening"),
    ],
)
def test_invalid_calendars_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        BusinessCalendar.model_validate({"name": "x", **changes})
    assert field in str(info.value)


def test_always_open_needs_no_weekdays() -> None:
    cal = BusinessCalendar(name="always", always_open=True, weekdays=[])
    assert is_open(cal, utc(2026, 1, 3, 3))


# ------------------------------------------------------------------ east and west of UTC
# Calendars built here (not read from playbooks/sla.yaml), so the holiday list of the
# shipped policy can change without touching these tests.
TOKYO = BusinessCalendar(name="tokyo", timezone="Asia/Tokyo")  # 08-20 JST, UTC+9, no DST
LOS_ANGELES = BusinessCalendar(
    name="los_angeles", timezone="America/Los_Angeles", open_hour=9, close_hour=17,
    holidays=[date(2026, 7, 3)],
)  # fmt: skip
BERLIN = BusinessCalendar(name="berlin_week", timezone="Europe/Berlin", open_hour=9, close_hour=18)
AUCKLAND = BusinessCalendar(
    name="auckland_24_7_local", timezone="Pacific/Auckland", weekdays=list(range(7)),
    open_hour=0, close_hour=24,
)  # fmt: skip
"""Every local hour: 13 hours ahead of UTC in the southern summer, east of Tokyo too."""


def wall(tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).astimezone(UTC)


ZONE_CASES: list[tuple[str, BusinessCalendar, datetime, datetime, timedelta]] = [
    # Tokyo: the local day starts 9 hours before the UTC day.
    ("Tokyo Mon 19:00 -> Tue 08:30 is 1 h 30", TOKYO, wall("Asia/Tokyo", 2026, 1, 5, 19),
     wall("Asia/Tokyo", 2026, 1, 6, 8, 30), 90 * M),
    ("Tokyo Fri 19:30 -> Mon 08:30 (Mon 08:30 JST is Sun 23:30 UTC)", TOKYO,
     wall("Asia/Tokyo", 2026, 1, 9, 19, 30), wall("Asia/Tokyo", 2026, 1, 12, 8, 30), 60 * M),
    ("Tokyo a whole week ends Friday 20:00 JST (11:00 UTC)", TOKYO,
     wall("Asia/Tokyo", 2026, 1, 5), wall("Asia/Tokyo", 2026, 1, 9, 20), 60 * H),
    ("Tokyo Sat 07:00 JST (Fri 22:00 UTC) -> Mon 09:00", TOKYO,
     wall("Asia/Tokyo", 2026, 1, 10, 7), wall("Asia/Tokyo", 2026, 1, 12, 9), 1 * H),
    # Auckland: Tuesday 02:00 local is still Monday in UTC and in Tokyo.
    ("Auckland Mon 22:00 -> Tue 02:00 (Mon 13:00 UTC)", AUCKLAND,
     wall("Pacific/Auckland", 2026, 1, 5, 22), wall("Pacific/Auckland", 2026, 1, 6, 2), 4 * H),
    ("Auckland's own DST change (5 April 2026, 03:00 -> 02:00): a 25-hour day", AUCKLAND,
     wall("Pacific/Auckland", 2026, 4, 5), wall("Pacific/Auckland", 2026, 4, 6), 25 * H),
    # Los Angeles: the local day ends 8 hours after the UTC day (7 in summer).
    ("LA Mon 16:00 -> Tue 10:00 (Tue 00:00-02:00 UTC in between)", LOS_ANGELES,
     wall("America/Los_Angeles", 2026, 1, 5, 16), wall("America/Los_Angeles", 2026, 1, 6, 10),
     2 * H),
    ("LA Fri 16:30 PST before spring forward -> Mon 09:30 PDT", LOS_ANGELES,
     wall("America/Los_Angeles", 2026, 3, 6, 16, 30),
     wall("America/Los_Angeles", 2026, 3, 9, 9, 30), 60 * M),
    ("LA Fri 16:30 PDT before fall back -> Mon 09:30 PST", LOS_ANGELES,
     wall("America/Los_Angeles", 2026, 10, 30, 16, 30),
     wall("America/Los_Angeles", 2026, 11, 2, 9, 30), 60 * M),
    ("LA holiday Friday July 3rd is skipped", LOS_ANGELES,
     wall("America/Los_Angeles", 2026, 7, 2, 16), wall("America/Los_Angeles", 2026, 7, 6, 10),
     2 * H),
    # Berlin: both European DST changes (last Sunday of March and of October).
    ("Berlin Fri 17:00 CET -> Mon 10:00 CEST", BERLIN, wall("Europe/Berlin", 2026, 3, 27, 17),
     wall("Europe/Berlin", 2026, 3, 30, 10), 2 * H),
    ("Berlin Fri 17:00 CEST -> Mon 10:00 CET", BERLIN, wall("Europe/Berlin", 2026, 10, 23, 17),
     wall("Europe/Berlin", 2026, 10, 26, 10), 2 * H),
]  # fmt: skip


@pytest.mark.parametrize(
    ("cal", "start", "end", "duration"),
    [c[1:] for c in ZONE_CASES],
    ids=[c[0] for c in ZONE_CASES],
)
def test_calendars_east_and_west_of_utc(
    cal: BusinessCalendar, start: datetime, end: datetime, duration: timedelta
) -> None:
    assert business_time_between(cal, start, end) == duration
    assert add_business_time(cal, start, duration) == end
    assert business_time_between(cal, start, end - timedelta(microseconds=1)) < duration


@pytest.mark.parametrize(
    ("cal", "day", "opens", "closes"),
    [
        (TOKYO, date(2026, 1, 6), datetime(2026, 1, 5, 23, tzinfo=UTC),
         datetime(2026, 1, 6, 11, tzinfo=UTC)),
        (LOS_ANGELES, date(2026, 3, 6), datetime(2026, 3, 6, 17, tzinfo=UTC),
         datetime(2026, 3, 7, 1, tzinfo=UTC)),
        (LOS_ANGELES, date(2026, 3, 9), datetime(2026, 3, 9, 16, tzinfo=UTC),
         datetime(2026, 3, 10, 0, tzinfo=UTC)),
        (BERLIN, date(2026, 10, 26), datetime(2026, 10, 26, 8, tzinfo=UTC),
         datetime(2026, 10, 26, 17, tzinfo=UTC)),
        (EVERY_DAY_ET, date(2026, 11, 1), datetime(2026, 11, 1, 4, tzinfo=UTC),
         datetime(2026, 11, 2, 5, tzinfo=UTC)),  # closes at 24:00: midnight of the next day
    ],
)  # fmt: skip
def test_hours_on_are_utc(
    cal: BusinessCalendar, day: date, opens: datetime, closes: datetime
) -> None:
    hours = cal.hours_on(day)
    assert hours == (opens, closes)
    assert hours[0].tzinfo is UTC and hours[1].tzinfo is UTC


def test_hours_on_a_closed_day() -> None:
    assert TOKYO.hours_on(date(2026, 1, 10)) is None  # Saturday
    assert LOS_ANGELES.hours_on(date(2026, 7, 3)) is None  # a holiday of the calendar


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: add_business_time(US, datetime(2026, 1, 6, 9), H), "start must be an aware"),
        (lambda: business_time_between(US, datetime(2026, 1, 6, 9), et(2026, 1, 6)),
         "start must be an aware"),
        (lambda: business_time_between(US, et(2026, 1, 6, 9), datetime(2026, 1, 6, 10)),
         "end must be an aware datetime \\(UTC\\), got naive 2026-01-06T10:00:00"),
        (lambda: is_open(US, datetime(2026, 1, 6, 9)), "at must be an aware"),
        (lambda: add_business_time(US, et(2026, 1, 6, 9), -H),
         "duration must not be negative, got -1 day, 23:00:00"),
    ],
    ids=["start", "start of between", "end", "at", "negative"],
)  # fmt: skip
def test_refusals_say_which_argument(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


class _NoOffset(tzinfo):
    """A tzinfo that knows no offset: as naive as no tzinfo at all."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return "?"

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


def test_a_tzinfo_without_an_offset_counts_as_naive() -> None:
    with pytest.raises(ValueError, match="at must be an aware"):
        is_open(US, datetime(2026, 1, 6, 9, tzinfo=_NoOffset()))
