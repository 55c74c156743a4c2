"""Metrics and logs: the worker's and the API's Prometheus endpoints show the hub's
counters moving after a scripted run; log lines are JSON with workflow and customer ids.

One Temporal runtime (with a Prometheus exporter on a free port) for the module: a
runtime binds its port for the life of the process."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from domain.churn import churn_workflow_id
from domain.dunning import dunning_workflow_id
from domain.health_sweep import outreach_workflow_id
from domain.onboarding import OnboardingInput, onboarding_workflow_id
from domain.renewal import renewal_workflow_id
from domain.surveys import csat_workflow_id, nps_workflow_id
from domain.ticket_sla import ticket_sla_workflow_id
from domain.usage import usage_workflow_id
from domain.winback import winback_workflow_id
from runtime.logs import JsonFormatter, configure_logging, customer_id_from_workflow_id
from runtime.metrics import HubRuntime, hub_runtime
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from webhooks import sample_events as samples
from webhooks.app import create_app
from webhooks.server import serve_api
from workflows.onboarding import OnboardingWorkflow

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> Samples:
    out: Samples = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None or line.startswith("#"):
            continue
        name, labels, value = match.groups()
        out[(name, frozenset(_LABEL.findall(labels or "")))] = float(value)
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def label_values(samples: Samples, name: str, label: str) -> set[str]:
    return {v for (n, ls), _ in samples.items() if n == name for k, v in ls if k == label}


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.get(url)
    resp.raise_for_status()
    return parse_prometheus(resp.text)


@pytest.fixture(scope="module")
def telemetry() -> HubRuntime:
    return hub_runtime("127.0.0.1:0")


@pytest.fixture(scope="module")
async def metrics_client(telemetry: HubRuntime, dev_server_env: WorkflowEnvironment) -> Client:
    """A client of the dev server on the module's runtime: a worker built on it reports
    to that runtime's exporter."""
    env_client = dev_server_env.client
    return await Client.connect(
        env_client.service_client.config.target_host,
        namespace=env_client.namespace,
        data_converter=env_client.data_converter,
        runtime=telemetry.runtime,
    )


async def add_fault(sandbox: SandboxHandle, **spec: Any) -> None:
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{sandbox.http_url}/_sandbox/faults", json=spec)
        resp.raise_for_status()


