"""Failure visibility for every workflow type: a worker interceptor that alerts ops.

When an activity fails for good (its retry budget spent, or a permanent error) the
workflow sees an ``ActivityError``; when a workflow fails it raises out of its run
method. Either way ops get one Slack message (:mod:`activities.ops`) with the workflow
id, the customer and the error, whatever the workflow then does with the error.

How it stays deterministic and quiet:

- It is workflow code, so the alert is an activity the workflow schedules; its key is
  the workflow id, run id and activity id, so a retried alert posts once.
- Workflows that were running before this existed replay unchanged: everything is
  behind ``workflow.patched("ops-alerts")``, asked at the workflow's first activity.
- Alerts about activities are started, not awaited, so the workflow carries on at
  once; before the workflow completes, fails or continues as new it waits for them.
- A workflow failing because of an activity reports once: the workflow's alert names
  the activity (the activity's own alert waits until the workflow has had its chance to
  handle the error). A failing child workflow reports itself, its parent does not;
  cancellations are never reported (someone asked for them).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    CancelledError,
    ChildWorkflowError,
    FailureError,
    RetryState,
    is_cancelled_exception,
)
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

with workflow.unsafe.imports_passed_through():
    from domain.ops_alerts import (
        OPS_ALERT_PATCH,
        OpsAlert,
        OpsAlertKind,
        clip_error,
        ops_alert_key,
    )
    from domain.search_attributes import CUSTOMER_ID

ALERT_ACTIVITY = "alert_ops"
ALERT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(seconds=30)
)
"""Time-critical: at most 30 s between tries, so an alert reaches Slack within half a
minute of it coming back (``make chaos``)."""
ALERT_BUDGET = timedelta(days=1)
"""An alert waits out a Slack outage of up to a day; the workflow waits for it at its end."""

_GAVE_UP = {
    RetryState.NON_RETRYABLE_FAILURE: "permanent error, not retried",
    RetryState.MAXIMUM_ATTEMPTS_REACHED: "all attempts used",
    RetryState.TIMEOUT: "retry budget spent",
    RetryState.RETRY_POLICY_NOT_SET: "no retries",
}


class OpsAlertInterceptor(Interceptor):
    """Add to the worker's ``interceptors`` (``worker.create_worker`` does)."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _AlertingInbound


def error_text(err: BaseException) -> str:
    """The first real message: an ActivityError's own text only says "Activity task
    failed", and the causes below the first real one repeat it with transport detail."""
    for current in _chain(err):
        if isinstance(current, ActivityError | ChildWorkflowError):
            continue
        message = current.message if isinstance(current, FailureError) else str(current)
        if message:
            return clip_error(message)
    return type(err).__name__


class _Alerts:
    """One workflow run's alerts: which failures were reported, which are in flight."""

    def __init__(self) -> None:
        self.enabled: bool | None = None
        self.customer_id: str | None = None
        self.failing: FailureError | None = None
        self.pending: list[asyncio.Task[Any]] = []

    def is_enabled(self) -> bool:
        if self.enabled is None:
            self.enabled = workflow.patched(OPS_ALERT_PATCH)
        return self.enabled

    def _customer(self) -> str | None:
        found = workflow.info().typed_search_attributes.get(CUSTOMER_ID)
        return found or self.customer_id

    def _alert(self, kind: OpsAlertKind, what: str, error: str, **extra: Any) -> OpsAlert:
        info = workflow.info()
        return OpsAlert.model_construct(  # built in the sandbox: skip validation
            kind=kind,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            workflow_type=info.workflow_type,
            customer_id=self._customer(),
            activity=extra.get("activity"),
            gave_up=extra.get("gave_up"),
            error=error,
            idempotency_key=ops_alert_key(info.workflow_id, info.run_id, what),
        )

    def activity_failed(self, err: ActivityError) -> None:
        if is_cancelled_exception(err) or err.activity_type == ALERT_ACTIVITY:
            return
        self.pending.append(asyncio.create_task(self._report_activity(err)))

    async def _report_activity(self, err: ActivityError) -> None:
        # Conditions are checked once everything runnable has run: by then, a workflow
        # that fails because of this error has raised it out of its run method, and the
        # workflow's alert (which names the activity) is the only one.
        await workflow.wait_condition(lambda: True)
        if self.failing is not None and _in_chain(err, self.failing):
            return
        await _send(
            self._alert(
                "activity_failed",
                f"activity-{err.activity_id}",
                error_text(err),
                activity=err.activity_type,
                gave_up=_gave_up(err),
            )
        )

    async def workflow_failed(self, err: FailureError) -> None:
        self.failing = err
        await self.settle()
        if any(isinstance(e, ChildWorkflowError) for e in _chain(err)):
            return  # the child workflow reported its own failure
        failed_activity = next((e for e in _chain(err) if isinstance(e, ActivityError)), None)
        if failed_activity is not None and failed_activity.activity_type == ALERT_ACTIVITY:
            return
        await _send(
            self._alert(
                "workflow_failed",
                "workflow",
                error_text(err),
                activity=failed_activity.activity_type if failed_activity else None,
                gave_up=_gave_up(failed_activity) if failed_activity else None,
            )
        )

    async def settle(self) -> None:
        """Wait for the alerts still in flight (before the run ends)."""
        while self.pending:
            pending, self.pending = self.pending, []
            await asyncio.gather(*pending, return_exceptions=True)


