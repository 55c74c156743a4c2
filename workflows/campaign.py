"""Helpers shared by the dunning, churn-prevention and win-back workflows: load and
validate a playbook once, start a sibling workflow that must outlive its starter."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ValidationError

    from activities.playbooks import LoadPlaybookRequest, load_playbook_activity

M = TypeVar("M", bound=BaseModel)


def journey_key(started_at: datetime) -> str:
    """The part of every idempotency key that tells successive campaigns apart."""
    return f"{started_at:%Y%m%dT%H%M%S}"


async def load_plan(kind: str, model: type[M]) -> M:
    """``playbooks/<kind>.yaml`` validated with ``model``; kept for the workflow's life.
    An invalid file fails the workflow with every bad field named (fix it, start again)."""
    raw: dict[str, Any] = await workflow.execute_activity(
        load_playbook_activity,
        LoadPlaybookRequest(kind=kind),
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=RetryPolicy(maximum_attempts=3),
        summary=f"load playbook '{kind}'",
    )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise ApplicationError(
            f"playbooks/{kind}.yaml is invalid: {problems}",
            type="PlaybookError",
            non_retryable=True,
        ) from None


async def start_abandoned_child(
    workflow_type: str, arg: BaseModel, *, workflow_id: str, summary: str
) -> bool:
    """Start ``workflow_type`` as a child that lives on when this workflow ends
    (``ParentClosePolicy.ABANDON``). False when one with that id is already running."""
    try:
        await workflow.start_child_workflow(
            workflow_type,
            arg,
            id=workflow_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=summary,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def signal_other(workflow_id: str, signal: str, arg: BaseModel) -> str | None:
    """Signal another workflow by id; the failure message when it is gone (it closed in
    between), None when delivered."""
    try:
        await workflow.get_external_workflow_handle(workflow_id).signal(signal, arg)
    except FailureError as exc:
        return exc.message
    return None