async def test_worker_metrics_count_the_side_effects_of_a_scripted_run(
    telemetry: HubRuntime,
    metrics_client: Client,
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A six-day onboarding (one plan day = one second) for customer 1010 (no other test onboards it on the shared dev server: a completed onboarding blocks a later one); Slack refuses
    the first post with a 429, so the alert is retried once."""
    assert telemetry.metrics_url
    await add_fault(
        clean_sandbox, system="slack", status=429, count=1, retry_after=1, path_contains="chat."
    )
    before = await scrape(telemetry.metrics_url)
    caplog.set_level(logging.INFO)
    async with running_worker(dev_server_env, hub_settings, client=metrics_client) as worker:
        handle = await metrics_client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="1010", plan="quick", day_length_seconds=1),
            id=onboarding_workflow_id("1010"),
            task_queue=worker.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
        )
        await asyncio.wait_for(handle.result(), timeout=90)
    box = await outbox(clean_sandbox)
    sent = Counter(e["template"] for e in box["emails"])
    updates = Counter(u["type"] for u in box["crm_updates"])
    queue = worker.task_queue

    def moved(after: Samples, name: str, **labels: str) -> float:
        labels["task_queue"] = queue
        return total(after, name, **labels) - total(before, name, **labels)

    # The exporter reads the counters when scraped; allow a moment for the last ones.
    deadline = time.monotonic() + 10
    while True:
        after = await scrape(telemetry.metrics_url)
        if moved(after, "cshub_emails_sent_total") >= sum(sent.values()):
            break
        assert time.monotonic() < deadline, "the e-mail counter did not move"
        await asyncio.sleep(0.2)

    assert sent["welcome"] == 1 and sum(sent.values()) >= 6, sent
    for template, n in sent.items():
        assert moved(after, "cshub_emails_sent_total", template=template) == n, template
    assert moved(after, "cshub_emails_sent_total") == sum(sent.values())
    assert label_values(after, "cshub_emails_sent_total", "activity_type") == {
        "send_customer_email"
    }
    assert box["slack_messages"], "the quick plan's missed milestone alerts the CSM"
    assert moved(after, "cshub_slack_messages_total") == len(box["slack_messages"])
    assert box["crm_tasks"]
    assert moved(after, "cshub_crm_writes_total", kind="task") == len(box["crm_tasks"])
    assert moved(after, "cshub_crm_writes_total", kind="note") == len(box["crm_notes"])
    assert moved(after, "cshub_crm_writes_total", kind="company_update") == updates["companies"]
    assert moved(after, "cshub_crm_writes_total", kind="contact_update") == updates["contacts"]
    assert moved(after, "cshub_connector_errors_total", system="slack", kind="rate_limited") == 1
    assert moved(after, "cshub_connector_errors_total") == 1
    # The SDK's own metrics are on the same endpoint.
    assert moved(after, "temporal_workflow_completed", workflow_type="OnboardingWorkflow") == 1
    assert total(after, "temporal_activity_execution_latency_count", task_queue=queue) > 0

    # The failed Slack attempt was logged by the SDK's activity logger: as a JSON line it
    # names the workflow, the customer and the activity.
    (failure,) = [
        r
        for r in caplog.records
        if r.name == "temporalio.activity" and "Completing activity as failed" in r.getMessage()
    ]
    line = json.loads(JsonFormatter().format(failure))
    assert line["level"] == "WARNING"
    assert line["logger"] == "temporalio.activity"
    assert line["workflow_id"] == "onboarding-1010"
    assert line["customer_id"] == "1010"
    assert line["workflow_type"] == "OnboardingWorkflow"
    assert line["activity_type"] in ("alert_csm", "post_support_alert")
    assert line["task_queue"] == queue
    assert len(line["run_id"]) == 36  # the run may have continued as new since
    assert "429" in line["exception"]
    datetime.fromisoformat(line["time"])


@contextlib.asynccontextmanager
async def terminated_after(client: Client, workflow_id: str) -> AsyncIterator[None]:
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await client.get_workflow_handle(workflow_id).terminate("test done")


async def test_api_metrics_count_webhooks_by_source_and_outcome(
    telemetry: HubRuntime,
    metrics_client: Client,
    hub_settings: Settings,
    clean_sandbox: SandboxHandle,
    tmp_path: Path,
) -> None:
    async def connect() -> Client:
        return metrics_client

    api_settings = hub_settings.model_copy(
        update={
            "cshub_api_db": tmp_path / "webhooks.db",
            "temporal_task_queue": f"metrics-{uuid.uuid4().hex[:8]}",
            "cshub_intake_answer_wait_s": 10.0,  # the answers name the forwarder's outcome
        }
    )
    secret = api_settings.product_webhook_secret
    assert secret is not None
    taken = datetime.now(UTC) - timedelta(minutes=5)
    event = samples.usage_snapshot_event(customer_id="1009", occurred_at=taken)
    older = samples.usage_snapshot_event(customer_id="1009", occurred_at=taken - timedelta(1))

    # Without a runtime the app counts on a no-op meter and serves no /metrics.
    plain = await serve_api(create_app(api_settings, connect=connect), port=0)
    try:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{plain.url}/metrics")).status_code == 404
    finally:
        await plain.stop()

    app = create_app(api_settings, connect=connect, telemetry=telemetry)
    server = await serve_api(app, port=0)
    try:
        async with (
            terminated_after(metrics_client, usage_workflow_id("1009")),
            httpx.AsyncClient(timeout=30) as http,
        ):

            async def metrics() -> Samples:
                resp = await http.get(f"{server.url}/metrics")
                assert resp.status_code == 200, resp.text
                assert resp.headers["content-type"].startswith("text/plain")
                return parse_prometheus(resp.text)

            async def post(request: samples.SignedRequest, **headers: str) -> httpx.Response:
                return await http.post(
                    server.url + request.path,
                    content=request.body,
                    headers={"Content-Type": "application/json", **request.headers, **headers},
                )

            before = await metrics()
            signed = samples.signed_product(event, secret=secret.get_secret_value())
            outcomes = [(await post(signed)).json()["outcome"]]
            outcomes.append((await post(signed)).json()["outcome"])  # redelivered
            stale = samples.signed_product(older, secret=secret.get_secret_value())
            outcomes.append((await post(stale)).json()["outcome"])
            assert outcomes == ["accepted", "duplicate", "stale"]
            forged = samples.signed_product(event, secret="not-the-secret")
            assert (await post(forged)).status_code == 401
            garbage = samples.signed_product({"nope": 1}, secret=secret.get_secret_value())
            assert (await post(garbage)).status_code == 422
            after = await metrics()
    finally:
        await server.stop()

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    events = "cshub_webhook_events_total"
    for outcome in ("accepted", "duplicate", "stale"):
        assert moved(events, source="product", outcome=outcome) == 1, outcome
    assert moved(events) == 3
    rejected = "cshub_webhook_rejected_total"
    assert moved(rejected, source="product", reason="invalid_signature") == 1
    assert moved(rejected, source="product", reason="invalid_payload") == 1
    assert moved(rejected) == 2
    # Durable intake: the backlog gauges, and the forwarding lag of the two forwarded.
    names = {name for name, _ in after}
    assert {"cshub_intake_backlog", "cshub_intake_oldest_age_seconds"} <= names, sorted(names)
    assert moved("cshub_forward_lag_count", source="product") == 2
    # The SDK metrics of the API's Temporal client: the signal-with-start it sent.
    assert total(after, "temporal_request", operation="SignalWithStartWorkflowExecution") >= 1


def test_customer_id_is_read_from_the_workflow_ids_that_name_one() -> None:
    at = datetime(2025, 1, 6, 6, tzinfo=UTC)
    for make in (
        onboarding_workflow_id,
        renewal_workflow_id,
        dunning_workflow_id,
        churn_workflow_id,
        winback_workflow_id,
        nps_workflow_id,
        usage_workflow_id,
    ):
        assert customer_id_from_workflow_id(make("1003")) == "1003", make
        assert customer_id_from_workflow_id(make("acme-eu-7")) == "acme-eu-7", make
    assert customer_id_from_workflow_id(outreach_workflow_id("1003", at)) == "1003"
    assert customer_id_from_workflow_id(outreach_workflow_id("a-b", at)) == "a-b"
    for not_a_customer in (csat_workflow_id("5001"), ticket_sla_workflow_id("5001"), None):
        assert customer_id_from_workflow_id(not_a_customer) is None
    assert customer_id_from_workflow_id("health-sweep-20250106") is None


@contextlib.contextmanager
def root_logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)
        workflow.logger.workflow_info_on_message = True
        activity.logger.activity_info_on_message = True


def test_json_logs_carry_explicit_ids_and_plain_extras_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    settings = Settings(cshub_log_format="json", temporal_api_key="secret-api-key")
    with root_logging_restored():
        configure_logging(settings.cshub_log_format, "info")
        assert not activity.logger.activity_info_on_message
        log = logging.getLogger("cshub.test")
        log.info(
            "event for %s",
            "1003",
            extra={"customer_id": "1003", "outcome": "accepted", "settings": settings},
        )
        log.debug("not shown")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed", extra={"workflow_id": "renewal-1004"})
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["message"] == "event for 1003"
    assert first["level"] == "INFO" and first["logger"] == "cshub.test"
    assert first["customer_id"] == "1003" and first["outcome"] == "accepted"
    assert "settings" not in first
    assert "secret-api-key" not in stream.getvalue()
    assert second["workflow_id"] == "renewal-1004" and second["customer_id"] == "1004"
    assert "ValueError: boom" in second["exception"]
