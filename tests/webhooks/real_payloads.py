"""Real payloads (tests/fixtures/real/, see SOURCES.md there), signed as each provider
signs, with the fields a test has to make its own (times, ids) replaced."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from tests.webhooks.conftest import Api
from webhooks import sample_events as samples
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
