"""``cshub api``: the webhook ingress as a long-running process."""

from __future__ import annotations

import asyncio
import logging
import signal

from cshub.settings import Settings
from webhooks.app import create_app
from webhooks.server import serve_api


async def run_api(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = await serve_api(
        create_app(settings), host or settings.cshub_api_host, port or settings.cshub_api_port
    )
    print(f"cshub api listening on {server.url} (OpenAPI: {server.url}/docs)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
