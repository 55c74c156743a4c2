"""The compose stack's Caddy (deploy/Caddyfile, as shipped) in front of the real API:
a client trickling its body is cut off when the proxy's read_body time is up while
other requests are answered, and the operators' endpoints are not served through it.

Needs Debian's caddy (`apt-get install caddy`); skipped with a note without it. The
read timeout is set through the Caddyfile's own variable (1 s instead of 30 s)."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cshub.temporal_process import free_port
from runtime.settings import Settings
from tests.webhooks.test_hardening import _trickle, served
from tests.webhooks.test_hardening import settings as settings  # the fixture

ROOT = Path(__file__).parents[2]
CADDY = shutil.which("caddy")
READ_BODY_S = 1.0

pytestmark = pytest.mark.skipif(
    CADDY is None, reason="caddy not found: `apt-get install caddy` to test deploy/Caddyfile"
)


@pytest.fixture
async def proxy(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(proxy URL, API URL). The API's own body deadline is long: the proxy's is tested."""
    slow_api = settings.model_copy(update={"cshub_api_body_timeout_s": 60.0})
    async with served(slow_api) as api_url:
        port = free_port()
        env = {
            **os.environ,
            "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "CSHUB_PUBLIC_HOST": f"http://127.0.0.1:{port}",
            "CSHUB_API_UPSTREAM": api_url.removeprefix("http://"),
            "CSHUB_PROXY_READ_BODY": f"{READ_BODY_S:g}s",
        }
        assert CADDY is not None
        process = await asyncio.create_subprocess_exec(
            CADDY,
            "run",
            "--config",
            str(ROOT / "deploy" / "Caddyfile"),
            "--adapter",
            "caddyfile",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                for _ in range(100):
                    try:
                        await http.get(f"{url}/healthz")
                        break
                    except httpx.TransportError:
                        assert process.returncode is None, "caddy exited"
                        await asyncio.sleep(0.1)
            yield url, api_url
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=10)


async def test_the_proxy_cuts_off_a_slow_body_and_keeps_serving(
    proxy: tuple[str, str],
) -> None:
    url, _ = proxy
    host, port = url.removeprefix("http://").split(":")
    slow = [asyncio.create_task(_trickle(host, int(port), 10)) for _ in range(20)]
    answered: list[float] = []
    async with httpx.AsyncClient(timeout=5) as http:
        while not all(t.done() for t in slow):
            t0 = time.monotonic()
            resp = await http.get(f"{url}/customers/1001/timeline")
            assert resp.status_code == 401  # the API's answer, through the proxy
            assert resp.headers["x-content-type-options"] == "nosniff"
            answered.append(time.monotonic() - t0)
            await asyncio.sleep(0.05)
    for task in slow:
        took, _answer = task.result()
        assert took < READ_BODY_S + 3.0, took  # (a loaded CI machine)
    assert len(answered) >= 5 and max(answered) < 2.0, answered


async def test_operators_endpoints_are_not_served_through_the_proxy(
    proxy: tuple[str, str],
) -> None:
    url, api_url = proxy
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.get(f"{api_url}/openapi.json")).status_code == 200  # inside
        for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
            assert (await http.get(url + path)).status_code == 404, path
