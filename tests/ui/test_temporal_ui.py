"""The Temporal Web UI, as the people who run the hub use it: headless Chromium (Debian's
package) opens the UI of a dev server with a running hub worker, lists the workflows
filtered by a search attribute, opens one and finds its summary and current details.
The screenshot is kept in test-artifacts/ (CI keeps it as an artifact).

Needs /usr/bin/chromium: `make test` installs it with apt-get when run as root;
elsewhere this test is skipped with a note on how to install it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright, expect
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from cshub.binaries import temporal_cli
from cshub.search_attributes import ensure_search_attributes
from cshub.starters import start_onboarding
from domain.churn import ChurnPreventionInput, RiskFactor
from domain.onboarding import OnboardingInput
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import running_worker
from workflows.churn import ChurnPreventionWorkflow

CHROMIUM = "/usr/bin/chromium"
# This machine's network is closed: without these Chromium's own background connections
# are refused (many at a time) and slow every start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOT = ARTIFACTS / "temporal-ui-workflow.png"
UI_WAIT_MS = 20_000  # the UI is a single-page app: generous, bounded waits

pytestmark = pytest.mark.timeout(120)


def chromium_or_skip() -> str:
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    how = (
        "install Debian's Chromium: `make chromium` as root, or "
        "`sudo apt-get install --no-install-recommends chromium` (Playwright's own "
        "browser download is not used)"
    )
    if os.environ.get("CI") and os.geteuid() == 0 and shutil.which("apt-get"):
        # CI runs as root on Debian, where `make test` installs it: a skip would hide that.
        pytest.fail(f"{CHROMIUM} is missing although `make test` should have installed it; {how}")
    pytest.skip(f"{CHROMIUM} not found: {how}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def ui_env() -> AsyncIterator[tuple[WorkflowEnvironment, int]]:
    """A dev server of this module's own, with its Web UI on a free port."""
    ui_port = free_port()
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(temporal_cli()),
        dev_server_log_level="error",
        ui=True,
        ui_port=ui_port,
        dev_server_extra_args=["--ui-disable-news-fetch"],  # no network here
    )
    await ensure_search_attributes(env.client)
    yield env, ui_port
    await env.shutdown()


@pytest.fixture
async def browser_page(tmp_path: Path) -> AsyncIterator[Page]:
    executable = chromium_or_skip()
    async with async_playwright() as p:
        context: BrowserContext = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh --user-data-dir
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(UI_WAIT_MS)
            yield page
        finally:
            await context.close()


async def wait_listed(env: WorkflowEnvironment, query: str) -> None:
    for _ in range(100):
        if [w async for w in env.client.list_workflows(query)]:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"visibility never listed {query}")


async def wait_current_details(env: WorkflowEnvironment, workflow_id: str, prefix: str) -> None:
    handle = env.client.get_workflow_handle(workflow_id)
    details = ""
    for _ in range(100):
        meta = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        details = meta.current_details
        if details.startswith(prefix):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{workflow_id}: current details {details!r}, not {prefix!r}...")


async def test_ui_lists_by_search_attribute_and_shows_the_summary(
    ui_env: tuple[WorkflowEnvironment, int],
    browser_page: Page,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    env, ui_port = ui_env
    page = browser_page
    ui = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows"
    async with running_worker(env, hub_settings) as worker:
        churn_id = f"churn-1005-ui-{uuid.uuid4().hex[:6]}"
        await env.client.start_workflow(
            ChurnPreventionWorkflow.run,
            ChurnPreventionInput(
                customer_id="1005", risk_factors=[RiskFactor.USAGE_DROP], health_score=55
            ),
            id=churn_id,
            task_queue=worker.task_queue,
            static_summary="Churn prevention · Helios Logistics",
        )
        onboarding = await start_onboarding(
            env.client, worker.task_queue, OnboardingInput(customer_id="1001")
        )
        onboarding_id = onboarding.id
        # Both are in visibility with their search attributes before the UI is asked.
        await wait_listed(
            env,
            f"WorkflowId = '{churn_id}' AND CustomerId = '1005' "
            "AND CompanyName = 'Helios Logistics' AND Tier = 'professional'",
        )
        await wait_listed(env, f"WorkflowId = '{onboarding_id}' AND CustomerId = '1001'")
        await wait_current_details(env, churn_id, "Helios Logistics · professional")

        rows = page.locator('[data-testid="workflows-summary-configurable-table-row"]')
        # Unfiltered, the UI lists both ...
        await page.goto(ui)
        # The UI's first page load on a busy machine (3 test processes) can take seconds.
        await expect(page.get_by_role("link", name=onboarding_id).first).to_be_visible(
            timeout=20_000
        )
        await expect(page.get_by_role("link", name=churn_id).first).to_be_visible()
        # ... filtered by a search attribute in the URL, only the churn campaign.
        await page.goto(ui + "?query=" + quote("CustomerId = '1005'"))
        await expect(page.get_by_text('CustomerId = "1005"').first).to_be_visible()
        await expect(page.get_by_role("link", name=churn_id).first).to_be_visible()
        await expect(rows).to_have_count(1)
        assert await page.get_by_role("link", name=onboarding_id).count() == 0

        await page.get_by_role("link", name=churn_id).first.click()
        await page.wait_for_url(f"**/workflows/{churn_id}/**")
        await expect(page.get_by_text("ChurnPreventionWorkflow").first).to_be_visible()
        # Summary and current details are on the User Metadata tab, each rendered
        # (markdown) in a frame of its own.
        await page.get_by_role("tab", name="User Metadata").click()
        await page.wait_for_url("**/user-metadata")
        summary = page.frame_locator("#user-metadata-summary")
        await expect(summary.get_by_text("Churn prevention · Helios Logistics")).to_be_visible()
        details = page.frame_locator("#user-metadata-current-details")
        await expect(
            details.get_by_text("Helios Logistics · professional · CSM marcus.chen@cshub.example")
        ).to_be_visible()
        await expect(details.get_by_text("Churn prevention", exact=True)).to_be_visible()

        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)
        for wid in (churn_id, onboarding_id):
            with contextlib.suppress(RPCError):  # already finished
                await env.client.get_workflow_handle(wid).terminate("ui test done")

    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert SCREENSHOT.stat().st_size > 10_000
