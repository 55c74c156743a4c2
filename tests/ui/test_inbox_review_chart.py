"""The sandbox inbox shows a review pack's chart on its CRM task: the PNG uploaded to the
sandbox HubSpot's file manager, attached to the task (``hs_attachment_ids``) or linked from
its body, is drawn under the task (and a task with neither draws no image). Headless Chromium, skipped with a note without."""

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
            url, file_id = uploaded.json()["url"], uploaded.json()["id"]
            for subject, body, attached in (
                ("Quarterly business review (day 120)", f"REVIEW PACK\n\nChart: {url}", None),
                ("Plain check-in", "no chart here", None),
                ("Executive review (day 180)", "REVIEW PACK", file_id),  # attached, no link
            ):
                created = await http.post(
                    "/crm/v3/objects/tasks",
                    headers=HUBSPOT_AUTH,
                    json={
                        "properties": {
                            "hs_timestamp": DUE,
                            "hs_task_subject": subject,
                            "hs_task_body": body,
                            **({"hs_attachment_ids": attached} if attached else {}),
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
    await page.get_by_text("Executive review (day 180)").first.wait_for()
    charts = page.locator("img.chart")
    await charts.first.wait_for()
    assert await charts.count() == 2  # the linked and the attached chart; none on the plain task
    for i in range(2):
        width = await charts.nth(i).evaluate(
            "img => new Promise(done => img.complete ? done(img.naturalWidth)"
            " : img.addEventListener('load', () => done(img.naturalWidth)))"
        )
        assert width > 100  # the PNG loaded
