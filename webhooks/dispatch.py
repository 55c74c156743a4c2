"""Hand an event to Temporal: an idempotent start or a signal-with-start.

Only a positive answer from the Temporal server counts as accepted; an unreachable or
overloaded server is reported as UNAVAILABLE so the sender is told to retry (503).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult
from webhooks.routing import Route

RPC_TIMEOUT = timedelta(seconds=5)
_TRANSIENT = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.ABORTED,
    RPCStatusCode.INTERNAL,
    RPCStatusCode.UNKNOWN,
    RPCStatusCode.CANCELLED,
}


async def dispatch(
    client: Client, task_queue: str, route: Route, event: CustomerEvent
) -> DeliveryResult:
    key = route.key(event)
    assert key is not None
    workflow_id = route.workflow_id(key)

    def result(outcome: DeliveryOutcome, detail: str | None = None) -> DeliveryResult:
        return event_result(event, outcome, detail, workflow_id)

    not_for_it = route.applies(event) if route.applies else None
    if not_for_it:
        return result(DeliveryOutcome.IGNORED, not_for_it)
    try:
        signal_args = [route.signal_arg(event)] if route.signal and route.signal_arg else []
        start_input = route.start_input(event) if route.start_input else None
    except ValueError as err:  # the payload lacks what the workflow needs
        return result(DeliveryOutcome.INVALID, str(err))
    try:
        if start_input is None:
            # Signal-only route: e.g. a paid invoice only matters to a running dunning.
            assert route.signal is not None
            handle = client.get_workflow_handle(workflow_id)
            await handle.signal(route.signal, *signal_args, rpc_timeout=RPC_TIMEOUT)
        else:
            await client.start_workflow(
                route.workflow,
                start_input,
                id=workflow_id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # A journey that completed is not restarted by a late or repeated event,
                # unless the process recurs (a new dunning after the last was paid).
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE
                if route.recurring
                else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                start_signal=route.signal,
                start_signal_args=signal_args,
                static_summary=f"{route.workflow} · {workflow_id} "
                f"(started by {event.source.value} event {event.type})",
                rpc_timeout=RPC_TIMEOUT,
            )
    except WorkflowAlreadyStartedError:
        return result(DeliveryOutcome.IGNORED, f"{workflow_id} has already completed")
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return result(DeliveryOutcome.IGNORED, f"no running {workflow_id} to signal")
        if err.status in _TRANSIENT:
            return result(DeliveryOutcome.UNAVAILABLE, f"temporal unavailable: {err.message}")
        if err.status is RPCStatusCode.INVALID_ARGUMENT:  # e.g. an id Temporal refuses
            return result(DeliveryOutcome.INVALID, f"temporal refused it: {err.message}")
        raise
    except RuntimeError as err:  # a lazy client that cannot connect
        return result(DeliveryOutcome.UNAVAILABLE, f"temporal unavailable: {err}")
    action = f"signal {route.signal}" if route.signal else "start"
    if route.parks:
        parked = await _parked_reason(client, workflow_id)
        if parked:
            return result(DeliveryOutcome.PARKED, f"{action} {route.workflow}: {parked}")
    return result(DeliveryOutcome.ACCEPTED, f"{action} {route.workflow}")


def input_problem(route: Route, event: CustomerEvent) -> str | None:
    """Why the event cannot become the workflow's input or signal (a payload that lacks
    what it needs), or None. Pure: the API refuses such a delivery before storing it."""
    if route.applies and route.applies(event):
        return None  # ignored when forwarded, not invalid
    try:
        if route.signal and route.signal_arg:
            route.signal_arg(event)
        if route.start_input:
            route.start_input(event)
    except ValueError as err:
        return str(err)
    return None


PARKED_MEMO = "cshub_parked"


async def _parked_reason(client: Client, workflow_id: str) -> str | None:
    """Why the running workflow is parked (its memo), or None: not parked, or unknown."""
    try:
        desc = await client.get_workflow_handle(workflow_id).describe(rpc_timeout=RPC_TIMEOUT)
        reason = await desc.memo_value(PARKED_MEMO, default=None)
    except Exception:  # the event is accepted either way: this only names the outcome
        return None
    return str(reason) if reason else None


def event_result(
    event: CustomerEvent,
    outcome: DeliveryOutcome,
    detail: str | None = None,
    workflow_id: str | None = None,
) -> DeliveryResult:
    """What became of ``event`` (for the sender's answer and the ledger)."""
    return DeliveryResult(
        outcome=outcome,
        event_id=event.event_id,
        type=event.type,
        customer_id=event.customer_id,
        workflow_id=workflow_id,
        detail=detail,
    )
