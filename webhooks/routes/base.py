"""What every sender's router shares: the :class:`Hub` (settings, the intake and its
ledger, the forwarder, the metrics, the Temporal connection) as a FastAPI dependency,
the signed raw body as a dependency per sender (:func:`signed_body`), and the one shape
of a single-event webhook (:meth:`Hub.deliver`: parse, normalise, store, answer).

A route refuses a request by raising :class:`Refused` (its answer is the exception's
response; ``create_app`` installs the handler), so a dependency can answer 401 or 413
before the handler runs, with the same error body as the handler would.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError

from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult
from runtime.metrics import WebhookMetrics
from runtime.settings import Settings
from runtime.store import StoreError
from webhooks import signatures
from webhooks.forwarder import Forwarder, group_of
from webhooks.intake import Intake, _result
from webhooks.ledger import PENDING_NOTE, DeliveryLedger, RawDelivery
from webhooks.payloads import HUBSPOT_MAX_BATCH
from webhooks.temporal_connection import TemporalConnection

log = logging.getLogger("cshub.webhooks")

MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_S = 30
STATUS_BY_OUTCOME = {
    DeliveryOutcome.ACCEPTED: 202,
    DeliveryOutcome.DUPLICATE: 200,
    DeliveryOutcome.IGNORED: 202,
    DeliveryOutcome.STALE: 202,
    DeliveryOutcome.INVALID: 422,
    DeliveryOutcome.UNAVAILABLE: 503,
    DeliveryOutcome.PARKED: 202,
    DeliveryOutcome.NOT_FOUND: 202,
}


class ErrorBody(BaseModel):
    error: str
    detail: Any


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": DeliveryResult, "description": "Duplicate: already handled, nothing done"},
    202: {
        "model": DeliveryResult,
        "description": "Accepted (or ignored / stale / parked / customer_not_found)",
    },
    401: {"model": ErrorBody, "description": "Missing or invalid signature, stale timestamp"},
    413: {"model": ErrorBody, "description": "Body over 1 MiB"},
    422: {"model": ErrorBody, "description": "Malformed JSON or invalid payload (field named)"},
    503: {"model": DeliveryResult, "description": "The hub's store cannot write: retry later"},
}
"""The answers of a signed single-event webhook, for the OpenAPI document."""


class BodyTooLarge(Exception):
    pass


class Refused(Exception):
    """A request answered before (or instead of) its handler: ``response`` is the answer."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


async def refused(_: Request, exc: Exception) -> JSONResponse:
    """The exception handler for :class:`Refused` (installed by ``create_app``)."""
    assert isinstance(exc, Refused)
    return exc.response


