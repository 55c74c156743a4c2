"""Realistic, signed sample deliveries, as each sender would post them.

Used by ``cshub send-test-event`` (to poke a running hub) and by the tests, so both
exercise exactly what a real sender sends.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webhooks import signing


@dataclass(frozen=True)
class SignedRequest:
    path: str
    body: bytes
    headers: dict[str, str]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def hubspot_event(
    *,
    object_id: str,
    subscription_type: str = "deal.propertyChange",
    property_name: str | None = "dealstage",
    property_value: str | None = "closedwon",
    event_id: int | None = None,
    occurred_at_ms: int | None = None,
) -> dict[str, Any]:
    return {
        "eventId": event_id if event_id is not None else uuid.uuid4().int % 10**12,
        "subscriptionId": 4242,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": occurred_at_ms or int(time.time() * 1000),
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "objectId": int(object_id) if object_id.isdigit() else object_id,
        "propertyName": property_name,
        "propertyValue": property_value,
        "changeSource": "CRM_UI",
    }


def hubspot_generic_event(
    *,
    object_id: str,
    object_type_id: str = "0-3",
    subscription_type: str = "object.propertyChange",
    property_name: str | None = "dealstage",
    property_value: str | None = "closedwon",
    event_id: int | None = None,
) -> dict[str, Any]:
    """The same change in HubSpot's generic format (apps created today)."""
    event = hubspot_event(
        object_id=object_id,
        subscription_type=subscription_type,
        property_name=property_name,
        property_value=property_value,
        event_id=event_id,
    )
    event.update(objectTypeId=object_type_id, changeFlag="UPDATED", sourceId="userId:1234567")
    return event


def signed_hubspot(
    events: list[dict[str, Any]], *, secret: str, public_url: str, timestamp_ms: int | None = None
) -> SignedRequest:
    body = _json(events)
    headers = signing.sign_hubspot_v3(
        secret=secret, method="POST", url=public_url, body=body, timestamp_ms=timestamp_ms
    )
    return SignedRequest("/webhooks/hubspot", body, headers)


def product_event(
    *,
    customer_id: str,
    type: str,
    event_id: str | None = None,
    count: int = 1,
    percent: float | None = None,
    limit_name: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "type": type,
        "customer_id": customer_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "count": count,
    }
    if percent is not None:
        event.update(percent=percent, limit_name=limit_name)
    return event


SAMPLE_USAGE: dict[str, float] = {
    "active_users": 14,
    "licensed_seats": 20,
    "features_adopted": 7,
    "features_available": 12,
    "workflow_runs": 420,
    "workflow_limit": 1000,
    "login_days_30d": 18,
}
"""A plausible month of product usage (70 % of seats active, 42 % of the run limit)."""


def usage_snapshot_event(
    *,
    customer_id: str,
    usage: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A ``usage_snapshot``: the product's current figures for the customer (default
    :data:`SAMPLE_USAGE`), taken at ``occurred_at`` (default now)."""
    return {
        "event_id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "type": "usage_snapshot",
        "customer_id": customer_id,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "usage": dict(SAMPLE_USAGE if usage is None else usage),
    }


def signed_product(event: dict[str, Any], *, secret: str) -> SignedRequest:
    body = _json(event)
    return SignedRequest("/webhooks/product", body, signing.sign_product(secret=secret, body=body))


def stripe_event(
    *, type: str, customer_id: str | None, object_id: str | None = None, **obj: Any
) -> dict[str, Any]:
    if object_id is None:  # Stripe's id prefixes: in_ invoices, sub_ subscriptions
        object_id = "in_1Q0demo" if type.startswith("invoice.") else "sub_1Q0demo"
    return {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": type,
        "created": int(time.time()),
        "livemode": False,
        "data": {
            "object": {
                "id": object_id,
                "customer": "cus_demo",
                "metadata": {"cshub_customer_id": customer_id} if customer_id else {},
                **obj,
            }
        },
    }


def signed_stripe(event: dict[str, Any], *, secret: str) -> SignedRequest:
    body = _json(event)
    return SignedRequest("/webhooks/stripe", body, signing.sign_stripe(secret=secret, body=body))


def zendesk_event(
    *,
    ticket_id: str,
    type: str = "ticket.created",
    event: dict[str, Any] | None = None,
    **detail: Any,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": f"zen:event-type:{type}",
        "account_id": 12345,
        "time": datetime.now(UTC).isoformat(),
        "subject": f"zen:ticket:{ticket_id}",
        "detail": {"id": ticket_id, "status": "NEW", "priority": "HIGH", **detail},
        "event": event or {},
    }


def zendesk_status_changed(ticket_id: str, current: str, previous: str) -> dict[str, Any]:
    return zendesk_event(
        ticket_id=ticket_id,
        type="ticket.status_changed",
        event={"current": current.upper(), "previous": previous.upper()},
        status=current.upper(),
    )


def zendesk_comment_added(
    ticket_id: str, *, public: bool = True, by_agent: bool = True, author_id: str = "8001"
) -> dict[str, Any]:
    return zendesk_event(
        ticket_id=ticket_id,
        type="ticket.comment_added",
        event={
            "comment": {
                "id": str(uuid.uuid4().int % 10**12),
                "body": "Thanks, we are on it.",
                "is_public": public,
                "author": {"id": author_id, "is_staff": by_agent, "name": "Jamie Ortiz"},
            }
        },
        status="OPEN",
    )


def signed_zendesk(event: dict[str, Any], *, secret: str) -> SignedRequest:
    body = _json(event)
    return SignedRequest("/webhooks/zendesk", body, signing.sign_zendesk(secret=secret, body=body))


def zendesk_trigger_body(
    *,
    ticket_id: str,
    event: str = "ticket.created",
    status: str = "New",
    priority: str = "High",
    organization_external_id: str = "",
) -> dict[str, Any]:
    """The trigger body of docs/senders/zendesk.md as Zendesk renders its placeholders."""
    return {
        "event": event,
        "ticket_id": ticket_id,
        "status": status,
        "priority": priority,
        "organization_external_id": organization_external_id,
        "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
    }


def signed_zendesk_trigger(body: dict[str, Any], *, secret: str) -> SignedRequest:
    raw = _json(body)
    return SignedRequest(
        "/webhooks/zendesk/trigger", raw, signing.sign_zendesk(secret=secret, body=raw)
    )
