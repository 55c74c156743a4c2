"""Messages of ``CustomerTextWorkflow``: one text a customer wrote (a CSAT, NPS or exit
survey comment), read, recorded on the company and, when it is negative or carries a
churn-intent signal and the customer pays, quoted to the CSM once."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.journeys import CUSTOMER_ID_PATTERN
from domain.text_signals import TextVerdict

MAX_TEXT = 2000
"""Characters of a comment kept (the form refuses longer ones)."""
RECENT_KEPT = 10
"""Texts kept in ``cshub_sentiment_recent`` (the negative-sentiment streak reads them)."""
THEMES = "cshub_text_themes"
"""JSON counts on the company: texts read, negative ones, and each signal."""


class TextSource(StrEnum):
    CSAT = "csat"
    NPS = "nps"
    EXIT = "exit"
    TICKET = "ticket"


SOURCE_LABELS: dict[TextSource, str] = {
    TextSource.CSAT: "a CSAT survey comment",
    TextSource.NPS: "an NPS survey comment",
    TextSource.EXIT: "the exit survey",
    TextSource.TICKET: "a ticket comment",
}


class CustomerTextInput(BaseModel):
    """``{"source": "csat", "ticket_id": "5001", "text": "...", "event_id": "..."}``"""

    model_config = ConfigDict(extra="forbid")

    source: TextSource
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    event_id: str = Field(min_length=1, max_length=200)
    customer_id: str | None = Field(default=None, pattern=CUSTOMER_ID_PATTERN)
    ticket_id: str | None = Field(default=None, max_length=32)
    score: int | None = Field(default=None, description="the survey answer it came with")


class TextReading(BaseModel):
    """What the activity found: the classification and whom it concerns."""

    verdict: TextVerdict
    customer_id: str | None = None
    tier: str | None = None
    paying: bool = False
    recorded: bool = False


def text_workflow_id(event_id: str) -> str:
    """``text-<16 hex>``: one workflow per text, whatever characters its event id has."""
    return "text-" + hashlib.sha256(event_id.encode()).hexdigest()[:16]


def append_recent(raw: str | None, entry: dict[str, object], event_id: str) -> str | None:
    """``cshub_sentiment_recent`` with ``entry`` added (None: already there, a retry)."""
    try:
        data = json.loads(raw) if raw else []
    except ValueError:
        data = []
    items = [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
    if any(d.get("id") == event_id for d in items):
        return None
    items.append({**entry, "id": event_id})
    return json.dumps(items[-RECENT_KEPT:], separators=(",", ":"), ensure_ascii=False)


def add_themes(raw: str | None, verdict: TextVerdict) -> str:
    """``cshub_text_themes`` counts with this text added."""
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    counts = (
        {k: int(v) for k, v in data.items() if isinstance(v, int)} if isinstance(data, dict) else {}
    )
    counts["texts"] = counts.get("texts", 0) + 1
    counts[verdict.label.value] = counts.get(verdict.label.value, 0) + 1
    for s in verdict.signals:
        counts[s.value] = counts.get(s.value, 0) + 1
    return json.dumps(counts, separators=(",", ":"), sort_keys=True)


def recent_entry(verdict: TextVerdict, at: datetime) -> dict[str, object]:
    return {
        "at": at.isoformat(),
        "label": verdict.label.value,
        "score": verdict.score,
        "quote": verdict.text[:200],
    }
