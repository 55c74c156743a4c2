"""One way to wait in a customer workflow: quiet hours, send windows and the timer to the
next step, with the workflow's inbox handled and its history kept bounded meanwhile.

A :class:`Waiter` belongs to one workflow run and is given three things by it:

* ``pending()`` -- whether messages (signals) wait in the inbox;
* ``absorb()`` -- take them out of the inbox into the workflow's state, with no side
  effect and no await (counting product events, queueing a milestone);
* ``act()`` (optional) -- what the messages trigger (celebration e-mails, nudges); it
  may itself wait (an e-mail in quiet hours): such a nested wait only absorbs;
* ``continue_as_new()`` -- the workflow's own continue-as-new, which must wait for
  ``workflow.all_handlers_finished()``, absorb the inbox into the state it carries and
  call ``workflow.continue_as_new``.

:meth:`Waiter.until` starts **one** durable timer for the whole wait (a signal waking the
workflow does not cancel and re-arm it: a signal costs its own event and a workflow
task, nothing more), handles the inbox each time messages arrive, and continues as new
when Temporal suggests it or the run's history passes :data:`HISTORY_BUDGET` events
(well under Temporal's 10,240 warning and 51,200 limit). Messages are absorbed into the
state before the continue-as-new command is sent, so none is lost across runs; a
message that arrives while that command is in flight makes Temporal refuse it
(UNHANDLED_COMMAND) and the worker replays the run with it: the same path absorbs it.
Product events are aggregated at the ingress (``webhooks/aggregate.py``), so a journey
sees a few signals a day however busy the customer: that race stays rare.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow

WAIT_PATCH = "waits-handle-inbox"
"""``workflow.patched``: runs begun before it waited with a timer re-armed on every
signal, and held quiet-hours e-mails with signals left unhandled."""

HISTORY_BUDGET = 4_000
"""Events in one run before the workflow continues as new: Temporal suggests it near
4,096 and warns at 10,240; a small run also replays fast when the worker must replay it
(after an eviction, or when a continue-as-new is refused because signals arrived)."""


HARD_LIMIT = 9_000
"""Past the budget, a waiting workflow continues as new at the next quiet moment (see
:data:`SETTLE`); past this many events, at once, however busy."""

SETTLE = timedelta(minutes=1)
"""Past the budget, the continue-as-new waits for a timer this long and goes in the
workflow task the timer starts, not in one that took in a batch of signals: that task is
short, so a signal arriving while the command is in flight (which makes Temporal refuse
it) is less likely, and a burst of signals is over before it. Past :data:`HARD_LIMIT`
it does not wait."""


def history_over_budget(budget: int = HISTORY_BUDGET) -> bool:
    info = workflow.info()
    return info.is_continue_as_new_suggested() or info.get_current_history_length() >= budget


class Waiter:
    def __init__(
        self,
        *,
        pending: Callable[[], bool],
        absorb: Callable[[], None],
        continue_as_new: Callable[[], Awaitable[None]],
        act: Callable[[], Awaitable[None]] | None = None,
        budget: int = HISTORY_BUDGET,
    ) -> None:
        self._pending = pending
        self._absorb = absorb
        self._act = act
        self._continue_as_new = continue_as_new
        self._budget = budget
        self._depth = 0
        self.timers_started = 0
        """Timers this run started for waits (a query or test can check one per wait)."""

    @property
    def nested(self) -> bool:
        return self._depth > 0

    def over_budget(self) -> bool:
        return history_over_budget(self._budget)

    async def until(
        self,
        at: datetime | None,
        *,
        summary: str,
        interrupt: Callable[[], bool] | None = None,
        act: bool = True,
    ) -> bool:
        """Wait until ``at`` (None: until ``interrupt()``), handling the inbox meanwhile.
        True when the time came, False when ``interrupt()`` held first (the timer is
        cancelled). May continue as new (raises, as ``workflow.continue_as_new`` does).
        ``act=False`` (a quiet-hours wait): messages are only absorbed; what they trigger
        runs at the next wait that acts."""
        stop = interrupt or (lambda: False)
        fired = False
        timer: asyncio.Task[None] | None = None
        if at is not None:
            delay = at - workflow.now()
            if delay.total_seconds() <= 0:
                return True

            async def sleep() -> None:
                nonlocal fired
                await workflow.sleep(delay, summary=summary)
                fired = True

            timer = asyncio.create_task(sleep())
            self.timers_started += 1
        outer = self._depth == 0 and act
        settled = False
        settle: asyncio.Task[None] | None = None

        async def settle_down() -> None:
            nonlocal settled
            await workflow.sleep(SETTLE, summary="continue as new at a quiet moment")
            settled = True

        self._depth += 1
        try:
            while True:
                await workflow.wait_condition(lambda: fired or stop() or self._pending() or settled)
                if self._pending():
                    self._absorb()
                    if outer and self._act is not None:
                        await self._act()
                if fired:
                    if settle is not None and not settle.done():
                        settle.cancel()
                    return True
                if stop():
                    for task in (timer, settle):
                        if task is not None and not task.done():
                            task.cancel()
                    return False
                if self.over_budget():
                    length = workflow.info().get_current_history_length()
                    if settled or length >= max(self._budget, HARD_LIMIT):
                        await self._continue_as_new()
                    elif settle is None:
                        settle = asyncio.create_task(settle_down())
        except asyncio.CancelledError:
            for task in (timer, settle):
                if task is not None and not task.done():
                    task.cancel()
            raise
        finally:
            self._depth -= 1


class DueTimer:
    """One durable timer per due time, kept across wake-ups: a wait loop that wakes for
    each signal, handles it and waits again for the same due time reuses the timer
    instead of cancelling it and starting another (``wait_condition(timeout=...)`` does
    that: three more history events a signal). A new due time replaces the timer."""

    def __init__(self) -> None:
        self._due: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._fired: list[bool] = [False]

    async def wait(self, due: datetime, wake: Callable[[], bool], *, summary: str) -> bool:
        """Until ``due`` or ``wake()``; True when the time came."""
        if self._task is None or self._due != due:
            if self._task is not None and not self._task.done():
                self._task.cancel()
            fired = [False]
            delay = due - workflow.now()

            async def sleep() -> None:
                if delay.total_seconds() > 0:
                    await workflow.sleep(delay, summary=summary)
                fired[0] = True

            self._due, self._fired = due, fired
            self._task = asyncio.create_task(sleep())
        flag = self._fired
        await workflow.wait_condition(lambda: flag[0] or wake())
        return flag[0]
