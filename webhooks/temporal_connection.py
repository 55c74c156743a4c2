"""The API's connection to Temporal: made lazily, remade after failures."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.client import Client

from runtime.metrics import HubRuntime
from runtime.settings import Settings


class TemporalConnection:
    """Connects lazily and reconnects after failures, so the API starts (and answers 503)
    while Temporal is down, and recovers on its own when it comes back."""

    def __init__(self, connect: Callable[[], Awaitable[Client]]) -> None:
        self._connect = connect
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(self._connect(), timeout=5)
                except (TimeoutError, OSError) as err:
                    raise RuntimeError(f"cannot connect to Temporal: {err}") from err
            return self._client

    async def healthy(self) -> bool:
        try:
            client = await self.get()
            return await asyncio.wait_for(
                client.service_client.check_health(timeout=timedelta(seconds=2)), timeout=3
            )
        except Exception:
            return False


def settings_client(
    settings: Settings, telemetry: HubRuntime | None = None
) -> Callable[[], Awaitable[Client]]:
    async def connect() -> Client:
        from runtime.temporal_client import FAIL_FAST
        from runtime.temporal_client import connect as connect_settings

        runtime = telemetry.runtime if telemetry else None
        return await connect_settings(settings, retry_config=FAIL_FAST, runtime=runtime)

    return connect
