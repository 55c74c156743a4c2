"""Pause, resume, skip and cancel, the same way in every customer workflow type.

A workflow owns one :class:`Steering` (over the :class:`SteeringState` it keeps in its
own state, so it survives continue-as-new), inherits the four signals from
:class:`Steerable` (the Temporal SDK picks up handlers defined on a base class) and hands
the steering to its :class:`~workflows.common.CustomerActions`, which asks
:meth:`Steering.gate` before every side effect.

Replay safety: the gate waits (``workflow.wait_condition`` without a timeout, which emits
no command) only while paused, and skips an action only after a ``skip`` or ``cancel``
signal, so histories recorded before steering existed replay unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias, TypeVar, cast

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from domain.alert_escalation import AlertAcknowledged
    from domain.ops_alerts import OpsAlert, clip_error, ops_alert_key
    from domain.search_attributes import CUSTOMER_ID
    from domain.slack_actions import CallLogged
    from domain.steering import (
        MAX_PAYLOAD_CHARS,
        MAX_REJECTED_KEPT,
        MAX_SKIPPED_KEPT,
        MAX_STEERING_EVENTS,
        NEXT_ACTION,
        CancelRequest,
        CommandRejected,
        PauseRequest,
        PendingSkip,
        RejectedCommand,
        ResumeRequest,
        SkipRequest,
        SteeringEvent,
        SteeringState,
        SteeringStatus,
        parse_command,
        payload_text,
    )
    from workflows.ops_alerts import send_ops_alert

M = TypeVar("M", bound=BaseModel)

Decision = Literal["run", "skip"]

STEERING_PATCH = "steering"
"""A steering signal sent to a workflow before it had these handlers was dropped; its
replay must drop it too, so the handlers act only where this patch is recorded."""

TOLERANT_COMMANDS_PATCH = "tolerant-commands"
"""A command whose payload did not fit was dropped by the SDK before the handlers took
raw payloads; its replay must drop it too (no record, no ops alert)."""

SIGNAL_NOTE = " (a payload that does not fit is recorded and told to ops, not applied)"
UPDATE_NOTE = " (a payload that does not fit is refused with the reason)"

MAX_REJECTION_ALERTS = 5
"""Ops alerts for rejected commands per run; past it, rejections are only recorded."""


class Steering:
    def __init__(self, state: SteeringState | None = None) -> None:
        self.state = state if state is not None else SteeringState()
        self.closing = False
        """Set once the workflow does its closing (cancel, completion): closing actions
        are neither held by a pause nor skipped."""
        self.rejections_this_run = 0
        self._alerts: list[asyncio.Task[None]] = []
        self.acknowledged_alerts: set[str] = set()
        """Slack alerts (message ts) a CSM acted on: their escalation is called off."""
        self.escalations: list[asyncio.Task[None]] = []
        """The escalation watches of this run's alerts (``CustomerActions.alert``)."""

    def watching(self) -> bool:
        """An alert of this run still waits for a click (its escalation not yet due)."""
        return any(not t.done() for t in self.escalations)

    # ------------------------------------------------------------------ rejected commands
    def reject(self, command: str, payload: str, why: str) -> RejectedCommand:
        """Record a command refused for its payload (not applied)."""
        st = self.state
        rec = RejectedCommand(at=workflow.now(), command=command, payload=payload, why=why)
        st.rejected = [*st.rejected[-(MAX_REJECTED_KEPT - 1) :], rec]
        self._event("rejected", f"{command} {payload} rejected: {why}")
        self.rejections_this_run += 1
        return rec

    def alert_ops(self, rec: RejectedCommand) -> None:
        """One Slack message to ops for the rejected command ``rec`` (started, not
        awaited: the signal handler returns at once)."""
        if self.rejections_this_run > MAX_REJECTION_ALERTS:
            return
        info = workflow.info()
        alert = OpsAlert.model_construct(  # built in the sandbox: skip validation
            kind="command_rejected",
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            workflow_type=info.workflow_type,
            customer_id=info.typed_search_attributes.get(CUSTOMER_ID),
            activity=None,
            gave_up=None,
            command=rec.command,
            error=clip_error(f"{rec.command} {rec.payload}: {rec.why}"),
            idempotency_key=ops_alert_key(
                info.workflow_id, info.run_id, f"command-{self.rejections_this_run}"
            ),
        )
        self._alerts.append(asyncio.create_task(send_ops_alert(alert)))

    async def alerts_sent(self) -> None:
        """Before the run continues as new: the rejection alerts still in flight go out
        (none pending: returns at once, no command)."""
        pending = [t for t in self._alerts if not t.done()]
        self._alerts.clear()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # ------------------------------------------------------------------ signals
    def pause(self, req: PauseRequest) -> None:
        st = self.state
        if st.cancel_reason is not None or st.paused_since is not None:
            return
        st.paused_since = workflow.now()
        st.pause_reason = req.reason
        self._event("pause", f"paused: {req.reason or 'no reason given'}")

    def resume(self, req: ResumeRequest | None = None) -> None:
        st = self.state
        if st.paused_since is None:
            return
        paused = (workflow.now() - st.paused_since).total_seconds()
        st.paused_total_s += paused
        st.paused_since = None
        st.pause_reason = None
        self._event("resume", f"resumed after {paused / 3600:.1f} hours")

    def skip(self, req: SkipRequest, next_step: str | None = None) -> None:
        step = req.step or next_step or NEXT_ACTION
        self.state.pending_skips.append(PendingSkip(step=step, reason=req.reason))
        what = "the next action" if step == NEXT_ACTION else step
        self._event("skip", f"skip {what}: {req.reason or 'no reason given'}")

    def cancel(self, req: CancelRequest) -> None:
        st = self.state
        if st.cancel_reason is not None:
            return
        st.cancel_reason = req.reason
        self.resume()  # nothing is held back any more: the closing runs at once
        self._event("cancel", f"cancelled: {req.reason}")

    # ------------------------------------------------------------------ workflow side
    @property
    def paused(self) -> bool:
        return self.state.paused_since is not None

    @property
    def cancel_reason(self) -> str | None:
        return self.state.cancel_reason

    @property
    def cancelled(self) -> bool:
        return self.state.cancel_reason is not None

    def begin_closing(self) -> None:
        self.closing = True

    async def gate(self, step: str) -> tuple[Decision, str | None]:
        """Before the side effect ``step``: wait while paused, then ("skip", reason) when
        a skip request (or a cancel) covers it, else ("run", None)."""
        if self.closing:
            return "run", None
        if self.paused:
            await workflow.wait_condition(lambda: not self.paused or self.cancelled or self.closing)
            if self.closing:
                return "run", None
        if self.cancel_reason is not None:
            return "skip", f"workflow cancelled: {self.cancel_reason}"
        match = self._match(step)
        if match is not None:
            return "skip", match.reason or "skip requested"
        return "run", None

    def status(self) -> SteeringStatus:
        st = self.state
        return SteeringStatus(
            paused=st.paused_since is not None,
            paused_since=st.paused_since,
            pause_reason=st.pause_reason,
            paused_total_s=st.paused_total_s,
            pending_skips=[s.step for s in st.pending_skips],
            cancel_reason=st.cancel_reason,
            events=list(st.events),
            rejected=list(st.rejected),
        )

    def detail_line(self) -> str | None:
        """A line for the UI's current details, when steering is in play."""
        st = self.state
        parts = []
        if st.paused_since is not None:
            parts.append(
                f"PAUSED since {st.paused_since:%Y-%m-%d %H:%M} UTC"
                f"{f' ({st.pause_reason})' if st.pause_reason else ''}"
            )
        if st.pending_skips:
            parts.append(f"skip pending: {', '.join(s.step for s in st.pending_skips)}")
        if st.cancel_reason is not None:
            parts.append(f"cancelled: {st.cancel_reason}")
        if st.rejected:
            parts.append(st.rejected[-1].line())
        return " · ".join(parts) or None

    def rejected_line(self) -> str | None:
        """The last rejected command, for workflows that show the rest themselves."""
        return self.state.rejected[-1].line() if self.state.rejected else None

    # ------------------------------------------------------------------ helpers
    def _match(self, step: str) -> PendingSkip | None:
        st = self.state
        for done in st.skipped:
            if _covers(done.step, step):
                return done
        for i, pending in enumerate(st.pending_skips):
            if pending.step == NEXT_ACTION or _covers(pending.step, step):
                del st.pending_skips[i]
                applied = PendingSkip(
                    step=step if pending.step == NEXT_ACTION else pending.step,
                    reason=pending.reason,
                )
                st.skipped = [*st.skipped[-(MAX_SKIPPED_KEPT - 1) :], applied]
                self._event("skipped", f"skipped {step}")
                return applied
        return None

    def note_event(self, kind: str, detail: str) -> None:
        """Record something done to the workflow from outside (e.g. a call logged)."""
        self._event(kind, detail[:300])

    def _event(self, kind: str, detail: str) -> None:
        st = self.state
        st.events.append(SteeringEvent(at=workflow.now(), kind=kind, detail=detail))
        if len(st.events) > MAX_STEERING_EVENTS:
            del st.events[: len(st.events) - MAX_STEERING_EVENTS]


