"""Start and stop the whole sandbox: one HTTP server for every API plus the SMTP sink.

Embed it on your own event loop (tests, ``cshub dev``)::

    handle = await start_sandbox(http_port=0, smtp_port=0)
    ...  # point the SDKs at handle.http_url, SMTP at handle.smtp_host/port
    await handle.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from sandbox import (
    ai_chat,
    control,
    hubspot,
    hubspot_pipelines,
    inbox,
    slack,
    slack_clicks,
    stripe_api,
    zendesk,
)
from sandbox.appkeys import FAULTS, INFO, STORE, SandboxInfo
from sandbox.faults import FaultInjector
from sandbox.middleware import api_middleware
from sandbox.smtp_sink import SmtpSink
from sandbox.store import Store

MAX_BODY_BYTES = 20 * 1024 * 1024
SAVE_EVERY_SECONDS = 1.0
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@web.middleware
async def count_changes(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Any request that may write counts as a change (what a saved state must catch up)."""
    try:
        return await handler(request)
    finally:
        if request.method not in _READS:
            request.app[STORE].touch()


async def _keep_saved(store: Store) -> None:
    """Save the state within a second of each change (at stop: ``SandboxHandle.stop``)."""
    saved = store.changes
    while True:
        await asyncio.sleep(SAVE_EVERY_SECONDS)
        if store.changes != saved:
            saved = store.changes
            blob = store.snapshot()
            await asyncio.to_thread(store.save, blob)


def build_app(
    store: Store, faults: FaultInjector | None = None, info: SandboxInfo | None = None
) -> web.Application:
    """The aiohttp application serving HubSpot, Zendesk, Slack, Stripe, an OpenAI-compatible
    chat endpoint, the inbox and controls."""
    app = web.Application(
        middlewares=[count_changes, api_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[STORE] = store
    app[FAULTS] = faults or FaultInjector()
    app[INFO] = info or SandboxInfo()
    inbox.setup(app)
    control.setup(app)
    hubspot.setup(app)
    hubspot_pipelines.setup(app)
    stripe_api.setup(app)
    zendesk.setup(app)
    slack.setup(app)
    slack_clicks.setup(app)
    ai_chat.setup(app)
    return app


@dataclass
class SandboxHandle:
    http_url: str  # e.g. "http://127.0.0.1:8025"
    smtp_host: str
    smtp_port: int
    _runner: web.AppRunner = field(repr=False)
    _sink: SmtpSink = field(repr=False)
    store: Store | None = field(default=None, repr=False)
    _saver: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def restored(self) -> bool:
        """The state came back from the state file (a restart), not from the demo data."""
        return self.store is not None and self.store.restored

    async def stop(self) -> None:
        await self._runner.cleanup()
        await asyncio.to_thread(self._sink.stop)
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver
        if self.store is not None and self.store.state_file is not None:
            await asyncio.to_thread(self.store.save)


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


async def start_sandbox(
    host: str = "127.0.0.1",
    http_port: int = 8025,
    smtp_port: int = 1025,
    data_file: Path | None = None,
    state_file: Path | None = None,
) -> SandboxHandle:
    """Start on the running loop; port 0 picks a free port (the handle has the real one).

    ``state_file``: keep the state there across restarts (see ``sandbox.store``); without
    it every start seeds the demo data afresh. Raises if the demo data is invalid or a
    port is taken.
    """
    store = Store(data_file, state_file)
    sink = SmtpSink(store, host, smtp_port)
    await asyncio.to_thread(sink.start)
    info = SandboxInfo(smtp_host=_url_host(host), smtp_port=sink.port)
    runner = web.AppRunner(build_app(store, info=info), access_log=None)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, http_port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        await asyncio.to_thread(sink.stop)
        raise
    port = runner.addresses[0][1]
    info.http_url = f"http://{_url_host(host)}:{port}"
    saver = asyncio.create_task(_keep_saved(store)) if state_file is not None else None
    return SandboxHandle(info.http_url, info.smtp_host, info.smtp_port, runner, sink, store, saver)
