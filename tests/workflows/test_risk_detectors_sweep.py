"""A warning sign raised by the risk detectors reaches the customer's churn-prevention
campaign once per episode, end to end: the sweep on the dev server reads the company from
the HubSpot emulator, the campaign answers with the CSM task of the playbook quoting what
the hub saw, and the sign repeated by later sweeps is not announced again until it has
cleared and come back."""

from __future__ import annotations

import asyncio

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from domain.health_sweep import HealthSweepInput, SweepProgress
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox, running_worker
from tests.workflows.campaign_helpers import stop, task_subjects
from wiring.connectors import build_connectors
from workflows.churn import ChurnPreventionWorkflow
from workflows.health_sweep import HealthSweepWorkflow

CUSTOMER = "1004"
SPIKE_TASK = "Personal outreach: support spike"


async def sweep(env: WorkflowEnvironment, queue: str, workflow_id: str) -> SweepProgress:
    handle = await env.client.start_workflow(
        HealthSweepWorkflow.run,
        HealthSweepInput(max_calls_per_10s=50_000),
        id=workflow_id,
        task_queue=queue,
    )
    return await handle.result()


async def test_a_support_spike_reaches_the_churn_campaign_once_per_episode(
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    env = dev_server_env
    crm = build_connectors(hub_settings).crm

    async def tickets(last_30: int, prev_30: int) -> None:
        props = {"cshub_tickets_30d": str(last_30), "cshub_tickets_prev_30d": str(prev_30)}
        await asyncio.to_thread(crm.update_company, CUSTOMER, props)

    churn = env.client.get_workflow_handle(f"churn-{CUSTOMER}")
    await stop(churn)  # a campaign an earlier test left on the shared server
    try:
        async with running_worker(env, hub_settings) as worker:
            q = worker.task_queue
            await tickets(7, 2)
            first = await sweep(env, q, "risk-sweep-1")
            assert first.counts.risks.get("support_spike") == 1

            async def spike_tasks() -> list[str]:
                box = await outbox(clean_sandbox)
                found = [s for s in task_subjects(box, CUSTOMER) if s == SPIKE_TASK]
                assert found
                return found

            assert len(await eventually(spike_tasks)) == 1
            box = await outbox(clean_sandbox)
            body = next(
                t["properties"]["hs_task_body"]
                for t in box["crm_tasks"]
                if t["properties"]["hs_task_subject"] == SPIKE_TASK
            )
            assert (
                "What the hub saw: support spike: 7 tickets in the last 30 days against 2" in body
            )
            progress = await churn.query(ChurnPreventionWorkflow.progress)
            assert "support_spike" in [f.value for f in progress.risk_factors]

            # Still spiking the next day: the same episode, nothing announced.
            again = await sweep(env, q, "risk-sweep-2")
            assert again.counts.risks.get("support_spike") is None

            # It calms down (cleared), then spikes again: a new episode, told once.
            await tickets(2, 2)
            calm = await sweep(env, q, "risk-sweep-3")
            assert calm.counts.risks == {}
            await tickets(9, 3)
            back = await sweep(env, q, "risk-sweep-4")
            assert back.counts.risks.get("support_spike") == 1

            async def told() -> list[str]:
                st = await churn.query(ChurnPreventionWorkflow.progress)
                signs = [a.summary for a in st.actions if a.step == "risk_signal"]
                assert signs
                return signs

            signs = await eventually(told)
            assert len(signs) == 1
            assert "support spike" in signs[0] and "9 tickets" in signs[0]
            desc = await churn.describe()
            assert desc.status is WorkflowExecutionStatus.RUNNING

            # What `cshub health explain` shows: the sign and since when.
            from activities.health_explain import explain_customer

            text = await asyncio.to_thread(explain_customer, crm, CUSTOMER)
            assert "Risk detectors (detectors v3):" in text
            line = next(x for x in text.splitlines() if x.strip().startswith("support spike"))
            assert "RAISED since" in line and "9 tickets" in line
    finally:
        await stop(churn)
