"""``cshub api``: the webhook ingress as a long-running process."""

from __future__ import annotations

import asyncio
import signal

from runtime.logs import configure_logging
from runtime.metrics import hub_runtime
from runtime.settings import Settings
from webhooks.app import create_app
from webhooks.server import serve_api


async def run_api(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    configure_logging(settings.cshub_log_format, settings.cshub_log_level)
    # GET /metrics serves this runtime's Prometheus exporter, bound on a free loopback port.
    telemetry = hub_runtime("127.0.0.1:0" if settings.api_metrics_on else None)
    server = await serve_api(
        create_app(settings, telemetry=telemetry),
        host or settings.cshub_api_host,
        port or settings.cshub_api_port,
        limit_concurrency=settings.cshub_api_limit_concurrency,
        header_timeout=settings.cshub_api_header_timeout_s,
    )
    docs = f" (OpenAPI: {server.url}/docs)" if settings.api_docs_on else ""
    print(f"cshub api listening on {server.url}{docs}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