def _covers(skip_step: str, step: str) -> bool:
    """``day7`` covers ``day7`` and its actions ``day7:email``, ``day7:alert``."""
    return step == skip_step or step.startswith(skip_step + ":")


NO_INPUT: RawValue = cast(RawValue, None)
"""Default of a command handler's payload: the command was sent with no input at all."""

T = TypeVar("T")

if TYPE_CHECKING:  # callers send the model; the handlers take the payload raw
    Cmd: TypeAlias = T | RawValue
    """``Cmd[Model]``: a command handler's payload (the model for callers, raw inside)."""
    PauseInput = PauseRequest | RawValue
    ResumeInput = ResumeRequest | RawValue
    SkipInput = SkipRequest | RawValue
    CancelInput = BaseModel | RawValue
else:

    class _Raw:
        def __getitem__(self, _model: object) -> type[RawValue]:
            return RawValue

    Cmd = _Raw()
    PauseInput = ResumeInput = SkipInput = CancelInput = RawValue


def decode_command(raw: Any, model: type[M], command: str) -> M:
    """A signal's or update's raw payload as ``model``, or :class:`CommandRejected`
    naming the field. Handlers take the payload raw (``RawValue``): a payload the SDK
    cannot turn into the model would otherwise be dropped before any workflow code runs,
    with nothing but a traceback in the worker's log (and again on every replay)."""
    data: Any = None
    if raw is not None:
        try:
            data = workflow.payload_converter().from_payload(raw.payload)
        except Exception:
            text = bytes(raw.payload.data[:MAX_PAYLOAD_CHARS]).decode("utf-8", "replace")
            raise CommandRejected(f"{command}: the payload is not JSON", text) from None
    return parse_command(model, data, command)


