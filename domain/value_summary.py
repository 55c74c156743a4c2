"""The value summary of a renewal reminder, from what the hub itself knows of the
customer: the onboarding milestones reached, usage against the plan and its trend, the
support tickets the hub tracked and how many kept their SLA, the survey answers, and the
health score and its trend.

Pure: the inputs are the CRM company's properties (written by the hub's own workflows:
usage snapshots, the support refresh, the health sweep, the surveys) and the hub's
action log rows for the customer (milestones reached, ticket SLA alerts). A fact the
hub does not have is left out (``None`` / empty), never filled in: the e-mail then says
less, and says nothing of value only when nothing at all is known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from domain import health_properties as hp
from domain.health_report import parse_number
from domain.onboarding_survey import SCORE as ONBOARDING_SURVEY
from domain.risk_detectors import USAGE_WEEKLY, parse_weekly, weeks_back
from domain.surveys import NPS_LAST_SCORE

WORKFLOW_RUNS = "cshub_workflow_runs"
WORKFLOW_LIMIT = "cshub_workflow_limit"
ACTIVE_USERS = "cshub_active_users"
LICENSED_SEATS = "cshub_licensed_seats"
CSAT_PERCENT = "cshub_csat_percent"

PROPERTIES: tuple[str, ...] = (
    hp.SCORE,
    hp.PREVIOUS_SCORE,
    WORKFLOW_RUNS,
    WORKFLOW_LIMIT,
    ACTIVE_USERS,
    LICENSED_SEATS,
    USAGE_WEEKLY,
    CSAT_PERCENT,
    NPS_LAST_SCORE,
    ONBOARDING_SURVEY,
)
"""The company properties the summary reads (besides what ``get_company`` returns)."""

TREND_WEEKS = 4
"""Usage trend: the mean of the latest four weekly figures against the four before."""
SUPPORT_DAYS = 30
SLA_BREACH_KIND = "sla_breach"
TICKET_SLA_PREFIX = "ticket-sla-"
_MILESTONE = re.compile(r"^milestone reached[^:]*: (?P<title>.+) \([^()]*\)$")


class ActionFact(BaseModel):
    """What the summary reads of one action-log row."""

    workflow_id: str
    workflow_type: str = ""
    step: str = ""
    kind: str | None = None
    summary: str = ""
    outcome: str = "done"
    last_at: datetime


class ValueSummary(BaseModel):
    milestones: list[str] = Field(default_factory=list)
    workflow_runs: int | None = None
    workflow_limit: int | None = None
    active_users: int | None = None
    licensed_seats: int | None = None
    usage_change_pct: float | None = None
    """The latest four weeks' mean usage against the four before, in % (signed)."""
    tickets_tracked: int | None = None
    """Tickets whose SLA the hub followed in the last 30 days (None: it followed none)."""
    tickets_within_sla: int | None = None
    csat_percent: float | None = None
    nps: int | None = None
    onboarding_survey: int | None = None
    """The latest onboarding survey's satisfaction, 0-10."""
    health_score: float | None = None
    health_previous: float | None = None

    @property
    def empty(self) -> bool:
        return not any(
            v not in (None, []) for v in self.model_dump(exclude={"health_previous"}).values()
        )


def _whole(value: str | None) -> int | None:
    number = parse_number(value)
    return int(number) if number is not None and number >= 0 else None


def usage_change(raw: str | None, at: datetime) -> float | None:
    series = parse_weekly(raw)
    recent = [series[w] for i in range(TREND_WEEKS) if (w := weeks_back(at, i)) in series]
    before = [
        series[w] for i in range(TREND_WEEKS, 2 * TREND_WEEKS) if (w := weeks_back(at, i)) in series
    ]
    if not recent or not before:
        return None
    base = sum(before) / len(before)
    if base <= 0:
        return None
    return round(100 * (sum(recent) / len(recent) - base) / base, 1)


def milestones_reached(rows: Iterable[ActionFact]) -> list[str]:
    """The onboarding milestones the journey recorded as reached, oldest first."""
    found: dict[str, tuple[datetime, str]] = {}
    for row in rows:
        if not row.step.startswith("milestone:") or row.outcome not in ("done", "already_done"):
            continue
        m = _MILESTONE.match(row.summary)
        if m and row.step not in found:
            found[row.step] = (row.last_at, m.group("title"))
    return [title for _, title in sorted(found.values())]


def build_value_summary(
    properties: Mapping[str, str | None], rows: Iterable[ActionFact], at: datetime
) -> ValueSummary:
    rows = list(rows)
    since = at.astimezone(UTC) - timedelta(days=SUPPORT_DAYS)
    tickets = {
        r.workflow_id
        for r in rows
        if r.workflow_id.startswith(TICKET_SLA_PREFIX) and r.last_at >= since
    }
    breached = {
        r.workflow_id for r in rows if r.workflow_id in tickets and r.kind == SLA_BREACH_KIND
    }
    runs, limit = _whole(properties.get(WORKFLOW_RUNS)), _whole(properties.get(WORKFLOW_LIMIT))
    users, seats = _whole(properties.get(ACTIVE_USERS)), _whole(properties.get(LICENSED_SEATS))
    nps = _whole(properties.get(NPS_LAST_SCORE))
    onboarding = _whole(properties.get(ONBOARDING_SURVEY))
    score = parse_number(properties.get(hp.SCORE))
    return ValueSummary(
        milestones=milestones_reached(rows),
        workflow_runs=runs,
        workflow_limit=limit if runs is not None and limit else None,
        active_users=users,
        licensed_seats=seats if users is not None and seats else None,
        usage_change_pct=usage_change(properties.get(USAGE_WEEKLY), at),
        tickets_tracked=len(tickets) if tickets else None,
        tickets_within_sla=len(tickets - breached) if tickets else None,
        csat_percent=parse_number(properties.get(CSAT_PERCENT)),
        nps=nps if nps is not None and nps <= 10 else None,
        onboarding_survey=onboarding if onboarding is not None and onboarding <= 10 else None,
        health_score=score,
        health_previous=(
            parse_number(properties.get(hp.PREVIOUS_SCORE)) if score is not None else None
        ),
    )
