"""A whole hub on loopback for a benchmark: Temporal dev server (SQLite file), the
emulators, and optionally an in-process worker and webhook API."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]
from temporalio.client import Client

from activities.action_log import open_action_store
from cshub.chaos.processes import sandbox_environment
from cshub.temporal_process import TemporalProcess
from runtime.codec import data_converter
from runtime.settings import Settings
from sandbox.server import SandboxHandle, start_sandbox
from webhooks.app import create_app
from webhooks.server import serve_api
from wiring.connectors import build_connectors
from worker import create_worker

SQLITE_WAL = ("journal_mode=wal", "synchronous=normal")
"""The dev server's SQLite in write-ahead-log mode, as one would run SQLite under load:
without it every write waits for its own fsync of a rollback journal."""


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
    sqlite_wal: bool = False,
) -> AsyncIterator[Hub]:
    """Everything started, and stopped again on exit (the SQLite files are deleted).
    ``sqlite_wal``: the dev server's SQLite in write-ahead-log mode (see SQLITE_WAL)."""
    with tempfile.TemporaryDirectory(prefix="cshub-bench-") as tmp:
        workdir = Path(tmp)
        temporal = TemporalProcess(
            workdir / "temporal.db", sqlite_pragmas=SQLITE_WAL if sqlite_wal else ()
        )
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
    actions = open_action_store(
        settings.cshub_actions_db,
        settings.cshub_actions_retention_days,
        settings.cshub_database_url,
    )
    with ThreadPoolExecutor(max_workers=settings.worker_max_concurrent_activities) as pool:
        worker = create_worker(
            hub.client, settings, build_connectors(settings), executor=pool, actions=actions
        )
        async with worker:
            yield
    actions.close()


def worker_environment(hub: Hub, cached_workflows: int | None = None) -> dict[str, str]:
    """What a worker process needs to reach this hub."""
    env = sandbox_environment(
        hub.temporal.address,
        hub.sandbox,
        hub.workdir,
        CSHUB_LOG_LEVEL="WARNING",
        # Bytecode as an installed worker has it (pip compiles on install): the sandbox
        # re-imports each workflow's module for every run, from source without it.
        PYTHONPYCACHEPREFIX=str(hub.workdir / "pycache"),
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if cached_workflows is not None:
        env["WORKER_MAX_CACHED_WORKFLOWS"] = str(cached_workflows)
    return env


@contextlib.asynccontextmanager
async def worker_process(
    hub: Hub, cached_workflows: int | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m cshub worker`` as a child process, logging to the hub's folder."""
    log_file = hub.workdir / "worker.log"
    with log_file.open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cshub",
            "worker",
            env=worker_environment(hub, cached_workflows),
            cwd=hub.workdir,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def wait_idle(
    pid: int, *, below_percent: float = 5.0, quiet_s: float = 3.0, timeout_s: float = 900
) -> float:
    """Wait until the process has used under ``below_percent`` CPU for ``quiet_s``; the
    seconds waited."""
    began = time.monotonic()
    proc = psutil.Process(pid)
    proc.cpu_percent(None)
    quiet = 0.0
    while quiet < quiet_s:
        await asyncio.sleep(0.5)
        quiet = quiet + 0.5 if proc.cpu_percent(None) < below_percent else 0.0
        if time.monotonic() - began > timeout_s:
            raise TimeoutError(f"worker still busy after {timeout_s:.0f} s")
    return time.monotonic() - began
