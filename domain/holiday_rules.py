"""Support holidays as rules: a country (and optional subdivision) from the ``holidays``
package, which knows every country's and region's public holidays and their observed-day
rules for any year, plus the team's own removals and additions.

The dates are computed outside workflows (by the activity that loads the SLA playbook,
and by ``cshub playbooks validate``) and travel in the loaded playbook as plain dates, so
a workflow's history stays deterministic and a new ``holidays`` release cannot move a
running clock (the package version is pinned in pyproject.toml as well).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "COVERAGE_DAYS",
    "HolidayRuleError",
    "HolidayRules",
    "coverage_problem",
    "holiday_dates",
    "years_around",
]

COVERAGE_DAYS = 365
"""``cshub playbooks validate`` wants holiday data for this many days ahead."""

_OBSERVED = " (observed)"


class HolidayRuleError(ValueError):
    """Rules the ``holidays`` package cannot follow: unknown country, subdivision or
    holiday name (the message lists what it knows)."""


class HolidayRules(BaseModel):
    """Which days a business-hours calendar is closed for holidays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str = Field(pattern=r"^[A-Z]{2,3}$", description="ISO 3166 code: US, JP, DE, GB …")
    subdivision: str | None = Field(
        default=None, description="State, prefecture or region code: NY, BE (Berlin), 13 …"
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Holidays the team works (names in English as the package gives them); "
        "their observed days are dropped too",
    )
    closed_days_after: dict[str, int] = Field(
        default_factory=dict,
        description="Holiday name -> following days also closed (Thanksgiving Day: 1)",
    )

    @field_validator("closed_days_after")
    @classmethod
    def _small_counts(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if not 1 <= v <= 7}
        if bad:
            raise ValueError(f"days after a holiday must be 1 to 7, got {bad}")
        return value


def years_around(today: date) -> list[int]:
    """The years whose holidays a loaded playbook carries: last year (clocks started then
    still run), this year and the next two (a ticket or a validation that looks ahead)."""
    return list(range(today.year - 1, today.year + 3))


@functools.lru_cache(maxsize=64)
def _calendar(country: str, subdivision: str | None, years: tuple[int, ...]) -> Any:
    import holidays  # a large package: loaded by the processes that expand rules only

    try:
        cls = holidays.country_holidays(country, subdiv=subdivision, years=[]).__class__
        language = "en_US" if "en_US" in (cls.supported_languages or ()) else None
        return holidays.country_holidays(
            country, subdiv=subdivision, years=list(years), language=language
        )
    except NotImplementedError as exc:  # the package's "not available" for both cases
        raise HolidayRuleError(f"{exc} in the holidays package") from None


def _base(name: str) -> str:
    return name.removesuffix(_OBSERVED).strip()


def holiday_dates(rules: HolidayRules, years: Iterable[int]) -> list[date]:
    """Every day closed for holidays in ``years``, sorted. Weekend dates are kept (a
    calendar closed on weekends ignores them)."""
    wanted = tuple(sorted(set(years)))
    found = _calendar(rules.country, rules.subdivision, wanted)
    known = {_base(n) for d in found for n in found.get_list(d)}
    unknown = sorted(
        {n for n in [*rules.exclude, *rules.closed_days_after] if _base(n) not in known}
    )
    if unknown and known:
        where = rules.country + (f"-{rules.subdivision}" if rules.subdivision else "")
        raise HolidayRuleError(
            f"no holiday named {', '.join(map(repr, unknown))} in {where} "
            f"for {wanted[0]}-{wanted[-1]}; its holidays are: {', '.join(sorted(known))}"
        )
    excluded = {_base(n) for n in rules.exclude}
    closed: set[date] = set()
    for day in found:
        names = [_base(n) for n in found.get_list(day)]
        kept = [n for n in names if n not in excluded]
        if kept:
            closed.add(day)
        for name in names:
            for extra in range(1, rules.closed_days_after.get(name, 0) + 1):
                closed.add(day + timedelta(days=extra))
    return sorted(d for d in closed if d.year in wanted)


def coverage_problem(name: str, holidays: list[date], has_rules: bool, today: date) -> str | None:
    """Why a business-hours calendar has no holiday data for the next
    :data:`COVERAGE_DAYS` days, or None when it has. Without data every holiday silently
    counts as business time and SLA clocks breach on days the team is closed."""
    until = today + timedelta(days=COVERAGE_DAYS)
    ahead = [d for d in holidays if today <= d <= until]
    if has_rules and not ahead:
        return (
            f"calendar {name!r}: its holiday rules give no holiday between {today} and "
            f"{until} (the holidays package has no data for those years)"
        )
    last = max(holidays, default=None)
    if not has_rules and (last is None or last < until):
        ends = f"ends on {last}" if last else "is empty"
        return (
            f"calendar {name!r}: its holiday list {ends}, before {until}: from then on "
            "every holiday counts as business time; give holiday_rules (a country) or list "
            "the coming year's holidays"
        )
    return None
