"""``POST /webhooks/hubspot``: HubSpot's batches (signature v3). Each event of a batch is
validated on its own (a bad one is answered ``invalid`` and kept as a dead letter, the
others go on); events about the same thing are stored in the order they happened."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError

from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult
from webhooks import signatures
from webhooks.ledger import RawDelivery
from webhooks.normalize import from_hubspot
from webhooks.payloads import HUBSPOT_MAX_BATCH, HubSpotWebhookEvent
from webhooks.routes.base import (
    RESPONSES,
    RETRY_AFTER_S,
    Hub,
    HubDep,
    Refused,
    body_schema,
    error,
    signed_body,
    validation_detail,
)

MAX_KEPT_ENTRY_BYTES = 64 * 1024

_HUBSPOT_BATCH: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(list[dict[str, Any]])
"""Built once: a TypeAdapter builds its validator when created (per request, that was a
large share of the ingest's CPU time; ``make bench``, bench/ingest.py)."""

router = APIRouter()


class BatchResult(BaseModel):
    """Answer to a HubSpot batch: one result per event, in the order received."""

    results: list[DeliveryResult]
    counts: dict[str, int]


def verify(hub: Hub, request: Request, body: bytes) -> None:
    signatures.verify_hubspot_v3(
        secret=hub.secret("hubspot_client_secret"),
        method=request.method,
        url=hub.settings.hubspot_webhook_url or str(request.url),
        body=body,
        signature=request.headers.get("x-hubspot-signature-v3"),
        timestamp_ms=request.headers.get("x-hubspot-request-timestamp"),
    )


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def keep_invalid(hub: Hub, item: dict[str, Any], why: str) -> None:
    """A batch entry that failed validation: kept as a dead letter (bounded)."""
    body = _json(item)
    if len(body) > MAX_KEPT_ENTRY_BYTES:
        return
    given = item.get("eventId")
    event_id = str(given)[:64] if isinstance(given, int | str) and str(given) else None
    event_id = event_id or f"invalid-{hashlib.sha256(body).hexdigest()[:32]}"
    hub.ledger.keep(
        dedup_key=f"hubspot:{event_id}",
        source="hubspot",
        event_id=event_id,
        type=None,
        customer_id=None,
        outcome=DeliveryOutcome.INVALID,
        detail=why,
        raw=RawDelivery("hubspot", body),
    )


def _batch(hub: Hub, body: bytes) -> list[dict[str, Any]]:
    try:
        raw = _HUBSPOT_BATCH.validate_json(body)
    except ValidationError as err:
        hub.metrics.rejected("hubspot", "invalid_payload")
        raise Refused(error(422, "invalid_payload", validation_detail(err))) from None
    if len(raw) > HUBSPOT_MAX_BATCH:
        hub.metrics.rejected("hubspot", "invalid_payload")
        raise Refused(
            error(422, "invalid_payload", f"at most {HUBSPOT_MAX_BATCH} events a request")
        )
    return raw


@router.post(
    "/webhooks/hubspot",
    summary="HubSpot webhooks (signature v3)",
    response_model=BatchResult,
    responses={**RESPONSES, 200: {"model": BatchResult, "description": "Batch handled"}},
    openapi_extra=body_schema(list[HubSpotWebhookEvent]),
)
async def hubspot_webhook(
    body: Annotated[bytes, signed_body("hubspot", verify)], hub: HubDep
) -> JSONResponse:
    raw = _batch(hub, body)
    results: list[DeliveryResult | None] = [None] * len(raw)
    groups: dict[str, list[tuple[int, CustomerEvent]]] = defaultdict(list)
    for i, item in enumerate(raw):
        try:
            # Whether a deal stage means "won" is read from the CRM when the event is
            # forwarded, not here: the answer does not wait for (or on) HubSpot.
            event = from_hubspot(HubSpotWebhookEvent.model_validate(item), frozenset())
        except ValidationError as err:
            fields = "; ".join(
                f"{d['field']}: {d['message']}" for d in validation_detail(err, f"[{i}]")
            )
            results[i] = DeliveryResult(
                outcome=DeliveryOutcome.INVALID,
                event_id=str(item.get("eventId"))[:200] if item.get("eventId") else None,
                detail=fields,
            )
            hub.metrics.event("hubspot", DeliveryOutcome.INVALID.value)
            keep_invalid(hub, item, fields)
            continue
        groups[event.order_key or event.data.get("object_id") or event.event_id].append((i, event))

    async def run_group(items: list[tuple[int, CustomerEvent]]) -> None:
        # Events about the same thing run in the order they happened.
        for i, event in sorted(items, key=lambda p: p[1].occurred_at):
            results[i] = await hub.accept(event, RawDelivery("hubspot", _json(raw[i])))

    await asyncio.gather(*(run_group(g) for g in groups.values()))
    final = [r for r in results if r is not None]
    counts: dict[str, int] = defaultdict(int)
    for r in final:
        counts[r.outcome.value] += 1
    batch = BatchResult(results=final, counts=dict(counts))
    if counts.get(DeliveryOutcome.UNAVAILABLE.value):
        # Some events could not be stored: HubSpot must send the batch again.
        # Those stored meanwhile are answered "duplicate" then.
        return JSONResponse(
            batch.model_dump(mode="json"), 503, headers={"Retry-After": str(RETRY_AFTER_S)}
        )
    return JSONResponse(batch.model_dump(mode="json"), 200)
