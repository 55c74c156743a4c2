"""``POST /webhooks/product``: the product's usage events, signed with
``X-Cshub-Signature`` (the hub's own scheme, webhooks/signing.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from webhooks import signatures
from webhooks.normalize import from_product
from webhooks.payloads import ProductWebhookEvent
from webhooks.routes.base import Hub, HubDep, signed_body, signed_webhook

router = APIRouter()


def verify(hub: Hub, request: Request, body: bytes) -> None:
    signatures.verify_product(
        secret=hub.secret("product_webhook_secret"),
        body=body,
        signature=request.headers.get("x-cshub-signature"),
        timestamp=request.headers.get("x-cshub-timestamp"),
    )


@signed_webhook(
    router, "/webhooks/product", "Product usage events (X-Cshub-Signature)", ProductWebhookEvent
)
async def product_webhook(
    body: Annotated[bytes, signed_body("product", verify)], hub: HubDep
) -> JSONResponse:
    received = datetime.now(UTC)
    return await hub.deliver(
        "product", body, ProductWebhookEvent, lambda e, _: from_product(e, received)
    )
