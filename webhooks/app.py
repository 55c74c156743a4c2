"""The webhook ingress: one endpoint per sender, verified on the raw body, parsed, then
stored in the hub's own store with its dedup check (one transaction); answered 2xx once
stored. A forwarder (webhooks/forwarder.py) acts on it: CRM look-ups, then Temporal. So
the senders see 2xx while Temporal or the CRM is down; 503 + Retry-After only when the
hub's store cannot write.

The routes live one module per sender under ``webhooks/routes/`` (and the older
``add_*_route`` modules beside this one); :func:`create_app` builds what they share (the
:class:`~webhooks.routes.base.Hub`) and composes them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from temporalio.client import Client

from connectors.base import Billing, Crm
from playbooks.loader import playbooks_dir
from runtime.metrics import HubRuntime, WebhookMetrics
from runtime.settings import Settings
from runtime.store import StoreError
from webhooks.aggregate import ProductAggregator, plan_thresholds
from webhooks.deal_stages import ClosedWonStages
from webhooks.forwarder import Forwarder
from webhooks.intake import Intake
from webhooks.ledger import DeliveryLedger
from webhooks.limits import BodyDeadline, SecurityHeaders
from webhooks.routes import ROUTERS
from webhooks.routes.base import MAX_BODY_BYTES, SIGNED_BODIES, Hub, Refused, log, refused
from webhooks.routes.health import add_metrics_route
from webhooks.routes.surveys import add_comment_box_route
from webhooks.temporal_connection import TemporalConnection
from webhooks.temporal_connection import settings_client as _settings_client

__all__ = ["MAX_BODY_BYTES", "TemporalConnection", "_settings_client", "create_app"]


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
        from wiring.connectors import build_connectors

        built = build_connectors(settings)
        crm = crm or built.crm
        billing = billing or built.billing
    own_ledger = ledger is None
    the_ledger = ledger or DeliveryLedger.for_settings(settings)
    the_ledger.prune(timedelta(days=settings.cshub_dedup_days))
    temporal = TemporalConnection(connect or _settings_client(settings, telemetry))
    metrics = WebhookMetrics(telemetry.runtime.metric_meter if telemetry else None)
    aggregator = ProductAggregator(the_ledger.database, plan_thresholds(playbooks_dir()))
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
    forwarder = Forwarder.for_settings(settings, the_ledger, intake, closed_won, metrics)
    embedded = settings.cshub_forwarder == "embedded"
    answer_wait_s = settings.cshub_intake_answer_wait_s if embedded else 0.0
    hub = Hub(settings, the_ledger, intake, forwarder, metrics, temporal, answer_wait_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(_report_backlog(hub, stop))]
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
    app.add_exception_handler(Refused, refused)
    app.state.hub = hub

    # The screen: one line a sender or page family.
    for router in ROUTERS:  # webhooks/routes/: HubSpot, Stripe, Zendesk, product, surveys
        app.include_router(router)
    add_comment_box_route(app, hub)  # POST /survey/comment: webhooks/survey_comments.py
    if telemetry is not None and telemetry.metrics_url and settings.api_metrics_on:
        add_metrics_route(app, telemetry.metrics_url)
    _compose_other_routes(app, hub, crm)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _compose_other_routes(app: FastAPI, hub: Hub, crm: Crm) -> None:
    """The routes of the modules beside this one (each adds its own to the app)."""
    settings = hub.settings
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
        lambda: hub.secret("inbound_email_signing_key"),
        settings.cshub_database_url or settings.cshub_actions_db,
        hub.intake,
    )
    # Buttons on Slack alerts: webhooks/slack_interactivity.py.
    from connectors.slack import SlackChat
    from webhooks.slack_interactivity import add_slack_interactivity_route

    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    app.state.slack_clicks = add_slack_interactivity_route(
        app,
        lambda: hub.secret("slack_signing_secret"),
        hub.temporal.get,
        SlackChat(token=token, base_url=settings.slack_url),
        settings.cshub_api_db,
        settings.temporal_task_queue,
        crm,
    )
    from webhooks.docs_routes import add_docs_routes

    if settings.api_docs_on:
        add_docs_routes(app)


async def _report_backlog(hub: Hub, stop: asyncio.Event) -> None:
    """The backlog gauges, every second (whichever process forwards)."""
    while not stop.is_set():
        try:
            backlog = await hub.ledger.io(hub.ledger.backlog)
            hub.metrics.backlog(backlog.pending, backlog.oldest_age_s())
        except StoreError as err:
            log.warning("intake backlog unreadable: %s", err)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the schemas of the bodies the webhooks read raw."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in SIGNED_BODIES.values():
            js = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(js.pop("$defs", {}))
            components[model.__name__] = js
        app.openapi_schema = schema
    return app.openapi_schema
