"""Bounds for the ids and types senders put in signed payloads (Stripe ``id`` / ``type``,
Zendesk ``id`` / ``type``, HubSpot ``eventId`` / ``subscriptionType``, the product's
``event_id``). They are logged, stored in the delivery ledger and become parts of
workflow ids, so they are short and printable: ASCII from ``!`` to ``~``, no spaces or
control characters (a CR/LF could otherwise start a forged log line), 200 characters
for an id and 100 for a type at most. Anything else is a 422 naming the field."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

EVENT_ID_MAX = 200
EVENT_TYPE_MAX = 100
PRINTABLE = r"^[!-~]+$"

EventId = Annotated[
    str, StringConstraints(min_length=1, max_length=EVENT_ID_MAX, pattern=PRINTABLE)
]
EventType = Annotated[
    str, StringConstraints(min_length=1, max_length=EVENT_TYPE_MAX, pattern=PRINTABLE)
]
