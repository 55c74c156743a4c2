"""Smart routing of new tickets (seed 000): the topic and urgency a ticket's text says,
by the rules of ``playbooks/routing.yaml``, and whether its Zendesk priority is lower
than that. Pure: no I/O.

Terms are matched as whole words or phrases in the subject and description, lower case
and without accents (``caída`` matches ``caida``); the first topic in the playbook's
order that matches wins (security before outage: "the site is down after a breach" is a
security incident)."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")
"""Zendesk's priorities, lowest first."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topic(_Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    urgency: Priority = Field(description="the Zendesk priority the text deserves")
    group_id: str | None = Field(default=None, description="Zendesk group to route to")
    terms: list[str] = Field(min_length=1)


class RoutingRules(_Strict):
    """``playbooks/routing.yaml``."""

    name: str
    version: int = Field(ge=1)
    raise_and_route: bool = Field(
        default=False, description="raise the priority and move the group (else alert only)"
    )
    support_lead_channel: str = Field(min_length=1)
    support_lead_name: str = "Support lead"
    topics: list[Topic] = Field(min_length=1)


class Routing(BaseModel):
    """What the text says; no text itself (this lands in workflow history)."""

    topic: str | None = None
    urgency: str | None = None
    group_id: str | None = None
    matched: list[str] = Field(default_factory=list)
    current_priority: str | None = None
    under_prioritised: bool = False
    """The text is more urgent than the ticket's priority."""


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def _pattern(term: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in fold(term).split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


def rank(priority: str | None) -> int:
    """Zendesk's order (no priority: below low)."""
    return PRIORITIES.index(priority) if priority in PRIORITIES else -1


def classify_ticket(text: str, priority: str | None, rules: RoutingRules) -> Routing:
    folded = fold(text)
    for topic in rules.topics:
        matched = [t for t in topic.terms if _pattern(t).search(folded)]
        if matched:
            return Routing(
                topic=topic.name,
                urgency=topic.urgency,
                group_id=topic.group_id,
                matched=matched,
                current_priority=priority,
                under_prioritised=rank(topic.urgency) > rank(priority),
            )
    return Routing(current_priority=priority)
