"""A worker stopped while a blocking SDK call is in flight: the activity is cancelled
inside the HubSpot call, and the next worker finishes the step. The cancellation must not
be mistaken for a HubSpot failure (which would end the step as permanently failed)."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.crm import CrmActivities
from activities.models import ActionResult, CsmTaskRequest
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox
from wiring.connectors import build_connectors


@workflow.defn(name="CreateOneTask")
class CreateOneTask:
    @workflow.run
    async def run(self, req: CsmTaskRequest) -> ActionResult:
        return await workflow.execute_activity_method(
            CrmActivities.create_csm_task,
            req,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200)),
        )


async def test_a_worker_stopped_mid_call_leaves_the_step_to_the_next_one(
    dev_server_env: WorkflowEnvironment, hub_settings: Settings, clean_sandbox: SandboxHandle
) -> None:
    queue = f"shutdown-{uuid.uuid4().hex[:8]}"
    key = f"shutdown-test/{queue}"
    crm = CrmActivities(build_connectors(hub_settings).crm)
    async with httpx.AsyncClient(base_url=clean_sandbox.http_url) as http:
        # The idempotency search hangs long enough for the worker to be stopped inside it.
        fault = {"system": "hubspot", "delay_s": 3, "count": 1, "path_contains": "/search"}
        (await http.post("/_sandbox/faults", json=fault)).raise_for_status()

        def worker(pool: ThreadPoolExecutor) -> Worker:
            return Worker(
                dev_server_env.client,
                task_queue=queue,
                workflows=[CreateOneTask],
                activities=[crm.create_csm_task],
                activity_executor=pool,
                workflow_runner=UnsandboxedWorkflowRunner(),  # a test-only workflow
            )

        with ThreadPoolExecutor(max_workers=4) as pool:
            async with worker(pool):
                handle = await dev_server_env.client.start_workflow(
                    CreateOneTask.run,
                    CsmTaskRequest(
                        customer_id="1001",
                        subject="Call after the restart",
                        body="created exactly once",
                        due_at=datetime(2030, 1, 1, tzinfo=UTC),
                        idempotency_key=key,
                    ),
                    id=f"shutdown-{queue}",
                    task_queue=queue,
                )
                # The emulator logs a call once answered: the company look-up comes
                # just before the (hanging) search.
                deadline = time.monotonic() + 10
                while not [
                    r
                    for r in (await http.get("/api/requests")).json()
                    if r["system"] == "hubspot" and r["path"].endswith("/companies/1001")
                ]:
                    assert time.monotonic() < deadline, "the activity never reached HubSpot"
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)
            # Worker stopped (graceful timeout 0): the activity was cancelled mid-call.
            async with worker(pool):
                result = await asyncio.wait_for(handle.result(), timeout=30)

    assert result.created is True
    tasks = [
        t
        for t in (await outbox(clean_sandbox))["crm_tasks"]
        if t["properties"].get("cshub_idempotency_key") == key
    ]
    assert len(tasks) == 1
