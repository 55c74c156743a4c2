"""The review pack a CSM takes into a business review: what the hub knows about the
account, in one text (the CRM meeting task's body) and one chart.

Built from the CRM company's properties -- the same ones ``cshub health explain`` and the
health sweep read -- so every figure equals what those print: health (the explanation
with its trend), usage against the plan's limits, onboarding milestones, tickets and SLA
figures, survey answers. Pure: no I/O, no Temporal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from domain.health_outreach import adoption_percent, parse_number, usage_figure_of
from domain.surveys import NPS_LAST_SCORE
from domain.usage import format_figure

USAGE_LIMITS = ("licensed seats", "workflow runs this month")

OPEN_TICKETS = "cshub_open_tickets"
CRITICAL_TICKETS_OPEN = "cshub_critical_tickets_open"
TICKETS_30D = "cshub_tickets_30d"
TICKETS_PREV_30D = "cshub_tickets_prev_30d"
CSAT_PERCENT = "cshub_csat_percent"
NPS_SCORE = "cshub_nps_score"
SLA_RESPONSE_MET = "cshub_sla_first_response_met_percent"
SLA_RESOLUTION_MET = "cshub_sla_resolution_met_percent"
PACK_PROPERTIES = (
    OPEN_TICKETS,
    CRITICAL_TICKETS_OPEN,
    TICKETS_30D,
    TICKETS_PREV_30D,
    CSAT_PERCENT,
    NPS_LAST_SCORE,
    NPS_SCORE,
    SLA_RESPONSE_MET,
    SLA_RESOLUTION_MET,
)
"""Company properties the pack reads beside the health sweep's."""


class PackFigures(BaseModel):
    """The pack's figures as numbers (also what the chart draws); None = unknown."""

    health_score: float | None = None
    health_previous: float | None = None
    health_label: str | None = None
    usage: dict[str, float] = {}
    """Limit name → percent used."""
    features_adopted_percent: float | None = None
    open_tickets: float | None = None
    critical_tickets_open: float | None = None
    tickets_30d: float | None = None
    tickets_prev_30d: float | None = None
    sla_response_met_percent: float | None = None
    sla_resolution_met_percent: float | None = None
    csat_percent: float | None = None
    nps_last_score: float | None = None


def pack_figures(props: Mapping[str, str | None]) -> PackFigures:
    usage = {}
    for name in USAGE_LIMITS:
        fig = usage_figure_of(props, name)
        if fig is not None:
            usage[name] = fig.percent
    return PackFigures(
        health_score=parse_number(props.get("cshub_health_score")),
        health_previous=parse_number(props.get("cshub_health_previous_score")),
        health_label=props.get("cshub_health_category_label") or None,
        usage=usage,
        features_adopted_percent=adoption_percent(props),
        open_tickets=parse_number(props.get(OPEN_TICKETS)),
        critical_tickets_open=parse_number(props.get(CRITICAL_TICKETS_OPEN)),
        tickets_30d=parse_number(props.get(TICKETS_30D)),
        tickets_prev_30d=parse_number(props.get(TICKETS_PREV_30D)),
        sla_response_met_percent=parse_number(props.get(SLA_RESPONSE_MET)),
        sla_resolution_met_percent=parse_number(props.get(SLA_RESOLUTION_MET)),
        csat_percent=parse_number(props.get(CSAT_PERCENT)),
        nps_last_score=parse_number(props.get(NPS_LAST_SCORE)),
    )


def _n(value: float | None, unit: str = "") -> str:
    return "not known" if value is None else f"{format_figure(value)}{unit}"


def review_pack_text(
    *,
    title: str,
    day: int,
    agenda: Sequence[str],
    props: Mapping[str, str | None],
    health_explanation: str,
    milestones_reached: Sequence[str],
    milestones_missed: Sequence[str],
    goals: Sequence[str],
    chart_url: str | None,
) -> str:
    f = pack_figures(props)
    lines = [f"REVIEW PACK · {title} · day {day} of the term", ""]
    if agenda:
        lines += ["Agenda:", *(f"- {a}" for a in agenda), ""]
    if goals:
        lines += ["Success plan goals:", *(f"- {g}" for g in goals), ""]
    lines += ["1. Health (as `cshub health explain` prints it)", health_explanation.rstrip(), ""]
    lines.append("2. Usage against the plan's limits")
    for name in USAGE_LIMITS:
        fig = usage_figure_of(props, name)
        lines.append(
            f"- {name}: "
            + (
                "not known"
                if fig is None
                else f"{format_figure(fig.used)} of {format_figure(fig.limit)} ({fig.percent:g} %)"
            )
        )
    lines.append(f"- features adopted: {_n(f.features_adopted_percent, ' %')}")
    lines.append("")
    lines.append("3. Onboarding milestones")
    lines.append(f"- reached: {', '.join(milestones_reached) or 'none'}")
    lines.append(f"- missed: {', '.join(milestones_missed) or 'none'}")
    lines.append("")
    lines.append("4. Tickets and SLA")
    lines.append(f"- open tickets: {_n(f.open_tickets)} (critical: {_n(f.critical_tickets_open)})")
    lines.append(
        f"- created in the last 30 days: {_n(f.tickets_30d)} "
        f"(the 30 days before: {_n(f.tickets_prev_30d)})"
    )
    lines.append(f"- first response within SLA: {_n(f.sla_response_met_percent, ' %')}")
    lines.append(f"- resolved within SLA: {_n(f.sla_resolution_met_percent, ' %')}")
    lines.append("")
    lines.append("5. Survey answers")
    lines.append(f"- latest NPS answer: {_n(f.nps_last_score)} (0-10)")
    lines.append(f"- CSAT, satisfied answers: {_n(f.csat_percent, ' %')}")
    if chart_url:
        lines += ["", f"Chart: {chart_url}"]
    return "\n".join(lines)
