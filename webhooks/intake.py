"""Act on one normalised event exactly once: dedupe, drop stale, resolve the customer,
route, hand to Temporal, record."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

from temporalio.client import Client

from connectors.base import Billing, Crm
from connectors.errors import ConnectorError
from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult, EventSource
from domain.journeys import CUSTOMER_ID_PATTERN
from domain.ticket_sla import TICKET_ID_PATTERN
from runtime.metrics import WebhookMetrics
from webhooks.aggregate import ProductAggregator
from webhooks.dispatch import dispatch, event_result, input_problem
from webhooks.ledger import NOT_ACTED_ON, DeliveryLedger, RawDelivery
from webhooks.routing import PRODUCT_USAGE_SNAPSHOT, Route, route_for

log = logging.getLogger("cshub.webhooks")

ClientProvider = Callable[[], Awaitable[Client]]


class Intake:
    def __init__(
        self,
        ledger: DeliveryLedger,
        client: ClientProvider,
        task_queue: str,
        crm: Crm,
        metrics: WebhookMetrics | None = None,
        *,
        billing: Billing | None = None,
        stripe_customer_property: str = "cshub_stripe_customer_id",
        aggregator: ProductAggregator | None = None,
    ) -> None:
        self._ledger = ledger
        self._aggregator = aggregator
        self._client = client
        self._task_queue = task_queue
        self._crm = crm
        self._metrics = metrics or WebhookMetrics()
        self._billing = billing
        self._stripe_property = stripe_customer_property

    def refuse_now(self, event: CustomerEvent, raw: RawDelivery) -> DeliveryResult | None:
        """The INVALID outcome (kept as a dead letter, counted) of an event that can be
        refused with no look-up: a customer or ticket id that can never name a workflow, or
        a payload its route cannot turn into the workflow's input. None: store it."""
        why = bad_id(event)
        route = route_for(event.type)
        if why is None and route is not None and route.key(event) is not None:
            why = input_problem(route, event)
        if why is None:
            return None
        result = _result(event, DeliveryOutcome.INVALID, why)
        self._ledger.keep(
            dedup_key=event.dedup_key,
            source=event.source.value,
            event_id=event.event_id,
            type=event.type,
            customer_id=event.customer_id,
            outcome=result.outcome,
            detail=result.detail,
            raw=raw,
        )
        self._metrics.event(event.source.value, result.outcome.value)
        return result

    async def handle(
        self, event: CustomerEvent, raw: RawDelivery | None = None, *, replay: bool = False
    ) -> DeliveryResult:
        """Act on the event once. ``raw``: the sender's payload, kept when the event is not
        acted on (a dead letter). ``replay``: ``cshub webhooks replay`` - an event recorded
        as ignored or stale is routed again (one that was acted on stays a duplicate)."""
        result = await self._handle(event, replay)
        if raw is not None and result.outcome in NOT_ACTED_ON:
            await self._ledger.io(
                self._ledger.keep,
                dedup_key=event.dedup_key,
                source=event.source.value,
                event_id=event.event_id,
                type=event.type,
                customer_id=result.customer_id or event.customer_id,
                outcome=result.outcome,
                detail=result.detail,
                raw=raw,
            )
        # An accepted or parked outcome resolved its dead letter, if one was kept, when it
        # was recorded (DeliveryLedger.record, one transaction).
        # The one place every event's outcome is known: cshub_webhook_events_total.
        self._metrics.event(event.source.value, result.outcome.value)
        log.info(
            "event source=%s id=%s type=%s customer=%s outcome=%s workflow=%s detail=%s",
            event.source.value,
            event.event_id,
            event.type,
            result.customer_id or "-",
            result.outcome.value,
            result.workflow_id or "-",
            result.detail or "-",
            extra={"customer_id": result.customer_id, "workflow_id": result.workflow_id},
        )
        return result

    async def _handle(self, event: CustomerEvent, replay: bool = False) -> DeliveryResult:
        bad = bad_id(event)
        if bad:
            return _result(event, DeliveryOutcome.INVALID, bad)
        previous, stale = await self._ledger.io(self._ledger.seen, event)
        if previous is not None and not (replay and previous.outcome in REPLAYABLE):
            return previous.model_copy(
                update={
                    "outcome": DeliveryOutcome.DUPLICATE,
                    "detail": f"event already received ({previous.outcome.value})",
                }
            )
        replace = replay and previous is not None  # the outcome a replay re-decides
        if stale:
            return await self._final(
                event, DeliveryOutcome.STALE, "a newer event was already applied", replace
            )
        route = route_for(event.type)
        if route is None:
            return await self._final(
                event, DeliveryOutcome.IGNORED, "no workflow handles this type", replace
            )
        if route.key(event) is None:
            resolved = await self._resolve_customer(event)
            if isinstance(resolved, DeliveryResult):
                return resolved
            event = resolved
            bad = bad_id(event)
            if bad:
                return _result(event, DeliveryOutcome.INVALID, bad)
        if self._aggregator is not None and _counted_at_ingress(event):
            return await self._aggregate(self._aggregator, route, event, replace)
        return await self._dispatch(route, event, replace=replace)

    async def _dispatch(
        self,
        route: Route,
        event: CustomerEvent,
        forwarded: CustomerEvent | None = None,
        *,
        replace: bool = False,
    ) -> DeliveryResult:
        """Hand ``forwarded`` (default: the event itself) to Temporal; record the event
        once the outcome is final."""
        try:
            client = await self._client()
        except RuntimeError as err:
            return _result(event, DeliveryOutcome.UNAVAILABLE, f"temporal unavailable: {err}")
        result = await dispatch(client, self._task_queue, route, forwarded or event)
        if result.outcome in (
            DeliveryOutcome.ACCEPTED,
            DeliveryOutcome.IGNORED,
            DeliveryOutcome.PARKED,
        ):
            await self._ledger.io(self._ledger.record, event, result, replace=replace)
        return result

    async def _aggregate(
        self, agg: ProductAggregator, route: Route, event: CustomerEvent, replace: bool
    ) -> DeliveryResult:
        """A product event: counted here; the journey is signalled only when a playbook
        threshold is crossed, or with the hour's count (webhooks/aggregate.py)."""
        customer = str(event.customer_id)
        kind = event.type.removeprefix("product.")
        percent = event.data.get("percent")
        async with agg.customer_lock(customer):
            decision = agg.decide(
                customer,
                kind,
                int(event.data.get("count") or 1),
                float(percent) if percent is not None else None,
            )
            if not decision.signal:
                agg.commit(customer, kind, decision)
                result = _result(event, DeliveryOutcome.ACCEPTED, f"counted: {decision.reason}")
                result = result.model_copy(update={"workflow_id": route.workflow_id(customer)})
                await self._ledger.io(self._ledger.record, event, result, replace=replace)
                return result
            forwarded = event.model_copy(
                update={
                    "data": {**event.data, "count": decision.count, "percent": decision.percent}
                }
            )
            result = await self._dispatch(route, event, forwarded, replace=replace)
            if result.outcome in (
                DeliveryOutcome.ACCEPTED,
                DeliveryOutcome.IGNORED,
                DeliveryOutcome.PARKED,
            ):
                agg.commit(customer, kind, decision)
                if result.outcome is DeliveryOutcome.ACCEPTED:
                    result = result.model_copy(
                        update={"detail": f"{result.detail} ({decision.reason})"}
                    )
            return result

    async def _resolve_customer(self, event: CustomerEvent) -> CustomerEvent | DeliveryResult:
        """Find the customer (CRM company) an event is about. Not found: answered 202
        ``customer_not_found`` and not recorded as final, so the sender's redelivery (or
        ``cshub webhooks replay``) after the data is fixed is acted on."""
        if event.source is EventSource.STRIPE:
            return await self._resolve_stripe(event)
        object_type = event.data.get("object_type")
        object_id = event.data.get("object_id")
        if object_type != "deal" or not object_id:
            # Names nothing the hub could ever look up (a ticket event without a ticket):
            # recorded and answered 202, never retried.
            return await self._final(
                event, DeliveryOutcome.IGNORED, "the event names no customer (or ticket)"
            )
        try:
            deal = await asyncio.to_thread(self._crm.get_deal, str(object_id))
        except ConnectorError as err:
            outcome = DeliveryOutcome.UNAVAILABLE if err.retryable else DeliveryOutcome.INVALID
            return _result(event, outcome, str(err))
        if not deal.company_id:
            return _result(
                event, DeliveryOutcome.NOT_FOUND, f"hubspot deal {object_id} has no company"
            )
        return event.model_copy(
            update={"customer_id": deal.company_id, "data": {**event.data, "tier": deal.tier}}
        )

    async def _resolve_stripe(self, event: CustomerEvent) -> CustomerEvent | DeliveryResult:
        """After the event object's own metadata (read by the normaliser), in order: the
        subscription's metadata, the Stripe Customer's metadata, then the CRM company whose
        ``STRIPE_CUSTOMER_PROPERTY`` holds the Stripe customer id."""
        subscription = _stripe_id(event.data.get("subscription_id"), "sub_")
        stripe_customer = _stripe_id(event.data.get("stripe_customer"), "cus_")
        tried: list[str] = ["the event's metadata"]
        problems: list[str] = []

        async def ask(what: str, call: Callable[[], str | None]) -> str | DeliveryResult | None:
            tried.append(what)
            try:
                return await asyncio.to_thread(call)
            except ConnectorError as err:
                if err.retryable:
                    return _result(event, DeliveryOutcome.UNAVAILABLE, str(err))
                log.warning("stripe customer look-up: %s", err)
                problems.append(str(err))
                return None

        billing = self._billing
        steps: list[tuple[str, Callable[[], str | None]]] = []
        if billing is not None and subscription:
            steps.append(
                (
                    f"subscription {subscription}'s metadata",
                    lambda: _customer_in(billing.subscription_metadata(str(subscription))),
                )
            )
        if billing is not None and stripe_customer:
            steps.append(
                (
                    f"Stripe customer {stripe_customer}'s metadata",
                    lambda: _customer_in(billing.customer_metadata(str(stripe_customer))),
                )
            )
        if stripe_customer:

            def by_property() -> str | None:
                found = self._crm.find_company_by_property(
                    self._stripe_property, str(stripe_customer)
                )
                return found.id if found else None

            steps.append((f"CRM companies' {self._stripe_property}", by_property))
        for what, call in steps:
            found = await ask(what, call)
            if isinstance(found, DeliveryResult):
                return found
            if found:
                data = {**event.data, "customer_found_via": what}
                return event.model_copy(update={"customer_id": found, "data": data})
        detail = "no customer found in " + ", ".join(tried)
        if problems:
            detail += f" ({'; '.join(problems)})"
        return _result(event, DeliveryOutcome.NOT_FOUND, detail)

    async def _final(
        self, event: CustomerEvent, outcome: DeliveryOutcome, detail: str, replace: bool = False
    ) -> DeliveryResult:
        result = _result(event, outcome, detail)
        await self._ledger.io(self._ledger.record, event, result, replace=replace)
        return result


