"""A Temporal dev server a test or ``make chaos`` controls: stop it and start it again on
the same port and SQLite file, as an outage would."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cshub.binaries import temporal_cli
from cshub.search_attributes import ensure_search_attributes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class TemporalProcess:
    def __init__(
        self, db_file: Path, port: int | None = None, sqlite_pragmas: Sequence[str] = ()
    ) -> None:
        """``sqlite_pragmas``: ``"journal_mode=wal"`` and the like (``--sqlite-pragma``)."""
        self.port = port or free_port()
        self.db_file = db_file
        self.sqlite_pragmas = tuple(sqlite_pragmas)
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (for RSS figures)."""
        return self._proc.pid if self._proc and self._proc.returncode is None else None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            str(temporal_cli()),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db-filename",
            str(self.db_file),
            "--log-level",
            "error",
            *(arg for pragma in self.sqlite_pragmas for arg in ("--sqlite-pragma", pragma)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                client = await Client.connect(self.address)
                if await client.service_client.check_health():
                    await ensure_search_attributes(client)
                    return
            except RuntimeError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"temporal dev server did not start on {self.address}")

    async def stop(self) -> None:
        if self._proc and self._proc.returncode is None:
            self._proc.terminate()
            await self._proc.wait()

    async def client(self) -> Client:
        return await Client.connect(self.address, data_converter=pydantic_data_converter)
