"""``POST /webhooks/product``: the product's usage events, signed with
``X-Cshub-Signature`` (the hub's own scheme, webhooks/signing.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from webhooks import signatures
from webhooks.normalize import from_product
from webhooks.payloads import ProductWebhookEvent
from webhooks.routes.base import HubDep, signed_body, signed_webhook, timestamped

router = APIRouter()


verify = timestamped(
    signatures.verify_product,
    "product_webhook_secret",
    "x-cshub-signature",
    "x-cshub-timestamp",
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
