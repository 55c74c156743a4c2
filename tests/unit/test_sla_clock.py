"""SLA clock arithmetic: warnings, breaches and pauses in business time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.business_time import BusinessCalendar
from domain.sla_clock import Clock, retarget
from domain.support_records import ClockName

ALWAYS = BusinessCalendar(name="always", always_open=True)
US = BusinessCalendar(name="us", timezone="America/New_York")  # 8-20, Mon-Fri
MON_9_ET = datetime(2031, 1, 13, 14, 0, tzinfo=UTC)  # Monday 09:00 New York


def clock(minutes: float, start: datetime) -> Clock:
    return Clock(name=ClockName.RESOLUTION, target_minutes=minutes, running_since=start)


def test_breaches_repeat_every_full_target_and_warn_only_before_the_first() -> None:
    c = clock(60, MON_9_ET)
    assert c.warn_at(ALWAYS, 0.75) == MON_9_ET + timedelta(minutes=45)
    assert c.next_breach_at(ALWAYS) == MON_9_ET + timedelta(hours=1)
    c.breaches = 1
    assert c.next_breach_at(ALWAYS) == MON_9_ET + timedelta(hours=2)
    assert c.warn_at(ALWAYS, 0.75) is None


def test_a_pause_keeps_the_time_used_and_moves_the_deadline() -> None:
    c = clock(240, MON_9_ET)  # 4 business hours
    c.stop(US, MON_9_ET + timedelta(hours=1), met=False)  # pending at 10:00
    assert c.paused and c.next_breach_at(US) is None
    assert c.used(US, MON_9_ET + timedelta(days=3)) == timedelta(hours=1)
    c.start(MON_9_ET + timedelta(days=1))  # reopened Tuesday 09:00: 3 h left
    assert c.next_breach_at(US) == MON_9_ET + timedelta(days=1, hours=3)


def test_business_hours_carry_a_deadline_over_the_night() -> None:
    evening = MON_9_ET + timedelta(hours=10)  # Monday 19:00 New York
    c = clock(120, evening)
    # One hour on Monday, one on Tuesday from 08:00: due 09:00 Tuesday.
    assert c.next_breach_at(US) == MON_9_ET + timedelta(days=1)


def test_met_clock_stops_and_a_new_target_keeps_the_breaches() -> None:
    c = clock(15, MON_9_ET)
    c.breaches = 1
    retarget(c, timedelta(hours=1))
    assert c.breaches == 1 and c.next_breach_at(ALWAYS) == MON_9_ET + timedelta(hours=2)
    c.stop(ALWAYS, MON_9_ET + timedelta(minutes=20), met=True)
    assert c.met_at is not None and c.next_breach_at(ALWAYS) is None
    status = c.status(ALWAYS, MON_9_ET + timedelta(hours=5))
    assert status.used_minutes == 20 and not status.running
