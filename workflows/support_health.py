"""Copy a customer's support figures to the CRM from the support workflows.

``TicketSlaWorkflow`` (a ticket opens, a ticket is solved) and ``CsatSurveyWorkflow`` (an
answer is recorded) call :func:`refresh_support_health` so the health score's support
inputs (``cshub_critical_tickets_open``, ``cshub_csat_percent``) and the support load
people read follow the tickets. Best effort: a refresh that fails is logged and
forgotten (the next ticket event refreshes again), and its retries stop after
:data:`REFRESH_TIMEOUT`, so it can neither fail nor hold up the workflow that asked.

Workflows that ran before this existed replay without it: callers check
``workflow.patched(PATCH)`` first (this module does, in :func:`refresh_support_health`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.models import CustomerRef
    from activities.support import SupportActivities
    from workflows.common import LOOKUP_RETRY

PATCH = "support-health-inputs"
REFRESH_TIMEOUT = timedelta(minutes=10)
"""Retries (Zendesk or CRM down, rate limits) stop after this: the figures wait for the
next refresh."""


async def refresh_support_health(customer_id: str | None, why: str) -> bool:
    """Run ``refresh_support_health_inputs`` for the customer; False when skipped (no
    customer, or a history from before the patch) or failed (logged as a warning)."""
    if not customer_id or not workflow.patched(PATCH):
        return False
    try:
        await workflow.execute_activity_method(
            SupportActivities.refresh_support_health_inputs,
            CustomerRef(customer_id=customer_id),
            start_to_close_timeout=timedelta(minutes=2),
            schedule_to_close_timeout=REFRESH_TIMEOUT,
            retry_policy=LOOKUP_RETRY,
            summary=f"copy customer {customer_id}'s ticket counts and CSAT to the CRM ({why})",
        )
    except ActivityError as err:
        cause = err.cause
        workflow.logger.warning(
            "support figures of customer %s not refreshed (%s): %s",
            customer_id,
            why,
            cause.message if isinstance(cause, ApplicationError) else str(cause or err),
        )
        return False
    return True


class BackgroundRefreshes:
    """Refreshes that run alongside the workflow (an SLA timer must not wait for them);
    :meth:`settled` waits for those still running (before the workflow ends or continues
    as new, so none is abandoned)."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[bool]] = []

    def start(self, customer_id: str | None, why: str) -> None:
        if not customer_id or not workflow.patched(PATCH):
            return
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(asyncio.create_task(refresh_support_health(customer_id, why)))

    async def settled(self) -> None:
        while self._tasks:
            await self._tasks.pop(0)
