"""Temporal down: the ingress answers 503 + Retry-After and loses nothing; once Temporal
is back, the sender's retry is accepted and acted on once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from connectors.factory import build_connectors
from cshub.settings import Settings
from cshub.temporal_client import connect
from cshub.temporal_process import TemporalProcess
from sandbox.server import SandboxHandle
from tests.webhooks.conftest import Api
from tests.webhooks.test_ingress import wait_for_emails
from webhooks import sample_events as samples
from webhooks.app import create_app
from webhooks.ledger import DeliveryLedger
from webhooks.server import serve_api
from worker import create_worker


async def test_temporal_outage_gives_503_and_the_retry_is_acted_on_once(
    api_settings: Settings, clean_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    temporal = TemporalProcess(tmp_path / "temporal.db")
    await temporal.start()
    settings = api_settings.model_copy(update={"temporal_address": temporal.address})
    server = await serve_api(create_app(settings), port=0)
    api = Api(server.url, settings)
    event = samples.hubspot_event(object_id="3002", event_id=4242)

    def delivery() -> samples.SignedRequest:  # HubSpot signs each attempt afresh
        return samples.signed_hubspot(
            [event], secret=api.secret("hubspot_client_secret"), public_url=api.hubspot_url
        )

    try:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{api.url}/healthz")).status_code == 200
            await temporal.stop()

            began = time.monotonic()
            resp = await api.post(delivery())
            assert resp.status_code == 503, resp.text
            assert resp.headers["Retry-After"].isdigit()
            assert resp.json()["results"][0]["outcome"] == "unavailable"
            waited = time.monotonic() - began
            print(f"503 after {waited:.1f}s")
            assert waited < 15
            assert (await http.get(f"{api.url}/healthz")).status_code == 503
            assert DeliveryLedger(settings.cshub_api_db).count() == 0

            await temporal.start()
            resp = await api.post(delivery())
            assert resp.status_code == 200, resp.text
            assert resp.json()["results"][0]["outcome"] == "accepted"
            resp = await api.post(delivery())
            assert resp.json()["results"][0]["outcome"] == "duplicate"

        client = await connect(settings)
        with ThreadPoolExecutor(max_workers=8) as pool:
            s = settings.model_copy(update={"worker_max_concurrent_activities": 8})
            async with create_worker(client, s, build_connectors(s), executor=pool):
                emails = await wait_for_emails(clean_sandbox, 1)
                await client.get_workflow_handle("onboarding-1002").terminate("test done")
        assert [e["template"] for e in emails] == ["welcome"]
        assert emails[0]["headers"]["X-Cshub-Customer-Id"] == "1002"
    finally:
        await server.stop()
        await temporal.stop()
