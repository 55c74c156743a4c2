"""Dead letters: every delivery the hub did not act on is kept (encrypted at rest when
payload keys are configured), listable with ``cshub webhooks list`` and replayable with
``cshub webhooks replay`` under today's configuration, exactly once."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import stripe as stripe_sdk
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from connectors.hubspot import HubSpotCrm
from cshub.cli import app
from cshub.dead_letters import parse_since
from domain.events import DeliveryOutcome
from runtime.encryption_keys import KeyRing
from sandbox.server import SandboxHandle
from tests.conftest import eventually, running_worker
from tests.webhooks.conftest import Api
from tests.webhooks.real_payloads import hubspot, stripe, stripe_event
from webhooks.ledger import DeliveryLedger, RawDelivery


def cli_env(api: Api, env: WorkflowEnvironment, sandbox: SandboxHandle) -> dict[str, str]:
    return {
        "CSHUB_ENV": "sandbox",
        "CSHUB_API_DB": str(api.settings.cshub_api_db),
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": api.settings.temporal_task_queue,
        "HUBSPOT_BASE_URL": sandbox.http_url,
        "STRIPE_BASE_URL": sandbox.http_url,
        "ZENDESK_BASE_NETLOC": sandbox.http_url.removeprefix("http://"),
    }


async def cshub(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result.exit_code, result.output


async def test_unknown_customer_then_fixed_in_the_crm_then_replayed_once(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    env = cli_env(api, dev_server_env, clean_sandbox)
    client = stripe_sdk.StripeClient(
        "sk_test_sandbox", base_addresses={"api": clean_sandbox.http_url}
    )
    atlas = await asyncio.to_thread(client.v1.customers.create, {"email": "ap@atlas.example"})
    event = stripe_event("invoice_one_off_payment_failed_2025.json", customer=atlas.id)
    async with running_worker(
        dev_server_env, api.settings, task_queue=api.settings.temporal_task_queue
    ):
        try:
            resp = await api.post(stripe(api, event))
            assert resp.json()["outcome"] == "customer_not_found", resp.text
            # Also kept: a genuine HubSpot change no workflow needs.
            await api.post(hubspot(api, "generic_contact_creation.json"))

            code, out = await cshub(env, "webhooks", "list", "--outcome", "customer_not_found")
            assert code == 0, out
            assert f"stripe:{event['id']}" in out and "stripe.invoice.payment_failed" in out
            assert "no customer found" in out and "1 kept deliveries" in out
            code, out = await cshub(env, "webhooks", "list", "--since", "1h", "--json")
            kept = [json.loads(line) for line in out.splitlines()]
            assert sorted(k["outcome"] for k in kept) == ["customer_not_found", "ignored"]

            # Someone records the Stripe customer id on the CRM company ...
            crm = HubSpotCrm("sandbox", clean_sandbox.http_url)
            await asyncio.to_thread(
                crm.update_company, "1007", {"cshub_stripe_customer_id": atlas.id}
            )
            # ... and replays: acted on, once.
            code, out = await cshub(env, "webhooks", "replay", event["id"])
            assert code == 0, out
            assert out.startswith("accepted: stripe.invoice.payment_failed customer=1007"), out

            async def dunning_counts_it_once() -> None:
                handle = dev_server_env.client.get_workflow_handle("dunning-1007")
                state: dict[str, Any] = await handle.query("progress")
                assert state["payment_failures"] == 1, state

            await eventually(dunning_counts_it_once)
            code, out = await cshub(env, "webhooks", "replay", event["id"])
            assert code == 0 and out.startswith("duplicate:"), out
            # Stripe's own redelivery is a duplicate too.
            assert (await api.post(stripe(api, event))).json()["outcome"] == "duplicate"
            await eventually(dunning_counts_it_once)

            code, out = await cshub(env, "webhooks", "list", "--outcome", "customer_not_found")
            assert "replayed: accepted" in out, out
            code, out = await cshub(env, "webhooks", "list", "--unresolved")
            assert event["id"] not in out and "1 kept deliveries" in out, out
            code, out = await cshub(env, "webhooks", "replay", "evt_unknown")
            assert code == 2 and "no kept delivery" in out
        finally:
            await dev_server_env.client.get_workflow_handle("dunning-1007").terminate("done")


KEYS = KeyRing(keys={"k1": bytes(range(32))}, active_key_id="k1")


def test_kept_payloads_are_encrypted_at_rest_when_keys_are_configured(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    body = b'{"id":"evt_1","data":{"object":{"customer_email":"ap@atlas.example"}}}'
    ledger = DeliveryLedger(path, KEYS)
    ledger.keep(
        dedup_key="stripe:evt_1",
        source="stripe",
        event_id="evt_1",
        type="stripe.invoice.payment_failed",
        customer_id=None,
        outcome=DeliveryOutcome.NOT_FOUND,
        detail="no customer found",
        raw=RawDelivery("stripe", body),
    )
    stored = sqlite3.connect(path).execute("SELECT key_id, payload FROM dead_letters").fetchone()
    assert stored[0] == "k1" and b"atlas" not in stored[1]
    (letter,) = ledger.dead_letters()
    assert letter.raw == RawDelivery("stripe", body) and letter.encrypted
    # Without the key the row is listed, its payload unreadable (replay says so).
    (unreadable,) = DeliveryLedger(path).dead_letters()
    assert unreadable.raw is None and unreadable.outcome == "customer_not_found"
    # Without keys configured, payloads are stored as sent.
    plain = DeliveryLedger(tmp_path / "plain.db")
    plain.keep(
        dedup_key="stripe:evt_2",
        source="stripe",
        event_id="evt_2",
        type=None,
        customer_id=None,
        outcome=DeliveryOutcome.IGNORED,
        detail=None,
        raw=RawDelivery("stripe", body),
    )
    assert plain.dead_letters()[0].raw == RawDelivery("stripe", body)
    assert plain.dead_letters(since=datetime.now(UTC) + timedelta(minutes=1)) == []


def test_since_takes_minutes_hours_days_weeks() -> None:
    assert parse_since("1d") == timedelta(days=1) and parse_since("30m") == timedelta(minutes=30)
    assert parse_since("2w") == timedelta(weeks=2)
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday")
