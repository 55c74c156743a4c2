"""Turn each sender's payload into the hub's one ``CustomerEvent`` model."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from domain.events import CustomerEvent, EventSource
from webhooks.payloads import (
    HubSpotWebhookEvent,
    ProductWebhookEvent,
    StripeWebhookEvent,
    ZendeskWebhookEvent,
)

HUBSPOT_DEAL_CLOSED_WON = "hubspot.deal.closed_won"


def from_hubspot(e: HubSpotWebhookEvent, closed_won_stages: Iterable[str]) -> CustomerEvent:
    object_type = e.subscriptionType.split(".", 1)[0]
    kind = f"hubspot.{e.subscriptionType}"
    if (
        e.subscriptionType == "deal.propertyChange"
        and e.propertyName == "dealstage"
        and e.propertyValue in set(closed_won_stages)
    ):
        kind = HUBSPOT_DEAL_CLOSED_WON
    order_key = f"hubspot:{object_type}:{e.objectId}:{e.propertyName}" if e.propertyName else None
    return CustomerEvent(
        event_id=str(e.eventId),
        source=EventSource.HUBSPOT,
        type=kind,
        # A company event names the customer; a deal or contact needs a CRM look-up.
        customer_id=str(e.objectId) if object_type == "company" else None,
        occurred_at=datetime.fromtimestamp(e.occurredAt / 1000, tz=UTC),
        data={
            "object_type": object_type,
            "object_id": str(e.objectId),
            "property_name": e.propertyName,
            "property_value": e.propertyValue,
            "portal_id": e.portalId,
        },
        order_key=order_key,
    )


STRIPE_SUBSCRIPTION_RENEWED = "stripe.customer.subscription.renewed"


def _period_end(obj: dict[str, Any]) -> int | None:
    """The subscription's current period end (epoch s). Newer Stripe API versions keep it
    on the subscription items instead of the subscription."""
    end = obj.get("current_period_end")
    if isinstance(end, int):
        return end
    items = (obj.get("items") or {}).get("data") or []
    ends = [i.get("current_period_end") for i in items if isinstance(i, dict)]
    ints = [e for e in ends if isinstance(e, int)]
    return max(ints) if ints else None


def _epoch_date(value: int | None) -> str | None:
    return datetime.fromtimestamp(value, tz=UTC).date().isoformat() if value else None


def from_stripe(e: StripeWebhookEvent) -> CustomerEvent:
    obj = e.data.object
    metadata = obj.get("metadata") or {}
    customer_id = metadata.get("cshub_customer_id") or metadata.get("hubspot_company_id")
    is_subscription = e.type.startswith("customer.subscription.")
    kind = f"stripe.{e.type}"
    period_end = _period_end(obj) if is_subscription else None
    previous_end = _period_end(e.data.previous_attributes or {}) if is_subscription else None
    rolled_over = bool(previous_end and period_end and period_end > previous_end)
    if (
        e.type == "customer.subscription.updated"
        and rolled_over
        and obj.get("status") in ("active", "trialing")
    ):
        # The subscription rolled into a new paid period: it renewed by itself.
        kind = STRIPE_SUBSCRIPTION_RENEWED
    return CustomerEvent(
        event_id=e.id,
        source=EventSource.STRIPE,
        type=kind,
        customer_id=str(customer_id) if customer_id else None,
        occurred_at=datetime.fromtimestamp(e.created, tz=UTC),
        data={
            "object_id": obj.get("id"),
            "stripe_customer": obj.get("customer"),
            "status": obj.get("status"),
            "renewal_date": _epoch_date(period_end),
            "invoice_id": obj.get("id") if e.type.startswith("invoice.") else None,
            "attempt_count": obj.get("attempt_count"),
            "amount_due_cents": obj.get("amount_due"),
            "currency": obj.get("currency"),
        },
        order_key=f"stripe:subscription:{obj.get('id')}" if is_subscription else None,
    )


def from_zendesk(e: ZendeskWebhookEvent) -> CustomerEvent:
    """Ticket events. The ticket id is the routing key; the customer (CRM company) is
    the organisation's external id, looked up by the SLA workflow, so it is set here
    only when the payload carries it. Status and priority values are lower-cased
    (Zendesk sends ``OPEN``, ``HIGH``)."""
    kind = e.type.removeprefix("zen:event-type:")
    ticket_id = e.detail.get("id")
    external = e.detail.get("organization_external_id")
    data: dict[str, Any] = {
        "ticket_id": str(ticket_id) if ticket_id else None,
        "status": _lower(e.detail.get("status")),
        "priority": _lower(e.detail.get("priority")),
    }
    if kind in ("ticket.status_changed", "ticket.priority_changed"):
        # The new value is the event's ``current``; ``detail`` may lag behind it.
        field = "status" if kind == "ticket.status_changed" else "priority"
        data[field] = _lower(e.event.get("current")) or data[field]
        data["previous"] = _lower(e.event.get("previous"))
    if kind == "ticket.comment_added":
        comment = e.event.get("comment") or {}
        author = comment.get("author") or {}
        data["comment_public"] = bool(comment.get("is_public"))
        data["author_is_staff"] = bool(author.get("is_staff"))
    occurred = e.time if e.time.tzinfo else e.time.replace(tzinfo=UTC)
    return CustomerEvent(
        event_id=e.id,
        source=EventSource.ZENDESK,
        type=f"zendesk.{kind}",
        customer_id=str(external) if external else None,
        occurred_at=occurred,
        data=data,
        # Status and priority changes of one ticket: a late older one is stale.
        order_key=f"zendesk:ticket:{ticket_id}:{kind}"
        if ticket_id and kind in ("ticket.status_changed", "ticket.priority_changed")
        else None,
    )


def _lower(value: object) -> str | None:
    return str(value).lower() if value else None


def from_product(e: ProductWebhookEvent, received_at: datetime) -> CustomerEvent:
    occurred = e.occurred_at or received_at
    return CustomerEvent(
        event_id=e.event_id,
        source=EventSource.PRODUCT,
        type=f"product.{e.type.value}",
        customer_id=e.customer_id,
        occurred_at=occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC),
        data={"count": e.count, "percent": e.percent, "limit_name": e.limit_name},
    )
