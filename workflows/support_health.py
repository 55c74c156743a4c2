"""Copy a customer's support figures to the CRM from the support workflows.

``TicketSlaWorkflow`` (a ticket opens, a ticket is solved) and ``CsatSurveyWorkflow`` (an
answer is recorded) call :func:`refresh_support_health` so the health score's support
inputs (``cshub_critical_tickets_open``, ``cshub_csat_percent``) and the support load
people read follow the tickets. The figures are counted with Zendesk's search, whose
index trails ticket changes by minutes: each refresh first waits :data:`SEARCH_INDEX_LAG`
(a durable timer), so the ticket that just opened, was solved or got its CSAT tag is
counted as it now is. Best effort: a refresh that fails is logged and forgotten (the
next ticket event refreshes again), and its retries stop after :data:`REFRESH_TIMEOUT`,
so it cannot fail the workflow that asked (which waits for it at most
``SEARCH_INDEX_LAG + REFRESH_TIMEOUT`` before it ends).

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
SEARCH_INDEX_LAG = timedelta(minutes=5)
"""Zendesk's search index trails ticket changes by minutes: a count taken at once would
still see a ticket solved a moment ago as unsolved (or miss one just opened or tagged)."""
REFRESH_TIMEOUT = timedelta(minutes=10)
"""Retries (Zendesk or CRM down, rate limits) stop after this: the figures wait for the
next refresh."""


async def refresh_support_health(customer_id: str | None, why: str) -> bool:
    """After :data:`SEARCH_INDEX_LAG`, run ``refresh_support_health_inputs`` for the
    customer; False when skipped (no customer, or a history from before the patch) or
    failed (logged as a warning)."""
    if not customer_id or not workflow.patched(PATCH):
        return False
    await workflow.sleep(SEARCH_INDEX_LAG, summary=f"let Zendesk's search index catch up ({why})")
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
    """Refreshes that run alongside the workflow (an SLA timer must not wait for them,
    nor for :data:`SEARCH_INDEX_LAG`); the workflow waits until they are :attr:`idle`
    (or :meth:`settled`) before it ends or continues as new, so none is abandoned."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[bool]] = []

    def start(self, customer_id: str | None, why: str) -> None:
        if not customer_id or not workflow.patched(PATCH):
            return
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(asyncio.create_task(refresh_support_health(customer_id, why)))

    @property
    def idle(self) -> bool:
        """No refresh waiting or running (a condition for ``workflow.wait_condition``)."""
        return all(t.done() for t in self._tasks)

    async def settled(self) -> None:
        while self._tasks:
            await self._tasks.pop(0)
