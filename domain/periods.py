"""Periods as people type them (``--since 30d``, ``?since=2026-03-01``): relative spans
before now, ISO dates and date-times, all in UTC. Read by ``cshub report`` and the
timeline API."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_when(text: str, now: datetime) -> datetime:
    """``30d``, ``12h``, ``2w`` (that long before ``now``), an ISO date (``2026-03-01``:
    midnight UTC) or an ISO date-time (UTC when it names no zone)."""
    m = _RELATIVE.match(text)
    if m:
        try:
            return now - float(m.group(1)) * _UNITS[m.group(2).lower()]
        except (OverflowError, ValueError):
            raise ValueError(
                f"{text.strip()[:40]!r} reaches before year 1: use a shorter period"
            ) from None
    value = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time: use 30d, 12h, 2w or an ISO date such as "
            "2026-03-01 or 2026-03-01T09:00:00+01:00"
        ) from None
    try:
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value[:40]!r} is out of range in UTC") from None


def parse_period(since: str, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    start = parse_when(since, now)
    end = parse_when(until, now) if until else now
    if end <= start:
        raise ValueError(
            f"the period is empty: --until ({end:%Y-%m-%d %H:%M} UTC) is not after "
            f"--since ({start:%Y-%m-%d %H:%M} UTC)"
        )
    return start, end
