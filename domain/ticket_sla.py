"""Messages of TicketSlaWorkflow (its input and signals); the clocks are in
``domain/sla_clock.py``."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from domain.journeys import CarryOver, Message

TICKET_ID_PATTERN = r"^[0-9]{1,20}$"


def ticket_sla_workflow_id(ticket_id: str) -> str:
    return f"ticket-sla-{ticket_id}"


class TicketSlaInput(Message):
    """``{"ticket_id": "5001"}``: the rest is read from Zendesk and the CRM."""

    ticket_id: str = Field(pattern=TICKET_ID_PATTERN)
    carry_over: CarryOver = None


class AgentReplied(Message):
    """The first public reply by an agent stops the first-response clock."""

    at: datetime | None = Field(default=None, description="When (default: when received)")
    event_id: str | None = None


class TicketStatusChanged(Message):
    """``{"status": "pending"}``: new, open, pending, hold, solved, closed."""

    status: str = Field(min_length=1, max_length=20)
    at: datetime | None = None
    event_id: str | None = None


class TicketPriorityChanged(Message):
    """``{"priority": "urgent"}``: the targets are recomputed for the new severity."""

    priority: str | None = None
    at: datetime | None = None
    event_id: str | None = None
