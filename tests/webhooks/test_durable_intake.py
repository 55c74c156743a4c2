"""Durable intake: the API answers 2xx once a delivery is in the hub's own store; the
forwarder acts on it when Temporal (and the CRM) can be reached, once, in arrival order per
workflow id. Temporal really stopped (a dev server process), the CRM really failing (the
HubSpot emulator's faults)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cshub.cli import app
from cshub.dead_letters import list_pending_lines
from cshub.temporal_process import TemporalProcess
from runtime.settings import Settings
from runtime.temporal_client import connect
from sandbox.server import SandboxHandle
from tests.conftest import eventually
from tests.webhooks.conftest import Api, drained, serve
from webhooks import sample_events as samples
from webhooks.app import create_app
from webhooks.deal_stages import ClosedWonStages
from webhooks.forwarder import Forwarder
from webhooks.intake import Intake
from webhooks.ledger import DeliveryLedger
from webhooks.server import serve_api
from wiring.connectors import build_connectors

ONBOARDING_SIGNAL = "product_event"


def _product(api: Api, customer: str, kind: str, event_id: str) -> samples.SignedRequest:
    event = samples.product_event(customer_id=customer, type=kind, event_id=event_id)
    return samples.signed_product(event, secret=api.secret("product_webhook_secret"))


async def _signals(client: Client, workflow_id: str) -> list[str]:
    """The event ids of the product events the workflow received, in history order."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    ids = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        attrs = event.workflow_execution_signaled_event_attributes
        if attrs.signal_name == ONBOARDING_SIGNAL:
            ids.append(json.loads(attrs.input.payloads[0].data)["event_id"])
    return ids


async def test_temporal_stopped_deliveries_are_stored_then_acted_on_once_in_order(
    api_settings: Settings, clean_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    temporal = TemporalProcess(tmp_path / "temporal.db")
    await temporal.start()
    settings = api_settings.model_copy(
        update={
            "temporal_address": temporal.address,
            "cshub_intake_answer_wait_s": 0.0,  # the default: answered once stored
            "cshub_forward_max_backoff_s": 1.0,
        }
    )
    server = await serve_api(create_app(settings), port=0)
    api = Api(server.url, settings)
    ledger = DeliveryLedger(settings.cshub_api_db)
    customer = "1003"
    # The first event of each type: each one signals the journey (later ones of a type are
    # counted at the ingress, webhooks/aggregate.py).
    kinds = ["first_login", "workflow_created", "ai_request", "share"]
    ids = [f"evt_{uuid.uuid4().hex[:12]}_{i}" for i in range(len(kinds))]
    won = samples.hubspot_event(object_id="3002", event_id=4242)
    try:
        await temporal.stop()
        began = time.monotonic()
        answers = [
            await api.post(
                samples.signed_hubspot(
                    [won], secret=api.secret("hubspot_client_secret"), public_url=api.hubspot_url
                )
            )
        ]
        answers += [
            await api.post(_product(api, customer, k, i)) for k, i in zip(kinds, ids, strict=True)
        ]
        took = time.monotonic() - began
        assert answers[0].status_code == 200, answers[0].text
        assert answers[0].json()["results"][0]["outcome"] == "accepted"
        for resp in answers[1:]:
            assert resp.status_code == 202, resp.text
            assert resp.json()["outcome"] == "accepted"
            assert resp.json()["detail"].startswith("stored")
        assert took < 5, f"answers took {took:.1f}s with Temporal down"
        # A redelivery while it waits: a duplicate, not a second delivery.
        again = await api.post(_product(api, customer, kinds[0], ids[0]))
        assert again.status_code == 200
        assert again.json()["outcome"] == "duplicate"
        assert "waiting to be forwarded" in again.json()["detail"]
        backlog = ledger.backlog()
        assert backlog.pending == 5
        # The health check stays green (webhooks are taken) and names the backlog.
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"{api.url}/healthz")).json()
        assert health["temporal"] == "unreachable" and health["backlog"] == 5
        lines = list_pending_lines(ledger.backlog(), ledger.pending())
        assert lines[0].startswith("5 deliveries waiting to be forwarded")
        assert any(f"product:{ids[0]}" in line for line in lines)
        await eventually(_tried(ledger), within_s=20)
        env = {"CSHUB_ENV": "sandbox", "CSHUB_API_DB": str(settings.cshub_api_db)}
        listed = await asyncio.to_thread(CliRunner().invoke, app, ["webhooks", "list"], env=env)
        assert listed.exit_code == 0, listed.output
        assert "5 deliveries waiting to be forwarded" in listed.output
        assert "temporal unavailable" in listed.output  # the last error of a try
        as_json = await asyncio.to_thread(
            CliRunner().invoke, app, ["webhooks", "list", "--json"], env=env
        )
        pending = [json.loads(line) for line in as_json.output.splitlines()]
        assert [p["outcome"] for p in pending] == ["pending"] * 5

        await temporal.start()
        await drained(ledger, within_s=60)
        client = await connect(settings)
        assert await _signals(client, f"onboarding-{customer}") == [f"product:{i}" for i in ids]
        await client.get_workflow_handle("onboarding-1002").describe()
        assert ledger.count() == 5
        forwarded = [ledger.forwarded(f"product:{i}") for i in ids]
        assert [r.outcome.value if r else None for r in forwarded] == ["accepted"] * 4
        for wf in (f"onboarding-{customer}", "onboarding-1002"):
            await client.get_workflow_handle(wf).terminate("test done")
    finally:
        ledger.close()
        await server.stop()
        await temporal.stop()


