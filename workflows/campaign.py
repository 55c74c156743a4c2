"""The skeleton of a campaign workflow (dunning, churn prevention, win-back, NPS) and the
helpers the campaigns share: their actions over the campaign's state, load and validate a
playbook once, start a sibling workflow that must outlive its starter.

:class:`CampaignWorkflow` holds what every campaign does the same way, so that each
workflow keeps only its playbook's steps (docs/engineers/campaign-skeleton.md): the
state carried across continue-as-new, the inbox its signals fill and its draining, the
event-id dedupe, the wait for the next step (:meth:`CampaignWorkflow._wait_until`),
continue-as-new, and the two ways to be cancelled (Temporal's cancel, the ``cancel``
signal). It emits exactly the commands the workflows emitted when each carried its own
copy, in the same order, so their recorded histories replay unchanged (tests/replay).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ValidationError

    from activities.models import MessageContext
    from activities.playbooks import LoadPlaybookRequest, load_playbook_activity
    from domain.campaigns import campaign_day, remember
    from domain.journeys import ActionRecord, NextAction
    from domain.send_window import SendWindow
    from domain.surveys import CancelSurvey
    from workflows.common import CustomerActions, required, set_details, show_starting
    from workflows.steering import NO_INPUT, Cmd, Steerable, Steering
    from workflows.waiting import WAIT_PATCH, DueTimer

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

INBOX_MODEL = "__cshub_inbox_model"
"""The attribute naming the message model of a signal made by :func:`inbox_signal`."""


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


class _Deduped(Protocol):
    seen_event_ids: list[str]


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
        return required(self._state, self.NOT_STARTED)

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
            self._actions = actions_for(self._input.customer_id, key, st, self._day, self._steer)
        return self._actions


def actions_for(
    customer_id: str,
    key: str,
    st: CampaignState,
    day: Callable[[datetime], int],
    steering: Steering,
) -> CustomerActions:
    """A campaign's :class:`CustomerActions`: its action record, send window and zone."""
    return CustomerActions(
        customer_id,
        key,
        st.actions,
        day,
        send_window=st.plan.send_window,
        timezone=st.timezone,
        steering=steering,
    )


SS = TypeVar("SS", bound=CampaignState)


class _CarriedInput(_CustomerInput, Protocol):
    @property
    def carry_over(self) -> dict[str, Any] | None: ...


SI = TypeVar("SI", bound=_CarriedInput)


class InboxSignals(Steerable):
    """A workflow whose own signals are declared with :func:`inbox_signal`: each is also
    an update of the same name (``_INBOX_COMMANDS``, :class:`Steerable`). Its current
    details (``_details``) are refreshed after each steering command."""

    def _details(self) -> None:
        """The Temporal UI's current details: the workflow's own."""

    def _steered(self) -> None:
        self._details()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._INBOX_COMMANDS = {
            **cls._INBOX_COMMANDS,
            **{
                name: getattr(member, INBOX_MODEL)
                for name, member in vars(cls).items()
                if hasattr(member, INBOX_MODEL)
            },
        }


class SurveyCancel(Steerable):
    """The ``cancel`` of a survey (NPS, CSAT): ``{"reason": "..."}``, ``{}`` or no input
    ends it. Kept on ``CancelSurvey``: the shared ``CancelRequest`` requires a reason,
    which this signal never did."""

    _CANCEL_MODEL = CancelSurvey
    _cancel: CancelSurvey | None

    def _apply_cancel(self, req: Any) -> None:
        self._cancel = req if isinstance(req, CancelSurvey) else CancelSurvey()
        self._cancel_steering(self._cancel.reason or "cancelled")


