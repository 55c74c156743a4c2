"""``POST /webhooks/stripe``: Stripe events, signed with ``Stripe-Signature``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from webhooks import signatures
from webhooks.normalize import from_stripe
from webhooks.payloads import StripeWebhookEvent
from webhooks.routes.base import Hub, HubDep, signed_body, signed_webhook

router = APIRouter()


def verify(hub: Hub, request: Request, body: bytes) -> None:
    signatures.verify_stripe(
        secret=hub.secret("stripe_webhook_secret"),
        body=body,
        header=request.headers.get("stripe-signature"),
    )


@signed_webhook(router, "/webhooks/stripe", "Stripe events (Stripe-Signature)", StripeWebhookEvent)
async def stripe_webhook(
    body: Annotated[bytes, signed_body("stripe", verify)], hub: HubDep
) -> JSONResponse:
    return await hub.deliver("stripe", body, StripeWebhookEvent, lambda e, _: from_stripe(e))
