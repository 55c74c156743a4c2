"""Turn each sender's payload into the hub's one ``CustomerEvent`` model."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from domain.events import CustomerEvent, EventSource
from webhooks.payloads import (
    LATEST_EPOCH_S,
    USAGE_SNAPSHOT,
    HubSpotWebhookEvent,
    ProductWebhookEvent,
    StripeWebhookEvent,
    ZendeskTriggerBody,
    ZendeskWebhookEvent,
)

HUBSPOT_DEAL_CLOSED_WON = "hubspot.deal.closed_won"


HUBSPOT_OBJECT_TYPES = {
    "0-1": "contact",
    "0-2": "company",
    "0-3": "deal",
    "0-5": "ticket",
    "0-7": "product",
    "0-8": "line_item",
    "0-14": "quote",
    "0-49": "email",
}
"""HubSpot's object type ids (generic webhooks' ``objectTypeId``) → the legacy names."""


def _hubspot_object_type(type_id: str | None) -> str | None:
    if not type_id:
        return None
    return HUBSPOT_OBJECT_TYPES.get(type_id, type_id)


def _hubspot_kind(e: HubSpotWebhookEvent) -> tuple[str, str]:
    """(object type, what happened) in the legacy vocabulary, whichever format was sent:
    ``object.propertyChange`` with ``objectTypeId`` ``0-3`` is ``deal`` / ``propertyChange``."""
    prefix, _, what = e.subscriptionType.partition(".")
    if prefix != "object":
        return prefix, what
    if what == "associationChange":
        named = (e.associationType or "").split("_TO_", 1)[0].lower() or None
        return _hubspot_object_type(e.fromObjectTypeId) or named or "object", what
    return _hubspot_object_type(e.objectTypeId) or "object", what


def from_hubspot(e: HubSpotWebhookEvent, closed_won_stages: Iterable[str]) -> CustomerEvent:
    """Both HubSpot formats become the same event types (``hubspot.deal.propertyChange``,
    ``hubspot.contact.creation``, ``hubspot.company.associationChange`` …); a deal's
    ``dealstage`` moving to a won stage is ``hubspot.deal.closed_won``."""
    object_type, what = _hubspot_kind(e)
    kind = f"hubspot.{object_type}.{what}"
    if (
        object_type == "deal"
        and what == "propertyChange"
        and e.propertyName == "dealstage"
        and e.propertyValue in set(closed_won_stages)
    ):
        kind = HUBSPOT_DEAL_CLOSED_WON
    object_id = e.objectId
    if what == "associationChange" and e.fromObjectId is not None:
        object_id = e.fromObjectId  # associations name two objects
    elif object_id is None:  # merges their result
        object_id = e.primaryObjectId
    data: dict[str, Any] = {
        "object_type": object_type,
        "object_id": str(object_id),
        "property_name": e.propertyName,
        "property_value": e.propertyValue,
        "portal_id": e.portalId,
        "format": "generic" if e.subscriptionType.startswith("object.") else "legacy",
    }
    if what == "associationChange":
        data.update(
            to_object_type=_hubspot_object_type(e.toObjectTypeId)
            or (e.associationType or "").rpartition("_TO_")[2].lower()
            or None,
            to_object_id=str(e.toObjectId) if e.toObjectId is not None else None,
            association_type=e.associationType or e.associationTypeId,
            association_removed=bool(e.associationRemoved),
        )
    if what == "merge":
        data["merged_object_ids"] = [str(i) for i in e.mergedObjectIds or []]
    order_key = f"hubspot:{object_type}:{object_id}:{e.propertyName}" if e.propertyName else None
    return CustomerEvent(
        event_id=str(e.eventId),
        source=EventSource.HUBSPOT,
        type=kind,
        # A company event names the customer; a deal or contact needs a CRM look-up.
        customer_id=str(object_id) if object_type == "company" and what != "merge" else None,
        occurred_at=datetime.fromtimestamp(e.occurredAt / 1000, tz=UTC),
        data=data,
        order_key=order_key,
    )


STRIPE_SUBSCRIPTION_RENEWED = "stripe.customer.subscription.renewed"


def _dict(value: object) -> dict[str, Any]:
    """A nested object of a free-form payload, or {} when the sender put anything else."""
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _epoch(value: object) -> int | None:
    """Epoch seconds a date can be made of (not a bool, not past year 2100), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= LATEST_EPOCH_S:
        return value
    return None


def _period_end(obj: dict[str, Any]) -> int | None:
    """The subscription's current period end (epoch s). Newer Stripe API versions keep it
    on the subscription items instead of the subscription."""
    end = _epoch(obj.get("current_period_end"))
    if end is not None:
        return end
    items = _dict(obj.get("items")).get("data")
    ends = [_epoch(_dict(i).get("current_period_end")) for i in _list(items)]
    ints = [e for e in ends if e is not None]
    return max(ints) if ints else None