def _counted_at_ingress(event: CustomerEvent) -> bool:
    """Product usage events (not usage snapshots, which are figures, not counts)."""
    return event.type.startswith("product.") and event.type != PRODUCT_USAGE_SNAPSHOT


def _stripe_id(value: object, prefix: str) -> str | None:
    """A Stripe id from a free-form payload field, or None when it cannot be one (only
    such ids reach Stripe's API and the CRM search)."""
    text = value if isinstance(value, str) else ""
    return text if re.fullmatch(re.escape(prefix) + r"[A-Za-z0-9]{1,250}", text) else None


CUSTOMER_METADATA_KEYS = ("cshub_customer_id", "hubspot_company_id")


REPLAYABLE = frozenset({DeliveryOutcome.IGNORED, DeliveryOutcome.STALE})
"""Recorded outcomes a replay may re-decide: nothing was acted on. Accepted and parked
events reached their workflow: replaying them is a duplicate."""


def _customer_in(metadata: dict[str, str] | None) -> str | None:
    for key in CUSTOMER_METADATA_KEYS:
        if metadata and metadata.get(key):
            return metadata[key]
    return None


def bad_id(event: CustomerEvent) -> str | None:
    """Why the customer or ticket id cannot be a workflow id (nor a CRM path), or None.
    They come from free-form payload fields (Stripe metadata, Zendesk detail)."""
    if event.customer_id is not None and not re.fullmatch(CUSTOMER_ID_PATTERN, event.customer_id):
        return f"customer_id: {event.customer_id[:40]!r} is not a customer id"
    ticket_id = event.data.get("ticket_id")
    if ticket_id is not None and not re.fullmatch(TICKET_ID_PATTERN, str(ticket_id)):
        return f"ticket_id: {str(ticket_id)[:40]!r} is not a ticket id"
    return None


def _result(event: CustomerEvent, outcome: DeliveryOutcome, detail: str) -> DeliveryResult:
    return event_result(event, outcome, detail)
