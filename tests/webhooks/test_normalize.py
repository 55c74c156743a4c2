"""Payloads from the senders become CustomerEvents with the right customer and type."""

from __future__ import annotations

from typing import Any

import pytest

from webhooks import sample_events as samples
from webhooks.normalize import from_stripe, from_zendesk
from webhooks.payloads import StripeWebhookEvent, ZendeskWebhookEvent
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
