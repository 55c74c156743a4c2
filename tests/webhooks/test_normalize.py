"""Payloads from the senders become CustomerEvents with the right customer and type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from webhooks import sample_events as samples
from webhooks.normalize import from_hubspot, from_stripe, from_zendesk, from_zendesk_trigger
from webhooks.payloads import (
    HubSpotWebhookEvent,
    StripeWebhookEvent,
    ZendeskTriggerBody,
    ZendeskWebhookEvent,
)
from webhooks.routing import ROUTES


def _invoice(**obj: Any) -> StripeWebhookEvent:
    event = samples.stripe_event(type="invoice.payment_failed", customer_id=None, **obj)
    return StripeWebhookEvent.model_validate(event)


@pytest.mark.parametrize(
    "where",
    [
        {"metadata": {"cshub_customer_id": "1004"}},
        # Invoices of a subscription carry its metadata here (API versions before 2025) …
        {"subscription_details": {"metadata": {"cshub_customer_id": "1004"}}},
        # … or under parent (newer API versions).
        {"parent": {"subscription_details": {"metadata": {"cshub_customer_id": "1004"}}}},
    ],
)
def test_an_invoice_finds_its_customer_wherever_stripe_puts_the_metadata(
    where: dict[str, Any],
) -> None:
    event = from_stripe(_invoice(**where))
    assert (event.customer_id, event.type) == ("1004", "stripe.invoice.payment_failed")


def test_an_invoice_without_our_metadata_names_no_customer() -> None:
    assert from_stripe(_invoice()).customer_id is None


def test_zendesk_status_and_comment_events_carry_what_the_sla_needs() -> None:
    status = from_zendesk(
        ZendeskWebhookEvent.model_validate(samples.zendesk_status_changed("7", "hold", "open"))
    )
    assert status.data["status"] == "hold" and status.data["previous"] == "open"
    assert status.order_key == "zendesk:ticket:7:ticket.status_changed"
    comment = from_zendesk(
        ZendeskWebhookEvent.model_validate(samples.zendesk_comment_added("7", public=False))
    )
    assert comment.data["comment_public"] is False and comment.data["author_is_staff"] is True
    assert comment.order_key is None  # every comment counts, whatever its order


def test_recurring_processes_may_start_again_one_time_journeys_may_not() -> None:
    recurring = {t for t, r in ROUTES.items() if r.recurring}
    assert "stripe.invoice.payment_failed" in recurring
    assert "stripe.customer.subscription.created" in recurring
    assert "hubspot.deal.closed_won" not in recurring
    assert "zendesk.ticket.created" not in recurring


def _hubspot(**fields: Any) -> HubSpotWebhookEvent:
    base = {"eventId": 1, "occurredAt": 1_700_000_000_000, "portalId": 62515}
    return HubSpotWebhookEvent.model_validate({**base, **fields})


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"subscriptionType": "deal.propertyChange", "objectId": 3},
         "hubspot.deal.closed_won"),
        ({"subscriptionType": "object.propertyChange", "objectTypeId": "0-3", "objectId": 3},
         "hubspot.deal.closed_won"),
        ({"subscriptionType": "object.propertyChange", "objectTypeId": "0-2", "objectId": 3},
         "hubspot.company.propertyChange"),
        ({"subscriptionType": "object.creation", "objectTypeId": "0-1", "objectId": 3},
         "hubspot.contact.creation"),
        ({"subscriptionType": "object.deletion", "objectTypeId": "0-5", "objectId": 3},
         "hubspot.ticket.deletion"),
        ({"subscriptionType": "object.creation", "objectTypeId": "2-4711", "objectId": 3},
         "hubspot.2-4711.creation"),
        ({"subscriptionType": "object.associationChange", "fromObjectTypeId": "0-3",
          "toObjectTypeId": "0-2", "fromObjectId": 3, "toObjectId": 1004},
         "hubspot.deal.associationChange"),
        ({"subscriptionType": "object.associationChange", "fromObjectId": 3,
          "toObjectId": 4}, "hubspot.object.associationChange"),
        ({"subscriptionType": "company.associationChange", "associationType":
          "COMPANY_TO_CONTACT", "fromObjectId": 1004, "toObjectId": 5},
         "hubspot.company.associationChange"),
        ({"subscriptionType": "object.merge", "objectTypeId": "0-1", "primaryObjectId": 7,
          "mergedObjectIds": [8]}, "hubspot.contact.merge"),
    ],
)  # fmt: skip
def test_both_hubspot_formats_give_the_same_event_types(fields: dict[str, Any], kind: str) -> None:
    change = {"propertyName": "dealstage", "propertyValue": "won-1"}
    event = from_hubspot(_hubspot(**change, **fields), {"won-1"})
    assert event.type == kind


def test_an_association_names_both_ends_and_a_company_event_its_customer() -> None:
    event = from_hubspot(
        _hubspot(
            subscriptionType="contact.associationChange",
            associationType="CONTACT_TO_COMPANY",
            fromObjectId=5101,
            toObjectId=1004,
            associationRemoved=True,
        ),
        (),
    )
    assert event.data["object_id"] == "5101" and event.data["to_object_id"] == "1004"
    assert event.data["to_object_type"] == "company" and event.data["association_removed"]
    company = from_hubspot(_hubspot(subscriptionType="object.creation", objectTypeId="0-2",
                                    objectId=1004), ())  # fmt: skip
    assert company.customer_id == "1004"


@pytest.mark.parametrize(
    "fields",
    [
        {"subscriptionType": "deal.propertyChange"},  # no objectId
        {"subscriptionType": "object.propertyChange", "objectId": 3},  # no objectTypeId
        {"subscriptionType": "object.associationChange", "fromObjectTypeId": "0-1",
         "fromObjectId": 3},  # no toObjectId
        {"subscriptionType": "contact.associationChange"},  # names no object at all
    ],
)  # fmt: skip
def test_hubspot_events_missing_what_they_are_about_are_invalid(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _hubspot(**fields)


def test_a_trigger_body_becomes_ticket_events() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    body = {
        "event": "ticket.status_changed",
        "ticket_id": "35436",
        "status": "On-hold",
        "priority": "-",
        "organization_external_id": "",
        "updated_at": "2026-12-07T11:59Z",
    }
    raw = json.dumps(body).encode()
    event = from_zendesk_trigger(ZendeskTriggerBody.model_validate(body), raw, now)
    assert (event.type, event.data["status"], event.data["priority"]) == (
        "zendesk.ticket.status_changed",
        "hold",
        None,
    )
    assert event.customer_id is None and event.occurred_at == datetime(
        2026, 12, 7, 11, 59, tzinfo=UTC
    )
    assert (
        event.event_id
        == from_zendesk_trigger(ZendeskTriggerBody.model_validate(body), raw, now).event_id
    )  # a retry: the same id
    reply = from_zendesk_trigger(
        ZendeskTriggerBody.model_validate({**body, "event": "ticket.agent_replied"}), b"{}", now
    )
    assert reply.type == "zendesk.ticket.comment_added"
    assert reply.data["comment_public"] and reply.data["author_is_staff"]  # fmt: skip


def test_an_invoice_names_its_subscription_in_every_api_version() -> None:
    old = _invoice(subscription="sub_1")
    new = _invoice(parent={"subscription_details": {"subscription": "sub_2", "metadata": {}}})
    line = _invoice(lines={"data": [{"parent": {"subscription_item_details":
                                                 {"subscription": "sub_3"}}}]})  # fmt: skip
    assert [from_stripe(e).data["subscription_id"] for e in (old, new, line)] == [
        "sub_1", "sub_2", "sub_3"]  # fmt: skip
    assert from_stripe(_invoice(customer={"id": "cus_9"})).data["stripe_customer"] == "cus_9"
