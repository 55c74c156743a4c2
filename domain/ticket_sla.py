"""Messages of TicketSlaWorkflow (its input and signals); the clocks are in
``domain/sla_clock.py``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


TICKET_ID_PATTERN = r"^[0-9]{1,20}$"


def ticket_sla_workflow_id(ticket_id: str) -> str:
    return f"ticket-sla-{ticket_id}"


class TicketSlaInput(_Message):
    """``{"ticket_id": "5001"}``: the rest is read from Zendesk and the CRM."""

    ticket_id: str = Field(pattern=TICKET_ID_PATTERN)
    carry_over: dict[str, object] | None = Field(
        default=None, description="Internal: state carried across continue-as-new"
    )


class AgentReplied(_Message):
    """The first public reply by an agent stops the first-response clock."""

    at: datetime | None = Field(default=None, description="When (default: when received)")
    event_id: str | None = None


class TicketStatusChanged(_Message):
    """``{"status": "pending"}``: new, open, pending, hold, solved, closed."""

    status: str = Field(min_length=1, max_length=20)
    at: datetime | None = None
    event_id: str | None = None


class TicketPriorityChanged(_Message):
    """``{"priority": "urgent"}``: the targets are recomputed for the new severity."""

    priority: str | None = None
    at: datetime | None = None
    event_id: str | None = None
