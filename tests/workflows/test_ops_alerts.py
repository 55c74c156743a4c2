"""Failure visibility: a step that fails for good, or a workflow that fails, is told to
ops in Slack (#cs-ops) once, with the workflow id, the customer and the error."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from domain.onboarding import OnboardingInput
from domain.tiers import Tier
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from workflows.onboarding import OnboardingWorkflow

OPS = "C0OPS"


def ops_messages(box: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in box["slack_messages"] if m["channel"] == OPS]


async def add_fault(sandbox: SandboxHandle, **fault: object) -> None:
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{sandbox.http_url}/_sandbox/faults", json=fault)
        resp.raise_for_status()


async def test_failed_workflow_alerts_ops_once_naming_workflow_customer_and_error(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    workflow_id = f"onboarding-9999-{uuid.uuid4().hex[:6]}"
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await time_skipping_env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="9999", tier=Tier.STARTER),
            id=workflow_id,
            task_queue=worker.task_queue,
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()

    alerts = ops_messages(await outbox(clean_sandbox))
    assert len(alerts) == 1, alerts  # the failed activity is named in the one alert
    text = alerts[0]["text"]
    assert text.startswith(f":warning: Workflow failed: {workflow_id} (customer 9999): ")
    assert "company 9999" in text and "404" in text
    body = alerts[0]["blocks"][1]["text"]["text"]
    assert "OnboardingWorkflow" in body and "has stopped" in body
    assert "`get_customer_profile` (permanent error, not retried)" in body


async def test_step_failing_for_good_alerts_ops_once_and_the_journey_carries_on(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    # HubSpot refuses the day-1 check-in task for good (400: not retried); the journey
    # records the step as failed and goes on with the next task.
    await add_fault(clean_sandbox, system="hubspot", status=400, count=1, path_contains="tasks")
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await time_skipping_env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="1005", tier=Tier.PROFESSIONAL),
            id=f"onboarding-1005-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        await time_skipping_env.sleep(timedelta(days=2))
        progress = await handle.query(OnboardingWorkflow.progress)
        await handle.terminate("test done")

    failed = [a for a in progress.actions if a.outcome == "failed"]
    assert [a.channel for a in failed] == ["crm_task"], progress.actions
    box = await outbox(clean_sandbox)
    assert len(box["crm_tasks"]) >= 1  # the next task went through
    alerts = ops_messages(box)
    assert len(alerts) == 1, alerts
    text = alerts[0]["text"]
    assert text.startswith(f":warning: Step failed after its retries: {handle.id} (customer 1005)")
    assert "400" in text
    assert (
        "`create_csm_task` (permanent error, not retried)" in alerts[0]["blocks"][1]["text"]["text"]
    )


async def test_ops_alert_waits_out_a_slack_outage_and_posts_once(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    # Slack answers 503 to the first three posts (the onboarding_started alert is not
    # sent: the customer is unknown; the ops alert itself meets the outage).
    await add_fault(clean_sandbox, system="slack", status=503, count=3)
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await time_skipping_env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="9998", tier=Tier.STARTER),
            id=f"onboarding-9998-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    alerts = ops_messages(await outbox(clean_sandbox))
    assert len(alerts) == 1, alerts
    assert "customer 9998" in alerts[0]["text"]