class CampaignWorkflow(InboxSignals, CampaignActions[SS, SI]):
    """A campaign workflow's skeleton. A workflow class built on it sets
    :attr:`CAMPAIGN` and :attr:`STATE`, calls :meth:`_setup` from its
    ``@workflow.init`` ``__init__``, puts each signal's message in the inbox with
    :meth:`_receive`, and writes its playbook: ``_begin`` (the first run's start),
    ``_handle`` (one inbox message), ``_active`` (still running), ``_cancelled_by``
    (the closing when cancelled) and ``_next_run`` (the input of the next run).
    ``run`` is ``await self._started(inp)``, the steps in :meth:`_steps_or_cancel`, then
    its summary."""

    CAMPAIGN: ClassVar[str] = "Campaign"
    """How the details line names it while it starts: "<CAMPAIGN> for customer <id>"."""
    STATE: ClassVar[type[BaseModel]]
    """The state model (carried across continue-as-new in the input's ``carry_over``)."""
    HOLD_DUE_WHILE_PAUSED: ClassVar[bool] = True
    """A step that falls due while paused waits for ``resume`` in :meth:`_wait_until`
    (a message meanwhile is still handled)."""
    CANCELLED: ClassVar[Any] = None
    """The state's ``status`` once cancelled (the default :meth:`_cancelled_by`)."""
    WAIT_SUMMARY: ClassVar[str] = "next step"
    """The summary of the timer to the next step (shown in the Temporal UI)."""

    _timer: DueTimer

    def _setup(self, inp: SI) -> None:
        """The run's starting point: a new campaign, or the state a previous run carried."""
        self._input = inp
        self._timer = DueTimer()
        carried = self.STATE.model_validate(inp.carry_over) if inp.carry_over else None
        self._state = carried  # type: ignore[assignment]
        self._inbox = []
        self._actions = None
        self._steer = Steering(self._state.steering if self._state is not None else None)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ the playbook's part
    async def _begin(self, inp: SI) -> SS:
        """The first run's start: load the playbook, read the CRM, make the state."""
        raise NotImplementedError

    async def _handle(self, msg: Any) -> None:
        """One message of the inbox (a signal's, taken in order)."""
        raise NotImplementedError

    def _active(self) -> bool:
        """Still running: takes messages and runs steps."""
        return True

    async def _finish(self, why: str) -> None:
        """The campaign's closing (record, CRM, Slack), its status already set."""
        raise NotImplementedError

    async def _cancelled_by(self, reason: str | None) -> None:
        """The closing when cancelled: ``reason`` from the ``cancel`` signal, None when
        cancelled in Temporal. By default: status :attr:`CANCELLED`, then ``_finish``."""
        st: Any = self._require_state()
        st.status = self.CANCELLED
        await self._finish("cancelled in Temporal" if reason is None else f"cancelled: {reason}")

    def _next_run(self, carry_over: dict[str, Any]) -> BaseModel:
        """The input of the next run (continue-as-new): the customer, the state carried."""
        next_input: Any = type(self._input)
        run: BaseModel = next_input(customer_id=self._input.customer_id, carry_over=carry_over)
        return run

    def _next(self) -> tuple[str, str, datetime] | None:
        """The next action: its step key, what it does, when it is due."""
        return None

    def _detail_lines(self, st: SS) -> list[str]:
        """What the Temporal UI shows of the campaign (its current details), above the
        steering line."""
        return []

    def _context_extra(self, day: int) -> dict[str, Any]:
        """What the campaign's templates read besides the day and the tier."""
        return {}

    def _context(self, day: int) -> MessageContext:
        """The context of an e-mail or alert sent on campaign day ``day``."""
        st: Any = self._require_state()
        return MessageContext(day=day, tier=st.tier, extra=self._context_extra(day))

    # ------------------------------------------------------------------ what ops see
    def _progress_fields(self, st: SS) -> dict[str, Any]:
        """What every campaign's ``progress`` query says first: the customer, the status,
        the start, today's campaign day, the zone, the next action, the actions taken,
        the steering."""
        return {
            "customer_id": self._input.customer_id,
            "status": getattr(st, "status", None),
            "started_at": st.started_at,
            "day": self._day(workflow.now()),
            "timezone": st.timezone,
            "next_action": self._next_action(),
            "actions": list(st.actions),
            "steering": self._steer.status(),
        }

    def _upcoming(self) -> tuple[str, str, datetime] | None:
        return self._next() if self._state is not None and self._active() else None

    def _next_action(self) -> NextAction | None:
        """The next action, for the progress query (none once the campaign ended)."""
        nxt = self._upcoming()
        return NextAction(step=nxt[0], summary=nxt[1], due_at=nxt[2]) if nxt else None

    def _next_line(self) -> str:
        nxt = self._upcoming()
        return f"Next: {nxt[1]} at {nxt[2]:%Y-%m-%d %H:%M} UTC" if nxt else "Next: -"

    def _next_step_key(self) -> str | None:
        nxt = self._upcoming()
        return nxt[0] if nxt else None

    def _details(self) -> None:
        """The current details in the Temporal UI: the campaign's lines and the steering."""
        if self._state is None:
            return
        lines = self._detail_lines(self._state)
        set_details(lines, self._steer.detail_line())

    # ------------------------------------------------------------------ the skeleton
    async def _started(self, inp: SI) -> SS:
        """The state: carried over, or begun now (the details say so meanwhile)."""
        if self._state is None:
            show_starting(f"{self.CAMPAIGN} for customer {inp.customer_id}")
            self._state = await self._begin(inp)
        return self._state

    async def _run_campaign(self, inp: SI, steps: Callable[[], Awaitable[None]]) -> None:
        """A campaign's run: begun (or carried over), then its steps, or cancelled."""
        await self._started(inp)
        await self._steps_or_cancel(steps)

    async def _steps_or_cancel(self, steps: Callable[[], Awaitable[None]]) -> None:
        """Run ``steps()``; a cancel (Temporal's, or the signal while still running)
        runs the campaign's closing (:meth:`_cancelled_by`)."""
        try:
            await steps()
        except asyncio.CancelledError:
            self._steer.begin_closing()
            await self._cancelled_by(None)
            raise
        reason = self._steer.cancel_reason
        if reason is not None and self._active():
            self._steer.begin_closing()
            await self._cancelled_by(reason)

    def _cancelled(self) -> bool:
        return self._steer.cancelled

    async def _take_steps(
        self,
        steps: Iterable[T],
        due: Callable[[T], datetime],
        take: Callable[[T], Awaitable[None]],
        *,
        key: Callable[[T], str] | None = None,
        passed: Callable[[T], bool] | None = None,
    ) -> bool:
        """The playbook's dated steps in order, each not done yet taken at its due time
        (``passed`` ones are marked done untaken); False when a wait ended the walk
        (cancelled, or the campaign stopped). A step is known in the state's
        ``done_steps`` by ``key(step)``, by default its ``key``."""
        st: Any = self._require_state()
        for step in steps:
            done: str = key(step) if key is not None else getattr(step, "key")  # noqa: B009
            if done in st.done_steps:
                continue
            if passed is not None and passed(step):
                st.done_steps.append(done)
                continue
            if not await self._wait_until(due(step)):
                return False
            await take(step)
            st.done_steps.append(done)
            self._details()
        return True

    def _seen(self, event_id: str | None) -> bool:
        """True for a redelivered event (its id seen already); remembers new ones (the
        state's ``seen_event_ids``: a campaign that dedupes events keeps them)."""
        st: Any = self._require_state()
        return seen_before(st, event_id)

    async def _drain_inbox(self) -> None:
        while self._inbox and self._active():
            await self._handle(self._inbox.pop(0))

    async def _continue_as_new(self) -> None:
        """Continue as new with the state, once no handler runs and no message waits
        (else return: the messages are handled first, the next wait tries again)."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._inbox:
            return  # signals came in meanwhile: handle them first, continue as new later
        await self._steer.alerts_sent()  # rejected-command alerts in flight
        workflow.continue_as_new(self._next_run(self._require_state().model_dump(mode="json")))  # type: ignore[attr-defined]

    async def _wait_until(
        self, due: datetime, stop: Callable[[], bool] | None = None, *, summary: str | None = None
    ) -> bool:
        """Handle messages until ``due``; False when the campaign stopped, was
        cancelled, or ``stop()`` holds. Continues as new when Temporal suggests it."""
        while True:
            await self._drain_inbox()
            if not self._active() or (stop is not None and stop()):
                return False
            if self._cancelled():
                return False
            remaining = due - workflow.now()
            if remaining <= timedelta(0):
                if self.HOLD_DUE_WHILE_PAUSED and self._steer.paused:
                    # Due while paused: hold here (a message meanwhile still counts).
                    await workflow.wait_condition(
                        lambda: bool(self._inbox) or not self._steer.paused
                    )
                    continue
                return True
            if self._over_budget():
                await self._continue_as_new()
            await self._sleep(due, remaining, summary or self.WAIT_SUMMARY)

    def _over_budget(self) -> bool:
        """Time to continue as new (checked while waiting): when Temporal suggests it."""
        return workflow.info().is_continue_as_new_suggested()

    def _waits_on_due_timer(self) -> bool:
        """Waits keep one durable timer per due time (:class:`DueTimer`); runs begun
        before :data:`WAIT_PATCH` re-armed a timeout on every wake-up instead."""
        return workflow.patched(WAIT_PATCH)

    async def _sleep(self, due: datetime, remaining: timedelta, summary: str) -> None:
        """Until ``due``, a message or a cancel. ``remaining``: the time to ``due`` when
        the wait was decided (the timeout of runs begun before :data:`WAIT_PATCH`)."""
        if self._waits_on_due_timer():
            await self._timer.wait(
                due, lambda: bool(self._inbox) or self._cancelled(), summary=summary
            )
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: bool(self._inbox) or self._cancelled(),
                timeout=remaining,
                timeout_summary=summary,
            )


def inbox_signal(
    name: str, model: type[M], example: str, note: str = ""
) -> Callable[[Any, Cmd[M]], None]:
    """A workflow's own signal ``name``: its payload (``model``, e.g. ``example``; ``note``
    says more) goes to the inbox, handled in order by the workflow (a campaign's
    ``_handle``); it is also an update of the same name (:class:`InboxSignals`). Use as
    ``payment_failed = inbox_signal("payment_failed", ...)``."""

    def handler(self: Steerable, raw: Cmd[M] = NO_INPUT) -> None:
        # A payload that does not fit is recorded and told to ops (Steerable._signalled).
        msg = self._signalled(raw, model, name)
        if msg is not None:
            self._inbox.append(msg)

    handler.__name__ = handler.__qualname__ = name
    # The SDK hands the payload over raw (decoded by ``_receive``); resolved here, as the
    # postponed annotation names the module's type variable.
    handler.__annotations__ = {"raw": RawValue, "return": None}
    handler.__doc__ = f"``{example}``{note}" if example else note
    setattr(handler, INBOX_MODEL, model)
    return workflow.signal(name=name)(handler)


def seen_before(state: _Deduped, event_id: str | None) -> bool:
    """True for a redelivered event (its id in ``state.seen_event_ids``); remembers new
    ones (the most recent few hundred, :func:`domain.campaigns.remember`)."""
    if not event_id:
        return False
    if event_id in state.seen_event_ids:
        return True
    state.seen_event_ids = remember(state.seen_event_ids, event_id)
    return False


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
