"""What the support workflows report about themselves: the ticket SLA status (query
``sla_status`` / result of TicketSlaWorkflow), a CSAT survey's status (query ``status`` /
result of CsatSurveyWorkflow) and the NPS answers of a customer's survey cycle (query
``status`` / result of NpsSurveyWorkflow).

These are the records ``cshub report support`` reads back from Temporal, so their fields
are a contract: add fields with defaults, never rename or remove one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.steering import SteeringStatus


class Severity(StrEnum):
    """From the Zendesk priority: urgent → critical, high → high, normal → medium, low."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ClockName(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class SlaBreach(BaseModel):
    clock: ClockName
    at: datetime
    level: int = Field(description="Escalation level reached by this breach (1 = senior …)")
    level_name: str


class ClockStatus(BaseModel):
    clock: ClockName
    target_minutes: int = Field(description="Business minutes allowed")
    used_minutes: float = Field(0, description="Business minutes used so far")
    due_at: datetime | None = Field(None, description="Wall-clock deadline while running")
    running: bool = True
    paused: bool = False
    met_at: datetime | None = Field(None, description="Stopped (answered / solved) at")
    breached_at: datetime | None = None
    warned_at: datetime | None = None


class TicketSlaStatus(BaseModel):
    ticket_id: str
    customer_id: str | None = None
    tier: str | None = None
    severity: Severity = Severity.MEDIUM
    status: str = Field("open", description="Zendesk status as last seen")
    created_at: datetime | None = None
    first_response_at: datetime | None = None
    solved_at: datetime | None = None
    calendar: str = Field("", description="Business-hours calendar the clocks run in")
    clocks: list[ClockStatus] = Field(default_factory=list)
    breaches: list[SlaBreach] = Field(default_factory=list)
    level: int = Field(0, description="Current escalation level (0 = support specialist)")
    level_name: str = "support specialist"
    first_response_business_minutes: float | None = None
    resolution_business_minutes: float | None = None
    finished: bool = False
    cancelled: bool = False
    """Ended by the ``cancel`` signal (``steering.cancel_reason`` says why)."""
    steering: SteeringStatus = Field(default_factory=SteeringStatus)
    parked: str | None = None
    """Why no clock runs: the ticket cannot be read from Zendesk (deleted, not visible)."""


class CsatStatus(BaseModel):
    ticket_id: str
    customer_id: str | None = None
    sent_at: datetime | None = None
    score: int | None = Field(None, ge=1, le=5)
    answered_at: datetime | None = None
    status: str = Field("waiting", description="waiting | sent | answered | expired | skipped")
    steering: SteeringStatus = Field(default_factory=SteeringStatus)
    """Pause / skip / cancel (the steering signals)."""


class NpsAnswer(BaseModel):
    contact_id: str
    score: int = Field(ge=0, le=10)
    answered_at: datetime
    quarter: str = Field(description="e.g. 2026-Q4")


class NpsStatus(BaseModel):
    customer_id: str
    quarter: str | None = None
    asked: list[str] = Field(default_factory=list, description="Contact ids asked this quarter")
    answers: list[NpsAnswer] = Field(
        default_factory=list, description="Every answer kept (recent quarters)"
    )
    steering: SteeringStatus = Field(default_factory=SteeringStatus)
    """Pause / skip / cancel (the steering signals)."""
