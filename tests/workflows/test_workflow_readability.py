"""What ops read about running workflows says what is true: a paused renewal says
paused, a milestone reached late is reached (not also missed), a second onboarding start
says it joined the running journey and ignored its tier, a health outreach names the
company, the CSM and what it is doing and waits for."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.testing import WorkflowEnvironment

from cshub.starters import start_onboarding_told
from domain.onboarding import MilestoneReached, OnboardingInput
from domain.renewal import RenewalInput, RenewalStatus
from domain.steering import PauseRequest, ResumeRequest
from domain.tiers import Tier
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import eventually, running_worker
from tests.workflows.campaign_helpers import stop
from tests.workflows.test_contact_pressure import usage_outreach
from workflows.onboarding import OnboardingWorkflow
from workflows.renewal import RenewalWorkflow


async def details_of(handle: Any) -> str:
    meta = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return str(meta.current_details)


async def test_a_paused_renewal_says_paused(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    env = module_time_skipping_env
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            RenewalWorkflow.run,
            RenewalInput(
                customer_id="1003",
                renewal_date=(await env.get_current_time()).date() + timedelta(days=365),
            ),
            id=f"renewal-1003-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        try:

            async def status_is(expected: RenewalStatus) -> None:
                assert (await handle.query(RenewalWorkflow.progress)).status is expected

            await eventually(lambda: status_is(RenewalStatus.COUNTING_DOWN))
            await handle.signal(RenewalWorkflow.pause, PauseRequest(reason="QBR first"))
            await eventually(lambda: status_is(RenewalStatus.PAUSED))
            assert " · paused" in await details_of(handle)
            await handle.signal(RenewalWorkflow.resume, ResumeRequest())
            await eventually(lambda: status_is(RenewalStatus.COUNTING_DOWN))
        finally:
            await stop(handle)


async def test_a_milestone_reached_after_its_deadline_is_done_not_also_missed(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    env = module_time_skipping_env
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="1003", tier=Tier.STARTER),
            id=f"onboarding-1003-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        try:
            await env.sleep(timedelta(days=8))  # the day-7 deadline passes
            missed = await handle.query(OnboardingWorkflow.progress)
            assert missed.milestones_missed == ["first_production_workflow"]
            await handle.signal(
                OnboardingWorkflow.milestone_reached,
                MilestoneReached(milestone="first_production_workflow"),
            )

            async def reached() -> Any:
                p = await handle.query(OnboardingWorkflow.progress)
                assert "first_production_workflow" in p.milestones_done
                return p

            late = await eventually(reached)
        finally:
            await stop(handle)
    assert late.milestones_missed == []
    assert "first_production_workflow" not in late.milestones_pending
    assert any("reached (after its deadline)" in a.summary for a in late.actions)


async def test_a_second_start_says_it_joined_and_ignored_the_tier(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    env = module_time_skipping_env
    customer = "1005"  # professional
    async with running_worker(env, hub_settings) as worker:
        first = await start_onboarding_told(
            env.client, worker.task_queue, OnboardingInput(customer_id=customer)
        )
        handle = env.client.get_workflow_handle(f"onboarding-{customer}")
        try:
            assert first.startswith(f"started onboarding-{customer} (run "), first

            async def started() -> None:
                assert (await handle.query(OnboardingWorkflow.progress)).plan

            await eventually(started)
            again = await start_onboarding_told(
                env.client,
                worker.task_queue,
                OnboardingInput(customer_id=customer, tier=Tier.STARTER),
            )
            plain = await start_onboarding_told(
                env.client, worker.task_queue, OnboardingInput(customer_id=customer)
            )
        finally:
            await stop(handle)
    assert again.startswith(f"joined the running journey onboarding-{customer} (run "), again
    assert again.endswith(
        "; ignored --tier starter: it follows the professional plan (professional) it started with"
    ), again
    assert plain.startswith("joined the running journey") and "ignored" not in plain


async def test_health_outreach_details_name_company_csm_and_what_it_waits_for(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    from workflows.health_outreach import HealthOutreachWorkflow

    env = module_time_skipping_env
    sweep_at: datetime = await env.get_current_time()
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            HealthOutreachWorkflow.run,
            usage_outreach(sweep_at),
            id=f"health-outreach-1003-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        try:
            # Paused at once: it holds before the usage alert, the details say so.
            await handle.signal(HealthOutreachWorkflow.pause, PauseRequest(reason="CSM on it"))

            async def says_it() -> str:
                details = await details_of(handle)
                assert "Now: usage_limit" in details, details
                return details

            details = await eventually(says_it)
        finally:
            await stop(handle)
    who = "Northwind Analytics · starter · CSM priya.natarajan@cshub.example"
    assert details.startswith(who), details
    assert "Health 72 (Good)" in details
    assert "then the warning e-mail (it waits for the customer's send hours" in details
    assert "PAUSED since" in details and "(CSM on it)" in details
