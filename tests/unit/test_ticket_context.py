"""The SLA play's view of a ticket: its facts under the same names, and nothing that
could name a person (subject, assignee) lands in workflow history."""

from datetime import UTC, datetime

from activities.support import TicketContext
from connectors.base import Ticket


def test_the_context_carries_the_tickets_facts_and_no_subject() -> None:
    created, updated = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    ticket = Ticket(
        id="9",
        subject="Jane Doe cannot log in",
        status="open",
        priority="high",
        requester_id="r1",
        assignee_id="a1",
        organization_id="o1",
        group_id="g1",
        tags=["billing"],
        created_at=created,
        updated_at=updated,
        customer_id="c1",
    )
    context = TicketContext.of(ticket, tier="professional", first_agent_reply_at=updated)
    assert context == TicketContext(
        ticket_id="9",
        status="open",
        priority="high",
        created_at=created,
        updated_at=updated,
        customer_id="c1",
        tier="professional",
        requester_id="r1",
        group_id="g1",
        tags=["billing"],
        first_agent_reply_at=updated,
    )
    assert "Jane" not in context.model_dump_json() and "a1" not in context.model_dump_json()
