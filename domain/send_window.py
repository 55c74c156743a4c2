"""When a customer e-mail may go out: at the playbook's local send hour in the customer's
time zone, and never in quiet hours. Pure functions (used inside workflows)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SendWindow(BaseModel):
    """Local hours, 0-23. Quiet hours run from ``quiet_start`` to ``quiet_end`` (may wrap
    midnight: 20 → 8 means 20:00-07:59)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    send_hour: int = Field(default=10, ge=0, le=23)
    quiet_start: int = Field(default=20, ge=0, le=23)
    quiet_end: int = Field(default=8, ge=0, le=23)

    @model_validator(mode="after")
    def _send_hour_not_quiet(self) -> SendWindow:
        if self.is_quiet_hour(self.send_hour):
            raise ValueError(f"send_hour {self.send_hour} falls in the quiet hours")
        return self

    def is_quiet_hour(self, hour: int) -> bool:
        if self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= hour < self.quiet_end
        return hour >= self.quiet_start or hour < self.quiet_end


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone, or UTC when unknown or empty (a bad CRM value must not stop mail)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zone_known(name: str | None) -> bool:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_send_time(day: date, tz: str | None, window: SendWindow) -> datetime:
    """``send_hour`` on ``day`` in the customer's zone, as an aware UTC datetime. Across a
    DST change the local hour stays the same (the UTC instant moves)."""
    local = datetime.combine(day, time(hour=window.send_hour), tzinfo=zone(tz))
    return local.astimezone(UTC)


def out_of_quiet_hours(at: datetime, tz: str | None, window: SendWindow) -> datetime:
    """``at`` itself when allowed, else the end of that quiet period (local ``quiet_end``)."""
    local = at.astimezone(zone(tz))
    if not window.is_quiet_hour(local.hour):
        return at
    end = local.replace(hour=window.quiet_end, minute=0, second=0, microsecond=0)
    if end <= local:
        end = (local + timedelta(days=1)).replace(
            hour=window.quiet_end, minute=0, second=0, microsecond=0
        )
    # Rebuild from the wall-clock time so a DST change in between is handled.
    wall = datetime.combine(end.date(), time(hour=window.quiet_end), tzinfo=zone(tz))
    return wall.astimezone(UTC)


def local_date(at: datetime, tz: str | None) -> date:
    return at.astimezone(zone(tz)).date()