@functools.cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def error(
    status: int, error: str, detail: Any, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(ErrorBody(error=error, detail=detail).model_dump(), status, headers=headers)


def validation_detail(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        # An error about the body as a whole (not JSON, not an object) names "body".
        out.append({"field": (prefix + loc).lstrip(".") or "body", "message": err["msg"]})
    return out


class _SerializedJSON(JSONResponse):
    """A JSON answer whose body is serialised already (pydantic's own serialiser, in
    Rust: no dict of the model, no second pass through ``json.dumps``)."""

    def render(self, content: Any) -> bytes:
        return content  # type: ignore[no-any-return]


def answer(result: DeliveryResult) -> JSONResponse:
    status = STATUS_BY_OUTCOME[result.outcome]
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return _SerializedJSON(result.model_dump_json().encode(), status, headers=headers)


SIGNED_BODIES: dict[str, type[BaseModel]] = {}
"""The models of the bodies the routes read raw (registered by :func:`body_schema`): the
OpenAPI document publishes their schemas."""


def body_schema(model: Any) -> dict[str, Any]:
    """Document a body the endpoint reads raw (the signature covers the exact bytes)."""
    if getattr(model, "__origin__", None) is list:
        (item,) = model.__args__
        SIGNED_BODIES[item.__name__] = item
        schema: dict[str, Any] = {
            "type": "array",
            "maxItems": HUBSPOT_MAX_BATCH,
            "items": {"$ref": f"#/components/schemas/{item.__name__}"},
        }
    else:
        SIGNED_BODIES[model.__name__] = model
        schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@dataclass
class Hub:
    """One app's shared parts, handed to its routes as a dependency (:data:`HubDep`)."""

    settings: Settings
    ledger: DeliveryLedger
    intake: Intake
    forwarder: Forwarder
    metrics: WebhookMetrics
    temporal: TemporalConnection
    answer_wait_s: float
    """How long a webhook's answer waits for the embedded forwarder's first outcome."""

    def secret(self, name: str) -> str:
        value = getattr(self.settings, name)
        return str(value.get_secret_value())

    async def accept(
        self, event: CustomerEvent, raw: RawDelivery, wait_s: float | None = None
    ) -> DeliveryResult:
        """Store the delivery for the forwarders (with its dedup check, in a group commit)
        and say so. What can be refused without asking anyone (an id that can never be a
        workflow's, a payload its workflow could not take) is refused now (422).
        ``wait_s``: how long this answer may wait for the embedded forwarder's first
        outcome (a survey page; default :attr:`answer_wait_s`)."""
        refused_now = self.intake.refuse_now(event, raw)
        if refused_now is not None:
            return refused_now
        try:
            stored = await self.ledger.store(event, raw, group_of(event))
        except StoreError as err:
            log.error("cannot store %s: %s", event.dedup_key, err)
            self.metrics.event(event.source.value, DeliveryOutcome.UNAVAILABLE.value)
            return _result(
                event, DeliveryOutcome.UNAVAILABLE, f"the hub's store cannot write: {err}"
            )
        if stored.previous is not None:
            self.metrics.event(event.source.value, DeliveryOutcome.DUPLICATE.value)
            previous = stored.previous
            was = PENDING_NOTE if previous.detail == PENDING_NOTE else previous.outcome.value
            return previous.model_copy(
                update={
                    "outcome": DeliveryOutcome.DUPLICATE,
                    "detail": f"event already received ({was})",
                }
            )
        self.forwarder.wake()
        wait = self.answer_wait_s
        if wait_s is not None and self.settings.cshub_forwarder == "embedded":
            wait = max(wait, wait_s)
        if wait > 0:
            outcome = await self.forwarder.first_outcome(event.dedup_key, wait)
            if outcome is not None:
                return outcome
        return _result(event, DeliveryOutcome.ACCEPTED, "stored; forwarded to its workflow shortly")

    async def signed(self, request: Request, source: str, verify: Callable[[bytes], None]) -> bytes:
        """The raw body, read (at most :data:`MAX_BODY_BYTES`) and verified; raises
        :class:`Refused` with 413 or 401 otherwise."""
        try:
            body = await read_body(request)
        except BodyTooLarge:
            self.metrics.rejected(source, "body_too_large")
            raise Refused(
                error(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
            ) from None
        try:
            verify(body)
        except signatures.SignatureError as err:
            log.warning("rejected %s webhook: %s", request.url.path, err)
            self.metrics.rejected(source, "invalid_signature")
            raise Refused(error(401, "invalid_signature", str(err))) from None
        return body

    def parse(self, source: str, model: Any, body: bytes) -> Any:
        """``body`` validated with ``model``; raises :class:`Refused` (422) naming the
        fields otherwise."""
        try:
            return _adapter(model).validate_json(body)
        except ValidationError as err:
            self.metrics.rejected(source, "invalid_payload")
            raise Refused(error(422, "invalid_payload", validation_detail(err))) from None

    async def deliver(
        self,
        source: str,
        body: bytes,
        model: Any,
        normalize: Callable[[Any, bytes], CustomerEvent],
        *,
        stored_as: str | None = None,
    ) -> JSONResponse:
        """The shape of a single-event webhook, once verified: parse, normalise, store
        (``stored_as``: the raw delivery's source, default ``source``), answer."""
        payload = self.parse(source, model, body)
        event = normalize(payload, body)
        return answer(await self.accept(event, RawDelivery(stored_as or source, body)))


Handler = TypeVar("Handler", bound=Callable[..., Awaitable[JSONResponse]])


def signed_webhook(
    router: APIRouter, path: str, summary: str, model: Any
) -> Callable[[Handler], Handler]:
    """The route decorator of a signed single-event webhook: ``POST path`` answering a
    :class:`DeliveryResult` (202 accepted, see :data:`RESPONSES`), its body documented
    as ``model`` (read raw: the signature covers the exact bytes)."""
    return router.post(
        path,
        summary=summary,
        response_model=DeliveryResult,
        status_code=202,
        responses=RESPONSES,
        openapi_extra=body_schema(model),
    )


async def get_hub(request: Request) -> Hub:
    """Async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a
    thread hand-off per request for one attribute read."""
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]
"""A route's parameter ``hub: HubDep``: the app's :class:`Hub`."""

Verify = Callable[[Hub, Request, bytes], None]
"""A sender's signature check: raises :class:`~webhooks.signatures.SignatureError`."""


def timestamped(
    check: Callable[..., None], secret: str, signature_header: str, timestamp_header: str
) -> Verify:
    """The check of a scheme signing the body with a timestamp header (Zendesk, the
    product): ``check(secret=, body=, signature=, timestamp=)`` with the setting
    ``secret`` and the two headers."""

    def verify(hub: Hub, request: Request, body: bytes) -> None:
        check(
            secret=hub.secret(secret),
            body=body,
            signature=request.headers.get(signature_header),
            timestamp=request.headers.get(timestamp_header),
        )

    return verify


def signed_body(source: str, verify: Verify) -> Any:
    """A dependency: the request's raw body, verified with ``verify`` (401/413 otherwise,
    counted under ``source``). Use as ``Annotated[bytes, signed_body(...)]``."""

    async def body(request: Request, hub: HubDep) -> bytes:
        return await hub.signed(request, source, lambda raw: verify(hub, request, raw))

    return Depends(body)
