"""What the published API port gives an attacker, over real HTTP (uvicorn on a free
port): slow clients are cut off while others are served, bad dates are 422s, every
response says nosniff, and docs and metrics are off in production."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client

from runtime.settings import Environment, Settings
from webhooks.app import create_app
from webhooks.ledger import DeliveryLedger
from webhooks.server import serve_api

TOKEN = "timeline-token-0123456789"
BODY_TIMEOUT_S = 1.0
HEADER_TIMEOUT_S = 1.0


async def _no_temporal() -> Client:
    raise OSError("no Temporal in this test")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        cshub_api_db=tmp_path / "webhooks.db",
        cshub_actions_db=tmp_path / "actions.db",
        cshub_api_tokens=SecretStr(TOKEN),
        cshub_api_body_timeout_s=BODY_TIMEOUT_S,
        cshub_api_header_timeout_s=HEADER_TIMEOUT_S,
    )


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    app = create_app(settings, ledger=DeliveryLedger(":memory:"), connect=_no_temporal)
    server = await serve_api(
        app,
        port=0,
        limit_concurrency=settings.cshub_api_limit_concurrency,
        header_timeout=settings.cshub_api_header_timeout_s,
    )
    try:
        yield server.url
    finally:
        await server.stop()


async def _read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """What the server said before closing (a reset after its answer counts as closed:
    the client was still writing when the server hung up)."""
    data = b""
    try:
        while chunk := await reader.read(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


async def _trickle(host: str, port: int, seconds: float) -> tuple[float, bytes]:
    """Declare a 200-byte body and send a byte every 0.2 s: how long until the server
    answers and closes, and what it answered."""
    reader, writer = await asyncio.open_connection(host, port)
    start = time.monotonic()
    writer.write(
        b"POST /webhooks/product HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
        b"Content-Length: 200\r\n\r\n{"
    )
    await writer.drain()

    async def drip() -> None:
        while True:
            await asyncio.sleep(0.2)
            writer.write(b" ")
            await writer.drain()

    dripping = asyncio.create_task(drip())
    try:
        answer = await asyncio.wait_for(_read_until_closed(reader), timeout=seconds)
    finally:
        dripping.cancel()
        writer.close()
    return time.monotonic() - start, answer


async def test_a_slow_body_is_cut_off_while_other_requests_are_answered(
    settings: Settings,
) -> None:
    async with served(settings) as url:
        host, port = url.removeprefix("http://").split(":")
        async with httpx.AsyncClient(timeout=5) as http:
            # The first answer builds the OpenAPI document (a second on a busy machine):
            # built before the slow bodies start, so the window measures only them.
            assert (await http.get(f"{url}/openapi.json")).status_code == 200
            slow = [asyncio.create_task(_trickle(host, int(port), 10)) for _ in range(20)]
            answered: list[float] = []
            while not all(t.done() for t in slow):
                t0 = time.monotonic()
                resp = await http.get(f"{url}/openapi.json")
                assert resp.status_code == 200
                answered.append(time.monotonic() - t0)
                await asyncio.sleep(0.05)
        results = [t.result() for t in slow]
    for took, answer in results:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        assert b"connection: close" in answer.lower()
        assert BODY_TIMEOUT_S - 0.1 <= took < BODY_TIMEOUT_S + 3.0, took  # (a loaded CI machine)
    assert len(answered) >= 5 and max(answered) < 2.0, answered


async def _trickle_headers(host: str, port: int, seconds: float) -> tuple[float, bytes]:
    """Send a request's headers a byte every 0.2 s: how long until the server closes."""
    reader, writer = await asyncio.open_connection(host, port)
    start = time.monotonic()
    request = b"GET /openapi.json HTTP/1.1\r\nHost: hub\r\nX-Slow: " + b"a" * 400

    async def drip() -> None:
        for byte in request:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)

    dripping = asyncio.create_task(drip())
    try:
        answer = await asyncio.wait_for(_read_until_closed(reader), timeout=seconds)
    finally:
        dripping.cancel()
        writer.close()
    return time.monotonic() - start, answer


