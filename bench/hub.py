"""A whole hub on loopback for a benchmark: Temporal dev server (SQLite file), the
emulators, and optionally an in-process worker and webhook API."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from activities.action_log import open_action_store
from connectors.factory import build_connectors
from cshub.codec import data_converter
from cshub.settings import Settings
from cshub.temporal_process import TemporalProcess
from sandbox.server import SandboxHandle, start_sandbox
from webhooks.app import create_app
from webhooks.server import serve_api
from worker import create_worker


@dataclass
class Hub:
    temporal: TemporalProcess
    client: Client
    sandbox: SandboxHandle
    settings: Settings
    workdir: Path
    api_url: str | None = None

    @property
    def outbox_url(self) -> str:
        return f"{self.sandbox.http_url}/api/outbox"


def sandbox_settings(sandbox: SandboxHandle, workdir: Path, **overrides: object) -> Settings:
    """Settings pointing every connector at the emulators, databases in ``workdir``."""
    values: dict[str, object] = {
        "hubspot_base_url": sandbox.http_url,
        "zendesk_base_netloc": sandbox.http_url.removeprefix("http://"),
        "zendesk_scheme": "http",
        "slack_base_url": f"{sandbox.http_url}/api/",
        "smtp_host": sandbox.smtp_host,
        "smtp_port": sandbox.smtp_port,
        "cshub_api_db": workdir / "webhooks.db",
        "cshub_actions_db": workdir / "actions.db",
        "cshub_worker_metrics_address": "",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def hub_settings(temporal: TemporalProcess, sandbox: SandboxHandle, workdir: Path) -> Settings:
    return sandbox_settings(sandbox, workdir, temporal_address=temporal.address)


@asynccontextmanager
async def local_hub(
    *,
    worker: bool = True,
    api: bool = True,
    data_file: Path | None = None,
    max_concurrent_activities: int = 50,
) -> AsyncIterator[Hub]:
    """Everything started, and stopped again on exit (the SQLite files are deleted)."""
    with tempfile.TemporaryDirectory(prefix="cshub-bench-") as tmp:
        workdir = Path(tmp)
        temporal = TemporalProcess(workdir / "temporal.db")
        await temporal.start()
        sandbox = await start_sandbox(http_port=0, smtp_port=0, data_file=data_file)
        settings = hub_settings(temporal, sandbox, workdir).model_copy(
            update={"worker_max_concurrent_activities": max_concurrent_activities}
        )
        try:
            client = await Client.connect(temporal.address, data_converter=data_converter(settings))
            hub = Hub(temporal, client, sandbox, settings, workdir)
            async with _maybe_api(hub, api), _maybe_worker(hub, worker):
                yield hub
        finally:
            await sandbox.stop()
            await temporal.stop()


@asynccontextmanager
async def _maybe_api(hub: Hub, enabled: bool) -> AsyncIterator[None]:
    if not enabled:
        yield
        return

    async def connect() -> Client:
        return hub.client

    server = await serve_api(create_app(hub.settings, connect=connect), port=0)
    hub.api_url = server.url
    hub.settings = hub.settings.model_copy(update={"cshub_public_api_url": server.url})
    try:
        yield
    finally:
        await server.stop()


@asynccontextmanager
async def _maybe_worker(hub: Hub, enabled: bool) -> AsyncIterator[None]:
    if not enabled:
        yield
        return
    settings = hub.settings
    actions = open_action_store(settings.cshub_actions_db, settings.cshub_actions_retention_days)
    with ThreadPoolExecutor(max_workers=settings.worker_max_concurrent_activities) as pool:
        worker = create_worker(
            hub.client, settings, build_connectors(settings), executor=pool, actions=actions
        )
        async with worker:
            yield
    actions.close()
