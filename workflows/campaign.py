"""Helpers shared by the campaign workflows (dunning, churn prevention, win-back, NPS):
their actions over the campaign's state, load and validate a playbook once, start a
sibling workflow that must outlive its starter."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ValidationError

    from activities.playbooks import LoadPlaybookRequest, load_playbook_activity
    from domain.campaigns import campaign_day
    from domain.journeys import ActionRecord
    from domain.send_window import SendWindow
    from workflows.common import CustomerActions
    from workflows.steering import Steering

M = TypeVar("M", bound=BaseModel)


class _Plan(Protocol):
    @property
    def send_window(self) -> SendWindow: ...


class CampaignState(Protocol):
    """What every campaign keeps: when it started, the customer's zone, its plan, and the
    record of its actions."""

    @property
    def started_at(self) -> datetime: ...
    @property
    def timezone(self) -> str: ...
    @property
    def plan(self) -> _Plan: ...
    @property
    def actions(self) -> list[ActionRecord]: ...


class _CustomerInput(Protocol):
    @property
    def customer_id(self) -> str: ...


S = TypeVar("S", bound=CampaignState)
In = TypeVar("In", bound=_CustomerInput)


class CampaignActions(Generic[S, In]):
    """Mixed into a campaign workflow: ``_require_state()`` once it has begun, ``_act``
    (its :class:`CustomerActions`, rebuilt when the journey key changes) and ``_day``
    (campaign day in the customer's zone). Pure helpers: no commands of their own."""

    NOT_STARTED: ClassVar[str] = "the campaign has not started yet"
    _state: S | None
    _actions: CustomerActions | None
    _input: In
    _steer: Steering

    def _require_state(self) -> S:
        if self._state is None:
            raise ApplicationError(self.NOT_STARTED, non_retryable=True)
        return self._state

    def _journey_key(self, st: S) -> str:
        """The part of the idempotency keys that tells this journey from earlier ones."""
        return journey_key(st.started_at)

    def _day_anchor(self, st: S) -> datetime:
        """Day 0 of the campaign."""
        return st.started_at

    def _day(self, at: datetime) -> int:
        st = self._require_state()
        return campaign_day(self._day_anchor(st), at, st.timezone)

    @property
    def _act(self) -> CustomerActions:
        st = self._require_state()
        key = self._journey_key(st)
        if self._actions is None or self._actions.journey_key != key:
            self._actions = CustomerActions(
                self._input.customer_id,
                key,
                st.actions,
                self._day,
                send_window=st.plan.send_window,
                timezone=st.timezone,
                steering=self._steer,
            )
        return self._actions


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