async def send_ops_alert(alert: OpsAlert) -> None:
    """Post ``alert`` through the ``alert_ops`` activity (workflow code; never raises)."""
    await _send(alert)


async def _send(alert: OpsAlert) -> None:
    try:
        await workflow.execute_activity(
            ALERT_ACTIVITY,
            alert,
            start_to_close_timeout=timedelta(minutes=1),
            schedule_to_close_timeout=ALERT_BUDGET,
            retry_policy=ALERT_RETRY,
            summary=f"alert ops: {alert.kind} in {alert.workflow_id}",
        )
    except ActivityError as err:
        # Nothing left to tell: say it in the worker's log, never fail the workflow for it.
        workflow.logger.error(
            "ops alert %s could not be posted: %s", alert.idempotency_key, error_text(err)
        )


class _AlertingInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        self._alerts = _Alerts()
        super().init(_AlertingOutbound(outbound, self._alerts))

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        self._alerts.customer_id = _customer_of(input.args)
        try:
            result = await super().execute_workflow(input)
        except FailureError as err:
            if self._alerts.is_enabled() and not (
                isinstance(err, CancelledError) or is_cancelled_exception(err)
            ):
                await self._alerts.workflow_failed(err)
            raise
        except BaseException:  # continue-as-new, cancellation, a bug (task retried)
            if self._alerts.enabled:
                await self._alerts.settle()
            raise
        if self._alerts.enabled:
            await self._alerts.settle()
        return result


class _AlertingOutbound(WorkflowOutboundInterceptor):
    def __init__(self, next: WorkflowOutboundInterceptor, alerts: _Alerts) -> None:
        super().__init__(next)
        self._alerts = alerts

    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        handle = super().start_activity(input)
        if input.activity == ALERT_ACTIVITY or not self._alerts.is_enabled():
            return handle
        return _watched(handle, self._alerts)


def _watched(handle: workflow.ActivityHandle[Any], alerts: _Alerts) -> workflow.ActivityHandle[Any]:
    """``handle``'s result, reporting a final failure on the way (a task, like the handle:
    awaiting it and cancelling it behave the same)."""

    async def result() -> Any:
        try:
            return await handle
        except ActivityError as err:
            alerts.activity_failed(err)
            raise

    # Duck-typed as the handle: workflow code awaits or cancels it, nothing else.
    return cast(workflow.ActivityHandle[Any], asyncio.create_task(result()))


def _chain(err: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and len(found) < 20:
        found.append(current)
        current = current.__cause__
    return found


def _in_chain(err: BaseException, outer: BaseException) -> bool:
    return any(e is err for e in _chain(outer))


def _gave_up(err: ActivityError) -> str | None:
    return _GAVE_UP.get(err.retry_state) if err.retry_state is not None else None


def _customer_of(args: Any) -> str | None:
    first = args[0] if args else None
    found = (
        first.get("customer_id") if isinstance(first, dict) else getattr(first, "customer_id", None)
    )
    return str(found) if found else None
