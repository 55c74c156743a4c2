"""Business-time arithmetic for SLA clocks (pure, deterministic: safe inside workflows).

A :class:`BusinessCalendar` says when support is staffed: either always (24/7, every
minute counts) or from ``open_hour`` to ``close_hour`` local time on ``weekdays``, except
``holidays`` (whole local days). Hours are wall-clock hours in the calendar's zone, so
08:00-20:00 in New York stays 08:00-20:00 local across a DST change (the UTC instants
move, and the day of the change still has 12 business hours).

All functions take and return aware datetimes (returned in UTC) and are exact to the
microsecond: ``business_time_between(c, s, add_business_time(c, s, d)) == d``. They step
a whole local day at a time, never minute by minute, so a 72-hour target that spans a
long weekend costs a dozen iterations.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.holiday_rules import HolidayRules
from domain.send_window import zone, zone_known

_ZERO = timedelta(0)
_DAY = timedelta(days=1)


class BusinessCalendar(BaseModel):
    """When support is staffed. ``always_open``: 24/7 (the other fields are ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=60)
    timezone: str = Field(default="UTC", description="IANA zone the hours are read in")
    always_open: bool = Field(default=False, description="24/7: every minute counts")
    weekdays: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], description="Open days, Monday = 0"
    )
    open_hour: int = Field(default=8, ge=0, le=23, description="Local opening hour")
    close_hour: int = Field(default=20, ge=1, le=24, description="Local closing hour")
    holidays: list[date] = Field(
        default_factory=list, description="Whole local days closed (e.g. public holidays)"
    )
    holiday_rules: HolidayRules | None = Field(
        default=None,
        description="Country (and subdivision) holidays plus the team's changes; the "
        "playbook loader expands them into ``holidays`` (outside workflows)",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not zone_known(value):
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. America/New_York)")
        return value

    @field_validator("weekdays")
    @classmethod
    def _valid_weekdays(cls, value: list[int]) -> list[int]:
        bad = [d for d in value if not 0 <= d <= 6]
        if bad:
            raise ValueError(f"weekdays are 0 (Monday) to 6 (Sunday), got {bad}")
        if len(set(value)) != len(value):
            raise ValueError(f"weekdays repeat a day: {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BusinessCalendar:
        if self.always_open:
            return self
        if not self.weekdays:
            raise ValueError("weekdays must name at least one open day (or set always_open)")
        if self.close_hour <= self.open_hour:
            raise ValueError(
                f"close_hour ({self.close_hour}) must be after open_hour ({self.open_hour})"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def hours_on(self, day: date) -> tuple[datetime, datetime] | None:
        """The open interval ``[opens, closes)`` (UTC) of a local ``day``; None if closed.
        Not meaningful for an always-open calendar."""
        if day.weekday() not in self.weekdays or day in self.holidays:
            return None
        tz = self.tz
        opens = datetime.combine(day, time(self.open_hour), tzinfo=tz)
        if self.close_hour == 24:
            closes = datetime.combine(day + _DAY, time(0), tzinfo=tz)
        else:
            closes = datetime.combine(day, time(self.close_hour), tzinfo=tz)
        return opens.astimezone(UTC), closes.astimezone(UTC)


def _utc(at: datetime, what: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (UTC), got naive {at.isoformat()}")
    return at.astimezone(UTC)


def _intervals_from(cal: BusinessCalendar, at: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open intervals (UTC) of the local days from ``at``'s local day on, in order (an
    endless generator: callers stop it). Intervals may end before ``at``."""
    day = at.astimezone(cal.tz).date()
    while True:
        hours = cal.hours_on(day)
        if hours is not None:
            yield hours
        day += _DAY


def is_open(cal: BusinessCalendar, at: datetime) -> bool:
    """Whether ``at`` falls in business hours."""
    at = _utc(at, "at")
    if cal.always_open:
        return True
    hours = cal.hours_on(at.astimezone(cal.tz).date())
    return hours is not None and hours[0] <= at < hours[1]


def add_business_time(cal: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """The first instant at which ``duration`` of business time has elapsed after ``start``
    (aware UTC datetime in and out). duration 0 → start if open else the next opening."""
    start = _utc(start, "start")
    if duration < _ZERO:
        raise ValueError(f"duration must not be negative, got {duration}")
    if cal.always_open:
        return start + duration
    left = duration
    for opens, closes in _intervals_from(cal, start):
        begin = max(opens, start)
        if begin >= closes:
            continue  # this day's hours are over before start
        available = closes - begin
        if left <= available:
            return begin + left
        left -= available
    raise AssertionError("unreachable: a calendar with open weekdays always opens again")


def business_time_between(cal: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Business time inside [start, end); 0 if end <= start."""
    start = _utc(start, "start")
    end = _utc(end, "end")
    if end <= start:
        return _ZERO
    if cal.always_open:
        return end - start
    total = _ZERO
    last_day = end.astimezone(cal.tz).date()
    day = start.astimezone(cal.tz).date()
    while day <= last_day:
        hours = cal.hours_on(day)
        if hours is not None:
            begin, finish = max(hours[0], start), min(hours[1], end)
            if finish > begin:
                total += finish - begin
        day += _DAY
    return total


def next_opening(cal: BusinessCalendar, at: datetime) -> datetime:
    """``at`` itself when open, else the start of the next business hours (UTC)."""
    return add_business_time(cal, at, _ZERO)
