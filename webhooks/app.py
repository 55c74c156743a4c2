"""The webhook ingress: one endpoint per sender, verified on the raw body, parsed, then
stored in the hub's own store with its dedup check (one transaction); answered 2xx once
stored. A forwarder (webhooks/forwarder.py) acts on it: CRM look-ups, then Temporal. So
the senders see 2xx while Temporal or the CRM is down; 503 + Retry-After only when the
hub's store cannot write."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, TypeAdapter, ValidationError
from temporalio.client import Client

from connectors.base import Billing, Crm
from cshub.metrics import HubRuntime, WebhookMetrics, scrape
from cshub.settings import Settings
from cshub.store import StoreError
from domain.customer_text import TextSource
from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult, EventSource
from domain.lifecycle import ExitReason
from domain.onboarding import CUSTOMER_ID_PATTERN
from domain.survey_links import LinkCheck, verify_csat_link, verify_exit_survey, verify_nps_link
from domain.surveys import (
    CONTACT_ID_PATTERN,
    QUARTER_PATTERN,
    SURVEY_ID_PATTERN,
    TICKET_ID_PATTERN,
)
from playbooks.loader import playbooks_dir
from webhooks import signatures
from webhooks.aggregate import ProductAggregator, plan_thresholds
from webhooks.deal_stages import ClosedWonStages
from webhooks.forwarder import Forwarder, group_of
from webhooks.intake import Intake
from webhooks.ledger import PENDING_NOTE, DeliveryLedger, RawDelivery
from webhooks.limits import BodyDeadline, SecurityHeaders
from webhooks.normalize import (
    from_hubspot,
    from_product,
    from_stripe,
    from_zendesk,
    from_zendesk_trigger,
)
from webhooks.payloads import (
    HUBSPOT_MAX_BATCH,
    HubSpotWebhookEvent,
    ProductWebhookEvent,
    StripeWebhookEvent,
    ZendeskTriggerBody,
    ZendeskWebhookEvent,
)
from webhooks.routing import CSAT_ANSWER, EXIT_SURVEY_ANSWER, NPS_ANSWER
from webhooks.survey_comments import add_comment_route, comment_box
from webhooks.survey_pages import Page, render_page

log = logging.getLogger("cshub.webhooks")

MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_S = 30
ACCEPT_LANGUAGE = Header(None, description="The browser's languages: the page's language")
"""A survey page's language (webhooks/survey_pages.py)."""
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


_HUBSPOT_BATCH: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(list[dict[str, Any]])
"""Built once: a TypeAdapter builds its validator when created (per request, that was a
large share of the ingest's CPU time; ``make bench``, bench/ingest.py)."""


@functools.cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


class BatchResult(BaseModel):
    """Answer to a HubSpot batch: one result per event, in the order received."""

    results: list[DeliveryResult]
    counts: dict[str, int]


class ErrorBody(BaseModel):
    error: str
    detail: Any


class HealthBody(BaseModel):
    status: str
    temporal: str
    store: str = "ok"
    backlog: int = 0
    oldest_pending_s: float = 0.0


class BodyTooLarge(Exception):
    pass


class TemporalConnection:
    """Connects lazily and reconnects after failures, so the API starts (and answers 503)
    while Temporal is down, and recovers on its own when it comes back."""

    def __init__(self, connect: Callable[[], Awaitable[Client]]) -> None:
        self._connect = connect
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(self._connect(), timeout=5)
                except (TimeoutError, OSError) as err:
                    raise RuntimeError(f"cannot connect to Temporal: {err}") from err
            return self._client

    async def healthy(self) -> bool:
        try:
            client = await self.get()
            return await asyncio.wait_for(
                client.service_client.check_health(timeout=timedelta(seconds=2)), timeout=3
            )
        except Exception:
            return False


def _settings_client(
    settings: Settings, telemetry: HubRuntime | None = None
) -> Callable[[], Awaitable[Client]]:
    async def connect() -> Client:
        from cshub.temporal_client import FAIL_FAST
        from cshub.temporal_client import connect as connect_settings

        runtime = telemetry.runtime if telemetry else None
        return await connect_settings(settings, retry_config=FAIL_FAST, runtime=runtime)

    return connect


async def _read_body(request: Request) -> bytes:
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


