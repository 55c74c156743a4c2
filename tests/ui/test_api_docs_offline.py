"""``/docs`` on a network that reaches nothing: headless Chromium (Debian's) opens the
API's Swagger UI with every request off the API's own address refused, and finds the
webhook operations rendered. Before, the page loaded Swagger UI from a CDN and stayed
blank."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Route, async_playwright, expect
from temporalio.client import Client

from runtime.settings import Settings
from tests.ui.test_temporal_ui import CHROMIUM_ARGS, UI_WAIT_MS, chromium_or_skip
from webhooks.app import create_app
from webhooks.server import ApiServer, serve_api

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def api(hub_settings: Settings, tmp_path: Path) -> AsyncIterator[ApiServer]:
    async def no_temporal() -> Client:
        raise AssertionError("the docs page needs no Temporal")

    settings = hub_settings.model_copy(
        update={
            "cshub_api_db": tmp_path / "webhooks.db",
            "cshub_actions_db": tmp_path / "actions.db",
        }
    )
    server = await serve_api(create_app(settings, connect=no_temporal), port=0)
    try:
        yield server
    finally:
        await server.stop()


async def test_docs_render_the_operations_with_the_network_off(
    api: ApiServer, tmp_path: Path
) -> None:
    executable = chromium_or_skip()
    own = urlsplit(api.url).netloc
    refused: list[str] = []

    async def only_the_api(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("internetdisconnected")

    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            await context.route("**/*", only_the_api)
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(UI_WAIT_MS)
            await page.goto(f"{api.url}/docs")
            await expect(page.get_by_text("cshub webhook ingress").first).to_be_visible()
            operations = page.locator(".opblock")
            await expect(operations.first).to_be_visible()
            assert await operations.count() >= 5
            await expect(
                page.locator(".opblock-summary-path", has_text="/webhooks/stripe")
            ).to_be_visible()
            await expect(
                page.locator(".opblock-summary-path", has_text="/customers/{customer_id}/timeline")
            ).to_be_visible()
        finally:
            await context.close()
    assert refused == [], f"the docs page asked for outside resources: {refused}"