def _stripe_ref(value: object) -> str | None:
    """An id field, or the id of the object when the sender expanded it."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _epoch_date(value: int | None) -> str | None:
    return datetime.fromtimestamp(value, tz=UTC).date().isoformat() if value else None


def _stripe_customer_id(obj: dict[str, Any]) -> str | None:
    """``cshub_customer_id`` (or ``hubspot_company_id``) from the object's metadata; an
    invoice generated by a subscription carries the subscription's metadata in
    ``subscription_details`` (``parent.subscription_details`` in newer API versions)."""
    candidates = [
        obj.get("metadata"),
        _dict(obj.get("subscription_details")).get("metadata"),
        _dict(_dict(obj.get("parent")).get("subscription_details")).get("metadata"),
    ]
    for metadata in candidates:
        if isinstance(metadata, dict):
            found = metadata.get("cshub_customer_id") or metadata.get("hubspot_company_id")
            if found:
                return str(found)
    return None


def _stripe_subscription_id(obj: dict[str, Any], is_subscription: bool) -> str | None:
    """The subscription an object belongs to: itself, an invoice's ``subscription`` (API
    versions before 2025-03), ``parent.subscription_details.subscription`` (since), or
    a line's ``parent.subscription_item_details.subscription``."""
    if is_subscription:
        return _stripe_ref(obj.get("id"))
    candidates: list[object] = [
        obj.get("subscription"),
        _dict(_dict(obj.get("parent")).get("subscription_details")).get("subscription"),
    ]
    for line in _list(_dict(obj.get("lines")).get("data")):
        details = _dict(_dict(_dict(line).get("parent")).get("subscription_item_details"))
        candidates.append(details.get("subscription"))
    return next((ref for c in candidates if (ref := _stripe_ref(c))), None)


def from_stripe(e: StripeWebhookEvent) -> CustomerEvent:
    obj = e.data.object
    customer_id = _stripe_customer_id(obj)
    is_subscription = e.type.startswith("customer.subscription.")
    kind = f"stripe.{e.type}"
    period_end = _period_end(obj) if is_subscription else None
    previous_end = _period_end(_dict(e.data.previous_attributes)) if is_subscription else None
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
            "stripe_customer": _stripe_ref(obj.get("customer")),
            "subscription_id": _stripe_subscription_id(obj, is_subscription),
            "status": obj.get("status"),
            "renewal_date": _epoch_date(period_end),
            "invoice_id": obj.get("id") if e.type.startswith("invoice.") else None,
            "attempt_count": obj.get("attempt_count"),
            "amount_due_cents": obj.get("amount_due"),
            "currency": obj.get("currency"),
        },
        order_key=f"stripe:subscription:{obj.get('id')}" if is_subscription else None,
    )


CUSTOMER_COMMENT = "ticket.customer_comment"
"""A public comment by the requester (not staff): ``zendesk.ticket.customer_comment``."""
COMMENT_MAX = 2000


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
        comment = _dict(e.event.get("comment"))
        author = _dict(comment.get("author"))
        data["comment_public"] = bool(comment.get("is_public"))
        data["author_is_staff"] = bool(author.get("is_staff"))
        if data["comment_public"] and not data["author_is_staff"]:
            # What the customer wrote on their ticket (risk intelligence reads it; the
            # SLA clocks wait for agents' replies only).
            kind = CUSTOMER_COMMENT
            data["comment_body"] = str(comment.get("body") or "").strip()[:COMMENT_MAX]
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


_TRIGGER_STATUSES = {"on-hold": "hold", "on hold": "hold"}
"""``{{ticket.status}}`` renders the status's display name (``Open``, ``On-hold``)."""


def from_zendesk_trigger(
    body: ZendeskTriggerBody, raw: bytes, received_at: datetime
) -> CustomerEvent:
    """A trigger's admin-written body. It has no event id: the id is a digest of the body,
    so Zendesk's retry of the same notification is a duplicate (two identical updates of
    a ticket within the timestamp's minute are one event)."""
    status = _lower(body.status)
    data: dict[str, Any] = {
        "ticket_id": body.ticket_id,
        "status": _TRIGGER_STATUSES.get(status, status) if status else None,
        "priority": _lower(body.priority),
        "via": "trigger",
    }
    kind: str = body.event
    if kind == "ticket.agent_replied":
        # The trigger's conditions (public comment, by an agent) say what it is.
        kind = "ticket.comment_added"
        data.update(comment_public=True, author_is_staff=True)
    occurred = body.updated_at or received_at
    ticket_id = body.ticket_id
    return CustomerEvent(
        event_id=f"trigger-{hashlib.sha256(raw).hexdigest()[:40]}",
        source=EventSource.ZENDESK,
        type=f"zendesk.{kind}",
        customer_id=body.organization_external_id,
        occurred_at=occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC),
        data=data,
        order_key=f"zendesk:ticket:{ticket_id}:{kind}"
        if kind in ("ticket.status_changed", "ticket.priority_changed")
        else None,
    )


def _lower(value: object) -> str | None:
    return str(value).lower() if value else None


def from_product(e: ProductWebhookEvent, received_at: datetime) -> CustomerEvent:
    occurred = e.occurred_at or received_at
    if e.type == USAGE_SNAPSHOT:
        data: dict[str, Any] = {"usage": e.usage.given() if e.usage else {}}
        # Snapshots of one customer: a late older one is stale.
        order_key: str | None = f"product:usage:{e.customer_id}"
    else:
        data = {"count": e.count, "percent": e.percent, "limit_name": e.limit_name}
        order_key = None
    return CustomerEvent(
        event_id=e.event_id,
        source=EventSource.PRODUCT,
        type=f"product.{e.type}",
        customer_id=e.customer_id,
        occurred_at=occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC),
        data=data,
        order_key=order_key,
    )
