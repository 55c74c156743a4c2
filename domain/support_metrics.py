"""Support metrics for a period, computed from what the support workflows recorded.

The input is the records of ``domain.support_records`` (ticket SLA statuses, CSAT
survey statuses, NPS answers) however they were collected; the output is one
``SupportMetrics`` with every figure, the counts behind it and, per figure, whether it
meets its target. Pure functions: no I/O, no clock (the period is passed in).

The period is half-open, ``since <= t < until``: an event exactly at ``until`` belongs
to the next period, so consecutive periods never count anything twice. Naive datetimes
are taken as UTC. A figure with nothing to count is ``None`` (never a division by zero),
and so is its ``meets_target``.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from domain.support_records import CsatStatus, NpsAnswer, TicketSlaStatus

WEEK = timedelta(days=7)
TOP_CUSTOMERS = 5


# ---------------------------------------------------------------------------- targets


class Target(BaseModel):
    """A bound a figure is held to, e.g. ``< 4`` hours or ``> 90`` %."""

    op: Literal["<", "<=", ">", ">="]
    value: float
    unit: str = ""

    def meets(self, figure: float | None) -> bool | None:
        """``None`` when there is no figure to judge."""
        if figure is None:
            return None
        if self.op == "<":
            return figure < self.value
        if self.op == "<=":
            return figure <= self.value
        if self.op == ">":
            return figure > self.value
        return figure >= self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}" + (f" {self.unit}" if self.unit else "")


class SupportTargets(BaseModel):
    """The seed targets (first response < 4 h, resolution < 24 h, CSAT > 90 %, NPS > 40)
    and the hub's own SLA-compliance target (at least 95 % of decided tickets without a
    breach). Duration targets apply to the median and to the mean alike."""

    first_response_hours: Target = Target(op="<", value=4, unit="h")
    resolution_hours: Target = Target(op="<", value=24, unit="h")
    sla_compliance_pct: Target = Target(op=">=", value=95, unit="%")
    csat_pct: Target = Target(op=">", value=90, unit="%")
    nps: Target = Target(op=">", value=40)


# ---------------------------------------------------------------------------- figures


class DurationStats(BaseModel):
    """Business-time durations, in hours."""

    count: int = Field(description="Tickets measured")
    median_hours: float | None = None
    mean_hours: float | None = None


class SlaCompliance(BaseModel):
    decided: int = Field(description="Tickets whose SLA outcome was decided in the period")
    met: int = Field(description="... decided without any breach (every clock stopped in time)")
    breached: int = Field(description="... decided by their first breach")
    compliance_pct: float | None = Field(None, description="met / decided * 100")


class CsatFigure(BaseModel):
    answers: int = Field(description="Surveys answered in the period")
    satisfied: int = Field(description="... with a score of 4 or 5")
    csat_pct: float | None = Field(None, description="satisfied / answers * 100")


class NpsFigure(BaseModel):
    answers: int = Field(description="Contacts counted (latest answer in the period each)")
    promoters: int = Field(description="Scores 9-10")
    passives: int = Field(description="Scores 7-8")
    detractors: int = Field(description="Scores 0-6")
    nps: float | None = Field(None, description="% promoters - % detractors (-100 … 100)")


class WeekLoad(BaseModel):
    start: datetime
    end: datetime = Field(description="Exclusive; the last week of a period may be shorter")
    created: int


class CustomerLoad(BaseModel):
    customer_id: str | None = Field(description="None: tickets with no customer recorded")
    created: int


class SupportLoad(BaseModel):
    created: int = Field(description="Tickets created in the period")
    per_week: float = Field(description="created ÷ (period length in weeks)")
    weeks: list[WeekLoad] = Field(description="7-day buckets counted from `since`")
    customers: int = Field(description="Distinct customers with a ticket created")
    top_customers: list[CustomerLoad] = Field(
        description=f"Up to {TOP_CUSTOMERS} customers with the most tickets created"
    )
    open_at_end: int = Field(description="Tickets created before `until` and not solved by it")


class Figure(BaseModel):
    """One row of the report: a headline figure, its target and the verdict."""

    key: str
    label: str
    value: float | None
    unit: str = ""
    target: str | None = None
    meets_target: bool | None = None


class SupportMetrics(BaseModel):
    since: datetime
    until: datetime
    tickets_read: int = Field(description="Ticket SLA records given (any period)")
    csat_read: int = Field(description="CSAT survey records given (any period)")
    nps_read: int = Field(description="NPS answers given (any period)")
    first_response: DurationStats
    resolution: DurationStats
    sla: SlaCompliance
    csat: CsatFigure
    nps: NpsFigure
    load: SupportLoad
    targets: SupportTargets
    figures: list[Figure]
    skipped: int = Field(0, description="Set by the collector: workflows it could not read")
    warnings: list[str] = Field(
        default_factory=list, description="Set by the collector: what it could not read, why"
    )


# ---------------------------------------------------------------------------- functions


def compute_support_metrics(
    tickets: Sequence[TicketSlaStatus],
    csat: Sequence[CsatStatus],
    nps: Sequence[NpsAnswer],
    since: datetime,
    until: datetime,
    targets: SupportTargets | None = None,
) -> SupportMetrics:
    """Every support figure for ``since <= t < until``.

    A ticket (and a CSAT survey) is counted once per ``ticket_id``; when the same id comes
    twice, the later record in the list wins. See each ``*_stats`` function for what a
    figure counts.
    """
    since, until = _utc(since), _utc(until)
    if until <= since:
        raise ValueError(f"empty period: until ({until}) is not after since ({since})")
    targets = targets or SupportTargets()
    tickets = list({t.ticket_id: t for t in tickets}.values())
    surveys = list({c.ticket_id: c for c in csat}.values())

    first_response = first_response_stats(tickets, since, until)
    resolution = resolution_stats(tickets, since, until)
    sla = sla_compliance(tickets, since, until)
    csat_figure = csat_stats(surveys, since, until)
    nps_figure = nps_stats(nps, since, until)
    load = support_load(tickets, since, until)

    def against(key: str, label: str, value: float | None, t: Target, unit: str = "") -> Figure:
        """A figure with a target and whether it meets it."""
        return Figure(
            key=key, label=label, value=value, unit=unit, target=str(t), meets_target=t.meets(value)
        )

    def duration_rows(key: str, label: str, stats: DurationStats, t: Target) -> list[Figure]:
        return [
            against(f"{key}_{kind}_hours", f"{label} ({kind})", value, t, "h")
            for kind, value in (("median", stats.median_hours), ("mean", stats.mean_hours))
        ]

    figures = [
        *duration_rows(
            "first_response", "first response", first_response, targets.first_response_hours
        ),
        *duration_rows("resolution", "resolution", resolution, targets.resolution_hours),
        against(
            "sla_compliance_pct",
            "SLA compliance",
            sla.compliance_pct,
            targets.sla_compliance_pct,
            "%",
        ),
        against("csat_pct", "CSAT", csat_figure.csat_pct, targets.csat_pct, "%"),
        against("nps", "NPS", nps_figure.nps, targets.nps),
        Figure(key="tickets_created", label="tickets created", value=load.created),
        Figure(key="tickets_per_week", label="tickets per week", value=load.per_week),
        Figure(key="open_at_end", label="open at end", value=load.open_at_end),
    ]
    return SupportMetrics(
        since=since,
        until=until,
        tickets_read=len(tickets),
        csat_read=len(surveys),
        nps_read=len(nps),
        first_response=first_response,
        resolution=resolution,
        sla=sla,
        csat=csat_figure,
        nps=nps_figure,
        load=load,
        targets=targets,
        figures=figures,
    )


def first_response_stats(
    tickets: Iterable[TicketSlaStatus], since: datetime, until: datetime
) -> DurationStats:
    """Tickets whose first public reply (``first_response_at``) fell in the period, measured
    by ``first_response_business_minutes`` (business time in the ticket's calendar, paused
    time excluded) ÷ 60. A ticket with no time or no minutes recorded is not counted."""
    return _durations(
        t.first_response_business_minutes
        for t in tickets
        if _within(t.first_response_at, since, until)
        and t.first_response_business_minutes is not None
    )


def resolution_stats(
    tickets: Iterable[TicketSlaStatus], since: datetime, until: datetime
) -> DurationStats:
    """Tickets solved (``solved_at``) in the period, measured by
    ``resolution_business_minutes`` ÷ 60. A reopened ticket has no ``solved_at`` until it
    is solved again, and then counts in the period of that last solve."""
    return _durations(
        t.resolution_business_minutes
        for t in tickets
        if _within(t.solved_at, since, until) and t.resolution_business_minutes is not None
    )


def sla_outcome(ticket: TicketSlaStatus) -> tuple[bool, datetime] | None:
    """``(met, decided_at)`` or ``None`` while undecided.

    Breached: the ticket has a breach (in ``breaches`` or a clock's ``breached_at``),
    decided at the earliest one, whatever happens after it (a clock that breaches and is
    answered later is still breached). Met: no breach, the ticket has clocks and every one
    of them has stopped in time (``met_at`` set), decided at the latest ``met_at``.
    Anything else (a clock still running or paused, no clocks recorded) is undecided.
    """
    breaches = [b.at for b in ticket.breaches]
    breaches += [c.breached_at for c in ticket.clocks if c.breached_at is not None]
    if breaches:
        return False, _utc(min(_utc(at) for at in breaches))
    met = [c.met_at for c in ticket.clocks]
    if met and all(at is not None for at in met):
        return True, max(_utc(at) for at in met if at is not None)
    return None


def sla_compliance(
    tickets: Iterable[TicketSlaStatus], since: datetime, until: datetime
) -> SlaCompliance:
    """Of the tickets whose SLA outcome (``sla_outcome``) was decided in the period, the
    share decided *met*: every clock (first response, resolution) stopped without a breach.
    A ticket counts in one period only, the one holding its decision time."""
    met = breached = 0
    for ticket in tickets:
        outcome = sla_outcome(ticket)
        if outcome is None or not _within(outcome[1], since, until):
            continue
        if outcome[0]:
            met += 1
        else:
            breached += 1
    decided = met + breached
    return SlaCompliance(
        decided=decided, met=met, breached=breached, compliance_pct=_pct(met, decided)
    )


def csat_stats(surveys: Iterable[CsatStatus], since: datetime, until: datetime) -> CsatFigure:
    """Surveys with a score answered (``answered_at``) in the period; satisfied = score 4
    or 5 on the 1-5 scale. Unanswered, expired and skipped surveys are not counted."""
    scores = [
        c.score for c in surveys if c.score is not None and _within(c.answered_at, since, until)
    ]
    satisfied = sum(1 for s in scores if s >= 4)
    return CsatFigure(
        answers=len(scores), satisfied=satisfied, csat_pct=_pct(satisfied, len(scores))
    )


def nps_stats(answers: Iterable[NpsAnswer], since: datetime, until: datetime) -> NpsFigure:
    """Net promoter score of the answers given in the period, one per contact: a contact
    who answered twice in the period counts with the later answer only. Promoters score
    9-10, passives 7-8, detractors 0-6; NPS = % promoters - % detractors."""
    latest: dict[str, NpsAnswer] = {}
    for a in answers:
        if not _within(a.answered_at, since, until):
            continue
        kept = latest.get(a.contact_id)
        if kept is None or _utc(a.answered_at) >= _utc(kept.answered_at):
            latest[a.contact_id] = a
    scores = [a.score for a in latest.values()]
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    n = len(scores)
    return NpsFigure(
        answers=n,
        promoters=promoters,
        passives=n - promoters - detractors,
        detractors=detractors,
        nps=None if n == 0 else (promoters - detractors) * 100 / n,
    )


def support_load(
    tickets: Sequence[TicketSlaStatus], since: datetime, until: datetime
) -> SupportLoad:
    """Tickets created (``created_at``) in the period: in total, per week (7-day buckets
    from ``since``; the mean is created ÷ the period's length in weeks) and per customer.
    Open at the end: created before ``until`` and not solved by then (no ``solved_at`` and
    the workflow not finished, or solved at/after ``until``); a ticket whose workflow
    finished without a solve (e.g. deleted) is not open."""
    created = [t for t in tickets if _within(t.created_at, since, until)]
    weeks: list[WeekLoad] = []
    start = since
    while start < until:
        end = min(start + WEEK, until)
        count = sum(1 for t in created if _within(t.created_at, start, end))
        weeks.append(WeekLoad(start=start, end=end, created=count))
        start = end
    per_customer = Counter(t.customer_id for t in created)
    top = sorted(per_customer.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
    open_at_end = sum(
        1
        for t in tickets
        if t.created_at is not None
        and _utc(t.created_at) < until
        and (
            (t.solved_at is None and not t.finished)
            or (t.solved_at is not None and _utc(t.solved_at) >= until)
        )
    )
    return SupportLoad(
        created=len(created),
        per_week=len(created) / ((until - since) / WEEK),
        weeks=weeks,
        customers=len([c for c in per_customer if c is not None]),
        top_customers=[CustomerLoad(customer_id=c, created=n) for c, n in top[:TOP_CUSTOMERS]],
        open_at_end=open_at_end,
    )


# ---------------------------------------------------------------------------- helpers


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _within(at: datetime | None, since: datetime, until: datetime) -> bool:
    return at is not None and since <= _utc(at) < until


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else part * 100 / whole


def _durations(minutes: Iterable[float | None]) -> DurationStats:
    hours = [m / 60 for m in minutes if m is not None]
    if not hours:
        return DurationStats(count=0)
    return DurationStats(
        count=len(hours), median_hours=statistics.median(hours), mean_hours=statistics.fmean(hours)
    )
