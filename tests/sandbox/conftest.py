"""One sandbox per test session (ports picked by the OS), reset before every test.

The SDK fixtures are the real clients pointed at the sandbox, exactly as the connectors
configure them. hubspot-api-client and zenpy block: call them with ``asyncio.to_thread``
from async tests, or the loop serving the emulator would stall.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from hubspot import HubSpot
from slack_sdk import WebClient
from slack_sdk.web.async_client import AsyncWebClient
from zenpy import Zenpy

from sandbox.server import SandboxHandle, start_sandbox


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sandbox() -> AsyncIterator[SandboxHandle]:
    handle = await start_sandbox(http_port=0, smtp_port=0)
    yield handle
    await handle.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def http(sandbox: SandboxHandle) -> AsyncIterator[httpx.AsyncClient]:
    """A raw client for the sandbox, after resetting it to the demo data."""
    async with httpx.AsyncClient(base_url=sandbox.http_url, timeout=10) as client:
        response = await client.post("/_sandbox/reset")
        response.raise_for_status()
        yield client


@pytest.fixture
def hubspot(sandbox: SandboxHandle) -> HubSpot:
    return HubSpot(access_token="sandbox-token", host=sandbox.http_url)


@pytest.fixture
def zenpy(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> Zenpy:
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", sandbox.http_url.split("://", 1)[1])
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    return Zenpy(subdomain="sandbox", email="automation@cshub.example", token="sandbox-token")


@pytest.fixture
def slack(sandbox: SandboxHandle) -> WebClient:
    return WebClient(token="xoxb-sandbox", base_url=f"{sandbox.http_url}/api/")


@pytest.fixture
def async_slack(sandbox: SandboxHandle) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-sandbox", base_url=f"{sandbox.http_url}/api/")
