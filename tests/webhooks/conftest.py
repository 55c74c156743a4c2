"""Fixtures for the webhook ingress: the real app served by uvicorn on a free port, a
worker, the dev server, the sandbox."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from runtime.settings import Settings
from tests.conftest import fresh_time_skipping_env
from tests.postgres import postgres_server, postgres_url, store_url
from webhooks.app import create_app
from webhooks.ledger import DeliveryLedger
from webhooks.sample_events import SignedRequest
from webhooks.server import serve_api


@dataclass
class Api:
    url: str
    settings: Settings

    async def post(self, request: SignedRequest, **headers: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(
                self.url + request.path,
                content=request.body,
                headers={"Content-Type": "application/json", **request.headers, **headers},
            )

    def secret(self, name: str) -> str:
        value = getattr(self.settings, name)
        return str(value.get_secret_value())

    @property
    def hubspot_url(self) -> str:
        return f"{self.url}/webhooks/hubspot"


@pytest.fixture
def api_settings(hub_settings: Settings, tmp_path: Path) -> Settings:
    return hub_settings.model_copy(
        update={
            "cshub_api_db": tmp_path / "webhooks.db",
            "temporal_task_queue": f"ingress-{uuid.uuid4().hex[:8]}",
            # The answer names the forwarder's outcome (customer_not_found, parked …),
            # which these tests assert; tests/webhooks/test_durable_intake.py checks the
            # default (answered once stored, forwarded after).
            "cshub_intake_answer_wait_s": 10.0,
        }
    )


@asynccontextmanager
async def serve(settings: Settings, connect: Callable[[], Awaitable[Client]]) -> AsyncIterator[Api]:
    server = await serve_api(create_app(settings, connect=connect), port=0)
    try:
        yield Api(server.url, settings)
    finally:
        await server.stop()


@pytest.fixture
async def api(api_settings: Settings, dev_server_env: WorkflowEnvironment) -> AsyncIterator[Api]:
    async def connect() -> Client:
        return dev_server_env.client

    async with serve(api_settings, connect) as running:
        yield running


async def drained(ledger: DeliveryLedger, within_s: float = 20) -> None:
    """Wait until the forwarders have acted on every stored delivery (the API answers
    once a delivery is stored; what became of it is decided after)."""
    deadline = time.monotonic() + within_s
    while (backlog := ledger.backlog()).pending:
        if time.monotonic() > deadline:
            raise AssertionError(f"{backlog.pending} deliveries still pending: {ledger.pending()}")
        await asyncio.sleep(0.05)


__all__ = ["postgres_server", "postgres_url", "store_url"]


@pytest.fixture
async def slack_env() -> AsyncIterator[WorkflowEnvironment]:
    """Each Slack-button test's journeys on a test server of its own: they leave alerted
    journeys (with an escalation timer) and move the clock by days; on a shared server
    another test's leftovers held the clock for the next 8-day sleep (RPC "Timeout
    expired")."""
    async for env in fresh_time_skipping_env():
        yield env


@asynccontextmanager
async def api_on(
    env: WorkflowEnvironment, hub_settings: Settings, tmp_path: Path, queue: str, **update: Any
) -> AsyncIterator[Api]:
    """The API (uvicorn) on its own database and task queue (``queue``-…), steering
    ``env``'s workflows; ``update``: other settings."""
    settings = hub_settings.model_copy(
        update={
            "cshub_api_db": tmp_path / "api.db",
            "temporal_task_queue": f"{queue}-{uuid.uuid4().hex[:8]}",
            **update,
        }
    )

    async def connect() -> Client:
        return env.client

    async with serve(settings, connect) as running:
        yield running


@pytest.fixture
async def slack_api(
    hub_settings: Settings, tmp_path: Path, slack_env: WorkflowEnvironment
) -> AsyncIterator[Api]:
    async with api_on(slack_env, hub_settings, tmp_path, "slack") as running:
        yield running
