"""Benchmark 2, time to action: from a sender's webhook to what the customer or the team
sees, through the whole hub (API, Temporal dev server, in-process worker, emulators).

(a) A HubSpot deal-won webhook → the customer's welcome e-mail in the sandbox's SMTP
sink. (b) A Zendesk ticket-created webhook for an urgent ticket of an enterprise
customer, opened 25 minutes ago and never answered (first-response target 15 min:
already breached) → the first Slack message (the escalation in #cs-escalations).

Arrival is taken where it happens: the sandbox runs in this process, so its store's
``record_email`` / ``record_slack_message`` are wrapped on the instance (no polling of
``/api/outbox``, no sandbox code changed); the clock stops when the sink records the
message.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.hub import Hub, local_hub
from bench.results import Figure, Size, Target
from cshub.chaos.portfolio import afternoon_zone, customers, write_demo_data
from sandbox.appkeys import STORE
from sandbox.slack_state import SlackChannel, SlackMessage
from sandbox.store import Store
from webhooks import sample_events as samples

TITLE = "Time to action"
NOTES = ""
"""Set by :func:`run`."""

ENTERPRISE_REQUESTERS = (8109, 8111)
"""Atlas Manufacturing (1007) and Meridian Bank (1008): enterprise, 24/7 calendar."""
TICKET_AGE = timedelta(minutes=25)
WAIT_S = 30.0


@dataclass(frozen=True)
class Plan:
    runs: int
    warmup: int


PLANS = {Size.FULL: Plan(runs=200, warmup=5), Size.TINY: Plan(runs=4, warmup=1)}


class Arrivals:
    """Resolves a waiter when the sandbox records the message it waits for. E-mails are
    recorded on the SMTP sink's thread, Slack messages on the loop."""

    def __init__(self, store: Store) -> None:
        self._loop = asyncio.get_running_loop()
        self._emails: dict[tuple[str, str], asyncio.Future[float]] = {}
        self._slack: dict[str, asyncio.Future[float]] = {}
        record_email = store.record_email
        record_slack = store.record_slack_message

        def on_email(email: dict[str, Any]) -> dict[str, Any]:
            at = time.perf_counter()
            record = record_email(email)
            template = str(email.get("template") or "")
            for address in email.get("to") or []:
                self._loop.call_soon_threadsafe(self._email_seen, (template, address), at)
            return record

        def on_slack(channel: SlackChannel, message: SlackMessage) -> None:
            at = time.perf_counter()
            record_slack(channel, message)
            # The hub's idempotency key rides in the message metadata:
            # "{workflow id}/{created}/{step}".
            payload = (message.metadata or {}).get("event_payload") or {}
            workflow_id = str(payload.get("idempotency_key") or "").split("/", 1)[0]
            waiter = self._slack.pop(workflow_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(at)

        setattr(store, "record_email", on_email)  # noqa: B010 - an instance hook
        setattr(store, "record_slack_message", on_slack)  # noqa: B010

    def _email_seen(self, key: tuple[str, str], at: float) -> None:
        waiter = self._emails.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(at)

    def email(self, template: str, address: str) -> asyncio.Future[float]:
        waiter: asyncio.Future[float] = self._loop.create_future()
        self._emails[(template, address)] = waiter
        return waiter

    def slack_from(self, workflow_id: str) -> asyncio.Future[float]:
        waiter: asyncio.Future[float] = self._loop.create_future()
        self._slack[workflow_id] = waiter
        return waiter


async def _post(http: httpx.AsyncClient, request: samples.SignedRequest) -> str:
    resp = await http.post(
        request.path,
        content=request.body,
        headers={**request.headers, "Content-Type": "application/json"},
    )
    body = resp.json()
    results = body.get("results") if isinstance(body, dict) else None
    outcome = results[0].get("outcome") if results else body.get("outcome")
    if resp.status_code >= 300 or outcome != "accepted":
        raise RuntimeError(f"{request.path} answered {resp.status_code}: {resp.text[:300]}")
    return str(outcome)


async def _until(waiter: asyncio.Future[float], what: str) -> float:
    try:
        return await asyncio.wait_for(waiter, WAIT_S)
    except TimeoutError:
        raise RuntimeError(f"no {what} within {WAIT_S:.0f} s") from None


async def _create_ticket(sandbox_http: httpx.AsyncClient, requester: int) -> str:
    created = datetime.now(UTC) - TICKET_AGE
    body = {
        "ticket": {
            "subject": "Bench: production workflows are failing",
            "comment": {"body": "All our scheduled workflows fail since 09:00."},
            "requester_id": requester,
            "priority": "urgent",
            "created_at": created.isoformat(),
        }
    }
    resp = await sandbox_http.post("/api/v2/tickets.json", json=body)
    if resp.status_code != 201:
        raise RuntimeError(f"the sandbox did not create the ticket: {resp.text[:300]}")
    return str(resp.json()["ticket"]["id"])


async def run(size: Size) -> list[Figure]:
    global NOTES
    plan = PLANS[size]
    zone = afternoon_zone()
    portfolio = customers(plan.runs + plan.warmup)
    with tempfile.TemporaryDirectory(prefix="cshub-bench-tta-") as tmp:
        data = write_demo_data(Path(tmp) / "demo.yaml", portfolio, zone)
        async with local_hub(worker=True, data_file=data) as hub:
            assert hub.api_url is not None
            store = hub.sandbox._runner.app[STORE]
            arrivals = Arrivals(store)
            async with (
                httpx.AsyncClient(base_url=hub.api_url, timeout=30) as api,
                httpx.AsyncClient(
                    base_url=hub.sandbox.http_url,
                    auth=("automation@cshub.example/token", "sandbox"),
                    timeout=30,
                ) as zendesk,
            ):
                hubspot_secret = _secret(hub, "hubspot_client_secret")
                zendesk_secret = _secret(hub, "zendesk_webhook_secret")
                public_url = f"{hub.api_url}/webhooks/hubspot"

                async def deal_won(i: int) -> float:
                    c = portfolio[i]
                    waiter = arrivals.email("welcome", f"owner@chaos{c.company_id}.example.com")
                    began = time.perf_counter()
                    event = samples.hubspot_event(object_id=c.deal_id)
                    await _post(
                        api,
                        samples.signed_hubspot(
                            [event], secret=hubspot_secret, public_url=public_url
                        ),
                    )
                    return await _until(waiter, f"welcome e-mail for {c.company_id}") - began

                async def ticket(i: int) -> float:
                    requester = ENTERPRISE_REQUESTERS[i % len(ENTERPRISE_REQUESTERS)]
                    ticket_id = await _create_ticket(zendesk, requester)
                    waiter = arrivals.slack_from(f"ticket-sla-{ticket_id}")
                    began = time.perf_counter()
                    event = samples.zendesk_event(ticket_id=ticket_id, priority="URGENT")
                    await _post(api, samples.signed_zendesk(event, secret=zendesk_secret))
                    return await _until(waiter, f"Slack message for ticket {ticket_id}") - began

                deal_ms, ticket_ms = await _measure(plan, deal_won, ticket)
    figures = _figures(deal_ms, ticket_ms)
    NOTES = _notes(plan, zone, figures, deal_ms, ticket_ms)
    return figures


async def _measure(
    plan: Plan,
    deal_won: Callable[[int], Awaitable[float]],
    ticket: Callable[[int], Awaitable[float]],
) -> tuple[list[float], list[float]]:
    """Two chains side by side, (a) and (b), each one run at a time; the first ``warmup``
    runs of each not counted."""

    async def chain(one: Callable[[int], Awaitable[float]]) -> list[float]:
        found = []
        for i in range(plan.warmup + plan.runs):
            seconds = await one(i)
            if i >= plan.warmup:
                found.append(seconds * 1000)
        return found

    deal_ms, ticket_ms = await asyncio.gather(chain(deal_won), chain(ticket))
    return deal_ms, ticket_ms


def _secret(hub: Hub, name: str) -> str:
    value = getattr(hub.settings, name)
    assert value is not None, "the bench hub runs with the sandbox's webhook secrets"
    return str(value.get_secret_value())


def pct(values: list[float], q: int) -> float:
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    return statistics.quantiles(data, n=100, method="inclusive")[q - 1]


def _figures(deal_ms: list[float], ticket_ms: list[float]) -> list[Figure]:
    target = Target(kind="at_most", bound=1000, text="p50 < 1 s")
    out = []
    for key, values, what in (
        (
            "deal_won_to_email",
            deal_ms,
            "HubSpot deal-won webhook → welcome e-mail in the SMTP sink",
        ),
        (
            "critical_ticket_to_slack",
            ticket_ms,
            "Zendesk ticket-created webhook (urgent, enterprise, first response already "
            "overdue) → first Slack message (the escalation)",
        ),
    ):
        out.append(
            Figure(
                name=f"time_to_action.{key}.p50_ms",
                unit="ms",
                runs=[pct(values, 50)],
                description=f"median over {len(values)} runs: {what}",
                target=target,
            )
        )
        out.append(
            Figure(
                name=f"time_to_action.{key}.p99_ms",
                unit="ms",
                runs=[pct(values, 99)],
                description=f"99th percentile over {len(values)} runs: {what}",
            )
        )
    return out


def _notes(
    plan: Plan,
    zone: str,
    figures: list[Figure],
    deal_ms: list[float],
    ticket_ms: list[float],
) -> str:
    def spread(values: list[float]) -> str:
        return (
            f"min {min(values):,.0f} ms, p50 {pct(values, 50):,.0f} ms, p90 "
            f"{pct(values, 90):,.0f} ms, p99 {pct(values, 99):,.0f} ms, max {max(values):,.0f} ms"
        )

    return "\n".join(
        [
            f"{plan.runs} runs of each (after {plan.warmup} warm-up runs of each, not "
            "counted): two chains side by side, one of (a) and one of (b), each starting its "
            "next run once the last one's message arrived, so at most one of each is in "
            "flight; on one hub: the dev server "
            "(SQLite), the sandbox, the worker and the webhook API in one process. Each "
            "figure is a percentile over the runs (one value, no repetitions).",
            "",
            f"(a) Each run is a new company (its own deal, so a new `onboarding-<id>`), "
            f"in {zone} (early afternoon there now, so the welcome e-mail is not held for "
            "the customer's send window or quiet hours). The clock starts before the "
            "webhook is signed and posted and stops when the SMTP sink records the "
            f"welcome e-mail: {spread(deal_ms)}.",
            "",
            "(b) Each run is a new Zendesk ticket (created in the sandbox before the clock "
            "starts, dated 25 minutes back, priority urgent, requester of an enterprise "
            "customer, no agent reply): the SLA workflow reads the ticket, finds the "
            "15-minute first-response target already breached, escalates the ticket in "
            "Zendesk and posts to #cs-escalations; the clock stops when the Slack "
            f"emulator records that message: {spread(ticket_ms)}.",
        ]
    )