async def test_crm_outage_deal_won_answered_2xx_onboarding_starts_when_it_is_back(
    api_settings: Settings,
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
) -> None:
    settings = api_settings.model_copy(
        update={"cshub_intake_answer_wait_s": 0.0, "cshub_forward_max_backoff_s": 1.0}
    )

    async def client() -> Client:
        return dev_server_env.client

    async with httpx.AsyncClient(base_url=clean_sandbox.http_url) as sandbox:
        fault = {"system": "hubspot", "status": 503, "count": 10_000}
        assert (await sandbox.post("/_sandbox/faults", json=fault)).status_code in (200, 201)
        try:
            async with serve(settings, client) as api:
                ledger = DeliveryLedger(settings.cshub_api_db)
                event = samples.hubspot_event(object_id="3008", event_id=88_008)
                resp = await api.post(
                    samples.signed_hubspot(
                        [event],
                        secret=api.secret("hubspot_client_secret"),
                        public_url=api.hubspot_url,
                    )
                )
                assert resp.status_code == 200, resp.text
                assert resp.json()["results"][0]["outcome"] == "accepted"
                # The forwarder keeps trying while HubSpot fails; nothing is decided.
                await eventually(_retried(ledger), within_s=20)
                assert ledger.count() == 0
                await sandbox.delete("/_sandbox/faults")
                await drained(ledger, within_s=30)
                result = ledger.forwarded("hubspot:88008")
                assert result is not None and result.outcome.value == "accepted", result
                assert result.workflow_id == "onboarding-1008"
                handle = dev_server_env.client.get_workflow_handle("onboarding-1008")
                await handle.describe()
                await handle.terminate("test done")
                ledger.close()
        finally:
            await sandbox.delete("/_sandbox/faults")


def _tried(ledger: DeliveryLedger) -> Any:
    async def check() -> None:
        assert any(p.last_error for p in ledger.pending())

    return check


def _retried(ledger: DeliveryLedger) -> Any:
    async def check() -> None:
        [waiting] = ledger.pending()
        assert waiting.attempts >= 2, waiting
        assert waiting.last_error

    return check


async def test_two_forwarders_on_postgresql_forward_each_delivery_once_in_order(
    api_settings: Settings, dev_server_env: WorkflowEnvironment, postgres_url: str
) -> None:
    """Two API-less forwarders share one PostgreSQL store; a third claimed deliveries
    and died holding them (never finished): they are taken over once its lease ran out.
    Each workflow gets each event once, in the order the API stored them."""
    settings = api_settings.model_copy(
        update={"cshub_database_url": postgres_url, "cshub_forwarder": "off"}
    )

    async def client() -> Client:
        return dev_server_env.client

    customers = ["1101", "1102", "1103"]
    posted: dict[str, list[str]] = {c: [] for c in customers}
    async with serve(settings, client) as api:
        for i in range(8):
            for c in customers:
                event_id = f"evt_{uuid.uuid4().hex[:10]}_{i}"
                resp = await api.post(_product(api, c, "workflow_created", event_id))
                assert resp.status_code == 202, resp.text
                posted[c].append(f"product:{event_id}")
    ledger = DeliveryLedger.for_settings(settings)
    assert ledger.dialect == "postgresql" and ledger.backlog().pending == 24
    dead = ledger.claim("killed-forwarder", 2, timedelta(seconds=1))
    assert len(dead) == 2

    def forwarder(name: str) -> Forwarder:
        store = DeliveryLedger.for_settings(settings)
        connectors = build_connectors(settings)
        intake = Intake(store, client, settings.temporal_task_queue, connectors.crm)
        stages = ClosedWonStages(connectors.crm, settings.closed_won_stages)
        return Forwarder(store, intake, stages, owner=name, batch=2, idle_poll_s=0.05)

    stop = asyncio.Event()
    pair = [forwarder("f1"), forwarder("f2")]
    runs = [asyncio.create_task(f.run(stop)) for f in pair]
    try:
        await drained(ledger, within_s=60)
    finally:
        stop.set()
        await asyncio.gather(*runs)
    try:
        for c in customers:
            assert await _signals(dev_server_env.client, f"onboarding-{c}") == posted[c]
        assert ledger.count() == 24
        for claim in dead:  # taken over: the dead forwarder's lease no longer counts
            result = ledger.forwarded(claim.dedup_key)
            assert result is not None and result.outcome.value == "accepted"
    finally:
        ledger.close()
        for c in customers:
            await dev_server_env.client.get_workflow_handle(f"onboarding-{c}").terminate("done")
