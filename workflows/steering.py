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

from typing import Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.steering import (
        MAX_SKIPPED_KEPT,
        MAX_STEERING_EVENTS,
        NEXT_ACTION,
        CancelRequest,
        PauseRequest,
        PendingSkip,
        ResumeRequest,
        SkipRequest,
        SteeringEvent,
        SteeringState,
        SteeringStatus,
    )

Decision = Literal["run", "skip"]

STEERING_PATCH = "steering"
"""A steering signal sent to a workflow before it had these handlers was dropped; its
replay must drop it too, so the handlers act only where this patch is recorded."""


class Steering:
    def __init__(self, state: SteeringState | None = None) -> None:
        self.state = state if state is not None else SteeringState()
        self.closing = False
        """Set once the workflow does its closing (cancel, completion): closing actions
        are neither held by a pause nor skipped."""

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
        return " · ".join(parts) or None

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

    def _event(self, kind: str, detail: str) -> None:
        st = self.state
        st.events.append(SteeringEvent(at=workflow.now(), kind=kind, detail=detail))
        if len(st.events) > MAX_STEERING_EVENTS:
            del st.events[: len(st.events) - MAX_STEERING_EVENTS]


def _covers(skip_step: str, step: str) -> bool:
    """``day7`` covers ``day7`` and its actions ``day7:email``, ``day7:alert``."""
    return step == skip_step or step.startswith(skip_step + ":")


class Steerable:
    """The signals ``pause``, ``resume``, ``skip`` and ``cancel`` for a workflow class
    that keeps a :class:`Steering` in ``self._steer``. Override ``_next_step_key`` (what
    a ``skip`` without a step skips) and ``_steered`` (e.g. refresh the UI details)."""

    _steer: Steering

    @workflow.signal(name="pause")
    def pause(self, req: PauseRequest | None = None) -> None:
        """``{"reason": "customer asked for a break"}``"""
        if not workflow.patched(STEERING_PATCH):
            return
        self._steer.pause(req or PauseRequest())
        self._steered()

    @workflow.signal(name="resume")
    def resume(self, req: ResumeRequest | None = None) -> None:
        """``{}``"""
        if not workflow.patched(STEERING_PATCH):
            return
        self._steer.resume(req)
        self._steered()

    @workflow.signal(name="skip")
    def skip(self, req: SkipRequest | None = None) -> None:
        """``{"step": "day7", "reason": "called them instead"}`` (``{}``: the next action)"""
        if not workflow.patched(STEERING_PATCH):
            return
        req = req or SkipRequest()
        self._steer.skip(req, None if req.step else self._next_step_key())
        self._steered()

    @workflow.signal(name="cancel")
    def cancel(self, req: CancelRequest) -> None:
        """``{"reason": "customer churned"}``"""
        self._cancel_steering(req.reason)

    def _cancel_steering(self, reason: str) -> None:
        """Record a cancel in the steering state: held actions are not sent, later ones
        are skipped (also for workflows whose own ``cancel`` takes another payload)."""
        if not workflow.patched(STEERING_PATCH):
            return
        self._steer.cancel(CancelRequest(reason=reason))
        self._steered()

    def _next_step_key(self) -> str | None:
        return None

    def _steered(self) -> None:
        return None


__all__ = [
    "CancelRequest",
    "PauseRequest",
    "ResumeRequest",
    "SkipRequest",
    "Steerable",
    "Steering",
    "SteeringState",
    "SteeringStatus",
]
