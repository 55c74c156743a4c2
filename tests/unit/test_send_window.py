"""When a customer e-mail may go out: quiet hours at and around their edges, windows that
wrap midnight, zones east and west of UTC, both DST changes, and time zones the CRM
got wrong (they must not stop mail: the e-mail goes by UTC). Pure: no server, no network;
every instant is built in an explicit zone, never the machine's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from domain.send_window import (
    SendWindow,
    local_date,
    local_send_time,
    out_of_quiet_hours,
    zone,
    zone_known,
)

NY, TOKYO, LA, BERLIN = "America/New_York", "Asia/Tokyo", "America/Los_Angeles", "Europe/Berlin"

NIGHT = SendWindow(send_hour=10, quiet_start=20, quiet_end=8)
"""The shipped default: quiet 20:00-07:59, wrapping midnight."""
LUNCH = SendWindow(send_hour=10, quiet_start=12, quiet_end=14)
"""Quiet 12:00-13:59 the same day (no wrap)."""
NEVER = SendWindow(send_hour=3, quiet_start=0, quiet_end=0)
"""quiet_start == quiet_end: no quiet hours at all."""
LATE = SendWindow(send_hour=12, quiet_start=23, quiet_end=1)
"""Quiet 23:00-00:59: a wrap of two hours."""


def at(
    tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A wall-clock time in ``tz``, as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(tz)).astimezone(UTC)


# ------------------------------------------------------------------ quiet hours, per hour
@pytest.mark.parametrize(
    ("window", "quiet"),
    [
        (NIGHT, {20, 21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7}),
        (LUNCH, {12, 13}),
        (NEVER, set()),
        (LATE, {23, 0}),
        (SendWindow(send_hour=0, quiet_start=1, quiet_end=23), set(range(1, 23))),
        (SendWindow(send_hour=5, quiet_start=6, quiet_end=5), set(range(24)) - {5}),
    ],
    ids=["20-8 wraps midnight", "12-14 same day", "0-0 none", "23-1 wraps", "1-23", "6-5"],
)
def test_quiet_hours_hour_by_hour(window: SendWindow, quiet: set[int]) -> None:
    assert {h for h in range(24) if window.is_quiet_hour(h)} == quiet


@pytest.mark.parametrize(
    ("fields", "ok"),
    [
        ({"send_hour": 20}, False),  # the first quiet hour
        ({"send_hour": 7}, False),  # the last quiet hour
        ({"send_hour": 8}, True),  # quiet_end itself is allowed
        ({"send_hour": 19}, True),
        ({"send_hour": 0, "quiet_start": 0, "quiet_end": 0}, True),
        ({"send_hour": 12, "quiet_start": 12, "quiet_end": 14}, False),
        ({"send_hour": 14, "quiet_start": 12, "quiet_end": 14}, True),
    ],
)
def test_the_send_hour_may_not_be_quiet(fields: dict[str, int], ok: bool) -> None:
    if ok:
        assert SendWindow(**fields).send_hour == fields["send_hour"]
    else:
        with pytest.raises(ValidationError, match=f"send_hour {fields['send_hour']} falls"):
            SendWindow(**fields)


# ------------------------------------------------------------------ zones from the CRM
@pytest.mark.parametrize(
    ("name", "key", "known"),
    [
        (TOKYO, TOKYO, True),
        (LA, LA, True),
        ("UTC", "UTC", True),
        (None, "UTC", False),
        ("", "UTC", False),
        ("Mars/Olympus", "UTC", False),  # not a zone
        ("Eastern Standard Time", "UTC", False),  # a Windows name, as some CRMs store
        ("/etc/localtime", "UTC", False),  # ZoneInfo refuses absolute paths (ValueError)
        ("../../etc/passwd", "UTC", False),  # and paths out of the zone database
        ("America/", "UTC", False),
    ],
)
def test_a_broken_zone_falls_back_to_utc(name: str | None, key: str, known: bool) -> None:
    assert zone(name).key == key
    assert zone_known(name) is known


# ------------------------------------------------------------------ the local send hour
@pytest.mark.parametrize(
    ("day", "tz", "expected"),
    [
        (date(2026, 1, 15), TOKYO, datetime(2026, 1, 15, 1, tzinfo=UTC)),  # UTC+9
        (date(2026, 7, 15), TOKYO, datetime(2026, 7, 15, 1, tzinfo=UTC)),  # no DST
        (date(2026, 1, 15), LA, datetime(2026, 1, 15, 18, tzinfo=UTC)),  # PST, UTC-8
        (date(2026, 3, 7), LA, datetime(2026, 3, 7, 18, tzinfo=UTC)),  # the day before
        (date(2026, 3, 8), LA, datetime(2026, 3, 8, 17, tzinfo=UTC)),  # spring forward
        (date(2026, 11, 1), LA, datetime(2026, 11, 1, 18, tzinfo=UTC)),  # fall back
        (date(2026, 3, 29), BERLIN, datetime(2026, 3, 29, 8, tzinfo=UTC)),  # CEST
        (date(2026, 3, 28), BERLIN, datetime(2026, 3, 28, 9, tzinfo=UTC)),  # CET
        (date(2026, 10, 25), BERLIN, datetime(2026, 10, 25, 9, tzinfo=UTC)),  # back to CET
        (date(2026, 1, 15), "Not/A_Zone", datetime(2026, 1, 15, 10, tzinfo=UTC)),
        (date(2026, 1, 15), None, datetime(2026, 1, 15, 10, tzinfo=UTC)),
    ],
)
def test_local_send_time(day: date, tz: str | None, expected: datetime) -> None:
    sent = local_send_time(day, tz, NIGHT)
    assert sent == expected
    assert sent.tzinfo is UTC
    assert local_send_time(day, tz, SendWindow(send_hour=15)) == expected + timedelta(hours=5)


# ------------------------------------------------------------------ out of quiet hours
QUIET_CASES: list[tuple[str, datetime, str | None, SendWindow, datetime]] = [
    # The edges of a window that wraps midnight (New York, winter).
    ("19:59:59 is not quiet", at(NY, 2026, 1, 6, 19, 59, 59), NY, NIGHT,
     at(NY, 2026, 1, 6, 19, 59, 59)),
    ("20:00 is quiet until 08:00 next day", at(NY, 2026, 1, 6, 20), NY, NIGHT,
     at(NY, 2026, 1, 7, 8)),
    ("23:59:59 waits until 08:00", at(NY, 2026, 1, 6, 23, 59, 59), NY, NIGHT,
     at(NY, 2026, 1, 7, 8)),
    ("00:00 waits until 08:00 the same day", at(NY, 2026, 1, 7, 0), NY, NIGHT,
     at(NY, 2026, 1, 7, 8)),
    ("07:59:59 waits one second", at(NY, 2026, 1, 7, 7, 59, 59), NY, NIGHT,
     at(NY, 2026, 1, 7, 8)),
    ("08:00 is not quiet", at(NY, 2026, 1, 7, 8), NY, NIGHT, at(NY, 2026, 1, 7, 8)),
    ("end of a month and year", at(NY, 2026, 12, 31, 22, 30), NY, NIGHT,
     at(NY, 2027, 1, 1, 8)),
    # East of UTC: 21:00 Tokyo is 12:00 UTC, the middle of the day by the machine's clock.
    ("Tokyo evening", at(TOKYO, 2026, 1, 6, 21), TOKYO, NIGHT, at(TOKYO, 2026, 1, 7, 8)),
    ("Tokyo 08:00 is 23:00 UTC the day before", at(TOKYO, 2026, 1, 7, 8), TOKYO, NIGHT,
     datetime(2026, 1, 6, 23, tzinfo=UTC)),
    ("Tokyo 03:00 waits until 08:00 (same local day, the UTC day before)",
     at(TOKYO, 2026, 1, 7, 3), TOKYO, NIGHT, datetime(2026, 1, 6, 23, tzinfo=UTC)),
    # West of UTC: 01:00 UTC is 17:00 in Los Angeles, not quiet.
    ("Los Angeles 17:00 (01:00 UTC) is not quiet", datetime(2026, 1, 7, 1, tzinfo=UTC), LA,
     NIGHT, datetime(2026, 1, 7, 1, tzinfo=UTC)),
    ("Los Angeles 20:00 (04:00 UTC next day)", at(LA, 2026, 1, 6, 20), LA, NIGHT,
     at(LA, 2026, 1, 7, 8)),
    # Across both DST changes the end is 08:00 local, not 08:00 of the old offset.
    ("spring forward in New York", at(NY, 2026, 3, 7, 22), NY, NIGHT,
     datetime(2026, 3, 8, 12, tzinfo=UTC)),
    ("fall back in New York", at(NY, 2026, 10, 31, 21), NY, NIGHT,
     datetime(2026, 11, 1, 13, tzinfo=UTC)),
    ("spring forward in Los Angeles, quiet at 01:30", at(LA, 2026, 3, 8, 1, 30), LA, NIGHT,
     datetime(2026, 3, 8, 15, tzinfo=UTC)),
    ("fall back in Berlin", at(BERLIN, 2026, 10, 24, 23), BERLIN, NIGHT,
     datetime(2026, 10, 25, 7, tzinfo=UTC)),
    # A window inside one day.
    ("12:00 lunch waits until 14:00", at(TOKYO, 2026, 1, 6, 12), TOKYO, LUNCH,
     at(TOKYO, 2026, 1, 6, 14)),
    ("13:59 lunch waits until 14:00", at(TOKYO, 2026, 1, 6, 13, 59), TOKYO, LUNCH,
     at(TOKYO, 2026, 1, 6, 14)),
    ("11:59 before lunch goes", at(TOKYO, 2026, 1, 6, 11, 59), TOKYO, LUNCH,
     at(TOKYO, 2026, 1, 6, 11, 59)),
    ("23:00 is not quiet at lunch time", at(TOKYO, 2026, 1, 6, 23), TOKYO, LUNCH,
     at(TOKYO, 2026, 1, 6, 23)),
    # A two-hour wrap.
    ("23:30 waits until 01:00", at(LA, 2026, 1, 6, 23, 30), LA, LATE, at(LA, 2026, 1, 7, 1)),
    ("00:30 waits until 01:00", at(LA, 2026, 1, 7, 0, 30), LA, LATE, at(LA, 2026, 1, 7, 1)),
    ("22:59 goes", at(LA, 2026, 1, 6, 22, 59), LA, LATE, at(LA, 2026, 1, 6, 22, 59)),
    # No quiet hours.
    ("no quiet hours: 03:00 goes", at(NY, 2026, 1, 7, 3), NY, NEVER, at(NY, 2026, 1, 7, 3)),
    # A zone the CRM got wrong: read as UTC, the e-mail still goes.
    ("broken zone: 21:00 UTC waits until 08:00 UTC", datetime(2026, 1, 6, 21, tzinfo=UTC),
     "Mars/Olympus", NIGHT, datetime(2026, 1, 7, 8, tzinfo=UTC)),
    ("broken zone: 09:00 UTC goes", datetime(2026, 1, 6, 9, tzinfo=UTC), "Mars/Olympus",
     NIGHT, datetime(2026, 1, 6, 9, tzinfo=UTC)),
    ("no zone: 05:00 UTC waits until 08:00 UTC", datetime(2026, 1, 6, 5, tzinfo=UTC), None,
     NIGHT, datetime(2026, 1, 6, 8, tzinfo=UTC)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("when", "tz", "window", "expected"),
    [c[1:] for c in QUIET_CASES],
    ids=[c[0] for c in QUIET_CASES],
)
def test_out_of_quiet_hours(
    when: datetime, tz: str | None, window: SendWindow, expected: datetime
) -> None:
    allowed = out_of_quiet_hours(when, tz, window)
    assert allowed == expected
    assert allowed.utcoffset() == timedelta(0)
    if expected == when:
        assert allowed is when  # an allowed time comes back untouched
    else:
        local = allowed.astimezone(zone(tz))
        assert (local.hour, local.minute, local.second, local.microsecond) == (
            window.quiet_end,
            0,
            0,
            0,
        )
        assert allowed.tzinfo is UTC


def test_a_deferred_time_never_lands_in_quiet_hours_nor_goes_back() -> None:
    """Every 11th minute of two days around each DST change, in four zones and a broken
    one, for four windows."""
    for tz in (NY, TOKYO, LA, BERLIN, "Bad/Zone"):
        for start in (at(NY, 2026, 3, 7), at(NY, 2026, 10, 31), at(BERLIN, 2026, 3, 28)):
            for window in (NIGHT, LUNCH, NEVER, LATE):
                for minutes in range(0, 2 * 24 * 60, 11):
                    when = start + timedelta(minutes=minutes)
                    allowed = out_of_quiet_hours(when, tz, window)
                    assert when <= allowed < when + timedelta(hours=13)
                    local = allowed.astimezone(zone(tz))
                    assert not window.is_quiet_hour(local.hour), (tz, when, window)


@pytest.mark.parametrize(
    ("when", "tz", "expected"),
    [
        (datetime(2026, 1, 5, 16, tzinfo=UTC), TOKYO, date(2026, 1, 6)),  # 01:00 Tokyo
        (datetime(2026, 1, 5, 14, 59, tzinfo=UTC), TOKYO, date(2026, 1, 5)),  # 23:59
        (datetime(2026, 1, 6, 5, tzinfo=UTC), LA, date(2026, 1, 5)),  # 21:00 LA
        (datetime(2026, 1, 6, 8, tzinfo=UTC), LA, date(2026, 1, 6)),  # 00:00 LA
        (datetime(2026, 1, 6, 5, tzinfo=UTC), "Bad/Zone", date(2026, 1, 6)),  # as UTC
        (datetime(2026, 1, 6, 23, tzinfo=UTC), None, date(2026, 1, 6)),
    ],
)
def test_local_date(when: datetime, tz: str | None, expected: date) -> None:
    assert local_date(when, tz) == expected
