"""domain.customer_sla: a customer's SLA results per clock, from ticket metric sets, held
to playbooks/sla.yaml's targets in the tier's business calendar. Times are New York
local (UTC-4 in June 2026) written as UTC instants, so no machine time zone matters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.customer_sla import customer_sla
from domain.executive_report import TicketFacts
from domain.sla_policy import SlaPolicy
from playbooks.loader import load_playbook

NY = timedelta(hours=4)  # EDT


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return load_playbook("sla", SlaPolicy, today=date(2026, 6, 1))


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    """June ``day``, 2026, at ``hour:minute`` in New York."""
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC) + NY


def ticket(
    created: datetime,
    priority: str | None,
    *,
    replied: datetime | None = None,
    solved: datetime | None = None,
    status: str | None = None,
) -> TicketFacts:
    def minutes(at: datetime | None) -> int | None:
        return None if at is None else int((at - created).total_seconds() // 60)

    return TicketFacts(
        id=str(created.timestamp()),
        created_at=created,
        status=status or ("solved" if solved else "open"),
        priority=priority,
        reply_minutes=minutes(replied),
        resolution_minutes=minutes(solved),
    )


def test_business_hours_not_calendar_time(policy: SlaPolicy) -> None:
    # Urgent (15 min) on Wednesday 19:55, answered Thursday 08:05 New York: 730 calendar
    # minutes, but 5 + 5 business minutes (8 AM - 8 PM): met.
    met = ticket(ny(3, 19, 55), "urgent", replied=ny(4, 8, 5))
    # The same at 08:20: 25 business minutes, breached.
    late = ticket(ny(3, 19, 55), "urgent", replied=ny(4, 8, 20))
    sla = customer_sla([met, late], policy, "community", ny(20, 12))
    assert (sla.responses, sla.responses_met, sla.first_response_met_percent) == (2, 1, 50.0)
    assert sla.resolutions == 0 and sla.resolution_met_percent is None


def test_the_stricter_of_tier_and_severity(policy: SlaPolicy) -> None:
    # Low (24 h by severity) from an Enterprise customer (1 h, 24/7): answered in 90
    # minutes is late; from a Starter customer (24 h) it is in time.
    low = ticket(ny(6, 3), "low", replied=ny(6, 4, 30))
    assert customer_sla([low], policy, "enterprise", ny(20, 12)).first_response_met_percent == 0
    assert customer_sla([low], policy, "starter", ny(20, 12)).first_response_met_percent == 100
    # An unknown tier is held to the default tier's promise, not to none.
    assert customer_sla([low], policy, None, ny(20, 12)).responses == 1


def test_resolution_counts_solved_tickets_in_business_time(policy: SlaPolicy) -> None:
    # Urgent: resolution within 4 h of business time. Friday 18:00 to Monday 09:00 New
    # York is 2 h + 1 h: met; to Monday 11:30, 5.5 h: breached. A ticket solved without
    # any public reply has no first response to judge.
    met = ticket(ny(5, 18), "urgent", replied=ny(5, 18, 10), solved=ny(8, 9))
    late = ticket(ny(5, 18), "urgent", solved=ny(8, 11, 30))
    sla = customer_sla([met, late], policy, "professional", ny(20, 12))
    assert (sla.resolutions, sla.resolutions_met, sla.resolution_met_percent) == (2, 1, 50.0)
    assert (sla.responses, sla.responses_met) == (1, 1)


def test_an_unanswered_ticket_breaches_once_its_target_passed(policy: SlaPolicy) -> None:
    # Urgent on Friday 19:50 New York, unanswered: on Monday at 08:00 it has used 10
    # business minutes (undecided), at 08:06 16 minutes (breached). Solved, it is not
    # judged on a response it never needed.
    waiting = ticket(ny(5, 19, 50), "urgent")
    assert customer_sla([waiting], policy, "starter", ny(8, 8)).responses == 0
    late = customer_sla([waiting], policy, "starter", ny(8, 8, 6))
    assert (late.responses, late.responses_met, late.first_response_met_percent) == (1, 0, 0)
    closed = ticket(ny(5, 19, 50), "urgent", status="closed")
    assert customer_sla([closed], policy, "starter", ny(8, 9)).responses == 0


def test_percent_has_one_decimal(policy: SlaPolicy) -> None:
    created = ny(9, 10)
    tickets = [
        ticket(created, "normal", replied=created + timedelta(minutes=m)) for m in (10, 20, 600)
    ]
    sla = customer_sla(tickets, policy, "starter", ny(20, 12))
    assert sla.first_response_met_percent == 66.7  # normal: 4 h; 600 minutes is 10 h
