"""Prometheus metrics: the Temporal SDK's runtime metrics plus the hub's own counters.

One mechanism for both: the hub's counters are created from the Temporal SDK's metric
meter, so the SDK's Prometheus exporter serves them on the same endpoint as its own
(``temporal_workflow_completed``, ``temporal_activity_execution_latency`` ...).

* Worker: counters come from ``activity.metric_meter()``, which labels every sample
  with ``namespace``, ``task_queue`` and ``activity_type``. They are counted where the
  side effect happens (the connector call, wrapped by :func:`wiring.metering.metered`) and only when it
  really happened: an idempotent repeat (``created=False``) is not counted. Connector
  failures are counted where they are mapped to Temporal errors
  (``activities.errors.connector_errors``).
* API: counters come from the runtime's meter (:class:`WebhookMetrics`); ``GET /metrics``
  on the API serves the exporter's text.

Outside an activity, and with a runtime without metrics (the time-skipping test server),
the meter is a no-op.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from connectors.errors import ConnectorError, NotFoundError

EMAILS_SENT = "cshub_emails_sent_total"
SLACK_MESSAGES = "cshub_slack_messages_total"
CRM_WRITES = "cshub_crm_writes_total"
TICKET_UPDATES = "cshub_ticket_updates_total"
CONNECTOR_ERRORS = "cshub_connector_errors_total"
WEBHOOK_EVENTS = "cshub_webhook_events_total"
WEBHOOK_REJECTED = "cshub_webhook_rejected_total"
INTAKE_BACKLOG = "cshub_intake_backlog"
INTAKE_OLDEST_AGE = "cshub_intake_oldest_age_seconds"
FORWARD_LAG = "cshub_forward_lag"

DESCRIPTIONS = {
    EMAILS_SENT: "Customer e-mails handed to the mail server, by template",
    SLACK_MESSAGES: "Slack messages posted (alerts, digests); idempotent repeats excluded",
    CRM_WRITES: "CRM writes by kind (task, note, company_update, contact_update); "
    "tasks and notes that already existed excluded",
    TICKET_UPDATES: "Helpdesk ticket updates (priority, tags, comments)",
    CONNECTOR_ERRORS: "Failed calls to outside systems that failed an activity attempt, "
    "by system and kind (retryable, rate_limited, not_found, permanent)",
    WEBHOOK_EVENTS: "Webhook events with a valid signature, by source and outcome "
    "(accepted, duplicate, ignored, stale, invalid, unavailable)",
    WEBHOOK_REJECTED: "Webhook requests and survey links refused before any event was read, "
    "by source and reason (invalid_signature, body_too_large, invalid_payload, "
    "invalid_link, expired_link)",
    INTAKE_BACKLOG: "Stored deliveries waiting to be forwarded to their workflows",
    INTAKE_OLDEST_AGE: "Age of the oldest stored delivery still waiting to be forwarded",
    FORWARD_LAG: "From a delivery stored to its outcome decided by a forwarder "
    "(the Temporal start or signal accepted), by source",
}

# -- runtime ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HubRuntime:
    """A Temporal runtime for one process, and where its Prometheus exporter answers."""

    runtime: Runtime
    metrics_url: str | None
    """``http://host:port/metrics``; None when metrics are off."""


def resolve_bind_address(address: str) -> str:
    """``host:port``, with port 0 replaced by a free port (the exporter cannot report
    the port it picked)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"metrics address {address!r} is not host:port")
    if int(port) == 0:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.bind((host.strip("[]"), 0))
            port = str(s.getsockname()[1])
    return f"{host}:{port}"


def hub_runtime(metrics_address: str | None) -> HubRuntime:
    """A runtime whose Core logs go through Python logging (so they share the process's
    format) and which, given an address, serves Prometheus metrics there.

    A runtime lives as long as the process and binds its port for good: create one per
    process (one per test module)."""
    metrics = None
    url = None
    if metrics_address:
        bind = resolve_bind_address(metrics_address)
        metrics = PrometheusConfig(bind_address=bind)
        host, _, port = bind.rpartition(":")
        if host in ("0.0.0.0", "[::]", "::"):
            host = "127.0.0.1"
        url = f"http://{host}:{port}/metrics"
    logging_config = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
    runtime = Runtime(telemetry=TelemetryConfig(logging=logging_config, metrics=metrics))
    return HubRuntime(runtime=runtime, metrics_url=url)


async def scrape(url: str) -> tuple[int, bytes, str]:
    """Status, body and content type of the exporter's answer (503 when it is down)."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=5) as http:
            resp = await http.get(url)
    except httpx.HTTPError as err:
        return 503, f"metrics exporter unreachable: {err}\n".encode(), "text/plain"
    return resp.status_code, resp.content, resp.headers.get("content-type", "text/plain")


# -- counting --------------------------------------------------------------------------


def _activity_meter() -> MetricMeter:
    return activity.metric_meter() if activity.in_activity() else MetricMeter.noop


def count(name: str, value: int = 1, meter: MetricMeter | None = None, **labels: str) -> None:
    """Add ``value`` to the counter ``name`` (the current activity's meter by default)."""
    if value <= 0:
        return
    the_meter = meter or _activity_meter()
    the_meter.create_counter(name, DESCRIPTIONS.get(name)).add(value, labels or None)


def error_kind(exc: ConnectorError) -> str:
    if isinstance(exc, NotFoundError):
        return "not_found"
    if exc.status == 429:
        return "rate_limited"
    return "retryable" if exc.retryable else "permanent"


def count_connector_error(exc: ConnectorError) -> None:
    count(CONNECTOR_ERRORS, system=exc.system, kind=error_kind(exc))


class WebhookMetrics:
    """The API's counters, on the runtime's meter (a no-op one by default)."""

    def __init__(self, meter: MetricMeter | None = None) -> None:
        the_meter = meter or MetricMeter.noop
        self._events = the_meter.create_counter(WEBHOOK_EVENTS, DESCRIPTIONS[WEBHOOK_EVENTS])
        self._rejected = the_meter.create_counter(WEBHOOK_REJECTED, DESCRIPTIONS[WEBHOOK_REJECTED])
        self._backlog = the_meter.create_gauge(INTAKE_BACKLOG, DESCRIPTIONS[INTAKE_BACKLOG])
        self._oldest = the_meter.create_gauge_float(
            INTAKE_OLDEST_AGE, DESCRIPTIONS[INTAKE_OLDEST_AGE], "s"
        )
        self._lag = the_meter.create_histogram_timedelta(
            FORWARD_LAG, DESCRIPTIONS[FORWARD_LAG], "ms"
        )

    def backlog(self, pending: int, oldest_age_s: float) -> None:
        self._backlog.set(pending)
        self._oldest.set(oldest_age_s)

    def forwarded(self, source: str, lag: timedelta) -> None:
        self._lag.record(max(lag, timedelta(0)), {"source": source})

    def event(self, source: str, outcome: str) -> None:
        self._events.add(1, {"source": source, "outcome": outcome})

    def rejected(self, source: str, reason: str) -> None:
        self._rejected.add(1, {"source": source, "reason": reason})
