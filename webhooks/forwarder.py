"""The forwarder: takes the deliveries the API stored (webhooks/ledger.py, the intake
queue) and acts on them: the CRM look-ups, then the Temporal start or signal-with-start,
in arrival order per workflow id, with retries and back-off.

It runs as a loop inside the API process (``CSHUB_FORWARDER=embedded``, the default) and/or
as its own process (``cshub forwarder``); several may run on one store. Each claims the
oldest pending delivery of each group under a lease (``CSHUB_FORWARD_LEASE_S``): one that
dies holding a claim is taken over once the lease ran out. A delivery that cannot be
forwarded yet (Temporal, or the CRM it needs, unreachable) is tried again after a back-off
capped at ``CSHUB_FORWARD_MAX_BACKOFF_S``, holding the deliveries behind it in its group.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import defaultdict
from contextlib import suppress
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult
from runtime.metrics import WebhookMetrics
from runtime.settings import Settings
from webhooks.deal_stages import ClosedWonStages, StagesUnavailable
from webhooks.intake import Intake
from webhooks.ledger import Claimed, DeliveryLedger
from webhooks.replay import UnknownKind, parse_raw
from webhooks.routing import route_for

log = logging.getLogger("cshub.forwarder")

FIRST_BACKOFF_S = 0.5


def group_of(event: CustomerEvent) -> str:
    """What a delivery is ordered within: its workflow id when the event names it, else
    the object it is about (a HubSpot deal whose company and stage are looked up when it
    is forwarded, a Stripe customer), else nothing (the event itself)."""
    route = route_for(event.type)
    key = route.key(event) if route is not None else None
    if route is not None and key is not None:
        return route.workflow_id(key)
    object_id = event.data.get("object_id")
    if object_id:
        return f"{event.source.value}:{event.data.get('object_type')}:{object_id}"
    stripe_customer = event.data.get("stripe_customer")
    if stripe_customer:
        return f"stripe:{stripe_customer}"
    return event.dedup_key


def backoff(attempts: int, cap_s: float) -> timedelta:
    """0.5 s, 1 s, 2 s … capped, with ±20 % jitter so waiting deliveries spread out."""
    base = min(cap_s, FIRST_BACKOFF_S * 2 ** min(attempts, 20))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


class Forwarder:
    def __init__(
        self,
        ledger: DeliveryLedger,
        intake: Intake,
        stages: ClosedWonStages,
        metrics: WebhookMetrics | None = None,
        *,
        owner: str | None = None,
        batch: int = 64,
        lease: timedelta = timedelta(seconds=30),
        max_backoff_s: float = 15.0,
        idle_poll_s: float = 0.25,
    ) -> None:
        self._ledger = ledger
        self._intake = intake
        self._stages = stages
        self._metrics = metrics or WebhookMetrics()
        self.owner = owner or f"forwarder-{uuid.uuid4().hex[:12]}"
        self._batch = batch
        self._lease = lease
        self._max_backoff_s = max_backoff_s
        self._idle_poll_s = idle_poll_s
        self._wake = asyncio.Event()
        self._waiters: dict[str, list[asyncio.Future[DeliveryResult]]] = defaultdict(list)
        self._outage_rounds = 0

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        ledger: DeliveryLedger,
        intake: Intake,
        stages: ClosedWonStages,
        metrics: WebhookMetrics | None = None,
    ) -> Forwarder:
        """A forwarder with the batch, lease and back-off the settings give."""
        return cls(
            ledger,
            intake,
            stages,
            metrics,
            batch=settings.cshub_forward_batch,
            lease=timedelta(seconds=settings.cshub_forward_lease_s),
            max_backoff_s=settings.cshub_forward_max_backoff_s,
        )

    def wake(self) -> None:
        """A delivery was stored: look now rather than at the next poll."""
        self._wake.set()

    async def first_outcome(self, dedup_key: str, timeout_s: float) -> DeliveryResult | None:
        """The outcome of the first attempt to forward a stored delivery, if this forwarder
        makes it within ``timeout_s`` (``CSHUB_INTAKE_ANSWER_WAIT_S``); None otherwise."""
        future: asyncio.Future[DeliveryResult] = asyncio.get_running_loop().create_future()
        self._waiters[dedup_key].append(future)
        self.wake()
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return None
        finally:
            waiting = self._waiters.get(dedup_key)
            if waiting is not None and future in waiting:
                waiting.remove(future)
                if not waiting:
                    del self._waiters[dedup_key]

    async def run(self, stop: asyncio.Event) -> None:
        """Forward until ``stop`` is set. Store errors are logged and retried."""
        log.info("forwarder %s started", self.owner)
        while not stop.is_set():
            try:
                results = await self.run_once()
            except Exception:
                log.exception("forwarder %s: the hub's store failed; retrying in 1 s", self.owner)
                await _sleep_or(stop, 1.0)
                continue
            if not results:
                self._wake.clear()
                await _wait_or(stop, self._wake, self._idle_poll_s)
                continue
            if all(r.outcome is DeliveryOutcome.UNAVAILABLE for r in results):
                # Everything it tried is unreachable: pause, then probe again (each delivery
                # also waits out its own back-off), rather than spin on a system that is down.
                self._outage_rounds += 1
                await _sleep_or(stop, backoff(self._outage_rounds, 2.0).total_seconds())
            else:
                self._outage_rounds = 0
        log.info("forwarder %s stopped", self.owner)

    async def run_once(self) -> list[DeliveryResult]:
        """Claim what is due and forward it (one delivery per group, groups concurrently)."""
        claimed = await self._ledger.io(self._ledger.claim, self.owner, self._batch, self._lease)
        if not claimed:
            return []
        return list(await asyncio.gather(*(self._forward(c) for c in claimed)))

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Forward until nothing is pending (tests, ``cshub forwarder --once``)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._ledger.backlog().pending:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{self._ledger.backlog().pending} deliveries still pending")
            if not await self.run_once():
                await asyncio.sleep(0.05)

    async def _forward(self, claim: Claimed) -> DeliveryResult:
        try:
            result = await self._act(claim)
        except Exception as err:  # a bug or an unexpected answer: kept and retried, not lost
            log.exception("forwarding %s failed", claim.dedup_key)
            result = DeliveryResult(
                outcome=DeliveryOutcome.UNAVAILABLE,
                event_id=claim.dedup_key.partition(":")[2],
                detail=f"forwarding failed: {type(err).__name__}: {err}",
            )
        if result.outcome is DeliveryOutcome.UNAVAILABLE:
            delay = backoff(claim.attempts, self._max_backoff_s)
            kept = await self._ledger.io(
                self._ledger.retry_later,
                claim.seq,
                self.owner,
                result.detail or "unavailable",
                delay,
            )
            self._answer(
                claim.dedup_key,
                result.model_copy(
                    update={
                        "outcome": DeliveryOutcome.ACCEPTED,
                        "detail": f"stored; forwarding is retried ({result.detail})",
                    }
                ),
            )
        else:
            kept = await self._ledger.io(self._ledger.finish, claim.seq, self.owner, result)
            lag = datetime.now(UTC) - claim.received_at
            self._metrics.forwarded(claim.dedup_key.partition(":")[0], lag)
            self._answer(claim.dedup_key, result)
        if not kept:
            log.warning(
                "forwarder %s lost its lease on %s (taken over by another forwarder)",
                self.owner,
                claim.dedup_key,
            )
        return result

    async def _act(self, claim: Claimed) -> DeliveryResult:
        event_id = claim.dedup_key.partition(":")[2]
        if claim.raw is None:
            return DeliveryResult(
                outcome=DeliveryOutcome.INVALID,
                event_id=event_id,
                detail="the stored payload was encrypted with a key no longer configured",
            )
        try:
            event = await parse_raw(claim.raw, claim.received_at, self._stages)
        except StagesUnavailable as err:
            return DeliveryResult(
                outcome=DeliveryOutcome.UNAVAILABLE, event_id=event_id, detail=str(err)
            )
        except (ValidationError, UnknownKind) as err:  # it parsed when it was stored
            return DeliveryResult(
                outcome=DeliveryOutcome.INVALID, event_id=event_id, detail=str(err)[:500]
            )
        return await self._intake.handle(event, claim.raw)

    def _answer(self, dedup_key: str, result: DeliveryResult) -> None:
        for future in self._waiters.pop(dedup_key, []):
            if not future.done():
                future.set_result(result)


async def _sleep_or(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _wait_or(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
