"""One model for everything the outside world tells the hub, whatever the sender."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class EventSource(StrEnum):
    HUBSPOT = "hubspot"
    STRIPE = "stripe"
    ZENDESK = "zendesk"
    PRODUCT = "product"
    SURVEY = "survey"
    EMAIL = "email"  # a customer's e-mail (inbound parse, or logged in the CRM)


class CustomerEvent(BaseModel):
    """An accepted webhook delivery, normalised.

    ``type`` is ``{source}.{what happened}``, e.g. ``hubspot.deal.closed_won``,
    ``product.workflow_created``, ``stripe.invoice.payment_failed``. ``order_key`` names
    the thing whose state the event reports (e.g. one property of one deal), so that an
    older report arriving after a newer one can be recognised and dropped.
    """

    event_id: str = Field(min_length=1)
    source: EventSource
    type: str
    customer_id: str | None = None
    occurred_at: datetime
    data: dict[str, Any] = Field(default_factory=dict)
    order_key: str | None = None

    @property
    def dedup_key(self) -> str:
        return f"{self.source.value}:{self.event_id}"


class DeliveryOutcome(StrEnum):
    ACCEPTED = "accepted"  # Temporal durably accepted the start / signal
    DUPLICATE = "duplicate"  # this event id was handled before: nothing done
    IGNORED = "ignored"  # genuine, but no workflow handles it (yet), or journey over
    STALE = "stale"  # older than what the hub already knows: dropped
    INVALID = "invalid"  # failed validation: will never succeed as sent
    UNAVAILABLE = "unavailable"  # Temporal or the CRM is unreachable: send again later
    PARKED = "parked"  # taken by a workflow that cannot act (e.g. a ticket it cannot read)
    NOT_FOUND = "customer_not_found"  # names no known customer: kept, acted on when sent again


class DeliveryResult(BaseModel):
    """What happened to one event; the body of a webhook answer (or one entry of it)."""

    outcome: DeliveryOutcome
    event_id: str | None = None
    type: str | None = None
    customer_id: str | None = None
    workflow_id: str | None = None
    detail: str | None = None
