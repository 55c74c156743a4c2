"""Shared fixtures: the sandbox emulators, hub settings pointing at them, Temporal test
environments (time-skipping and the real dev server), and a worker factory."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.action_log import ActionStore
from cshub.binaries import temporal_cli, temporal_test_server
from cshub.search_attributes import ensure_search_attributes
from playbooks.loader import PACKAGE_DIR
from runtime.risk_history import RiskHistory
from runtime.settings import Settings
from sandbox.server import SandboxHandle, start_sandbox
from wiring.connectors import build_connectors
from worker import create_worker

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """A worker stopped with workflows still cached leaves their coroutines and tasks to
    the garbage collector, which cancels them (sdk-python #494, #1849): temporalio's
    CancelledError then surfaces as an "unraisable" exception in whichever later test
    runs the collection, from whatever callback the collector was in. The workflows
    resume on the next worker; nothing of the test's own is lost. Only that exception
    is dropped; every other unraisable one still fails its test (pytest's own hook)."""
    from temporalio.exceptions import CancelledError

    pytests_hook = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, CancelledError):
            return
        pytests_hook(unraisable)

    sys.unraisablehook = hook


@pytest.fixture(scope="session", autouse=True)
def playbooks_with_test_plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The shipped plans plus test-only plans, via CSHUB_PLAYBOOKS_DIR."""
    root = tmp_path_factory.mktemp("playbooks")
    shutil.copytree(PACKAGE_DIR / "onboarding", root / "onboarding")
    shutil.copytree(PACKAGE_DIR / "health", root / "health")
    # Tests run at any hour of the day: the tier plans' quiet hours would defer a welcome
    # e-mail started at 05:00 New York time. Quiet hours have their own tests (plan
    # "quiet" below), so the copies used elsewhere have none; the send hour stays.
    # A completed journey starts the post-onboarding plays, abandoned on the finished
    # test's task queue: on the shared time-skipping server its pending task would hold
    # the clock for every later test. The copies hand over to nothing;
    # tests/workflows/test_customer_year.py runs the plays and the hand-over (plan
    # "handover" below).
    for plan in (root / "onboarding").glob("*.yaml"):
        with plan.open("a", encoding="utf-8") as f:
            f.write("\nsend_window: {send_hour: 10, quiet_start: 0, quiet_end: 0}\n")
            f.write("then_year_plays: false\n")
    for playbook in PACKAGE_DIR.glob("*.yaml"):  # dunning, churn, winback, renewal ...
        shutil.copy(playbook, root / playbook.name)
    for plan in (FIXTURES / "playbooks").glob("*.yaml"):
        shutil.copy(plan, root / "onboarding" / plan.name)
        if plan.stem != "handover":
            with (root / "onboarding" / plan.name).open("a", encoding="utf-8") as f:
                f.write("\nthen_year_plays: false\n")
    old = os.environ.get("CSHUB_PLAYBOOKS_DIR")
    os.environ["CSHUB_PLAYBOOKS_DIR"] = str(root)
    yield root
    if old is None:
        os.environ.pop("CSHUB_PLAYBOOKS_DIR", None)
    else:
        os.environ["CSHUB_PLAYBOOKS_DIR"] = old


@pytest.fixture(scope="session", autouse=True)
def data_dir_of_its_own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never read or write a developer's `.cshub` (nor the settings of a
    `cshub dev` running there: its dev-runtime.json), via CSHUB_DATA_DIR."""
    path = tmp_path_factory.mktemp("cshub-data")
    old = os.environ.get("CSHUB_DATA_DIR")
    os.environ["CSHUB_DATA_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("CSHUB_DATA_DIR", None)
    else:
        os.environ["CSHUB_DATA_DIR"] = old


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[SandboxHandle]:
    handle = await start_sandbox(http_port=0, smtp_port=0)
    yield handle
    await handle.stop()


@pytest.fixture
async def clean_sandbox(sandbox: SandboxHandle) -> SandboxHandle:
    async with httpx.AsyncClient() as http:
        (await http.post(f"{sandbox.http_url}/_sandbox/reset")).raise_for_status()
    return sandbox


@pytest.fixture(scope="session")
def hub_settings(sandbox: SandboxHandle) -> Settings:
    return Settings(
        hubspot_base_url=sandbox.http_url,
        zendesk_base_netloc=sandbox.http_url.removeprefix("http://"),
        zendesk_scheme="http",
        slack_base_url=f"{sandbox.http_url}/api/",
        stripe_base_url=sandbox.http_url,
        smtp_host=sandbox.smtp_host,
        smtp_port=sandbox.smtp_port,
    )


async def fresh_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A new time-skipping test server (start-up about a second)."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(temporal_test_server()),
    )
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    async for env in fresh_time_skipping_env():
        yield env


@pytest.fixture(scope="module")
async def module_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the module's own: for tests that move the clock far
    (to a weekday, a quarter) or leave long-lived workflows, so no other module inherits
    that clock."""
    async for env in fresh_time_skipping_env():
        yield env


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(temporal_cli()),
        ui=False,
        dev_server_log_level="error",
        # Suggest continue-as-new early so journeys exercise carrying their state over.
        dev_server_extra_args=[
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=60",
        ],
    )
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()


@asynccontextmanager
async def running_worker(
    env: WorkflowEnvironment,
    settings: Settings,
    task_queue: str | None = None,
    client: Client | None = None,
    actions: ActionStore | None = None,
    history: RiskHistory | None = None,
) -> AsyncIterator[Worker]:
    """A worker with the real activities and connectors on its own task queue.
    ``client``: instead of the environment's (e.g. one on a runtime with metrics).
    ``actions``: record side effects in this action store (default: none);
    ``history``: the churn-risk model's history (default: none)."""
    queue = task_queue or f"test-{uuid.uuid4().hex[:10]}"
    s = settings.model_copy(
        update={"temporal_task_queue": queue, "worker_max_concurrent_activities": 16}
    )
    with ThreadPoolExecutor(max_workers=16) as pool:
        worker = create_worker(
            client or env.client,
            s,
            build_connectors(s),
            executor=pool,
            actions=actions,
            history=history,
        )
        async with worker:
            yield worker


async def eventually(check: Callable[[], Awaitable[Any]], within_s: float = 20) -> Any:
    """``check()``'s result once it stops raising (an assertion not yet true, a workflow
    not yet queryable); its last error after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await check()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def outbox(sandbox: SandboxHandle) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        resp = await http.get(f"{sandbox.http_url}/api/outbox")
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result


def emails_for(box: dict[str, Any], customer_id: str) -> list[dict[str, Any]]:
    return [e for e in box["emails"] if e["headers"].get("X-Cshub-Customer-Id") == customer_id]


async def forget_workflows(client: Client, *workflow_ids: str) -> None:
    """Make ``workflow_ids`` startable again on the shared dev server: a test that starts
    a journey by webhook is otherwise answered "has already completed" when another test
    file (same server, same pytest process) ran that customer's journey to its end first.
    A running one is terminated; a completed one gets a terminated run on top (a task
    queue nobody polls), which the hub's ALLOW_DUPLICATE_FAILED_ONLY starts may replace."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.common import WorkflowIDReusePolicy
    from temporalio.service import RPCError, RPCStatusCode

    for wid in workflow_ids:
        handle = client.get_workflow_handle(wid)
        try:
            desc = await handle.describe()
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                continue
            raise
        if desc.status is WorkflowExecutionStatus.RUNNING:
            await handle.terminate("test isolation")
        elif desc.status is WorkflowExecutionStatus.COMPLETED:
            placeholder = await client.start_workflow(
                desc.workflow_type,
                id=wid,
                task_queue=f"test-isolation-{uuid.uuid4().hex[:8]}",
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
            await placeholder.terminate("test isolation")
