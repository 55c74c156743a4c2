"""The sandbox inbox shows a review pack's chart on its CRM task: the PNG uploaded to the
sandbox HubSpot's file manager and linked from the task body is drawn under the task (and
a body with no such link draws no image). Headless Chromium, skipped with a note without."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Page

from activities.review_chart import review_chart_png
from domain.review_pack import PackFigures
from sandbox.server import SandboxHandle, start_sandbox
from tests.ui.test_inbox_hostile_text import DUE, HUBSPOT_AUTH, page

__all__ = ["page"]  # the Chromium page fixture

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def chart_sandbox() -> AsyncIterator[SandboxHandle]:
    handle = await start_sandbox(http_port=0, smtp_port=0)
    try:
        png = review_chart_png(PackFigures(health_score=88, csat_percent=92), "QBR")
        async with httpx.AsyncClient(base_url=handle.http_url, timeout=10) as http:
            uploaded = await http.post(
                "/files/v3/files",
                headers=HUBSPOT_AUTH,
                files={"file": ("qbr.png", png, "image/png")},
                data={
                    "folderPath": "/cshub/review-packs",
                    "fileName": "qbr.png",
                    "options": '{"access": "PRIVATE", "overwrite": true}',
                },
            )
            assert uploaded.status_code == 201, uploaded.text
            url = uploaded.json()["url"]
            for subject, body in (
                ("Quarterly business review (day 120)", f"REVIEW PACK\n\nChart: {url}"),
                ("Plain check-in", "no chart here"),
            ):
                created = await http.post(
                    "/crm/v3/objects/tasks",
                    headers=HUBSPOT_AUTH,
                    json={
                        "properties": {
                            "hs_timestamp": DUE,
                            "hs_task_subject": subject,
                            "hs_task_body": body,
                        },
                        "associations": [
                            {
                                "to": {"id": "1003"},
                                "types": [
                                    {
                                        "associationCategory": "HUBSPOT_DEFINED",
                                        "associationTypeId": 192,
                                    }
                                ],
                            }
                        ],
                    },
                )
                assert created.status_code == 201, created.text
        yield handle
    finally:
        await handle.stop()


async def test_the_review_task_shows_its_chart(chart_sandbox: SandboxHandle, page: Page) -> None:
    await page.goto(f"{chart_sandbox.http_url}/#crm")
    await page.reload()
    await page.get_by_text("Quarterly business review (day 120)").first.wait_for()
    chart = page.locator("img.chart")
    await chart.wait_for()
    assert await chart.count() == 1
    width = await chart.evaluate("img => img.complete ? img.naturalWidth : -1")
    assert width > 100  # the PNG loaded
