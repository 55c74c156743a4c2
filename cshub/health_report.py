"""``cshub report health``: the portfolio's health as the sweep last recorded it on the
CRM companies: counts and shares per category, a tier x category table, average score
and trend, low-confidence count, each CSM's book and the at-risk list (worst first);
plus a PNG chart of the distribution.

Reads the CRM directly (no Temporal): every company, page by page, through the ``Crm``
connector the settings describe, then each owner once for their name, at most 40 CRM
calls in any 10 s (``read_portfolio``'s pacing). The figures are
:mod:`domain.health_report`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from activities.health_digest import (
    PORTFOLIO_CALLS_PER_WINDOW,
    company_health,
    read_companies,
    read_owners,
)
from connectors.base import Company, Crm
from connectors.errors import ConnectorError
from connectors.pacing import CallPacer
from cshub.terminal import ProgressFn
from domain.health_model import HealthCategory
from domain.health_report import (
    CATEGORY_ORDER,
    CATEGORY_TITLES,
    READ_PROPERTIES,
    PortfolioHealth,
    build_portfolio_health,
)
from runtime.settings import Settings

DEFAULT_CHART = Path("health-report.png")
CLI_PAGE_ATTEMPTS = 3
"""A person is waiting: retry a refused page after 1 s and 2 s, then say why."""

CATEGORY_COLORS: dict[HealthCategory, str] = {
    HealthCategory.HEALTHY: "#2e7d32",
    HealthCategory.GOOD: "#8bc34a",
    HealthCategory.AT_RISK: "#ffa000",
    HealthCategory.CRITICAL: "#d32f2f",
    HealthCategory.UNKNOWN: "#9e9e9e",
}


class HealthReportError(Exception):
    """The report could not be made (the CRM refused or is unreachable)."""


def crm_from_settings(settings: Settings) -> Crm:
    """The CRM connector alone, configured as ``wiring.connectors`` does (building every
    connector would also point zenpy at Zendesk through process-wide variables)."""
    from connectors.hubspot import HubSpotCrm

    token = settings.hubspot_access_token
    portal = settings.hubspot_portal_id
    return HubSpotCrm(
        access_token=token.get_secret_value() if token else "",
        base_url=settings.hubspot_url,
        task_to_company_association_type_id=settings.hubspot_task_association_type_id,
        note_to_company_association_type_id=settings.hubspot_note_association_type_id,
        portal_url=f"https://app.hubspot.com/contacts/{portal}" if portal else None,
    )


async def health_report(
    crm: Crm,
    *,
    max_calls_per_10s: int = PORTFOLIO_CALLS_PER_WINDOW,
    progress: ProgressFn | None = None,
) -> PortfolioHealth:
    """Read every company and its owner's name; sum the portfolio up. At most
    ``max_calls_per_10s`` CRM calls in any 10 s (pages and owners together): the
    report shares HubSpot's rate limit with the running workflows. ``progress`` is told
    the pages and owners read (the paced calls take minutes on a large portfolio)."""
    accounts, csm_names, warnings = await read_book(
        crm,
        READ_PROPERTIES,
        company_health,
        max_calls_per_10s=max_calls_per_10s,
        progress=progress,
    )
    return build_portfolio_health(accounts, csm_names, warnings=warnings)


class _Owned(Protocol):
    @property
    def owner_id(self) -> str | None: ...


A = TypeVar("A", bound=_Owned)


async def read_book(
    crm: Crm,
    properties: Sequence[str],
    account: Callable[[Company], A],
    *,
    max_calls_per_10s: int,
    progress: ProgressFn | None,
) -> tuple[list[A], dict[str, str], list[str]]:
    """What a report reads from the CRM: every company with ``properties``, as
    ``account`` makes it, and its owner's (CSM's) name, by owner id. At most
    ``max_calls_per_10s`` CRM calls in any 10 s (pages and owners together); ``progress``
    is told the pages and owners read. Also returns a warning per owner the CRM does not
    know."""
    pacer = CallPacer(max_calls_per_10s)
    show = progress or (lambda _what, _done, _total: None)
    companies = await read_companies(
        crm,
        properties,
        attempts=CLI_PAGE_ATTEMPTS,
        pacer=pacer,
        heartbeat=lambda pages: show("CRM company pages read", pages, None),
    )
    accounts = [account(c) for c in companies]
    owner_ids = {a.owner_id for a in accounts if a.owner_id}
    owners, warnings = await read_owners(
        crm,
        owner_ids,
        pacer=pacer,
        on_read=lambda done: show("CSM names read", done, len(owner_ids)),
    )
    return accounts, {i: o.full_name for i, o in owners.items()}, warnings


def health_report_for(settings: Settings, progress: ProgressFn | None = None) -> PortfolioHealth:
    crm = crm_from_settings(settings)
    where = f"from the CRM at {settings.hubspot_url} (HUBSPOT_BASE_URL)"
    with portfolio_errors(HealthReportError, where):
        return asyncio.run(health_report(crm, progress=progress))


@contextmanager
def portfolio_errors(error: type[Exception], where: str) -> Iterator[None]:
    """A connector failure while a report reads the portfolio becomes ``error``, saying
    where the report read (``where``) and why it could not."""
    try:
        yield
    except ConnectorError as exc:
        raise error(f"cannot read the portfolio {where}: {exc}") from None


def write_chart(report: PortfolioHealth, path: Path) -> Path:
    """A PNG with two bar charts: companies per category, and per tier stacked by
    category. Agg canvas, no pyplot: no display, no global figure state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(12, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.3))

    titles = [CATEGORY_TITLES[c.category] for c in report.categories]
    counts = [c.count for c in report.categories]
    colors = [CATEGORY_COLORS[c.category] for c in report.categories]
    bars = left.bar(titles, counts, color=colors)
    left.bar_label(bars, labels=[f"{c.count}\n{c.percent:.1f} %" for c in report.categories])
    left.set_title(f"Companies by health category ({report.total})")
    left.set_ylabel("companies")
    left.margins(y=0.2)

    tiers = [t.tier for t in report.tiers]
    bottom = [0] * len(tiers)
    for category in CATEGORY_ORDER:
        values = [t.counts[category] for t in report.tiers]
        right.bar(
            tiers,
            values,
            bottom=bottom,
            color=CATEGORY_COLORS[category],
            label=CATEGORY_TITLES[category],
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for x, total in enumerate(bottom):
        right.annotate(str(total), (x, total), ha="center", va="bottom")
    right.set_title("By tier")
    right.set_ylabel("companies")
    right.margins(y=0.15)
    right.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    for axes in (left, right):
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))

    average = "-" if report.average_score is None else f"{report.average_score:g}"
    fig.suptitle(
        f"Portfolio health · average score {average} · {len(report.at_risk)} at risk or critical"
        + (f" · sweep {report.last_scored_at}" if report.last_scored_at else "")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
