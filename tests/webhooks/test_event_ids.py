"""Ids and types in signed payloads are bounded and printable: a 10 KB id or one with a
CR/LF is a 422 naming the field (before, it was accepted and logged raw), and the text
log escapes control characters whatever reaches it."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from runtime.logs import configure_logging
from runtime.settings import Settings
from tests.webhooks.test_hardening import served
from tests.webhooks.test_hardening import settings as settings
from webhooks import sample_events as samples
from webhooks.sample_events import SignedRequest

HUGE = "e" * 10_240
FORGED = "evt_1\r\n2026-12-07 10:00:00,000 CRITICAL cshub.webhooks forged line"


def _product(s: Settings, value: str) -> SignedRequest:
    event = samples.product_event(customer_id="1001", type="first_login", event_id=value)
    return samples.signed_product(event, secret=_secret(s, "product_webhook_secret"))


def _stripe(s: Settings, value: str, field: str = "id") -> SignedRequest:
    event = samples.stripe_event(type="invoice.paid", customer_id="1001")
    event[field] = value
    return samples.signed_stripe(event, secret=_secret(s, "stripe_webhook_secret"))


def _zendesk(s: Settings, value: str) -> SignedRequest:
    event = samples.zendesk_event(ticket_id="5001")
    event["id"] = value
    return samples.signed_zendesk(event, secret=_secret(s, "zendesk_webhook_secret"))


def _secret(s: Settings, name: str) -> str:
    return str(getattr(s, name).get_secret_value())


SENDERS: dict[str, tuple[Callable[[Settings, str], SignedRequest], str]] = {
    "product event_id": (_product, "event_id"),
    "stripe id": (_stripe, "id"),
    "stripe type": (lambda s, v: _stripe(s, v, "type"), "type"),
    "zendesk id": (_zendesk, "id"),
}


@pytest.mark.parametrize(
    "value", [HUGE, FORGED, "evt 1", "évt_1"], ids=["10KB", "CRLF", "space", "non-ascii"]
)
@pytest.mark.parametrize("sender", list(SENDERS))
async def test_a_bad_id_is_a_422_naming_the_field(
    settings: Settings, sender: str, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    build, field = SENDERS[sender]
    request = build(settings, value)
    async with served(settings) as url, httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(
            url + request.path,
            content=request.body,
            headers={"Content-Type": "application/json", **request.headers},
        )
    assert resp.status_code == 422, resp.text
    detail: list[dict[str, Any]] = resp.json()["detail"]
    assert any(d["field"] == field for d in detail), detail
    assert "forged line" not in caplog.text


async def test_a_hubspot_event_with_a_bad_id_is_invalid_in_its_batch(settings: Settings) -> None:
    events = [
        samples.hubspot_event(subscription_type="company.propertyChange", object_id="1001")
        for _ in range(2)
    ]
    events[0]["eventId"] = FORGED
    events[1]["eventId"] = HUGE
    async with served(settings) as url, httpx.AsyncClient(timeout=10) as http:
        request = samples.signed_hubspot(
            events,
            secret=_secret(settings, "hubspot_client_secret"),
            public_url=f"{url}/webhooks/hubspot",
        )
        resp = await http.post(
            url + request.path,
            content=request.body,
            headers={"Content-Type": "application/json", **request.headers},
        )
    results = resp.json()["results"]
    assert [r["outcome"] for r in results] == ["invalid", "invalid"]
    assert all("eventId" in r["detail"] for r in results)
    assert all(len(r["event_id"] or "") <= 200 for r in results)


def test_the_text_log_keeps_one_record_on_one_line() -> None:
    stream = io.StringIO()
    configure_logging("text", "INFO")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    logging.getLogger("cshub.webhooks").warning("rejected event %s", FORGED)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "CRITICAL" in lines[0]
    assert "\\r\\n2026-12-07" in lines[0]
