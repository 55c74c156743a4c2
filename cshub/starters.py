"""Client-side helpers that start or steer workflows with the house conventions:
business-key workflow ids, one running journey per customer, readable summaries."""

from __future__ import annotations

import contextlib

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from domain.onboarding import OnboardingInput, OnboardingSummary, onboarding_workflow_id
from workflows.onboarding import OnboardingWorkflow


async def start_onboarding(
    client: Client, task_queue: str, inp: OnboardingInput
) -> WorkflowHandle[OnboardingWorkflow, OnboardingSummary]:
    """Start the customer's onboarding, or join the journey already running.

    A completed journey is not started again by accident (a redelivered event days
    later); a failed, cancelled or terminated one may be started afresh.
    """
    tier = inp.tier.value if inp.tier else "tier from CRM"
    return await client.start_workflow(
        OnboardingWorkflow.run,
        inp,
        id=onboarding_workflow_id(inp.customer_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        static_summary=f"Onboarding · customer {inp.customer_id} · {tier}",
    )


async def start_onboarding_told(client: Client, task_queue: str, inp: OnboardingInput) -> str:
    """:func:`start_onboarding`, saying what happened: a journey started, or the running
    one joined, in which case a ``tier`` or ``plan`` given is ignored (the journey keeps
    the plan it started with) and the answer says so."""
    workflow_id = onboarding_workflow_id(inp.customer_id)
    running = False
    with contextlib.suppress(RPCError):
        desc = await client.get_workflow_handle(workflow_id).describe()
        running = desc.status is WorkflowExecutionStatus.RUNNING
    handle = await start_onboarding(client, task_queue, inp)
    if not running:
        return f"started {handle.id} (run {handle.result_run_id})"
    told = f"joined the running journey {handle.id} (run {handle.result_run_id})"
    given = [f"--{n} {v}" for n, v in (("tier", inp.tier), ("plan", inp.plan)) if v]
    if given:
        following = "the plan it started with"
        with contextlib.suppress(Exception):  # not started yet: no plan to name
            progress = await handle.query(OnboardingWorkflow.progress)
            following = f"the {progress.plan} plan ({progress.tier.value}) it started with"
        told += f"; ignored {' and '.join(given)}: it follows {following}"
    return told
