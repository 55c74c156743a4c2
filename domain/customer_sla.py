"""One customer's SLA results, per clock: the share of tickets whose first response and
whose resolution met the SLA playbook's targets (``playbooks/sla.yaml``).

Read from the helpdesk's ticket metric sets (``TicketFacts``, the source the executive
report reads), held to the targets ``TicketSlaWorkflow`` holds a ticket to: the stricter
of the severity's and the tier's first-response time, the severity's resolution time,
both counted in business time of the tier's calendar (Enterprise 24/7, the other tiers
business hours). A metric set gives minutes of calendar time from the ticket's creation;
the instants they name (first agent reply, full resolution) are measured in the calendar.

- **First response**: tickets answered (met when the reply came within the target),
  plus tickets still unanswered and unsolved whose target has already passed (breached:
  the response clock never pauses, so they cannot meet it any more). Tickets unanswered
  and still in time are undecided and not counted.
- **Resolution**: tickets solved or closed, from creation to the full resolution. The
  metric set does not say when a ticket waited on the customer, so the time it spent
  pending or on hold counts too (the SLA workflow pauses the clock then): a ticket that
  waited long on the customer may read as late here. The figure errs on the strict side.

Pure: no I/O, no clock (``now`` is passed in).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from domain.business_time import business_time_between
from domain.executive_report import TicketFacts
from domain.sla_policy import SlaPolicy, effective_targets, severity_for_priority

SLA_WINDOW_DAYS = 90
"""The SLA figures count the tickets created in the last 90 days (a quarter: the
business review's period)."""
SOLVED = ("solved", "closed")


class CustomerSla(BaseModel):
    """Counts behind the two figures; a figure with nothing decided is None."""

    responses: int = Field(0, ge=0, description="First responses decided")
    responses_met: int = Field(0, ge=0, description="... within the target")
    resolutions: int = Field(0, ge=0, description="Tickets solved")
    resolutions_met: int = Field(0, ge=0, description="... within the target")

    @property
    def first_response_met_percent(self) -> float | None:
        return _pct(self.responses_met, self.responses)

    @property
    def resolution_met_percent(self) -> float | None:
        return _pct(self.resolutions_met, self.resolutions)


def customer_sla(
    tickets: Iterable[TicketFacts], policy: SlaPolicy, tier: str | None, now: datetime
) -> CustomerSla:
    """The customer's SLA results (see the module doc) for ``tickets`` as of ``now``."""
    now = _aware(now)
    out = CustomerSla()
    for t in tickets:
        targets = effective_targets(policy, severity_for_priority(policy, t.priority), tier)
        created = _aware(t.created_at)
        cal = targets.calendar
        solved = t.status.lower() in SOLVED
        if t.reply_minutes is not None:
            out.responses += 1
            replied = created + timedelta(minutes=t.reply_minutes)
            out.responses_met += business_time_between(cal, created, replied) <= (
                targets.first_response
            )
        elif not solved and business_time_between(cal, created, now) > targets.first_response:
            out.responses += 1
        if solved and t.resolution_minutes is not None:
            out.resolutions += 1
            resolved = created + timedelta(minutes=t.resolution_minutes)
            out.resolutions_met += business_time_between(cal, created, resolved) <= (
                targets.resolution
            )
    return out


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part * 100 / whole, 1)