def _steering_command(name: str, what: str, example: str) -> tuple[Any, Any]:
    """The steering command ``name`` (``pause``, ``resume``, ``skip``, ``cancel``) of a
    :class:`Steerable` as a signal and an update of that name, both applied by the
    workflow's ``_apply_<name>``; ``what`` describes it in the Temporal UI, ``example``
    is a payload. The payload's model is ``_<NAME>_MODEL`` (``cancel``'s may change)."""

    def model(self: Steerable) -> type[BaseModel]:
        found: type[BaseModel] = getattr(self, f"_{name.upper()}_MODEL")
        return found

    def apply(self: Steerable, req: BaseModel) -> None:
        getattr(self, f"_apply_{name}")(req)

    def signal(self: Steerable, raw: RawValue = NO_INPUT) -> None:
        req = self._signalled(raw, model(self), name)
        if req is not None:
            apply(self, req)

    def update(self: Steerable, raw: RawValue = NO_INPUT) -> str:
        apply(self, decode_command(raw, model(self), name))
        return self._answer()

    def validate(self: Steerable, raw: RawValue = NO_INPUT) -> None:
        self._validate(lambda: decode_command(raw, model(self), name), name)

    for handler, suffix, returns, doc in (
        (signal, "", None, f"``{example}``"),
        (update, "_update", str, f"As the ``{name}`` signal; answers with the steering state."),
        (validate, "_validate", None, None),
    ):
        handler.__name__ = handler.__qualname__ = f"{name}{suffix}"
        handler.__annotations__ = {"raw": RawValue, "return": returns}
        handler.__doc__ = doc
    as_update = workflow.update(name=name, description=what + UPDATE_NOTE)(update)
    as_update.validator(validate)
    return workflow.signal(name=name, description=what + SIGNAL_NOTE)(signal), as_update


