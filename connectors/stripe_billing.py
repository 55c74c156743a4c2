"""Stripe implementation of :class:`connectors.base.Billing`, with the official ``stripe``
library (``StripeClient``). Blocking: call it from a thread (``asyncio.to_thread``).

Only reads: a subscription's and a customer's metadata, to find which of the hub's
customers (CRM companies) a Stripe event is about. A restricted key with read access to
customers and subscriptions (``rk_…``) is enough.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import stripe

from connectors.errors import ActivityCancelled, ConnectorError
from connectors.http_errors import classify_http, transport_error, unexpected_error

SYSTEM = "stripe"
T = TypeVar("T")


class StripeBilling:
    def __init__(self, api_key: str, base_url: str | None = None, timeout_s: float = 10.0) -> None:
        options: dict[str, Any] = {"max_network_retries": 0}  # the caller decides on retries
        if base_url:
            options["base_addresses"] = {"api": base_url.rstrip("/")}
        self._client = stripe.StripeClient(
            api_key, http_client=stripe.RequestsClient(timeout=timeout_s), **options
        )

    def subscription_metadata(self, subscription_id: str) -> dict[str, str] | None:
        """The subscription's metadata; None when Stripe has no such subscription."""
        return self._metadata_of(
            "subscription", subscription_id, self._client.v1.subscriptions.retrieve
        )

    def customer_metadata(self, customer_id: str) -> dict[str, str] | None:
        """The Stripe Customer's metadata; None when it does not exist or was deleted."""
        return self._metadata_of("customer", customer_id, self._client.v1.customers.retrieve)

    def _metadata_of(
        self, kind: str, object_id: str, retrieve: Callable[[str], Any]
    ) -> dict[str, str] | None:
        """``<kind>_metadata``: the metadata of the Stripe object ``object_id``, read with
        ``retrieve``; None when Stripe has no such object or it was deleted."""
        found = self._call(f"{kind}_metadata", f"{kind} {object_id}", retrieve, object_id)
        if found is None or getattr(found, "deleted", False):
            return None
        return _metadata(found)

    def _call(self, operation: str, target: str, fn: Callable[..., T], *args: Any) -> T | None:
        """One SDK call; a 404 is None, every other failure a ConnectorError."""
        try:
            return fn(*args)
        except (ConnectorError, ActivityCancelled):
            raise
        except stripe.APIConnectionError as exc:
            raise transport_error(SYSTEM, operation, target, exc) from exc
        except stripe.StripeError as exc:
            status = exc.http_status
            if status == 404:
                return None
            if isinstance(status, int):
                raise classify_http(
                    SYSTEM, operation, target, status, dict(exc.headers or {}), exc.json_body
                ) from exc
            raise unexpected_error(SYSTEM, operation, target, exc) from exc
        except Exception as exc:
            raise unexpected_error(SYSTEM, operation, target, exc) from exc


def _metadata(obj: Any) -> dict[str, str]:
    metadata = getattr(obj, "metadata", None)
    raw = metadata.to_dict() if metadata is not None else {}
    return {str(k): str(v) for k, v in raw.items()}
