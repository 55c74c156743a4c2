"""``cshub report executive``: the seeds' KPIs for a period, next to their targets and
the source of each figure (:mod:`domain.executive_report`), and a one-page PNG chart.

Reads the CRM companies (through the ``Crm`` connector, paced as ``cshub report health``
is) and the helpdesk tickets created in the period with their metric sets (through the
Zendesk connector); no Temporal.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path

from activities.health_digest import PORTFOLIO_CALLS_PER_WINDOW
from connectors.base import Company, Crm
from connectors.zendesk import ZendeskHelpdesk
from cshub.health_report import crm_from_settings, portfolio_errors, read_book
from cshub.terminal import ProgressFn
from domain.executive_report import (
    ARR as ARR_PROPERTY,
)
from domain.executive_report import (
    ARR_BEFORE_RENEWAL,
    CHURNED_AT,
    COMPANY_PROPERTIES,
    CUSTOMER_SINCE,
    DAYS_TO_FIRST_VALUE,
    NPS_LAST_SCORE,
    ONBOARDING_COMPLETED_AT,
    ONBOARDING_STARTED_AT,
    ONBOARDING_SURVEY_ANSWERED,
    ONBOARDING_SURVEY_SCORE,
    RENEWAL_DECIDED_AT,
    RENEWAL_OUTCOME,
    AccountFacts,
    ExecutiveReport,
    build_executive_report,
    format_kpi,
)
from domain.health_report import normalize_tier, parse_number
from runtime.settings import Settings
from wiring.connectors import zendesk_helpdesk


class ExecutiveReportError(Exception):
    """The report could not be made (the CRM or the helpdesk refused or is unreachable)."""


def _day(value: str | None, what: str, company: str, warnings: list[str]) -> date | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            warnings.append(f"company {company}: {what} {text[:40]!r} is not a date: left out")
            return None


def account_facts(company: Company, warnings: list[str]) -> AccountFacts:
    """What the report reads from one company; an unreadable value is left out with a
    warning (never guessed)."""
    p = company.properties

    def day(name: str) -> date | None:
        return _day(p.get(name), name, company.id, warnings)

    def number(name: str) -> float | None:
        raw = p.get(name)
        value = parse_number(raw)
        if value is None and (raw or "").strip():
            warnings.append(f"company {company.id}: {name} {raw!r} is not a number: left out")
        return value

    nps = number(NPS_LAST_SCORE)
    onboarding = number(ONBOARDING_SURVEY_SCORE)
    outcome = (p.get(RENEWAL_OUTCOME) or "").strip().lower() or None
    return AccountFacts(
        id=company.id,
        tier=normalize_tier(company.tier),
        owner_id=(company.owner_id or "").strip() or None,
        customer_since=day(CUSTOMER_SINCE),
        churned_at=day(CHURNED_AT),
        renewal_outcome=outcome,
        renewal_decided_at=day(RENEWAL_DECIDED_AT),
        arr_before_renewal=number(ARR_BEFORE_RENEWAL),
        arr=number(ARR_PROPERTY),
        onboarding_started_at=day(ONBOARDING_STARTED_AT),
        onboarding_completed_at=day(ONBOARDING_COMPLETED_AT),
        days_to_first_value=number(DAYS_TO_FIRST_VALUE),
        nps_last_score=int(nps) if nps is not None and 0 <= nps <= 10 else None,
        onboarding_survey_score=(
            int(onboarding) if onboarding is not None and 0 <= onboarding <= 10 else None
        ),
        onboarding_survey_answered=day(ONBOARDING_SURVEY_ANSWERED),
    )


async def executive_report(
    crm: Crm,
    helpdesk: ZendeskHelpdesk,
    since: datetime,
    until: datetime,
    *,
    max_calls_per_10s: int = PORTFOLIO_CALLS_PER_WINDOW,
    progress: ProgressFn | None = None,
) -> ExecutiveReport:
    warnings: list[str] = []
    accounts, csm_names, missing = await read_book(
        crm,
        COMPANY_PROPERTIES,
        lambda c: account_facts(c, warnings),
        max_calls_per_10s=max_calls_per_10s,
        progress=progress,
    )
    show = progress or (lambda _what, _done, _total: None)
    show("helpdesk tickets read", 0, None)
    tickets = await asyncio.to_thread(helpdesk.ticket_facts, since, until)
    show("helpdesk tickets read", len(tickets), len(tickets))
    return build_executive_report(
        accounts,
        tickets,
        since,
        until,
        csm_names,
        warnings=[*missing, *warnings],
    )


def executive_report_for(
    settings: Settings, since: datetime, until: datetime, progress: ProgressFn | None = None
) -> ExecutiveReport:
    crm = crm_from_settings(settings)
    helpdesk = zendesk_helpdesk(settings)
    helpdesk_at = settings.zendesk_base_netloc or settings.zendesk_subdomain
    where = f"(CRM at {settings.hubspot_url}, helpdesk {helpdesk_at})"
    with portfolio_errors(ExecutiveReportError, where):
        return asyncio.run(executive_report(crm, helpdesk, since, until, progress=progress))


def write_chart(report: ExecutiveReport, path: Path) -> Path:
    """One page: each percentage KPI as a bar next to its target line, and the
    non-percentage ones (CSAT average, days to first value, NPS) as text; the bar is
    green when the figure meets its target, red when not, grey without data or target."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.69, 8.27), dpi=100, layout="constrained")  # A4 landscape
    FigureCanvasAgg(fig)
    bars_ax, text_ax = fig.subplots(1, 2, width_ratios=(2.2, 1))
    pairs = list(zip(report.kpis, report.portfolio.values, strict=True))
    percent = [(k, v) for k, v in pairs if k.unit == "%"]
    colors = {True: "#2e7d32", False: "#d32f2f", None: "#9e9e9e"}
    labels = [k.label for k, _ in percent]
    values = [v.value or 0.0 for _, v in percent]
    y = list(range(len(percent)))
    bars_ax.barh(y, values, color=[colors[v.meets] for _, v in percent])
    for i, (kpi, value) in enumerate(percent):
        if kpi.target is not None:
            bars_ax.plot([kpi.target.value] * 2, [i - 0.4, i + 0.4], color="black", lw=2)
        bars_ax.annotate(
            format_kpi(value.value, kpi.unit),
            (max(values[i], 0.0), i),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    bars_ax.set_yticks(y, labels)
    bars_ax.invert_yaxis()
    bars_ax.set_xlim(0, max([110.0, *values]) * 1.1)
    bars_ax.set_xlabel("% (black line: the seed's target)")
    bars_ax.set_title("Rates against their targets")
    text_ax.axis("off")
    lines = []
    for kpi, value in pairs:
        if kpi.unit != "%":
            lines.append(f"{kpi.label}\n  {format_kpi(value.value, kpi.unit)}  ({kpi.target_text})")
    lines += ["", f"Customers: {report.portfolio.customers}"]
    lines += [f"  {s.name}: {s.customers}" for s in report.tiers]
    lines += [f"Tickets created: {report.portfolio.tickets}"]
    text_ax.text(0, 1, "\n".join(lines), va="top", fontsize="medium", family="monospace")
    fig.suptitle(f"Executive report {report.since:%Y-%m-%d} \u2192 {report.until:%Y-%m-%d} (UTC)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
