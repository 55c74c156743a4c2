"""Outside failures seen from a journey: transient ones are retried until they succeed,
permanent ones are not retried and say what is wrong."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from domain.onboarding import OnboardingInput
from domain.tiers import Tier
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from workflows.onboarding import OnboardingWorkflow


async def requests_log(sandbox: SandboxHandle) -> list[dict[str, object]]:
    async with httpx.AsyncClient() as http:
        resp = await http.get(f"{sandbox.http_url}/api/requests")
        resp.raise_for_status()
        result: list[dict[str, object]] = resp.json()
        return result


async def test_rate_limited_crm_is_retried_after_retry_after_and_succeeds(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    async with httpx.AsyncClient() as http:
        fault = {"system": "hubspot", "status": 429, "count": 2, "retry_after": 1}
        (
            await http.post(f"{clean_sandbox.http_url}/_sandbox/faults", json=fault)
        ).raise_for_status()
        slack_down = {"system": "slack", "status": 503, "count": 1}
        (
            await http.post(f"{clean_sandbox.http_url}/_sandbox/faults", json=slack_down)
        ).raise_for_status()
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await time_skipping_env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="1005", tier=Tier.PROFESSIONAL),
            id=f"onboarding-429-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        await time_skipping_env.sleep(timedelta(hours=6))
        progress = await handle.query(OnboardingWorkflow.progress)
        await handle.terminate("test done")

    box = await outbox(clean_sandbox)
    log = await requests_log(clean_sandbox)
    assert [r["status"] for r in log if r["status"] == 429] == [429, 429]
    assert [r["status"] for r in log if r["status"] == 503] == [503]
    assert [e["template"] for e in box["emails"]] == ["welcome"]
    assert len(box["slack_messages"]) == 1  # onboarding_started, after the 503
    assert all(a.outcome == "done" for a in progress.actions if a.channel != "journey")


async def test_unknown_customer_fails_without_retry_and_names_the_company(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    from temporalio.client import WorkflowFailureError

    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await time_skipping_env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="9999", tier=Tier.STARTER),
            id=f"onboarding-404-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()

    # The journey cannot start for a customer the CRM does not know: it fails at once,
    # visibly, with the CRM's answer, instead of retrying or sending anything.
    activity_failure = failure.value.cause
    cause = getattr(activity_failure, "cause", None)  # the activity's ApplicationError
    assert "hubspot" in str(cause) and "company 9999" in str(cause) and "404" in str(cause)
    log = await requests_log(clean_sandbox)
    company_gets = [r for r in log if "/companies/9999" in str(r["path"])]
    assert [r["status"] for r in company_gets] == [404]  # not retried
    box = await outbox(clean_sandbox)
    assert box["emails"] == [] and box["crm_tasks"] == []
    # Nothing reaches the customer or the CSM; ops hear of it once (#cs-ops).
    assert [m["channel"] for m in box["slack_messages"]] == ["C0OPS"]
