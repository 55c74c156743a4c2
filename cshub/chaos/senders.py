"""Webhook senders that behave like HubSpot and Stripe: every event delivered (here,
twice), re-signed on every attempt, retried with back-off on 5xx or no answer."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from cshub.chaos.portfolio import Customer
from webhooks import sample_events as samples
from webhooks.sample_events import SignedRequest

RETRYABLE = frozenset({429, 500, 502, 503, 504})


@dataclass
class Event:
    """One event as its sender knows it: the same id on every delivery."""

    name: str
    customer_id: str
    workflow_id: str
    sign: Callable[[], SignedRequest]
    answers: list[tuple[int, str]] = field(default_factory=list)
    """(HTTP status, outcome) of every attempt; status 0 = no answer."""

    @property
    def acknowledged(self) -> bool:
        return any(200 <= status < 300 for status, _ in self.answers)

    @property
    def accepted(self) -> bool:
        """Temporal took it (``accepted``), or it had already (``duplicate``)."""
        return any(outcome in ("accepted", "duplicate") for _, outcome in self.answers)


def portfolio_events(
    portfolio: list[Customer], secrets: dict[str, str], api_url: str
) -> list[Event]:
    """Deal won for everyone; two failed attempts of one invoice for the dunning half."""
    hubspot_url = f"{api_url}/webhooks/hubspot"
    events: list[Event] = []
    for c in portfolio:
        deal_won = samples.hubspot_event(object_id=c.deal_id, event_id=int(c.deal_id) * 10)

        def sign_hubspot(event: dict[str, Any] = deal_won) -> SignedRequest:
            return samples.signed_hubspot(
                [event], secret=secrets["hubspot"], public_url=hubspot_url
            )

        events.append(
            Event(
                f"deal won {c.company_id}", c.company_id, f"onboarding-{c.company_id}", sign_hubspot
            )
        )
        if not c.dunning:
            continue
        for attempt in (1, 2):
            failed = samples.stripe_event(
                type="invoice.payment_failed",
                customer_id=c.company_id,
                object_id=c.invoice_id,
                attempt_count=attempt,
                amount_due=9900,
                currency="usd",
            )

            def sign_stripe(event: dict[str, Any] = failed) -> SignedRequest:
                return samples.signed_stripe(event, secret=secrets["stripe"])

            events.append(
                Event(
                    f"payment failed {c.company_id} #{attempt}",
                    c.company_id,
                    f"dunning-{c.company_id}",
                    sign_stripe,
                )
            )
    return events


def outcomes_of(body: Any) -> list[str]:
    if isinstance(body, dict) and isinstance(body.get("results"), list):  # HubSpot batch
        return [str(r.get("outcome")) for r in body["results"] if isinstance(r, dict)]
    if isinstance(body, dict) and "outcome" in body:
        return [str(body["outcome"])]
    return ["-"]


@dataclass
class DeliveryStats:
    deliveries: int = 0
    attempts: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    gave_up: int = 0


async def deliver(
    http: httpx.AsyncClient,
    api_url: str | list[str],
    event: Event,
    stats: DeliveryStats,
    *,
    deadline: float,
    rng: random.Random,
) -> None:
    """One delivery of ``event``: retried (freshly signed) until a 2xx or 4xx answer or
    the deadline, the way providers retry for hours. Several ``api_url``: a load balancer
    in front of the replicas (each attempt to one of them, at random)."""
    urls = [api_url] if isinstance(api_url, str) else api_url
    stats.deliveries += 1
    backoff = 1.0
    loop = asyncio.get_running_loop()
    while True:
        request = event.sign()
        stats.attempts += 1
        try:
            resp = await http.post(
                rng.choice(urls) + request.path, content=request.body, headers=request.headers
            )
            status, outcome = resp.status_code, outcomes_of(_json(resp))[0]
        except httpx.HTTPError:
            status, outcome = 0, "no answer"
        stats.statuses[status] += 1
        event.answers.append((status, outcome))
        if status != 0 and status not in RETRYABLE:
            return
        if loop.time() + backoff > deadline:
            stats.gave_up += 1
            return
        await asyncio.sleep(backoff * (0.5 + rng.random()))
        backoff = min(backoff * 2, 8.0)


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None