async def test_trickled_headers_are_cut_off_while_other_requests_are_answered(
    settings: Settings,
) -> None:
    async with served(settings) as url:
        host, port = url.removeprefix("http://").split(":")
        slow = [asyncio.create_task(_trickle_headers(host, int(port), 10)) for _ in range(20)]
        answered: list[float] = []
        async with httpx.AsyncClient(timeout=5) as http:
            while not all(t.done() for t in slow):
                t0 = time.monotonic()
                assert (await http.get(f"{url}/openapi.json")).status_code == 200
                answered.append(time.monotonic() - t0)
                await asyncio.sleep(0.05)
            # A keep-alive connection's next request gets the same deadline, and a
            # normal one on it is served.
            for _ in range(3):
                assert (await http.get(f"{url}/openapi.json")).status_code == 200
    for took, answer in (t.result() for t in slow):
        assert answer == b""  # closed without an answer: nothing was asked yet
        # (the deadline starts when the connection is accepted, a moment before `start`)
        assert HEADER_TIMEOUT_S - 0.1 <= took < HEADER_TIMEOUT_S + 3.0, (
            took
        )  # (a loaded CI machine)
    assert len(answered) >= 5 and max(answered) < 2.0, answered


async def test_a_since_out_of_range_is_a_422(settings: Settings) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with served(settings) as url, httpx.AsyncClient(timeout=5) as http:
        timeline = f"{url}/customers/1001/timeline"
        for since in ("99999999d", "999999999999w", "9999-12-31T23:00:00-05:00"):
            resp = await http.get(timeline, params={"since": since}, headers=auth)
            assert resp.status_code == 422, (since, resp.text)
            assert resp.json()["error"] == "invalid_since"
        assert (await http.get(timeline, params={"since": "30d"}, headers=auth)).status_code == 200


async def test_every_response_says_nosniff(settings: Settings) -> None:
    async with served(settings) as url, httpx.AsyncClient(timeout=5) as http:
        answers = [
            await http.get(f"{url}/customers/1001/timeline"),  # 401
            await http.post(f"{url}/webhooks/product", content=b"<script>"),  # 401
            await http.get(f"{url}/survey/exit?customer=<b>"),  # 422
            await http.get(f"{url}/no-such-page"),  # 404
            await http.post(f"{url}/codec/decode", json={}),  # 404: codec off
            await http.get(f"{url}/docs"),
        ]
    for resp in answers:
        assert resp.headers["x-content-type-options"] == "nosniff", resp.url
        assert resp.headers["referrer-policy"] == "no-referrer"


async def test_docs_and_openapi_only_when_allowed(settings: Settings) -> None:
    off = settings.model_copy(update={"cshub_api_docs": False})
    async with served(off) as url, httpx.AsyncClient(timeout=5) as http:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await http.get(url + path)).status_code == 404, path
    production = settings.model_copy(update={"cshub_env": Environment.PRODUCTION})
    assert not production.api_docs_on and not production.api_metrics_on
    assert settings.api_docs_on and settings.api_metrics_on
    opted_in = production.model_copy(update={"cshub_api_docs": True, "cshub_api_metrics": True})
    assert opted_in.api_docs_on and opted_in.api_metrics_on


async def test_headers_over_16_kib_are_refused(settings: Settings) -> None:
    """The API's parser (httptools, C) has no cap of its own: the server adds one."""
    app = create_app(settings, ledger=DeliveryLedger(":memory:"), connect=_no_temporal)
    server = await serve_api(app, port=0)
    try:
        host, port = server.url.removeprefix("http://").split(":")
        answers = []
        for size in (15 * 1024, 17 * 1024):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                b"GET /openapi.json HTTP/1.1\r\nHost: hub\r\nX-Big: "
                + b"a" * size
                + b"\r\nConnection: close\r\n\r\n"
            )
            answers.append(await asyncio.wait_for(_read_until_closed(reader), 5))
            writer.close()
        assert not answers[0].startswith(b"HTTP/1.1 400"), answers[0][:60]
        assert answers[1].startswith(b"HTTP/1.1 400"), answers[1][:60]
    finally:
        await server.stop()
