"""The arithmetic of a ticket's SLA clocks (pure, deterministic).

A *clock* counts business time (the tier's calendar) against a target. It runs, pauses
(the resolution clock while the ticket waits on the customer), stops when met (first
public agent reply; solved) and restarts when a solved ticket is reopened. A clock past
its target has *breached*; every further full target of lateness is another breach, and
each breach escalates the ticket one level.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from domain.business_time import BusinessCalendar, add_business_time, business_time_between
from domain.support_records import ClockName, ClockStatus


class Clock(BaseModel):
    """One SLA clock's state (carried across continue-as-new)."""

    name: ClockName
    target_minutes: float
    used_minutes: float = 0.0
    """Business minutes counted before ``running_since``."""
    running_since: datetime | None = None
    met_at: datetime | None = None
    paused: bool = False
    breaches: int = 0
    warned: bool = False
    warned_at: datetime | None = None
    first_breached_at: datetime | None = None

    @property
    def target(self) -> timedelta:
        return timedelta(minutes=self.target_minutes)

    def used(self, cal: BusinessCalendar, now: datetime) -> timedelta:
        extra = (
            business_time_between(cal, self.running_since, now)
            if self.running_since is not None
            else timedelta(0)
        )
        return timedelta(minutes=self.used_minutes) + extra

    def stop(self, cal: BusinessCalendar, at: datetime, *, met: bool) -> None:
        """Stop counting at ``at``: met (answered, solved) or paused (waiting)."""
        if self.running_since is not None:
            self.used_minutes = self.used(cal, at).total_seconds() / 60
            self.running_since = None
        if met:
            self.met_at = at
            self.paused = False
        else:
            self.paused = True

    def start(self, at: datetime) -> None:
        """Count again from ``at`` (a paused clock resumes; a met one is reopened)."""
        if self.running_since is None:
            self.running_since = at
        self.paused = False
        self.met_at = None

    def _when_used_reaches(self, cal: BusinessCalendar, total: timedelta) -> datetime | None:
        if self.running_since is None:
            return None
        left = total - timedelta(minutes=self.used_minutes)
        return add_business_time(cal, self.running_since, max(left, timedelta(0)))

    def next_breach_at(self, cal: BusinessCalendar) -> datetime | None:
        """When the next breach happens if the clock keeps running (the first at the
        target, then one more per further target)."""
        return self._when_used_reaches(cal, self.target * (self.breaches + 1))

    def warn_at(self, cal: BusinessCalendar, fraction: float) -> datetime | None:
        if self.warned or self.breaches:
            return None
        return self._when_used_reaches(cal, self.target * fraction)

    def status(self, cal: BusinessCalendar, now: datetime) -> ClockStatus:
        return ClockStatus(
            clock=self.name,
            target_minutes=round(self.target_minutes),
            used_minutes=round(self.used(cal, now).total_seconds() / 60, 2),
            due_at=self._when_used_reaches(cal, self.target) if not self.breaches else None,
            running=self.running_since is not None,
            paused=self.paused,
            met_at=self.met_at,
            breached_at=self.first_breached_at,
            warned_at=self.warned_at,
        )


def retarget(clock: Clock, target: timedelta) -> None:
    """A new target (the severity changed): breaches already counted stay counted."""
    clock.target_minutes = target.total_seconds() / 60
