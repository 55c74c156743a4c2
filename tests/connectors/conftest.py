"""Fixtures for connector tests, on top of the session ``sandbox`` from tests/conftest.py.

The sandbox runs on the test's event loop, so blocking connector calls (HubSpot, Zendesk)
must go through ``asyncio.to_thread`` or they would deadlock the loop serving them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from connectors.email import SmtpMailer
from connectors.hubspot import HubSpotCrm
from connectors.slack import SlackChat
from connectors.zendesk import ZendeskHelpdesk
from sandbox.server import SandboxHandle
from tests.connectors.connector_sandbox import SandboxClient


@pytest.fixture(scope="session")
async def sandbox_api(sandbox: SandboxHandle) -> AsyncIterator[SandboxClient]:
    client = SandboxClient(sandbox)
    try:
        yield client
    finally:
        await client.http.aclose()


@pytest.fixture(scope="session")
def hubspot(sandbox_api: SandboxClient) -> HubSpotCrm:
    return HubSpotCrm(access_token="sandbox", base_url=sandbox_api.url, timeout_s=5)


@pytest.fixture(scope="session")
def zendesk(sandbox_api: SandboxClient) -> Iterator[ZendeskHelpdesk]:
    # ZendeskHelpdesk points zenpy at the sandbox through process-wide variables: put
    # them back afterwards so nothing else in the session inherits them.
    saved = {k: os.environ.get(k) for k in ("ZENPY_FORCE_NETLOC", "ZENPY_FORCE_SCHEME")}
    netloc = sandbox_api.url.split("://", 1)[1]
    yield ZendeskHelpdesk(
        "sandbox",
        "agent@sandbox.example",
        "token",
        base_netloc=netloc,
        scheme="http",
        timeout_s=5,
        ratelimit_budget_s=3,
    )
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def slack(sandbox_api: SandboxClient) -> SlackChat:
    return SlackChat("xoxb-sandbox", base_url=f"{sandbox_api.url}/api/", timeout_s=5)


@pytest.fixture(scope="session")
def mailer(sandbox_api: SandboxClient) -> SmtpMailer:
    return SmtpMailer(
        sandbox_api.handle.smtp_host,
        sandbox_api.handle.smtp_port,
        "cshub <success@cshub.example>",
        timeout_s=5,
    )
