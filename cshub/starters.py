"""Client-side helpers that start or steer workflows with the house conventions:
business-key workflow ids, one running journey per customer, readable summaries."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from domain.onboarding import OnboardingInput, OnboardingSummary
from workflows.onboarding import OnboardingWorkflow, onboarding_workflow_id


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