class Steerable:
    """The commands ``pause``, ``resume``, ``skip`` and ``cancel`` for a workflow class
    that keeps a :class:`Steering` in ``self._steer``, each both as a signal and as an
    update of the same name. Override ``_next_step_key`` (what a ``skip`` without a step
    skips), ``_steered`` (e.g. refresh the UI details), ``_check_command`` (refuse a
    well-formed command, updates only) and the ``_apply_*`` methods (a workflow with
    steering of its own).

    * The **update** answers the sender: a payload that does not fit (an unknown field,
      a missing reason) is rejected by its validator with a message naming the field, and
      the Temporal UI / ``temporal workflow update execute`` show it; nothing is recorded.
    * The **signal** cannot answer, so it never drops a command silently: a payload that
      does not fit is recorded (progress query ``steering.rejected``, the current details
      say "last command rejected: ..., why") and ops get one Slack alert per rejected
      command (at most :data:`MAX_REJECTION_ALERTS` per run). The workflow carries on
      unchanged. Runs recorded before this replay as before: the rejection is behind
      ``workflow.patched(TOLERANT_COMMANDS_PATCH)``."""

    _steer: Steering
    _inbox: list[Any]
    _PAUSE_MODEL: type[BaseModel] = PauseRequest
    _RESUME_MODEL: type[BaseModel] = ResumeRequest
    _SKIP_MODEL: type[BaseModel] = SkipRequest
    _CANCEL_MODEL: type[BaseModel] = CancelRequest
    _INBOX_COMMANDS: ClassVar[dict[str, type[BaseModel]]] = {}
    """The workflow's own signals that put a message in ``self._inbox``: each is also an
    update of the same name (the dynamic update handler below)."""

    # ------------------------------------------------------------------ commands
    # Each a signal and an update of the same name (:func:`_steering_command`).
    pause, pause_update = _steering_command(
        "pause",
        '{"reason": "..."}: hold every action (they run at resume)',
        '{"reason": "customer asked for a break"}',
    )
    resume, resume_update = _steering_command(
        "resume", "{}: run what fell due while paused, then carry on", "{}"
    )
    skip, skip_update = _steering_command(
        "skip",
        '{"step": "...", "reason": "..."} ({}: the next action): record it as skipped, not sent',
        '{"step": "day7", "reason": "called them instead"}`` (``{}``: the next action)',
    )
    cancel, cancel_update = _steering_command(
        "cancel",
        '{"reason": "..."}: the normal closing with the reason, then end as cancelled',
        '{"reason": "customer churned"}',
    )

    @workflow.signal(
        name="alert_acknowledged",
        description='{"ts": "...", "by": "..."}: a CSM acted on the Slack alert of that '
        "message (sent by a click on its buttons): it does not escalate",
    )
    def alert_acknowledged(self, ack: AlertAcknowledged) -> None:
        self._steer.acknowledged_alerts.add(ack.ts)

    @workflow.signal(
        name="call_logged",
        description='{"ts": "...", "by": "...", "outcome": "...", "note": "..."}: a CSM '
        "logged a call from the Slack alert of that message (the Log call modal): the "
        "alert is acted on, the call is in the steering events",
    )
    def call_logged(self, call: CallLogged) -> None:
        self._steer.acknowledged_alerts.add(call.ts)
        self._steer.note_event("call_logged", f"call logged by {call.by}: {call.outcome}")

    # ------------------------------------------------------------------ updates
    @workflow.update(
        dynamic=True,
        description="The workflow's own signals as updates of the same name" + UPDATE_NOTE,
    )
    def inbox_update(self, name: str, args: Sequence[RawValue]) -> str:
        """The workflow's own commands (``renewed``, ``payment_succeeded`` ...) as updates:
        as the signal of the same name, refused when the payload does not fit."""
        req = self._inbox_command(name, args)
        self._inbox.append(req)
        return f"{name} accepted: {payload_text(req.model_dump(mode='json'))}"

    @inbox_update.validator
    def _validate_inbox_update(self, name: str, args: Sequence[RawValue]) -> None:
        self._validate(lambda: self._inbox_command(name, args), name)

    def _inbox_command(self, name: str, args: Sequence[RawValue]) -> BaseModel:
        model = self._INBOX_COMMANDS.get(name)
        if model is None:
            known = ["pause", "resume", "skip", "cancel", *self._INBOX_COMMANDS]
            raise CommandRejected(
                f"no command {name!r} in this workflow (it takes: {', '.join(known)})"
            )
        if len(args) > 1:
            raise CommandRejected(f"{name} takes one JSON object, not {len(args)} inputs")
        return decode_command(args[0] if args else None, model, name)

    # ------------------------------------------------------------------ applying
    def _apply_pause(self, req: PauseRequest) -> None:
        if not workflow.patched(STEERING_PATCH):
            return
        self._steer.pause(req)
        self._steered()

    def _apply_resume(self, req: ResumeRequest) -> None:
        if not workflow.patched(STEERING_PATCH):
            return
        self._steer.resume(req)
        self._steered()

    def _apply_skip(self, req: SkipRequest) -> None:
        if not workflow.patched(STEERING_PATCH):
            return
        self._steer.skip(req, None if req.step else self._next_step_key())
        self._steered()

    def _apply_cancel(self, req: Any) -> None:
        self._cancel_steering(str(getattr(req, "reason", None) or "cancelled"))

    def _cancel_steering(self, reason: str) -> None:
        """Record a cancel in the steering state: held actions are not sent, later ones
        are skipped (also for workflows whose own ``cancel`` takes another payload)."""
        if not workflow.patched(STEERING_PATCH):
            return
        self._steer.cancel(CancelRequest(reason=reason))
        self._steered()

    # ------------------------------------------------------------------ hooks
    def _next_step_key(self) -> str | None:
        return None

    def _steered(self) -> None:
        return None

    def _check_command(self, command: str, req: BaseModel) -> str | None:
        """Why this well-formed command cannot be applied now (updates are refused with
        it), or None."""
        return None

    def _answer(self) -> str:
        return self._steer.detail_line() or "running: not paused, no skip pending"

    # ------------------------------------------------------------------ helpers
    def _validate(self, parse: Callable[[], BaseModel], command: str) -> None:
        """An update's validator: the payload parsed and checked, or the update refused
        with the reason (a non-retryable ``CommandRejected`` failure: sending the same
        payload again will not help)."""
        try:
            req = parse()
            why = self._check_command(command, req)
            if why is not None:
                raise CommandRejected(f"{command}: {why}", payload_text(req.model_dump()))
        except CommandRejected as err:
            raise ApplicationError(str(err), type="CommandRejected", non_retryable=True) from None

    def _signalled(self, raw: Any, model: type[M], command: str) -> M | None:
        """The signal's payload as ``model``, or None once the rejection is recorded."""
        try:
            return decode_command(raw, model, command)
        except CommandRejected as err:
            self._rejected(command, err)
            return None

    def _rejected(self, command: str, err: CommandRejected) -> None:
        if not workflow.patched(TOLERANT_COMMANDS_PATCH):
            # Runs recorded before: the SDK dropped the signal; so does their replay.
            return
        rec = self._steer.reject(command, err.payload, str(err))
        workflow.logger.warning("command rejected: %s %s: %s", command, rec.payload, rec.why)
        self._steered()
        self._steer.alert_ops(rec)


__all__ = [
    "CancelRequest",
    "CommandRejected",
    "PauseRequest",
    "ResumeRequest",
    "SkipRequest",
    "Steerable",
    "Steering",
    "SteeringState",
    "SteeringStatus",
    "decode_command",
]
