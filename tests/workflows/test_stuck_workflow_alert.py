"""A workflow whose code raises (a bug) is not failed: its task is retried and the
workflow waits. Ops hear of it once in #cs-ops, however often the task is retried."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from runtime.settings import Settings
from runtime.stuck_workflows import alert_on_stuck_workflows
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox
from wiring.connectors import build_connectors


@workflow.defn(name="BuggyTestWorkflow")
class BuggyTestWorkflow:
    @workflow.run
    async def run(self, customer_id: str) -> None:
        raise KeyError(f"plan step for {customer_id}")  # not a Temporal failure: a bug


async def test_a_failing_workflow_task_alerts_ops_once(
    dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    chat = build_connectors(hub_settings).chat
    queue = f"stuck-{uuid.uuid4().hex[:8]}"
    workflow_id = f"buggy-{uuid.uuid4().hex[:6]}"
    with alert_on_stuck_workflows(chat, hub_settings.slack_ops_channel) as watch:
        async with Worker(
            dev_server_env.client,
            task_queue=queue,
            workflows=[BuggyTestWorkflow],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            handle = await dev_server_env.client.start_workflow(
                BuggyTestWorkflow.run, "1003", id=workflow_id, task_queue=queue
            )

            async def alerted() -> list[dict[str, object]]:
                box = await outbox(clean_sandbox)
                found = [m for m in box["slack_messages"] if m["channel"] == "C0OPS"]
                assert found
                return found

            alerts = await eventually(alerted)

            # The task keeps failing and being retried; the alert is not repeated.
            async def retried() -> None:
                described = await handle.describe()
                assert described.raw_description.pending_workflow_task.attempt >= 2

            await eventually(retried, within_s=40)
            await asyncio.sleep(0.5)
            assert len(await alerted()) == 1
            await handle.terminate("test done")

    text = str(alerts[0]["text"])
    assert text.startswith(f":warning: Workflow stuck: {workflow_id}")
    assert "KeyError" in text and "plan step for 1003" in text
    assert "Fix the code and deploy" in str(alerts[0]["blocks"])
    assert watch.posted == [f"ops/{workflow_id}/{handle.result_run_id}/workflow-task"]
