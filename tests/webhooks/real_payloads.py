"""Real payloads (tests/fixtures/real/, see SOURCES.md there), signed as each provider
signs, with the fields a test has to make its own (times, ids) replaced."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.webhooks.conftest import Api
from webhooks import sample_events as samples
from webhooks import signing
from webhooks.sample_events import SignedRequest

REAL = Path(__file__).parents[1] / "fixtures" / "real"


def load(name: str) -> Any:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


def hubspot(api: Api, name: str, **changes: Any) -> SignedRequest:
    """The fixture's events occurring now (fresh event ids), ``changes`` applied to each."""
    events = load(f"hubspot/{name}")
    now = int(time.time() * 1000)
    for n, event in enumerate(events):
        event.update(occurredAt=now + n, eventId=uuid.uuid4().int % 10**10, **changes)
    return samples.signed_hubspot(
        events, secret=api.secret("hubspot_client_secret"), public_url=api.hubspot_url
    )


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zendesk_event(api: Api, name: str, ticket: str, **detail: Any) -> SignedRequest:
    """An event-subscription payload about ``ticket``, happening now, with a fresh id."""
    event = load(f"zendesk/{name}")
    event.update(id=str(uuid.uuid4()), time=_now_iso(), subject=f"zen:ticket:{ticket}")
    event["detail"].update(id=ticket, **detail)
    return samples.signed_zendesk(event, secret=api.secret("zendesk_webhook_secret"))


def zendesk_trigger(api: Api, name: str, ticket: str, **changes: Any) -> SignedRequest:
    """A trigger body (as Zendesk renders the placeholders) about ``ticket``, now."""
    body = load(f"zendesk/{name}")
    body.update(ticket_id=ticket, updated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"))
    body.update(changes)
    raw = json.dumps(body).encode()
    headers = signing.sign_zendesk(secret=api.secret("zendesk_webhook_secret"), body=raw)
    return SignedRequest("/webhooks/zendesk/trigger", raw, headers)


def stripe_event(name: str, **obj: Any) -> dict[str, Any]:
    """The fixture's event, created now, with a fresh id; ``obj`` set on data.object."""
    event = load(f"stripe/{name}")
    event.update(id=f"evt_{uuid.uuid4().hex[:24]}", created=int(time.time()))
    event["data"]["object"].update(obj)
    return dict(event)


def stripe(api: Api, event: dict[str, Any]) -> SignedRequest:
    return samples.signed_stripe(event, secret=api.secret("stripe_webhook_secret"))
