"""Serve the ingress app with uvicorn inside the current event loop (``cshub api``,
``cshub dev`` and tests share this)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI


@dataclass
class ApiServer:
    url: str
    _server: uvicorn.Server
    _task: asyncio.Task[None]

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._task

    async def wait(self) -> None:
        await self._task


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The embedding process (cshub dev / api, a test) owns SIGINT and SIGTERM.
        yield


async def serve_api(
    app: FastAPI,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    limit_concurrency: int | None = None,
    timeout_keep_alive: int = 5,
) -> ApiServer:
    """Start serving; return once the socket listens (port 0 picks a free port).

    ``limit_concurrency``: connections and requests in progress beyond which uvicorn
    answers 503 (``CSHUB_API_LIMIT_CONCURRENCY``); ``timeout_keep_alive``: an idle
    keep-alive connection is closed after that many seconds. Request headers are capped
    at h11's 16 KiB and bodies must arrive within ``CSHUB_API_BODY_TIMEOUT_S``
    (webhooks/limits.py)."""
    # log_config=None: uvicorn's records go through the process's logging (text or JSON,
    # cshub.logs) instead of uvicorn's own handlers.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        log_config=None,
        limit_concurrency=limit_concurrency,
        timeout_keep_alive=timeout_keep_alive,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # re-raise why it could not start (e.g. port in use)
            raise RuntimeError(f"cshub api could not listen on {host}:{port}")
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return ApiServer(url=f"http://{host}:{bound}", _server=server, _task=task)