def _error(
    status: int, error: str, detail: Any, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(ErrorBody(error=error, detail=detail).model_dump(), status, headers=headers)


def _validation_detail(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        # An error about the body as a whole (not JSON, not an object) names "body".
        out.append({"field": (prefix + loc).lstrip(".") or "body", "message": err["msg"]})
    return out


def _answer(result: DeliveryResult) -> JSONResponse:
    status = STATUS_BY_OUTCOME[result.outcome]
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return JSONResponse(result.model_dump(mode="json"), status, headers=headers)


def create_app(
    settings: Settings,
    *,
    crm: Crm | None = None,
    billing: Billing | None = None,
    ledger: DeliveryLedger | None = None,
    connect: Callable[[], Awaitable[Client]] | None = None,
    telemetry: HubRuntime | None = None,
) -> FastAPI:
    """The ingress app. ``crm``, ``ledger`` and ``connect`` default to what the settings
    describe; tests pass their own. ``telemetry``: the process's Temporal runtime; its
    meter counts the webhooks and ``GET /metrics`` serves its Prometheus exporter."""
    settings.require_webhook_secrets()
    if crm is None or billing is None:
        from connectors.factory import build_connectors

        built = build_connectors(settings)
        crm = crm or built.crm
        billing = billing or built.billing
    own_ledger = ledger is None
    the_ledger = ledger or DeliveryLedger.for_settings(settings)
    the_ledger.prune(timedelta(days=settings.cshub_dedup_days))
    temporal = TemporalConnection(connect or _settings_client(settings, telemetry))
    metrics = WebhookMetrics(telemetry.runtime.metric_meter if telemetry else None)
    aggregator = ProductAggregator(settings.cshub_api_db, plan_thresholds(playbooks_dir()))
    intake = Intake(
        the_ledger,
        temporal.get,
        settings.temporal_task_queue,
        crm,
        metrics,
        billing=billing,
        stripe_customer_property=settings.stripe_customer_property,
        aggregator=aggregator,
    )
    closed_won = ClosedWonStages(
        crm, settings.closed_won_stages, ttl_s=settings.hubspot_stages_refresh_s
    )
    forwarder = Forwarder(
        the_ledger,
        intake,
        closed_won,
        metrics,
        batch=settings.cshub_forward_batch,
        lease=timedelta(seconds=settings.cshub_forward_lease_s),
        max_backoff_s=settings.cshub_forward_max_backoff_s,
    )
    embedded = settings.cshub_forwarder == "embedded"
    answer_wait_s = settings.cshub_intake_answer_wait_s if embedded else 0.0

    def secret(name: str) -> str:
        value = getattr(settings, name)
        return str(value.get_secret_value())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(report_backlog(stop))]
        if embedded:
            tasks.append(asyncio.create_task(forwarder.run(stop)))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            aggregator.close()
            if own_ledger:
                the_ledger.close()

    async def report_backlog(stop: asyncio.Event) -> None:
        """The backlog gauges, every second (whichever process forwards)."""
        while not stop.is_set():
            try:
                backlog = await the_ledger.io(the_ledger.backlog)
                metrics.backlog(backlog.pending, backlog.oldest_age_s())
            except StoreError as err:
                log.warning("intake backlog unreadable: %s", err)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def accept(event: CustomerEvent, raw: RawDelivery) -> DeliveryResult:
        """Store the delivery for the forwarders (with its dedup check, one transaction)
        and say so. What can be refused without asking anyone (an id that can never be a
        workflow's, a payload its workflow could not take) is refused now (422)."""
        refused = intake.refuse_now(event, raw)
        if refused is not None:
            return refused
        try:
            stored = await the_ledger.io(the_ledger.enqueue, event, raw, group_of(event))
        except StoreError as err:
            log.error("cannot store %s: %s", event.dedup_key, err)
            metrics.event(event.source.value, DeliveryOutcome.UNAVAILABLE.value)
            return DeliveryResult(
                outcome=DeliveryOutcome.UNAVAILABLE,
                event_id=event.event_id,
                type=event.type,
                customer_id=event.customer_id,
                detail=f"the hub's store cannot write: {err}",
            )
        if stored.previous is not None:
            metrics.event(event.source.value, DeliveryOutcome.DUPLICATE.value)
            previous = stored.previous
            was = PENDING_NOTE if previous.detail == PENDING_NOTE else previous.outcome.value
            return previous.model_copy(
                update={
                    "outcome": DeliveryOutcome.DUPLICATE,
                    "detail": f"event already received ({was})",
                }
            )
        forwarder.wake()
        if answer_wait_s > 0:
            outcome = await forwarder.first_outcome(event.dedup_key, answer_wait_s)
            if outcome is not None:
                return outcome
        return DeliveryResult(
            outcome=DeliveryOutcome.ACCEPTED,
            event_id=event.event_id,
            type=event.type,
            customer_id=event.customer_id,
            detail="stored; forwarded to its workflow shortly",
        )

    app = FastAPI(
        title="cshub webhook ingress",
        version="1.0",
        description="Signed webhooks from HubSpot, Stripe, Zendesk and the product start and "
        "steer cshub's workflows. 2xx means durably accepted (or deliberately ignored); "
        "503 means retry later; 401 bad signature; 413 body over 1 MiB; 422 invalid payload.",
        lifespan=lifespan,
        # /docs (when on) is served from the package's own files (webhooks/docs_routes.py),
        # not a CDN. Off in production unless CSHUB_API_DOCS=true: the published port
        # answers the signed endpoints, not a map of them.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs_on else None,
    )
    app.add_middleware(BodyDeadline, seconds=settings.cshub_api_body_timeout_s)
    app.add_middleware(SecurityHeaders)

    async def verified_body(
        request: Request, verify: Callable[[bytes], None], source: str | None = None
    ) -> bytes | JSONResponse:
        source = source or request.url.path.rsplit("/", 1)[-1]
        try:
            body = await _read_body(request)
        except BodyTooLarge:
            metrics.rejected(source, "body_too_large")
            return _error(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        try:
            verify(body)
        except signatures.SignatureError as err:
            log.warning("rejected %s webhook: %s", request.url.path, err)
            metrics.rejected(source, "invalid_signature")
            return _error(401, "invalid_signature", str(err))
        return body

    def parse(model: Any, body: bytes) -> Any:
        return _adapter(model).validate_json(body)

    responses: dict[int | str, dict[str, Any]] = {
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

    async def single(
        request: Request,
        verify: Callable[[bytes], None],
        model: type[BaseModel],
        normalize: Callable[[Any], CustomerEvent],
    ) -> JSONResponse:
        body = await verified_body(request, verify)
        if isinstance(body, JSONResponse):
            return body
        source = request.url.path.rsplit("/", 1)[-1]
        try:
            payload = parse(model, body)
        except ValidationError as err:
            metrics.rejected(source, "invalid_payload")
            return _error(422, "invalid_payload", _validation_detail(err))
        return _answer(await accept(normalize(payload), RawDelivery(source, body)))

    def keep_invalid_hubspot(item: dict[str, Any], why: str) -> None:
        """A batch entry that failed validation: kept as a dead letter (bounded)."""
        body = _json(item)
        if len(body) > MAX_KEPT_ENTRY_BYTES:
            return
        given = item.get("eventId")
        event_id = str(given)[:64] if isinstance(given, int | str) and str(given) else None
        event_id = event_id or f"invalid-{hashlib.sha256(body).hexdigest()[:32]}"
        the_ledger.keep(
            dedup_key=f"hubspot:{event_id}",
            source="hubspot",
            event_id=event_id,
            type=None,
            customer_id=None,
            outcome=DeliveryOutcome.INVALID,
            detail=why,
            raw=RawDelivery("hubspot", body),
        )

    @app.post(
        "/webhooks/hubspot",
        summary="HubSpot webhooks (signature v3)",
        response_model=BatchResult,
        responses={**responses, 200: {"model": BatchResult, "description": "Batch handled"}},
        openapi_extra=_body_schema(list[HubSpotWebhookEvent]),
    )
    async def hubspot_webhook(request: Request) -> JSONResponse:
        url = settings.hubspot_webhook_url or str(request.url)

        def verify(body: bytes) -> None:
            signatures.verify_hubspot_v3(
                secret=secret("hubspot_client_secret"),
                method=request.method,
                url=url,
                body=body,
                signature=request.headers.get("x-hubspot-signature-v3"),
                timestamp_ms=request.headers.get("x-hubspot-request-timestamp"),
            )

        body = await verified_body(request, verify)
        if isinstance(body, JSONResponse):
            return body
        try:
            raw = _HUBSPOT_BATCH.validate_json(body)
        except ValidationError as err:
            metrics.rejected("hubspot", "invalid_payload")
            return _error(422, "invalid_payload", _validation_detail(err))
        if len(raw) > HUBSPOT_MAX_BATCH:
            metrics.rejected("hubspot", "invalid_payload")
            return _error(422, "invalid_payload", f"at most {HUBSPOT_MAX_BATCH} events a request")
        results: list[DeliveryResult | None] = [None] * len(raw)
        groups: dict[str, list[tuple[int, CustomerEvent]]] = defaultdict(list)
        for i, item in enumerate(raw):
            try:
                # Whether a deal stage means "won" is read from the CRM when the event is
                # forwarded, not here: the answer does not wait for (or on) HubSpot.
                event = from_hubspot(HubSpotWebhookEvent.model_validate(item), frozenset())
            except ValidationError as err:
                fields = "; ".join(
                    f"{d['field']}: {d['message']}" for d in _validation_detail(err, f"[{i}]")
                )
                results[i] = DeliveryResult(
                    outcome=DeliveryOutcome.INVALID,
                    event_id=str(item.get("eventId"))[:200] if item.get("eventId") else None,
                    detail=fields,
                )
                metrics.event("hubspot", DeliveryOutcome.INVALID.value)
                keep_invalid_hubspot(item, fields)
                continue
            groups[event.order_key or event.data.get("object_id") or event.event_id].append(
                (i, event)
            )

        async def run_group(items: list[tuple[int, CustomerEvent]]) -> None:
            # Events about the same thing run in the order they happened.
            for i, event in sorted(items, key=lambda p: p[1].occurred_at):
                results[i] = await accept(event, RawDelivery("hubspot", _json(raw[i])))

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

    @app.post(
        "/webhooks/stripe",
        summary="Stripe events (Stripe-Signature)",
        response_model=DeliveryResult,
        status_code=202,
        responses=responses,
        openapi_extra=_body_schema(StripeWebhookEvent),
    )
    async def stripe_webhook(request: Request) -> JSONResponse:
        def verify(body: bytes) -> None:
            signatures.verify_stripe(
                secret=secret("stripe_webhook_secret"),
                body=body,
                header=request.headers.get("stripe-signature"),
            )

        return await single(request, verify, StripeWebhookEvent, from_stripe)

    @app.post(
        "/webhooks/zendesk",
        summary="Zendesk webhooks (X-Zendesk-Webhook-Signature)",
        response_model=DeliveryResult,
        status_code=202,
        responses=responses,
        openapi_extra=_body_schema(ZendeskWebhookEvent),
    )
    async def zendesk_webhook(request: Request) -> JSONResponse:
        def verify(body: bytes) -> None:
            signatures.verify_zendesk(
                secret=secret("zendesk_webhook_secret"),
                body=body,
                signature=request.headers.get("x-zendesk-webhook-signature"),
                timestamp=request.headers.get("x-zendesk-webhook-signature-timestamp"),
            )

        return await single(request, verify, ZendeskWebhookEvent, from_zendesk)

    @app.post(
        "/webhooks/zendesk/trigger",
        summary="Zendesk trigger and automation webhooks (admin-written body, same signature)",
        response_model=DeliveryResult,
        status_code=202,
        responses=responses,
        openapi_extra=_body_schema(ZendeskTriggerBody),
    )
    async def zendesk_trigger_webhook(request: Request) -> JSONResponse:
        def verify(body: bytes) -> None:
            signatures.verify_zendesk(
                secret=secret("zendesk_webhook_secret"),
                body=body,
                signature=request.headers.get("x-zendesk-webhook-signature"),
                timestamp=request.headers.get("x-zendesk-webhook-signature-timestamp"),
            )

        body = await verified_body(request, verify, "zendesk")
        if isinstance(body, JSONResponse):
            return body
        try:
            payload = parse(ZendeskTriggerBody, body)
        except ValidationError as err:
            metrics.rejected("zendesk", "invalid_payload")
            return _error(422, "invalid_payload", _validation_detail(err))
        received = datetime.now(UTC)
        event = from_zendesk_trigger(payload, body, received)
        return _answer(await accept(event, RawDelivery(ZENDESK_TRIGGER, body)))

    @app.post(
        "/webhooks/product",
        summary="Product usage events (X-Cshub-Signature)",
        response_model=DeliveryResult,
        status_code=202,
        responses=responses,
        openapi_extra=_body_schema(ProductWebhookEvent),
    )
    async def product_webhook(request: Request) -> JSONResponse:
        def verify(body: bytes) -> None:
            signatures.verify_product(
                secret=secret("product_webhook_secret"),
                body=body,
                signature=request.headers.get("x-cshub-signature"),
                timestamp=request.headers.get("x-cshub-timestamp"),
            )

        received = datetime.now(UTC)
        return await single(
            request, verify, ProductWebhookEvent, lambda p: from_product(p, received)
        )

    survey_responses: dict[int | str, dict[str, Any]] = {
        200: {"description": "Thank-you page (or: already recorded, survey closed)"},
        403: {"description": "Link not signed by the hub, changed, or expired"},
        503: {"description": "Try again shortly"},
    }

    @app.get(
        "/survey/exit",
        summary="One-click exit-survey answer (signed link from the win-back e-mail)",
        response_class=HTMLResponse,
        responses=survey_responses,
    )
    async def exit_survey(
        customer: str = Query(pattern=CUSTOMER_ID_PATTERN),
        reason: ExitReason = Query(),
        campaign: str = Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$"),
        exp: str = Query("", description="Expiry time of the link (unix seconds)"),
        sig: str = Query(min_length=1, max_length=128),
        accept_language: str | None = ACCEPT_LANGUAGE,
    ) -> HTMLResponse:
        if exp and not _digits(exp, 12):
            return _bad_link(f"malformed exit-survey link for customer {customer}", accept_language)
        check = verify_exit_survey(
            settings.survey_link_secrets,
            customer,
            reason.value,
            campaign,
            int(exp) if exp else None,
            sig,
        )
        if check is not LinkCheck.VALID:
            return _bad_link(
                f"exit-survey link for customer {customer}: {check.value}", accept_language, check
            )
        # One answer per e-mail: the first reason clicked; the other links of the same
        # e-mail (a mail scanner opens them all) are duplicates.
        return await survey_answer(
            CustomerEvent(
                event_id=f"exit:{campaign}",
                source=EventSource.SURVEY,
                type=EXIT_SURVEY_ANSWER,
                customer_id=customer,
                occurred_at=datetime.now(UTC),
                data={"reason": reason.value},
            ),
            accept_language,
        )

    def _try_again(accept_language: str | None) -> HTMLResponse:
        return HTMLResponse(
            render_page(Page.TRY_AGAIN, accept_language),
            503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    async def survey_answer(event: CustomerEvent, accept_language: str | None) -> HTMLResponse:
        """Hand a verified one-click answer to its workflow; tell the person what became of
        it. The event id names the survey e-mail, not the score: a second click on any
        link of the same e-mail is a duplicate."""
        result = await intake.handle(event)
        if result.outcome is DeliveryOutcome.UNAVAILABLE:
            return _try_again(accept_language)
        ignored_before = "(ignored)" in (result.detail or "")
        if result.outcome is DeliveryOutcome.IGNORED or (
            result.outcome is DeliveryOutcome.DUPLICATE and ignored_before
        ):
            return HTMLResponse(render_page(Page.CLOSED, accept_language))
        if result.outcome is DeliveryOutcome.DUPLICATE:
            return HTMLResponse(render_page(Page.ALREADY_RECORDED, accept_language))
        if result.outcome is DeliveryOutcome.INVALID:
            return _bad_link("the answer could not be read", accept_language)
        return HTMLResponse(_thanks_with_comment_box(event, accept_language))

    def _thanks_with_comment_box(event: CustomerEvent, accept_language: str | None) -> str:
        """The thank-you page with a box for a comment on the answer (risk intelligence:
        what customers write is read and, when alarming, quoted to the CSM)."""
        kinds = {CSAT_ANSWER: TextSource.CSAT, NPS_ANSWER: TextSource.NPS}
        kind = kinds.get(event.type, TextSource.EXIT)
        ref = str(event.data.get("ticket_id") if kind is TextSource.CSAT else event.customer_id)
        score = event.data.get("score")
        box = comment_box(
            secret("survey_link_secret"),
            kind,
            event.event_id,
            ref,
            score if isinstance(score, int) else None,
            accept_language,
        )
        return render_page(Page.THANKS, accept_language) + box

    def _bad_link(
        why: str, accept_language: str | None, check: LinkCheck = LinkCheck.INVALID
    ) -> HTMLResponse:
        log.warning("rejected survey link: %s", why)
        expired = check is LinkCheck.EXPIRED
        metrics.rejected("survey", "expired_link" if expired else "invalid_link")
        page = Page.EXPIRED_LINK if expired else Page.INVALID_LINK
        return HTMLResponse(render_page(page, accept_language), 403)

    add_comment_route(app, lambda: secret("survey_link_secret"), intake.handle, _bad_link)

    @app.get(
        "/survey/csat",
        summary="One-click CSAT answer (signed link from the survey after a solved ticket)",
        response_class=HTMLResponse,
        responses=survey_responses,
    )
    async def csat_survey(
        ticket: str = Query("", description="Zendesk ticket id"),
        survey: str = Query("", description="The survey e-mail's id"),
        score: str = Query("", description="1 (very dissatisfied) … 5 (very satisfied)"),
        exp: str = Query("", description="Expiry time of the link (unix seconds)"),
        sig: str = Query("", description="HMAC-SHA256 of the above (SURVEY_LINK_SECRET)"),
        accept_language: str | None = ACCEPT_LANGUAGE,
    ) -> HTMLResponse:
        if not (
            _matches(TICKET_ID_PATTERN, ticket)
            and _matches(SURVEY_ID_PATTERN, survey)
            and _number_in(score, 1, 5)
            and _digits(exp, 12)
            and 0 < len(sig) <= 128
        ):
            return _bad_link(f"malformed CSAT link for ticket {ticket[:20]!r}", accept_language)
        check = verify_csat_link(
            settings.survey_link_secrets, ticket, survey, int(score), int(exp), sig
        )
        if check is not LinkCheck.VALID:
            return _bad_link(
                f"CSAT link for ticket {ticket}: {check.value}", accept_language, check
            )
        return await survey_answer(
            CustomerEvent(
                event_id=f"csat:{ticket}:{survey}",
                source=EventSource.SURVEY,
                type=CSAT_ANSWER,
                occurred_at=datetime.now(UTC),
                data={"ticket_id": ticket, "survey_id": survey, "score": int(score)},
            ),
            accept_language,
        )

    @app.get(
        "/survey/nps",
        summary="One-click NPS answer (signed link from the quarterly survey)",
        response_class=HTMLResponse,
        responses=survey_responses,
    )
    async def nps_survey(
        customer: str = Query("", description="CRM company id"),
        contact: str = Query("", description="CRM contact id"),
        quarter: str = Query("", description="e.g. 2026-Q4"),
        survey: str = Query("", description="The survey e-mail's id"),
        score: str = Query("", description="0 (not at all likely) … 10 (extremely likely)"),
        exp: str = Query("", description="Expiry time of the link (unix seconds)"),
        sig: str = Query("", description="HMAC-SHA256 of the above (SURVEY_LINK_SECRET)"),
        accept_language: str | None = ACCEPT_LANGUAGE,
    ) -> HTMLResponse:
        if not (
            _matches(CUSTOMER_ID_PATTERN, customer)
            and _matches(CONTACT_ID_PATTERN, contact)
            and _matches(QUARTER_PATTERN, quarter)
            and _matches(SURVEY_ID_PATTERN, survey)
            and _number_in(score, 0, 10)
            and _digits(exp, 12)
            and 0 < len(sig) <= 128
        ):
            return _bad_link(f"malformed NPS link for customer {customer[:20]!r}", accept_language)
        check = verify_nps_link(
            settings.survey_link_secrets,
            customer,
            contact,
            quarter,
            survey,
            int(score),
            int(exp),
            sig,
        )
        if check is not LinkCheck.VALID:
            return _bad_link(
                f"NPS link for customer {customer}: {check.value}", accept_language, check
            )
        return await survey_answer(
            CustomerEvent(
                event_id=f"nps:{customer}:{contact}:{survey}",
                source=EventSource.SURVEY,
                type=NPS_ANSWER,
                customer_id=customer,
                occurred_at=datetime.now(UTC),
                data={
                    "contact_id": contact,
                    "quarter": quarter,
                    "survey_id": survey,
                    "score": int(score),
                },
            ),
            accept_language,
        )

    @app.get(
        "/healthz",
        summary="The API's store (it takes webhooks), its Temporal connection, the backlog",
        response_model=HealthBody,
        responses={503: {"model": HealthBody, "description": "The hub's store is unreadable"}},
    )
    async def healthz() -> JSONResponse:
        ok = await temporal.healthy()
        try:
            backlog = await the_ledger.io(the_ledger.backlog)
            store_ok = True
        except StoreError:
            store_ok = False
        body = HealthBody(
            status="ok" if ok and store_ok else "degraded",
            temporal="ok" if ok else "unreachable",
            store="ok" if store_ok else "unreachable",
            backlog=backlog.pending if store_ok else 0,
            oldest_pending_s=round(backlog.oldest_age_s(), 3) if store_ok else 0.0,
        )
        # Webhooks are taken while Temporal is down (stored, forwarded later): only a
        # store that cannot be read takes the API out of a load balancer.
        return JSONResponse(body.model_dump(), 200 if store_ok else 503)

    if telemetry is not None and telemetry.metrics_url and settings.api_metrics_on:
        metrics_url = telemetry.metrics_url

        @app.get("/metrics", include_in_schema=False)
        async def prometheus_metrics() -> Response:
            """Prometheus text: the webhook counters and the SDK metrics of the API's
            Temporal client (the runtime's exporter, read over loopback)."""
            status, body, content_type = await scrape(metrics_url)
            return Response(body, status, media_type=content_type)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (
                HubSpotWebhookEvent,
                StripeWebhookEvent,
                ZendeskWebhookEvent,
                ZendeskTriggerBody,
                ProductWebhookEvent,
            ):
                js = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(js.pop("$defs", {}))
                components[model.__name__] = js
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # Temporal's remote codec protocol, for the Web UI and the CLI (off without keys).
    from webhooks.codec_routes import create_codec_app

    app.mount("/codec", create_codec_app(settings))
    # GET /customers/{id}/timeline: the action record, bearer tokens of CSHUB_API_TOKENS.
    from webhooks.timeline_routes import add_signed_timeline_route, add_timeline_route

    add_timeline_route(app, settings)
    add_signed_timeline_route(app, settings)
    # The preference centre and RFC 8058 one-click unsubscribe (webhooks/preferences.py).
    from webhooks.preferences import add_preference_routes

    app.state.consent_log = add_preference_routes(app, settings, crm)
    # A customer's reply (mail provider's inbound parse): webhooks/inbound_mail.py.
    from webhooks.inbound_mail import add_inbound_mail_route

    add_inbound_mail_route(
        app,
        lambda: secret("inbound_email_signing_key"),
        settings.cshub_database_url or settings.cshub_actions_db,
        intake,
    )
    # Buttons on Slack alerts: webhooks/slack_interactivity.py.
    from connectors.slack import SlackChat
    from webhooks.slack_interactivity import add_slack_interactivity_route

    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    app.state.slack_clicks = add_slack_interactivity_route(
        app,
        lambda: secret("slack_signing_secret"),
        temporal.get,
        SlackChat(token=token, base_url=settings.slack_url),
        settings.cshub_api_db,
        settings.temporal_task_queue,
    )
    from webhooks.docs_routes import add_docs_routes

    if settings.api_docs_on:
        add_docs_routes(app)
    return app


MAX_KEPT_ENTRY_BYTES = 64 * 1024
ZENDESK_TRIGGER = "zendesk_trigger"


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def _number_in(value: str, low: int, high: int) -> bool:
    return _digits(value, 3) and low <= int(value) <= high


def _body_schema(model: Any) -> dict[str, Any]:
    """Document a body the endpoint reads raw (the signature covers the exact bytes)."""
    if getattr(model, "__origin__", None) is list:
        (item,) = model.__args__
        schema: dict[str, Any] = {
            "type": "array",
            "maxItems": HUBSPOT_MAX_BATCH,
            "items": {"$ref": f"#/components/schemas/{item.__name__}"},
        }
    else:
        schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _digits(value: str, max_len: int) -> bool:
    """ASCII digits only (``isdigit`` also accepts ``²``, which ``int`` refuses)."""
    return 0 < len(value) <= max_len and value.isascii() and value.isdecimal()
