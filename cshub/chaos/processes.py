"""The hub's processes in a chaos run: started, SIGKILLed and started again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from sandbox.server import SandboxHandle


class HubProcess:
    """``python -m cshub <command>`` with its own environment, logging to a file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self._argv = [sys.executable, "-m", "cshub", *command]
        self._env = env
        self._workdir = workdir
        self._proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.kills = 0

    @property
    def log_file(self) -> Path:
        return self._workdir / f"{self.name}.log"

    async def start(self) -> None:
        with self.log_file.open("ab") as log:
            # cwd: the run folder, so a developer's .env never reaches a chaos run
            self._proc = await asyncio.create_subprocess_exec(
                *self._argv,
                env=self._env,
                cwd=self._workdir,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.starts += 1

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def sigkill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGKILL)
            await self._proc.wait()
            self.kills += 1

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 20)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()


def hub_environment(values: dict[str, str]) -> dict[str, str]:
    """The parent's environment without any hub setting, plus ``values``: a chaos run
    never reads the developer's HubSpot token or Temporal address by accident."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CSHUB_", "TEMPORAL_", "HUBSPOT_", "ZENDESK_", "SLACK_", "SMTP_"))
        and not k.endswith(("_SECRET", "_WEBHOOK_SECRET"))
    }
    return {**keep, **values}


async def wait_http_ok(url: str, timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s")
            await asyncio.sleep(0.3)


def sandbox_environment(
    temporal_address: str, sandbox: SandboxHandle, workdir: Path, **values: str
) -> dict[str, str]:
    """:func:`hub_environment` for a hub process against the emulators: every connector
    pointed at ``sandbox``, the databases in ``workdir``, JSON logs, no metrics port;
    ``values`` (``CSHUB_API_PORT="8000"``) added or overriding."""
    return hub_environment(
        {
            "CSHUB_ENV": "sandbox",
            "TEMPORAL_ADDRESS": temporal_address,
            "HUBSPOT_BASE_URL": sandbox.http_url,
            "ZENDESK_BASE_NETLOC": sandbox.http_url.removeprefix("http://"),
            "ZENDESK_SCHEME": "http",
            "SLACK_BASE_URL": f"{sandbox.http_url}/api/",
            "SMTP_HOST": sandbox.smtp_host,
            "SMTP_PORT": str(sandbox.smtp_port),
            "CSHUB_API_DB": str(workdir / "webhooks.db"),
            "CSHUB_ACTIONS_DB": str(workdir / "actions.db"),
            "CSHUB_WORKER_METRICS_ADDRESS": "",
            "CSHUB_LOG_FORMAT": "json",
            **values,
        }
    )
