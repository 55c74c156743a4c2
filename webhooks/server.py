"""Serve the ingress app with uvicorn inside the current event loop (``cshub api``,
``cshub dev`` and tests share this)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator
from dataclasses import dataclass

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("cshub.webhooks")


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


class _HeaderDeadlineH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's headers: a client that
    trickles them (a byte a second keeps uvicorn's keep-alive timer from ever firing) is
    disconnected ``header_timeout`` seconds after the request began. The same deadline
    starts again for the next request on a keep-alive connection."""

    header_timeout = 10.0
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def handle_events(self) -> None:
        super().handle_events()
        if self._header_deadline is not None and self.conn.their_state is not h11.IDLE:
            self._header_deadline.cancel()  # the headers are in
            self._header_deadline = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._header_deadline is None and not self.transport.is_closing():
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        super().connection_lost(exc)

    def _headers_late(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.warning(
                "request headers not received within %g s; connection closed", self.header_timeout
            )
            self.transport.close()


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
    header_timeout: float = 10.0,
) -> ApiServer:
    """Start serving; return once the socket listens (port 0 picks a free port).

    ``limit_concurrency``: connections and requests in progress beyond which uvicorn
    answers 503 (``CSHUB_API_LIMIT_CONCURRENCY``); ``timeout_keep_alive``: an idle
    keep-alive connection is closed after that many seconds; ``header_timeout``: a
    request's headers must arrive within that many seconds (``CSHUB_API_HEADER_TIMEOUT_S``).
    Request headers are capped at h11's 16 KiB and bodies must arrive within
    ``CSHUB_API_BODY_TIMEOUT_S`` (webhooks/limits.py)."""
    protocol = type("HeaderDeadlineH11", (_HeaderDeadlineH11,), {"header_timeout": header_timeout})
    # log_config=None: uvicorn's records go through the process's logging (text or JSON,
    # runtime.logs) instead of uvicorn's own handlers.
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
        http=protocol,
        server_header=False,  # no version banner
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
