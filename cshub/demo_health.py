"""`cshub dev`'s health demo: give the demo companies health inputs, apply the hub's
schedules and run one health sweep, so the UI, the inbox and `cshub health explain`
have something to show from the first minute."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from connectors.base import Crm
from domain.health_sweep import HEALTH_SWEEP_WORKFLOW_ID, HealthSweepInput


def _touched(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).date().isoformat()


def demo_inputs() -> dict[str, dict[str, str]]:
    """Per demo company: what the product, Zendesk, the surveys and billing would have
    written. 1003 is near its seat limit, 1005 slips into At risk, 1006 is healthy and
    busy (an upgrade opportunity), 1008 is Critical (churn prevention starts)."""
    return {
        "1003": {  # starter, seed003: logins fine, 9 of 10 seats in use
            "cshub_login_days_30d": "14",
            "cshub_active_users": "9",
            "cshub_licensed_seats": "10",
            "cshub_features_adopted": "7",
            "cshub_features_available": "15",
            "cshub_nps_last_score": "8",
            "cshub_csat_percent": "92",
            "cshub_payment_status": "current",
        },
        "1005": {  # professional, seed001: usage fading, no CSM contact for 70 days
            "cshub_active_users": "21",
            "cshub_licensed_seats": "40",
            "cshub_features_adopted": "9",
            "cshub_features_available": "25",
            "cshub_workflow_runs": "5000",
            "cshub_workflow_limit": "10000",
            "cshub_nps_last_score": "6",
            "cshub_critical_tickets_open": "1",
            "cshub_health_engagement": "fair",
            "cshub_health_integration": "good",
            "notes_last_contacted": _touched(70),
        },
        "1006": {  # professional, seed001: everything going well, near its limits
            "cshub_active_users": "47",
            "cshub_licensed_seats": "50",
            "cshub_features_adopted": "21",
            "cshub_features_available": "25",
            "cshub_workflow_runs": "8900",
            "cshub_workflow_limit": "10000",
            "cshub_days_to_first_value": "21",
            "cshub_roi_percent": "240",
            "cshub_nps_last_score": "10",
            "cshub_critical_tickets_open": "0",
            "cshub_health_engagement": "excellent",
            "cshub_health_integration": "excellent",
            "cshub_health_upgrade_readiness": "excellent",
            "notes_last_contacted": _touched(6),
        },
        "1008": {  # enterprise, seed001: few users, unhappy, tickets piling up
            "cshub_active_users": "60",
            "cshub_licensed_seats": "400",
            "cshub_features_adopted": "6",
            "cshub_features_available": "40",
            "cshub_workflow_runs": "9000",
            "cshub_workflow_limit": "100000",
            "cshub_nps_last_score": "3",
            "cshub_critical_tickets_open": "3",
            "cshub_health_engagement": "poor",
            "cshub_health_performance": "fair",
            "notes_last_contacted": _touched(100),
        },
    }


async def seed_demo_health(client: Client, task_queue: str, crm: Crm) -> str | None:
    """Write the demo inputs where a company has none yet and start the demo sweep if it
    never ran; its workflow id, or None when there was nothing to do (a restart: the
    sandbox kept the CRM, and a second sweep of the same data would only repeat itself)."""
    inputs = demo_inputs()
    found = await asyncio.to_thread(
        crm.batch_read_companies, list(inputs), sorted({k for v in inputs.values() for k in v})
    )
    have = {c.id for c in found if any(c.properties.get(k) for k in inputs[c.id])}
    for company_id, props in inputs.items():
        if company_id not in have:
            await asyncio.to_thread(crm.update_company, company_id, props)
    if have == set(inputs) and await workflow_exists(client, HEALTH_SWEEP_WORKFLOW_ID):
        return None
    handle = await client.start_workflow(
        "HealthSweepWorkflow",
        HealthSweepInput(),
        id=HEALTH_SWEEP_WORKFLOW_ID,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        static_summary="health sweep (demo, at start-up)",
    )
    return handle.id


async def workflow_exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
