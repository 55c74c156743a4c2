"""The sandbox inbox shows a Slack message as Slack would: the escapes Slack requires in
message text (``Quill &amp; Co``) show as the characters, and an escaped ``<`` in a
name stays text (no link). Headless Chromium (Debian's), like tests/ui's other test."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from activities.slack_post import post_slack
from connectors.slack import SlackChat
from sandbox.server import SandboxHandle
from templates.renderer import render_slack
from tests.ui.test_temporal_ui import CHROMIUM_ARGS, UI_WAIT_MS, chromium_or_skip

pytestmark = pytest.mark.timeout(120)


async def test_the_inbox_shows_slack_text_unescaped_and_inert(
    clean_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    executable = chromium_or_skip()
    chat = SlackChat("xoxb-sandbox", base_url=f"{clean_sandbox.http_url}/api/", timeout_s=5)
    for key, company in (("a", "Quill & Co"), ("b", "<https://evil.example|Click me>")):
        rendered = render_slack(
            "onboarding_started",
            {
                "company_name": company,
                "customer_id": "1004",
                "tier": "starter",
                "csm_name": "Dana Reyes",
                "workflow_id": "onboarding-1004",
            },
        )
        result = await post_slack(chat, "C0CSALERTS", rendered, f"inbox-test/{key}")
        assert result.summary == f":rocket: {company} started Starter onboarding"
    async with httpx.AsyncClient() as http:
        sent = (await http.get(f"{clean_sandbox.http_url}/api/outbox")).json()["slack_messages"]
    assert sent[0]["text"] == ":rocket: Quill &amp; Co started Starter onboarding"

    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(UI_WAIT_MS)
            await page.goto(f"{clean_sandbox.http_url}/#slack")
            body = page.locator(".slack-body")
            await expect(
                body.filter(has_text="Quill & Co started Starter onboarding").first
            ).to_be_visible()
            await expect(
                page.get_by_text("Notification text: :rocket: Quill & Co started").first
            ).to_be_visible()
            assert await page.get_by_text("&amp;").count() == 0
            hostile = body.filter(has_text="<https://evil.example|Click me> started")
            await expect(hostile.first).to_be_visible()
            assert await page.locator('a[href^="https://evil.example"]').count() == 0
        finally:
            await context.close()
