"""What each sender posts, as pydantic models (validated after the signature check).

Unknown fields are kept (senders add fields over time); missing required ones are a
422 naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.onboarding import CUSTOMER_ID_PATTERN
from domain.tiers import ProductEventType


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")


class HubSpotWebhookEvent(_Payload):
    """One entry of HubSpot's webhook array (Webhooks API v3)."""

    eventId: int | str
    subscriptionType: str = Field(
        min_length=1, examples=["deal.propertyChange", "company.propertyChange"]
    )
    objectId: int | str
    occurredAt: int = Field(ge=0, description="epoch milliseconds")
    portalId: int | None = None
    appId: int | None = None
    subscriptionId: int | None = None
    attemptNumber: int | None = None
    propertyName: str | None = None
    propertyValue: str | None = None
    changeSource: str | None = None


HUBSPOT_MAX_BATCH = 100


class StripeEventData(_Payload):
    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None


class StripeWebhookEvent(_Payload):
    id: str = Field(min_length=1, examples=["evt_1QxYz"])
    type: str = Field(min_length=1, examples=["invoice.payment_failed"])
    created: int = Field(ge=0, description="epoch seconds")
    data: StripeEventData
    livemode: bool | None = None


class ZendeskWebhookEvent(_Payload):
    """Zendesk event-subscription webhooks (``zen:event-type:ticket.created`` …)."""

    id: str = Field(min_length=1)
    type: str = Field(min_length=1, examples=["zen:event-type:ticket.created"])
    time: datetime
    account_id: int | None = None
    subject: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    event: dict[str, Any] = Field(default_factory=dict)


class ProductWebhookEvent(_Payload):
    """A product-usage event, posted by the product's backend."""

    event_id: str = Field(min_length=1, max_length=200, examples=["evt_7f3a"])
    type: ProductEventType
    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN, examples=["1001"])
    occurred_at: datetime | None = None
    count: int = Field(default=1, ge=1, le=10_000)
    percent: float | None = Field(default=None, ge=0, le=1000)
    limit_name: str | None = None
