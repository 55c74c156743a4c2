"""The sender side of the webhook schemes `webhooks.signatures` verifies.

Each ``sign_*`` function returns the headers a sender sets, for the exact body bytes it
will post. Used by ``cshub send-test-event`` (to play HubSpot, Stripe, Zendesk or the
product against a running hub) and by tests. The signed strings come from the same
functions the verifier uses; the tests check them against HubSpot's and Stripe's own
SDKs and the documented formulas, so this module is not its own only witness.

For the product scheme (``X-Cshub-Timestamp`` / ``X-Cshub-Signature``), including a
shell recipe for senders, see the docstring of `webhooks.signatures`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from webhooks.signatures import (
    HUBSPOT_SIGNATURE_HEADER,
    HUBSPOT_TIMESTAMP_HEADER,
    PRODUCT_SIGNATURE_HEADER,
    PRODUCT_TIMESTAMP_HEADER,
    STRIPE_SIGNATURE_HEADER,
    ZENDESK_SIGNATURE_HEADER,
    ZENDESK_TIMESTAMP_HEADER,
    hubspot_v3_signature,
    product_signature,
    stripe_signature,
    zendesk_signature,
)

__all__ = ["sign_hubspot_v3", "sign_product", "sign_stripe", "sign_zendesk"]


def sign_hubspot_v3(
    *, secret: str, method: str, url: str, body: bytes, timestamp_ms: int | None = None
) -> dict[str, str]:
    """``X-HubSpot-Signature-v3`` and ``X-HubSpot-Request-Timestamp`` (ms, default now)
    for a request to ``url`` (the full URL the receiver will reconstruct)."""
    now_ms = time.time_ns() // 1_000_000
    ts = str(now_ms if timestamp_ms is None else _non_negative(timestamp_ms, "timestamp_ms"))
    return {
        HUBSPOT_SIGNATURE_HEADER: hubspot_v3_signature(
            secret=secret, method=method, url=url, body=body, timestamp_ms=ts
        ),
        HUBSPOT_TIMESTAMP_HEADER: ts,
    }


def sign_stripe(*, secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """``Stripe-Signature: t=<unix s>,v1=<hex>`` (timestamp default now)."""
    ts = str(int(time.time()) if timestamp is None else _non_negative(timestamp, "timestamp"))
    return {
        STRIPE_SIGNATURE_HEADER: f"t={ts},v1={stripe_signature(secret=secret, body=body, timestamp=ts)}"
    }


def sign_zendesk(*, secret: str, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    """``X-Zendesk-Webhook-Signature`` and ``X-Zendesk-Webhook-Signature-Timestamp``
    (ISO-8601 as Zendesk writes it, e.g. ``2026-11-23T09:00:00Z``; default now, UTC).
    A given timestamp is signed exactly as passed."""
    ts = timestamp if timestamp is not None else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        ZENDESK_SIGNATURE_HEADER: zendesk_signature(secret=secret, body=body, timestamp=ts),
        ZENDESK_TIMESTAMP_HEADER: ts,
    }


def sign_product(*, secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """``X-Cshub-Timestamp: <unix s>`` and ``X-Cshub-Signature: v1=<hex>`` (default now).
    To sign with two keys during a rotation, join two results' ``v1=`` entries with ``,``."""
    ts = str(int(time.time()) if timestamp is None else _non_negative(timestamp, "timestamp"))
    return {
        PRODUCT_TIMESTAMP_HEADER: ts,
        PRODUCT_SIGNATURE_HEADER: f"v1={product_signature(secret=secret, body=body, timestamp=ts)}",
    }


def _non_negative(value: int, name: str) -> int:
    if isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value
