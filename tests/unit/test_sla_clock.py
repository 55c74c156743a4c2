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


# ------------------------------------------------------------------ states and status
H = timedelta(hours=1)


def test_status_of_a_running_clock() -> None:
    c = Clock(name=ClockName.FIRST_RESPONSE, target_minutes=240.4, running_since=MON_9_ET)
    s = c.status(US, MON_9_ET + timedelta(hours=11))  # Monday 20:00: 11 business hours
    assert s.model_dump() == {
        "clock": ClockName.FIRST_RESPONSE,
        "target_minutes": 240,
        "used_minutes": 660.0,
        "due_at": MON_9_ET + timedelta(hours=4, seconds=24),
        "running": True,
        "paused": False,
        "met_at": None,
        "breached_at": None,
        "warned_at": None,
    }


def test_status_rounds_used_minutes_to_two_places() -> None:
    c = clock(60, MON_9_ET)
    assert c.status(ALWAYS, MON_9_ET + timedelta(seconds=20)).used_minutes == 0.33
    assert c.status(ALWAYS, MON_9_ET + timedelta(seconds=50)).used_minutes == 0.83


def test_status_of_a_warned_and_breached_clock_has_no_deadline() -> None:
    c = clock(60, MON_9_ET)
    c.warned, c.warned_at = True, MON_9_ET + timedelta(minutes=45)
    c.breaches, c.first_breached_at = 1, MON_9_ET + H
    s = c.status(ALWAYS, MON_9_ET + 2 * H)
    assert s.due_at is None  # past due: the next breach is what the workflow waits for
    assert s.breached_at == MON_9_ET + H
    assert s.warned_at == MON_9_ET + timedelta(minutes=45)
    assert s.running and not s.paused and s.used_minutes == 120


def test_pause_resume_meet_and_reopen() -> None:
    """Every transition, and what the status shows after it (resolution clock, 4 h)."""
    c = clock(240, MON_9_ET)

    c.stop(US, MON_9_ET + H, met=False)  # pending: waiting on the customer at 10:00
    s = c.status(US, MON_9_ET + 3 * H)
    assert (s.running, s.paused, s.met_at, s.due_at, s.used_minutes) == (
        False, True, None, None, 60,
    )  # fmt: skip

    c.stop(US, MON_9_ET + 2 * H, met=True)  # solved while pending: met, no longer paused
    s = c.status(US, MON_9_ET + 3 * H)
    assert (s.running, s.paused, s.met_at, s.used_minutes) == (
        False, False, MON_9_ET + 2 * H, 60,
    )  # fmt: skip

    c.start(MON_9_ET + timedelta(days=1))  # reopened Tuesday 09:00
    assert c.paused is False and c.met_at is None
    s = c.status(US, MON_9_ET + timedelta(days=1, hours=1))
    assert (s.running, s.paused, s.met_at, s.used_minutes) == (True, False, None, 120)
    assert s.due_at == MON_9_ET + timedelta(days=1, hours=3)

    c.start(MON_9_ET + timedelta(days=1, hours=2))  # a second start keeps counting
    assert c.running_since == MON_9_ET + timedelta(days=1)

    c.stop(US, MON_9_ET + timedelta(days=1, hours=3), met=True)  # solved on the deadline
    assert c.used(US, MON_9_ET + timedelta(days=9)) == 4 * H
    assert c.status(US, MON_9_ET + timedelta(days=9)).met_at == MON_9_ET + timedelta(
        days=1, hours=3
    )


def test_a_paused_clock_resumes_unpaused() -> None:
    c = clock(60, MON_9_ET)
    c.stop(ALWAYS, MON_9_ET + timedelta(minutes=10), met=False)
    assert c.paused is True and c.running_since is None and c.used_minutes == 10
    c.start(MON_9_ET + H)
    assert c.paused is False and c.met_at is None and c.running_since == MON_9_ET + H
    assert c.next_breach_at(ALWAYS) == MON_9_ET + H + timedelta(minutes=50)


def test_a_met_clock_reopened_clears_met_at() -> None:
    c = clock(60, MON_9_ET)
    c.stop(ALWAYS, MON_9_ET + timedelta(minutes=5), met=True)
    assert c.met_at == MON_9_ET + timedelta(minutes=5) and c.paused is False
    c.start(MON_9_ET + H)
    assert c.met_at is None
    assert c.status(ALWAYS, MON_9_ET + H).met_at is None


def test_warn_at_on_business_time_and_after_a_warning() -> None:
    c = clock(240, MON_9_ET + timedelta(hours=9))  # Monday 18:00 New York, 4 h target
    # 2 h on Monday, then from 08:00 Tuesday: warned at 3 h (09:00), due at 4 h (10:00).
    assert c.warn_at(US, 0.75) == MON_9_ET + timedelta(days=1)
    assert c.next_breach_at(US) == MON_9_ET + timedelta(days=1, hours=1)
    c.warned = True
    assert c.warn_at(US, 0.75) is None


def test_a_clock_used_past_its_target_is_due_at_once() -> None:
    c = Clock(name=ClockName.RESOLUTION, target_minutes=60, used_minutes=90)
    c.start(MON_9_ET)
    assert c.next_breach_at(ALWAYS) == MON_9_ET
    assert c.status(ALWAYS, MON_9_ET).due_at == MON_9_ET


def test_retarget_in_minutes() -> None:
    c = clock(60, MON_9_ET)
    retarget(c, timedelta(hours=8, seconds=30))
    assert c.target_minutes == 480.5
    assert c.target == timedelta(hours=8, seconds=30)
