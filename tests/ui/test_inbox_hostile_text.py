"""The sandbox inbox shows whatever the hub and its emulators stored as text: a company
named ``Evil <img src=x onerror=alert(1)> Co`` in every tab (and raw markup in a CRM
note or task body, as another writer could store it) runs no script. Before, the CRM
tab's ``stripTags`` assigned the body to a detached element's ``innerHTML``, where the
image loaded and its ``onerror`` ran (a stored XSS in the dev inbox).

Headless Debian Chromium, as in test_temporal_ui.py (skipped with a note without it)."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Dialog, Page, async_playwright

from sandbox.server import SandboxHandle, start_sandbox
from tests.ui.test_temporal_ui import CHROMIUM_ARGS, chromium_or_skip

HOSTILE = "Evil <img src=x onerror=alert(1)> Co"
MARKUP = '<img src=x onerror="window.__xss=1;alert(2)"><script>window.__xss=2</script>'
HUBSPOT_AUTH = {"Authorization": "Bearer sandbox-token"}
DUE = "2026-12-01T09:00:00Z"

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def hostile_sandbox() -> AsyncIterator[SandboxHandle]:
    """A sandbox of its own (the session one keeps its demo names)."""
    handle = await start_sandbox(http_port=0, smtp_port=0)
    try:
        async with httpx.AsyncClient(base_url=handle.http_url, timeout=10) as http:
            company = await http.patch(
                "/crm/v3/objects/companies/1001",
                headers=HUBSPOT_AUTH,
                json={"properties": {"name": HOSTILE}},
            )
            company.raise_for_status()
            for kind, props in (
                ("notes", {"hs_timestamp": DUE, "hs_note_body": f"{HOSTILE} {MARKUP}"}),
                (
                    "tasks",
                    {
                        "hs_timestamp": DUE,
                        "hs_task_subject": HOSTILE,
                        "hs_task_body": f"{HOSTILE} {MARKUP}",
                    },
                ),
            ):
                created = await http.post(
                    f"/crm/v3/objects/{kind}",
                    headers=HUBSPOT_AUTH,
                    json={
                        "properties": props,
                        "associations": [
                            {
                                "to": {"id": "1001"},
                                "types": [
                                    {
                                        "associationCategory": "HUBSPOT_DEFINED",
                                        "associationTypeId": 190 if kind == "notes" else 192,
                                    }
                                ],
                            }
                        ],
                    },
                )
                assert created.status_code == 201, created.text
            slack = await http.post(
                "/api/chat.postMessage",
                headers={"Authorization": "Bearer xoxb-sandbox"},
                json={"channel": "C0CSALERTS", "text": f"{HOSTILE} {MARKUP}"},
            )
            assert slack.json()["ok"], slack.text

        def send_mail() -> None:
            msg = EmailMessage()
            msg["From"] = "success@cshub.example"
            msg["To"] = "ada@example.com"
            msg["Subject"] = f"Welcome, {HOSTILE}"
            msg.set_content(f"Hello {HOSTILE}")
            msg.add_alternative(f"<p>Hello {HOSTILE}</p>{MARKUP}", subtype="html")
            with smtplib.SMTP(handle.smtp_host, handle.smtp_port, timeout=10) as smtp:
                smtp.send_message(msg)

        await asyncio.to_thread(send_mail)
        yield handle
    finally:
        await handle.stop()


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    executable = chromium_or_skip()
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            await context.close()


async def test_no_script_runs_for_a_hostile_company_name_in_any_tab(
    hostile_sandbox: SandboxHandle, page: Page
) -> None:
    dialogs: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    base = hostile_sandbox.http_url
    for tab in ("emails", "slack", "crm", "data"):
        await page.goto(f"{base}/#{tab}")
        await page.reload()  # the tab is read from the hash at load
        # The name is on the page as text, with its angle brackets.
        await page.get_by_text("Evil <img src=x onerror=alert(1)> Co").first.wait_for()
        await page.wait_for_timeout(700)  # time for an injected image to fail and fire
        assert dialogs == [], (tab, dialogs)
        assert await page.evaluate("window.__xss") is None, tab
    assert await page.locator("img").count() == 0
