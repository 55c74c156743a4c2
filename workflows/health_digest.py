"""HealthDigestWorkflow: the weekly Slack digest of at-risk and critical accounts, one
message per CSM (started by a Temporal Schedule, or by hand with ``{}`` or
``{"only_owner_id": "501"}``).

One activity does the work (``post_health_digests``): it reads what the health sweep
last wrote on every CRM company and posts each CSM's digest to the alerts channel. Its
idempotency key is ``{workflow id}/{start date}``, and each CSM's message uses
``{key}/{owner id}``: a retried activity, or the workflow retried on the same day,
never posts a CSM's digest twice. The result (ids and counts only) is the workflow's.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.health_digest import (
        HealthDigestActivities,
        HealthDigestInput,
        HealthDigestRequest,
        HealthDigestResult,
    )
    from workflows.common import SIDE_EFFECT_RETRY

__all__ = ["HealthDigestInput", "HealthDigestResult", "HealthDigestWorkflow", "digest_key"]


def digest_key(workflow_id: str, start_date: str) -> str:
    return f"{workflow_id}/{start_date}"


@workflow.defn(name="HealthDigestWorkflow")
class HealthDigestWorkflow:
    @workflow.run
    async def run(self, inp: HealthDigestInput) -> HealthDigestResult:
        info = workflow.info()
        key = digest_key(info.workflow_id, info.workflow_start_time.date().isoformat())
        who = f"CSM {inp.only_owner_id}" if inp.only_owner_id else "every CSM"
        workflow.set_current_details(f"posting the health digest to {who} (key `{key}`)")
        result = await workflow.execute_activity_method(
            HealthDigestActivities.post_health_digests,
            HealthDigestRequest(
                idempotency_key=key,
                only_owner_id=inp.only_owner_id,
                workflow_id=info.workflow_id,
            ),
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=2),
            schedule_to_close_timeout=timedelta(hours=6),
            retry_policy=SIDE_EFFECT_RETRY,
            summary=f"read the portfolio's health from the CRM, post {who}'s at-risk digest",
        )
        workflow.set_current_details(
            f"{result.posted} digest(s) posted, {len(result.posts) - result.posted} already "
            f"there; {result.needing_attention} account(s) at risk or critical of "
            f"{result.companies}, {result.unowned} without an owner"
        )
        return result
