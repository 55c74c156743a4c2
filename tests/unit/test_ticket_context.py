"""The SLA play's view of a ticket: its facts under the same names, and nothing that
could name a person (subject, assignee) lands in workflow history."""

from datetime import UTC, datetime

from activities.support import TicketContext
from connectors.base import Ticket

CREATED, UPDATED = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
SHARED = {
    "status": "open",
    "priority": "high",
    "requester_id": "r1",
    "group_id": "g1",
    "tags": ["billing"],
    "created_at": CREATED,
    "updated_at": UPDATED,
    "customer_id": "c1",
}
"""What the ticket and its context both say."""


def test_the_context_carries_the_tickets_facts_and_no_subject() -> None:
    private = {"subject": "Jane Doe cannot log in", "assignee_id": "a1", "organization_id": "o1"}
    ticket = Ticket.model_validate({"id": "9", **SHARED, **private})
    context = TicketContext.of(ticket, tier="professional", first_agent_reply_at=UPDATED)
    added = {"ticket_id": "9", "tier": "professional", "first_agent_reply_at": UPDATED}
    assert context.model_dump() == {**SHARED, **added}
    assert "Jane" not in context.model_dump_json() and "a1" not in context.model_dump_json()
