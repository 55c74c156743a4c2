"""The executive report: the seeds' customer-success KPIs for a period, each next to its
target (and the seed that sets it) and the source it was read from.

Inputs are what the CRM companies and the helpdesk tickets say (``AccountFacts``,
``TicketFacts``), however they were read; the output is one ``ExecutiveReport`` with the
portfolio's figures and the same figures per tier and per CSM. Pure functions: no I/O,
no clock (the period is passed in). The period is half-open, ``since <= t < until``.
A figure with nothing to count is ``None`` (never a division by zero); so is its
``meets``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, Field

from domain import onboarding_survey
from domain.support_metrics import Target
from domain.surveys import NPS_LAST_SCORE as NPS_LAST_SCORE

# -------------------------------------------------------------------- where figures come from

HUBSPOT = "HubSpot company"
ZENDESK = "Zendesk ticket"

CUSTOMER_SINCE = "cshub_customer_since"
CHURNED_AT = "cshub_churned_at"
RENEWAL_OUTCOME = "cshub_renewal_outcome"
RENEWAL_DECIDED_AT = "cshub_renewal_decided_at"
ARR_BEFORE_RENEWAL = "cshub_arr_before_renewal"
ARR = "cshub_arr"
ONBOARDING_STARTED_AT = "cshub_onboarding_started_at"
ONBOARDING_COMPLETED_AT = "cshub_onboarding_completed_at"
DAYS_TO_FIRST_VALUE = "cshub_days_to_first_value"
ONBOARDING_SURVEY_SCORE = onboarding_survey.SCORE
ONBOARDING_SURVEY_ANSWERED = onboarding_survey.ANSWERED

COMPANY_PROPERTIES: tuple[str, ...] = (
    CUSTOMER_SINCE,
    CHURNED_AT,
    RENEWAL_OUTCOME,
    RENEWAL_DECIDED_AT,
    ARR_BEFORE_RENEWAL,
    ARR,
    ONBOARDING_STARTED_AT,
    ONBOARDING_COMPLETED_AT,
    DAYS_TO_FIRST_VALUE,
    NPS_LAST_SCORE,
    ONBOARDING_SURVEY_SCORE,
    ONBOARDING_SURVEY_ANSWERED,
)
"""The company properties the report reads (besides tier and owner)."""


LifecycleFact = date | float | str | None


def parse_day(text: str | None) -> date | None:
    """An ISO day (or the day of an ISO timestamp) from a CRM property; None otherwise."""
    try:
        return date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        return None


def lifecycle_properties(facts: dict[str, LifecycleFact]) -> dict[str, str]:
    """The CRM company properties for lifecycle facts the hub's workflows learn (keys:
    the property names above): dates as ISO days, amounts as plain decimals, unknown
    (``None``) facts left out, so that a write never blanks what another wrote."""
    out: dict[str, str] = {}
    for name, value in facts.items():
        if name not in COMPANY_PROPERTIES:
            raise ValueError(f"{name} is not a property the executive report reads")
        if value is None:
            continue
        if isinstance(value, date):
            out[name] = value.isoformat()
        elif isinstance(value, float | int):
            out[name] = f"{value:.2f}"
        else:
            out[name] = value
    return out


ESCALATION_TAG = "cshub_sla_breached"
"""Put on a ticket by every SLA escalation of ``TicketSlaWorkflow``."""
ONBOARDING_DAYS = 90
"""Onboarding counts as completed when completed within this many days of its start."""
RESPONSE_MINUTES: dict[str, int] = {"urgent": 15, "high": 60, "normal": 240, "low": 1440}
RESOLUTION_MINUTES: dict[str, int] = {"urgent": 240, "high": 480, "normal": 1440, "low": 4320}
"""Seed 001's SLA table by severity (critical / high / medium / low as Zendesk's urgent /
high / normal / low); a ticket without a priority is held to ``normal``."""
RENEWED = ("renewed", "auto_renewed")


class AccountFacts(BaseModel):
    """One CRM company, as the report reads it."""

    id: str
    tier: str | None = None
    owner_id: str | None = None
    customer_since: date | None = None
    churned_at: date | None = None
    renewal_outcome: str | None = None
    renewal_decided_at: date | None = None
    arr_before_renewal: float | None = None
    arr: float | None = None
    onboarding_started_at: date | None = None
    onboarding_completed_at: date | None = None
    days_to_first_value: float | None = None
    nps_last_score: int | None = None
    onboarding_survey_score: int | None = None
    onboarding_survey_answered: date | None = None


class TicketFacts(BaseModel):
    """One helpdesk ticket and its metrics (Zendesk's ticket metric set)."""

    id: str
    customer_id: str | None = None
    created_at: datetime
    status: str
    priority: str | None = None
    tags: list[str] = Field(default_factory=list)
    replies: int | None = None
    reply_minutes: int | None = None
    resolution_minutes: int | None = None
    csat_score: int | None = None


# -------------------------------------------------------------------- targets


class Kpi(BaseModel):
    key: str
    label: str
    unit: str
    target: Target | None
    target_text: str
    seed: str
    source: str
    definition: str


def _t(op: str, value: float, unit: str = "") -> Target:
    return Target.model_validate({"op": op, "value": value, "unit": unit})


KpiRow = tuple[str, str, str, Target | None, str, str, str, str]
KPI_COLUMNS = ("key", "label", "unit", "target", "target_text", "seed", "source", "definition")
"""The columns of ``KPI_TABLE``, in order (the fields of ``Kpi``)."""

KPI_TABLE: tuple[KpiRow, ...] = (
    # key, label, unit, target, target as shown, seed, source, definition
    (
        "retention",
        "Customer retention",
        "%",
        _t(">=", 95, "%"),
        ">= 95 % a year",
        "001 (12-month retention 95 %; seed 002: > 90 %)",
        f"{HUBSPOT} {CUSTOMER_SINCE}, {CHURNED_AT}",
        "customers at the start of the period not churned by its end / customers at the start",
    ),
    (
        "churn_monthly",
        "Churn (monthly rate)",
        "%",
        _t("<", 5, "%"),
        "< 5 % a month",
        "002, 003",
        f"{HUBSPOT} {CUSTOMER_SINCE}, {CHURNED_AT}",
        "customers churned in the period / customers at the start, divided by "
        "the period's length in months (30 days)",
    ),
    (
        "grr",
        "Gross revenue retention",
        "%",
        None,
        "no seed target",
        "-",
        f"{HUBSPOT} {RENEWAL_DECIDED_AT}, {ARR_BEFORE_RENEWAL}, {ARR}",
        "over the renewals decided in the period: sum of min(ARR after, ARR "
        "before) / sum of ARR before (churned: ARR after 0)",
    ),
    (
        "nrr",
        "Net revenue retention",
        "%",
        None,
        "no seed target",
        "-",
        f"{HUBSPOT} {RENEWAL_DECIDED_AT}, {ARR_BEFORE_RENEWAL}, {ARR}",
        "over the renewals decided in the period: sum of ARR after / sum of ARR "
        "before (churned: ARR after 0)",
    ),
    (
        "renewal_rate",
        "Renewal rate",
        "%",
        _t(">", 95, "%"),
        "> 95 %",
        "002",
        f"{HUBSPOT} {RENEWAL_OUTCOME}, {RENEWAL_DECIDED_AT}",
        "renewals decided in the period that renewed (or auto-renewed) / renewals decided",
    ),
    (
        "expansion_rate",
        "Expansion rate",
        "%",
        _t(">", 20, "%"),
        "> 20 %",
        "002",
        f"{HUBSPOT} {RENEWAL_DECIDED_AT}, {ARR_BEFORE_RENEWAL}, {ARR}",
        "renewals decided in the period that renewed at a higher ARR / renewals decided",
    ),
    (
        "time_to_first_value",
        "Time to first value (median)",
        "d",
        _t("<", 7, "days"),
        "< 7 days",
        "002",
        f"{HUBSPOT} {DAYS_TO_FIRST_VALUE}, {ONBOARDING_STARTED_AT}",
        "median days to first value of the customers whose onboarding started in the period",
    ),
    (
        "onboarding_completion",
        "Onboarding completion",
        "%",
        _t(">", 90, "%"),
        "> 90 %",
        "002",
        f"{HUBSPOT} {ONBOARDING_STARTED_AT}, {ONBOARDING_COMPLETED_AT}",
        f"onboardings started {ONBOARDING_DAYS}+ days before the period's end and "
        f"within it, completed within {ONBOARDING_DAYS} days / those onboardings",
    ),
    (
        "onboarding_satisfaction",
        "Onboarding survey (average 0-10)",
        "/10",
        _t(">", 8),
        "> 8 / 10",
        "002 (onboarding satisfaction > 8/10; surveys at 7/30/90 days: seed 001)",
        f"{HUBSPOT} {ONBOARDING_SURVEY_SCORE}, {ONBOARDING_SURVEY_ANSWERED}",
        "mean of the latest onboarding-survey satisfaction of the customers who "
        "answered one in the period",
    ),
    (
        "first_contact_resolution",
        "First-contact resolution",
        "%",
        _t(">=", 75, "%"),
        ">= 75 % (seed 002: > 80 %)",
        "001 (75 %), 002 (80 %)",
        f"{ZENDESK} metrics (replies)",
        "tickets created in the period and solved with at most one agent reply "
        "/ tickets created in the period and solved",
    ),
    (
        "escalation_rate",
        "Escalation rate",
        "%",
        _t("<", 10, "%"),
        "< 10 %",
        "002",
        f"{ZENDESK} tag {ESCALATION_TAG}",
        "tickets created in the period that the SLA play escalated / tickets created",
    ),
    (
        "csat_average",
        "CSAT average (1-5)",
        "/5",
        _t(">=", 4.5),
        ">= 4.5 / 5",
        "001",
        f"{ZENDESK} tags csat_score_N",
        "mean CSAT score on the tickets created in the period",
    ),
    (
        "csat_share",
        "CSAT share (4-5)",
        "%",
        _t(">", 90, "%"),
        "> 90 %",
        "002, 003",
        f"{ZENDESK} tags csat_score_N",
        "CSAT answers of 4 or 5 / CSAT answers, tickets created in the period",
    ),
    (
        "response_compliance",
        "Response-time compliance",
        "%",
        _t(">=", 95, "%"),
        ">= 95 %",
        "001",
        f"{ZENDESK} metrics (reply_time_in_minutes), priority",
        "tickets answered within seed 001's first-response time for their "
        "priority / tickets answered (created in the period)",
    ),
    (
        "resolution_compliance",
        "Resolution-time compliance",
        "%",
        _t(">=", 90, "%"),
        ">= 90 %",
        "001",
        f"{ZENDESK} metrics (full_resolution_time_in_minutes), priority",
        "tickets solved within seed 001's resolution time for their priority / "
        "tickets solved (created in the period)",
    ),
    (
        "nps",
        "NPS",
        "",
        _t(">", 40),
        "> 40 (seed 003; seed 002 asks 70+)",
        "003",
        f"{HUBSPOT} {NPS_LAST_SCORE}",
        "% promoters (9-10) - % detractors (0-6) over the companies' last NPS "
        "answer (customers active at the period's end)",
    ),
)
"""The KPI table: one row a KPI, in the order the report shows them; ``_figures``
computes each one's value under its key, ``KPIS`` reads the rows as ``Kpi``."""
KPIS: tuple[Kpi, ...] = tuple(
    Kpi.model_validate(dict(zip(KPI_COLUMNS, row, strict=True))) for row in KPI_TABLE
)
KPI_BY_KEY = {k.key: k for k in KPIS}


# -------------------------------------------------------------------- figures


class KpiValue(BaseModel):
    key: str
    value: float | None
    count: int = Field(description="How many records the figure was computed from")
    meets: bool | None = None


class Segment(BaseModel):
    """The figures of one group of customers (the portfolio, a tier or a CSM's book)."""

    name: str
    customers: int
    tickets: int
    values: list[KpiValue]

    def value(self, key: str) -> float | None:
        return next(v.value for v in self.values if v.key == key)


class ExecutiveReport(BaseModel):
    since: datetime
    until: datetime
    kpis: list[Kpi] = Field(default_factory=lambda: list(KPIS))
    portfolio: Segment
    tiers: list[Segment]
    csms: list[Segment]
    warnings: list[str] = Field(default_factory=list)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _within(day: date | None, since: date, until: date) -> bool:
    return day is not None and since <= day < until


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _figures(
    accounts: Sequence[AccountFacts],
    tickets: Sequence[TicketFacts],
    since: datetime,
    until: datetime,
) -> dict[str, tuple[float | None, int]]:
    start, end = since.date(), until.date()
    out: dict[str, tuple[float | None, int]] = {}

    at_start = [
        a
        for a in accounts
        if a.customer_since is not None
        and a.customer_since < start
        and (a.churned_at is None or a.churned_at >= start)
    ]
    churned = [a for a in at_start if _within(a.churned_at, start, end)]
    out["retention"] = (_pct(len(at_start) - len(churned), len(at_start)), len(at_start))
    months = (until - since) / timedelta(days=30)
    out["churn_monthly"] = (
        round(100 * len(churned) / len(at_start) / months, 2) if at_start and months > 0 else None,
        len(at_start),
    )

    decided = [
        a
        for a in accounts
        if _within(a.renewal_decided_at, start, end) and a.renewal_outcome is not None
    ]
    renewed = [a for a in decided if a.renewal_outcome in RENEWED]
    out["renewal_rate"] = (_pct(len(renewed), len(decided)), len(decided))
    revenue = [a for a in decided if a.arr_before_renewal]
    before = sum(a.arr_before_renewal or 0.0 for a in revenue)

    def after(a: AccountFacts) -> float:
        return 0.0 if a.renewal_outcome not in RENEWED else a.arr or 0.0

    gross = sum(min(after(a), a.arr_before_renewal or 0.0) for a in revenue)
    net = sum(after(a) for a in revenue)
    out["grr"] = (round(100 * gross / before, 1) if before else None, len(revenue))
    out["nrr"] = (round(100 * net / before, 1) if before else None, len(revenue))
    expanded = [
        a for a in renewed if a.arr_before_renewal is not None and after(a) > a.arr_before_renewal
    ]
    out["expansion_rate"] = (_pct(len(expanded), len(decided)), len(decided))

    onboarded = [a for a in accounts if _within(a.onboarding_started_at, start, end)]
    ttfv = [a.days_to_first_value for a in onboarded if a.days_to_first_value is not None]
    out["time_to_first_value"] = (
        round(statistics.median(ttfv), 1) if ttfv else None,
        len(ttfv),
    )
    due = [
        a
        for a in onboarded
        if a.onboarding_started_at is not None
        and a.onboarding_started_at + timedelta(days=ONBOARDING_DAYS) <= end
    ]
    completed = [
        a
        for a in due
        if a.onboarding_completed_at is not None
        and a.onboarding_started_at is not None
        and a.onboarding_completed_at <= a.onboarding_started_at + timedelta(days=ONBOARDING_DAYS)
    ]
    out["onboarding_completion"] = (_pct(len(completed), len(due)), len(due))

    surveyed = [
        a.onboarding_survey_score
        for a in accounts
        if a.onboarding_survey_score is not None
        and _within(a.onboarding_survey_answered, start, end)
    ]
    out["onboarding_satisfaction"] = (
        round(statistics.fmean(surveyed), 2) if surveyed else None,
        len(surveyed),
    )

    created = [t for t in tickets if since <= _utc(t.created_at) < until]
    solved = [t for t in created if t.status in ("solved", "closed")]
    one_touch = [t for t in solved if t.replies is not None and t.replies <= 1]
    out["first_contact_resolution"] = (_pct(len(one_touch), len(solved)), len(solved))
    escalated = [t for t in created if ESCALATION_TAG in t.tags]
    out["escalation_rate"] = (_pct(len(escalated), len(created)), len(created))
    scores = [t.csat_score for t in created if t.csat_score is not None]
    out["csat_average"] = (round(statistics.fmean(scores), 2) if scores else None, len(scores))
    out["csat_share"] = (_pct(sum(1 for s in scores if s >= 4), len(scores)), len(scores))

    def target(t: TicketFacts, table: dict[str, int]) -> int:
        return table.get(t.priority or "normal", table["normal"])

    answered = [t for t in created if t.reply_minutes is not None]
    in_time = [t for t in answered if (t.reply_minutes or 0) <= target(t, RESPONSE_MINUTES)]
    out["response_compliance"] = (_pct(len(in_time), len(answered)), len(answered))
    resolved = [t for t in solved if t.resolution_minutes is not None]
    on_time = [t for t in resolved if (t.resolution_minutes or 0) <= target(t, RESOLUTION_MINUTES)]
    out["resolution_compliance"] = (_pct(len(on_time), len(resolved)), len(resolved))

    active = [a for a in accounts if a.churned_at is None or a.churned_at >= end]
    nps = [a.nps_last_score for a in active if a.nps_last_score is not None]
    promoters = sum(1 for s in nps if s >= 9)
    detractors = sum(1 for s in nps if s <= 6)
    out["nps"] = (
        round(100 * (promoters - detractors) / len(nps), 1) if nps else None,
        len(nps),
    )
    return out


def _segment(
    name: str,
    accounts: Sequence[AccountFacts],
    tickets: Sequence[TicketFacts],
    since: datetime,
    until: datetime,
) -> Segment:
    figures = _figures(accounts, tickets, since, until)
    values = []
    for kpi in KPIS:
        value, count = figures[kpi.key]
        meets = kpi.target.meets(value) if kpi.target is not None else None
        values.append(KpiValue(key=kpi.key, value=value, count=count, meets=meets))
    return Segment(name=name, customers=len(accounts), tickets=len(tickets), values=values)


def _groups(
    accounts: Sequence[AccountFacts],
    tickets: Sequence[TicketFacts],
    key: Callable[[AccountFacts], str],
    since: datetime,
    until: datetime,
) -> list[Segment]:
    names = sorted({key(a) for a in accounts})
    segments = []
    for name in names:
        members = [a for a in accounts if key(a) == name]
        ids = {a.id for a in members}
        own = [t for t in tickets if t.customer_id in ids]
        segments.append(_segment(name, members, own, since, until))
    return segments


def build_executive_report(
    accounts: Iterable[AccountFacts],
    tickets: Iterable[TicketFacts],
    since: datetime,
    until: datetime,
    owner_names: dict[str, str] | None = None,
    warnings: Sequence[str] = (),
) -> ExecutiveReport:
    accounts, tickets = list(accounts), list(tickets)
    since, until = _utc(since), _utc(until)
    names = owner_names or {}
    return ExecutiveReport(
        since=since,
        until=until,
        portfolio=_segment("portfolio", accounts, tickets, since, until),
        tiers=_groups(accounts, tickets, lambda a: a.tier or "(no tier)", since, until),
        csms=_groups(
            accounts,
            tickets,
            lambda a: names.get(a.owner_id or "", a.owner_id or "(no CSM)"),
            since,
            until,
        ),
        warnings=list(warnings),
    )


# -------------------------------------------------------------------- text

NO_DATA = "no data"
"""A figure with nothing to count (this report's and the support report's)."""
MEETS = {True: "\u2713", False: "\u2717", None: "\u2013"}
"""Meets its target: check, cross, en dash (no target or no data)."""


def format_kpi(value: float | None, unit: str) -> str:
    if value is None:
        return NO_DATA
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "d":
        return f"{value:g} days"
    if unit in ("/5", "/10"):
        return f"{value:.2f} {unit[0]} {unit[1:]}"
    return f"{value:g}"


def render_text(report: ExecutiveReport) -> str:
    from domain.text_table import table_lines

    lines = [
        f"Executive report {report.since:%Y-%m-%d} \u2192 {report.until:%Y-%m-%d} (UTC), "
        f"{report.portfolio.customers} customer(s), {report.portfolio.tickets} ticket(s) read",
        "",
    ]
    rows: list[tuple[str, ...]] = [("KPI", "value", "n", "target", "meets", "seed", "source")]
    for kpi, value in zip(report.kpis, report.portfolio.values, strict=True):
        rows.append(
            (
                kpi.label,
                format_kpi(value.value, kpi.unit),
                str(value.count),
                kpi.target_text,
                MEETS[value.meets],
                kpi.seed,
                kpi.source,
            )
        )
    lines += table_lines(rows, (False, True, True, False, False, False, False))
    for title, segments in (("By tier", report.tiers), ("By CSM", report.csms)):
        lines += ["", title]
        header = ("KPI", *(s.name for s in segments))
        body = [
            (
                kpi.label,
                *(format_kpi(s.values[i].value, kpi.unit) for s in segments),
            )
            for i, kpi in enumerate(report.kpis)
        ]
        lines += table_lines([header, *body], (False, *(True for _ in segments)))
    lines += [
        "",
        "NPS target: seed 003's > 40 is the pass mark; seed 002's 70+ is shown as a stretch.",
    ]
    if report.warnings:
        lines += ["", "warnings:"] + [f"  {w}" for w in report.warnings]
    return "\n".join(lines)
