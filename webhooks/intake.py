"""Act on one normalised event exactly once: dedupe, drop stale, resolve the customer,
route, hand to Temporal, record."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

from temporalio.client import Client

from connectors.base import Crm
from connectors.errors import ConnectorError
from cshub.metrics import WebhookMetrics
from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult
from domain.onboarding import CUSTOMER_ID_PATTERN
from domain.ticket_sla import TICKET_ID_PATTERN
from webhooks.aggregate import ProductAggregator
from webhooks.dispatch import dispatch
from webhooks.ledger import DeliveryLedger
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
        aggregator: ProductAggregator | None = None,
    ) -> None:
        self._ledger = ledger
        self._aggregator = aggregator
        self._client = client
        self._task_queue = task_queue
        self._crm = crm
        self._metrics = metrics or WebhookMetrics()

    async def handle(self, event: CustomerEvent) -> DeliveryResult:
        result = await self._handle(event)
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

    async def _handle(self, event: CustomerEvent) -> DeliveryResult:
        bad = _bad_id(event)
        if bad:
            return _result(event, DeliveryOutcome.INVALID, bad)
        previous = self._ledger.previous(event)
        if previous is not None:
            return previous.model_copy(
                update={
                    "outcome": DeliveryOutcome.DUPLICATE,
                    "detail": f"event already received ({previous.outcome.value})",
                }
            )
        if self._ledger.is_stale(event):
            return self._final(event, DeliveryOutcome.STALE, "a newer event was already applied")
        route = route_for(event.type)
        if route is None:
            return self._final(event, DeliveryOutcome.IGNORED, "no workflow handles this type")
        if route.key(event) is None:
            resolved = await self._resolve_customer(event)
            if isinstance(resolved, DeliveryResult):
                return resolved
            event = resolved
            bad = _bad_id(event)
            if bad:
                return _result(event, DeliveryOutcome.INVALID, bad)
        if self._aggregator is not None and _counted_at_ingress(event):
            return await self._aggregate(self._aggregator, route, event)
        return await self._dispatch(route, event)

    async def _dispatch(
        self, route: Route, event: CustomerEvent, forwarded: CustomerEvent | None = None
    ) -> DeliveryResult:
        """Hand ``forwarded`` (default: the event itself) to Temporal; record the event
        once the outcome is final."""
        try:
            client = await self._client()
        except RuntimeError as err:
            return _result(event, DeliveryOutcome.UNAVAILABLE, f"temporal unavailable: {err}")
        result = await dispatch(client, self._task_queue, route, forwarded or event)
        if result.outcome in (DeliveryOutcome.ACCEPTED, DeliveryOutcome.IGNORED):
            self._ledger.record(event, result)
        return result

    async def _aggregate(
        self, agg: ProductAggregator, route: Route, event: CustomerEvent
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
                self._ledger.record(event, result)
                return result
            forwarded = event.model_copy(
                update={
                    "data": {**event.data, "count": decision.count, "percent": decision.percent}
                }
            )
            result = await self._dispatch(route, event, forwarded)
            if result.outcome in (DeliveryOutcome.ACCEPTED, DeliveryOutcome.IGNORED):
                agg.commit(customer, kind, decision)
                if result.outcome is DeliveryOutcome.ACCEPTED:
                    result = result.model_copy(
                        update={"detail": f"{result.detail} ({decision.reason})"}
                    )
            return result

    async def _resolve_customer(self, event: CustomerEvent) -> CustomerEvent | DeliveryResult:
        """Find the customer (CRM company) an event is about, through the CRM."""
        object_type = event.data.get("object_type")
        object_id = event.data.get("object_id")
        if object_type != "deal" or not object_id:
            # Genuine but about nobody we know (e.g. a Stripe object without the
            # cshub_customer_id metadata): recorded and answered 202, never retried.
            return self._final(
                event, DeliveryOutcome.IGNORED, "the event names no customer (or ticket)"
            )
        try:
            deal = await asyncio.to_thread(self._crm.get_deal, str(object_id))
        except ConnectorError as err:
            outcome = DeliveryOutcome.UNAVAILABLE if err.retryable else DeliveryOutcome.INVALID
            return _result(event, outcome, str(err))
        if not deal.company_id:
            return _result(
                event, DeliveryOutcome.INVALID, f"hubspot deal {object_id} has no company"
            )
        return event.model_copy(
            update={"customer_id": deal.company_id, "data": {**event.data, "tier": deal.tier}}
        )

    def _final(self, event: CustomerEvent, outcome: DeliveryOutcome, detail: str) -> DeliveryResult:
        result = _result(event, outcome, detail)
        self._ledger.record(event, result)
        return result


def _counted_at_ingress(event: CustomerEvent) -> bool:
    """Product usage events (not usage snapshots, which are figures, not counts)."""
    return event.type.startswith("product.") and event.type != PRODUCT_USAGE_SNAPSHOT


def _bad_id(event: CustomerEvent) -> str | None:
    """Why the customer or ticket id cannot be a workflow id (nor a CRM path), or None.
    They come from free-form payload fields (Stripe metadata, Zendesk detail)."""
    if event.customer_id is not None and not re.fullmatch(CUSTOMER_ID_PATTERN, event.customer_id):
        return f"customer_id: {event.customer_id[:40]!r} is not a customer id"
    ticket_id = event.data.get("ticket_id")
    if ticket_id is not None and not re.fullmatch(TICKET_ID_PATTERN, str(ticket_id)):
        return f"ticket_id: {str(ticket_id)[:40]!r} is not a ticket id"
    return None


def _result(event: CustomerEvent, outcome: DeliveryOutcome, detail: str) -> DeliveryResult:
    return DeliveryResult(
        outcome=outcome,
        event_id=event.event_id,
        type=event.type,
        customer_id=event.customer_id,
        detail=detail,
    )
