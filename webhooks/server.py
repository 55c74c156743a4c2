"""Serve the ingress app with uvicorn inside the current event loop (``cshub api``,
``cshub dev`` and tests share this).

The HTTP parser is httptools (llhttp, C) rather than h11 (pure Python): about a third of
the API's CPU per webhook was h11's parsing and uvicorn's h11 glue (``make bench``,
bench/intake.py). ``cshub api`` also runs on uvloop (:func:`run`). Both protocols keep
the same limits: a deadline on each request's headers, headers capped at 16 KiB."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("cshub.webhooks")

MAX_HEADER_BYTES = 16 * 1024
"""A request's line and headers at most (h11's own cap; httptools has none of its own)."""

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop (libuv's event loop: less CPU per request and per socket
    event than asyncio's own); on asyncio's loop where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a runtime dependency
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


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


class _HeaderDeadline(asyncio.Protocol):
    """A deadline on each request's headers, for uvicorn's HTTP protocols: a client that
    trickles them (a byte a second keeps uvicorn's keep-alive timer from ever firing) is
    disconnected ``header_timeout`` seconds after the connection opened or the previous
    answer went out. The protocol cancels it (:meth:`_headers_in`) once a request's
    headers are in."""

    header_timeout = 10.0
    _header_deadline: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def _headers_in(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _rearm(self, next_request_in: bool) -> None:
        """After an answer: the next request's headers get the same deadline."""
        closing = self.transport.is_closing()
        if self._header_deadline is None and not next_request_in and not closing:
            self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_in()
        super().connection_lost(exc)

    def _headers_late(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            log.warning(
                "request headers not received within %g s; connection closed", self.header_timeout
            )
            self.transport.close()


class _HeaderDeadlineH11(_HeaderDeadline, H11Protocol):
    """uvicorn's h11 protocol with :class:`_HeaderDeadline`."""

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self._headers_in()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._rearm(next_request_in=self.conn.their_state is not h11.IDLE)


class _HeaderDeadlineHttpTools(_HeaderDeadline, HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`_HeaderDeadline`, and the request line
    and headers capped at :data:`MAX_HEADER_BYTES` (400 and the connection closed)."""

    _header_bytes = 0

    def on_message_begin(self) -> None:
        self._header_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count_header_bytes(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_HEADER_BYTES:
            # Raised inside the parser: uvicorn answers 400 and closes the connection.
            raise ValueError("request headers too large")

    def on_headers_complete(self) -> None:
        self._headers_in()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)  # the next request's headers are in already
        super().on_response_complete()
        self._rearm(next_request_in=pipelined)


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
    http: str = "httptools",
) -> ApiServer:
    """Start serving; return once the socket listens (port 0 picks a free port).

    ``limit_concurrency``: connections and requests in progress beyond which uvicorn
    answers 503 (``CSHUB_API_LIMIT_CONCURRENCY``); ``timeout_keep_alive``: an idle
    keep-alive connection is closed after that many seconds; ``header_timeout``: a
    request's headers must arrive within that many seconds (``CSHUB_API_HEADER_TIMEOUT_S``).
    Request headers are capped at 16 KiB (:data:`MAX_HEADER_BYTES`) and bodies must arrive within
    ``CSHUB_API_BODY_TIMEOUT_S`` (webhooks/limits.py). ``http``: the parser, ``httptools``
    (the default) or ``h11``."""
    base = _HeaderDeadlineHttpTools if http == "httptools" else _HeaderDeadlineH11
    protocol = type(base.__name__.lstrip("_"), (base,), {"header_timeout": header_timeout})
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
