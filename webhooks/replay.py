"""Replay a kept delivery (a dead letter): parse the sender's payload again and route it
with today's configuration (routes, won deal stages, customer look-ups), exactly once:
one that reached its workflow since is answered ``duplicate``."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult
from webhooks.deal_stages import ClosedWonStages, StagesUnavailable
from webhooks.intake import Intake
from webhooks.ledger import DeadLetter, DeliveryLedger, RawDelivery
from webhooks.normalize import (
    from_hubspot,
    from_product,
    from_stripe,
    from_zendesk,
    from_zendesk_trigger,
)
from webhooks.payloads import (
    HubSpotWebhookEvent,
    ProductWebhookEvent,
    StripeWebhookEvent,
    ZendeskTriggerBody,
    ZendeskWebhookEvent,
)


class ReplayError(Exception):
    """Nothing to replay (unknown or ambiguous id, unreadable payload): the message says why."""


def find(ledger: DeliveryLedger, event_id: str) -> DeadLetter:
    """The kept delivery with this event id (or ``source:event_id``)."""
    letters = ledger.dead_letters(event_id=event_id)
    if not letters:
        raise ReplayError(f"no kept delivery has the event id {event_id!r} (cshub webhooks list)")
    if len(letters) > 1:
        keys = ", ".join(letter.dedup_key for letter in letters)
        raise ReplayError(f"{event_id!r} is ambiguous: name one of {keys}")
    return letters[0]


async def renormalize(letter: DeadLetter, stages: ClosedWonStages) -> CustomerEvent:
    """The event the payload makes today. Raises ValidationError, StagesUnavailable."""
    if letter.raw is None:
        raise ReplayError(
            f"{letter.dedup_key}: its payload was encrypted with a key that is no longer "
            "configured (CSHUB_ENCRYPTION_KEYS)"
        )
    try:
        return await parse_raw(letter.raw, letter.received_at, stages)
    except UnknownKind as err:
        raise ReplayError(f"{letter.dedup_key}: {err}") from None


class UnknownKind(Exception):
    pass


async def parse_raw(
    raw: RawDelivery, received_at: datetime, stages: ClosedWonStages
) -> CustomerEvent:
    """The event a stored payload makes with today's configuration (the won deal stages
    are read from the CRM here, not in the request). Raises ValidationError,
    StagesUnavailable, UnknownKind."""
    kind, body = raw.kind, raw.body
    if kind == "hubspot":
        hubspot = HubSpotWebhookEvent.model_validate_json(body)
        values = [hubspot.propertyValue] if hubspot.propertyName == "dealstage" else []
        return from_hubspot(hubspot, await stages.won(values) if values else frozenset())
    if kind == "stripe":
        return from_stripe(StripeWebhookEvent.model_validate_json(body))
    if kind == "zendesk":
        return from_zendesk(ZendeskWebhookEvent.model_validate_json(body))
    if kind == "zendesk_trigger":
        trigger = ZendeskTriggerBody.model_validate_json(body)
        return from_zendesk_trigger(trigger, body, received_at)
    if kind == "product":
        return from_product(ProductWebhookEvent.model_validate_json(body), received_at)
    if kind == "survey":  # a verified survey click or comment (webhooks/survey_pages.py)
        return CustomerEvent.model_validate_json(body)
    raise UnknownKind(f"unknown payload kind {kind!r}")


async def replay(
    intake: Intake, ledger: DeliveryLedger, stages: ClosedWonStages, event_id: str
) -> DeliveryResult:
    letter = find(ledger, event_id)
    try:
        event = await renormalize(letter, stages)
    except ValidationError as err:
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        return DeliveryResult(
            outcome=DeliveryOutcome.INVALID, event_id=letter.event_id, detail=why[:500]
        )
    except StagesUnavailable as err:
        return DeliveryResult(
            outcome=DeliveryOutcome.UNAVAILABLE, event_id=letter.event_id, detail=str(err)
        )
    assert letter.raw is not None
    return await intake.handle(event, letter.raw, replay=True)
