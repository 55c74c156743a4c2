"""Zendesk: ``POST /webhooks/zendesk`` (webhook events) and ``POST /webhooks/zendesk/trigger``
(trigger and automation webhooks, whose body an admin writes), both signed with
``X-Zendesk-Webhook-Signature`` and checked by the one :func:`verify`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from webhooks import signatures
from webhooks.normalize import from_zendesk, from_zendesk_trigger
from webhooks.payloads import ZendeskTriggerBody, ZendeskWebhookEvent
from webhooks.routes.base import HubDep, signed_body, signed_webhook, timestamped

ZENDESK_TRIGGER = "zendesk_trigger"
"""The source a trigger's raw delivery is stored under (its metrics count as zendesk)."""

router = APIRouter()


verify = timestamped(
    signatures.verify_zendesk,
    "zendesk_webhook_secret",
    "x-zendesk-webhook-signature",
    "x-zendesk-webhook-signature-timestamp",
)


SignedBody = Annotated[bytes, signed_body("zendesk", verify)]


@signed_webhook(
    router,
    "/webhooks/zendesk",
    "Zendesk webhooks (X-Zendesk-Webhook-Signature)",
    ZendeskWebhookEvent,
)
async def zendesk_webhook(body: SignedBody, hub: HubDep) -> JSONResponse:
    return await hub.deliver("zendesk", body, ZendeskWebhookEvent, lambda e, _: from_zendesk(e))


@signed_webhook(
    router,
    "/webhooks/zendesk/trigger",
    "Zendesk trigger and automation webhooks (admin-written body, same signature)",
    ZendeskTriggerBody,
)
async def zendesk_trigger_webhook(body: SignedBody, hub: HubDep) -> JSONResponse:
    return await hub.deliver(
        "zendesk",
        body,
        ZendeskTriggerBody,
        lambda payload, raw: from_zendesk_trigger(payload, raw, datetime.now(UTC)),
        stored_as=ZENDESK_TRIGGER,
    )
