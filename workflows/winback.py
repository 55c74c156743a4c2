"""WinBackWorkflow: one churned customer's win-back campaign.

Playbook ``playbooks/winback.yaml`` (seed 003), in order:
1. Started when the customer churned (by churn prevention, the renewal workflow or ops:
   ``{"customer_id": "1003", "reason": "budget cut"}``). Day 0 is ``churned_at`` when
   given (steps already past are skipped), else the start.
2. The dated steps, at the send hour in the customer's zone: e-mails on day 1 and 7, a
   personal CSM task on day 14, an offer e-mail on day 30, the exit survey on day 60
   (one signed one-click link per exit reason, provided by the e-mail activity).
3. Signal ``survey_answered`` (the survey link endpoint sends it): the reason and the
   comment go on the CRM company and into a CRM note. An answer ends the remaining
   survey steps; offers and messages still go out unless the reason is one of the
   playbook's ``stop_on_answer`` (e.g. "no longer needed": an offer could only annoy).
   After the last step the campaign keeps listening for answers ``answer_window_days``
   (not when an answer already came).
4. Signal ``returned``: the customer is back; the campaign stops at once.
   The outcome goes on the company (``cshub_winback_outcome``) with a CRM note.

Workflow id ``winback-{customer_id}``; idempotency keys ``{workflow id}/{start}/{step}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.models import MessageContext
    from domain.campaigns import iso_date, remember, step_time
    from domain.journeys import NextAction
    from domain.search_attributes import LifecycleStage
    from domain.winback import (
        CustomerReturned,
        ExitAnswer,
        StepPurpose,
        SurveyAnswer,
        WinBackInput,
        WinBackPlan,
        WinBackProgress,
        WinBackState,
        WinBackStatus,
        WinBackStep,
        WinBackStepKind,
        WinBackSummary,
        winback_workflow_id,
    )
    from domain.wording import count_noun
    from workflows.campaign import CampaignActions, load_plan
    from workflows.common import CustomerActions, customer_profile, set_details, tag_customer
    from workflows.steering import NO_INPUT, Cmd, Steerable, Steering
    from workflows.waiting import WAIT_PATCH, DueTimer

__all__ = ["WinBackWorkflow", "winback_workflow_id"]

SKIP_BEFORE_START = timedelta(minutes=5)


@workflow.defn(name="WinBackWorkflow")
class WinBackWorkflow(Steerable, CampaignActions[WinBackState, WinBackInput]):
    _INBOX_COMMANDS: ClassVar[dict[str, type[BaseModel]]] = {
        "survey_answered": SurveyAnswer,
        "returned": CustomerReturned,
    }
    """Its own signals, also taken as updates of the same name (validated, answered)."""

    NOT_STARTED = "win-back has not started yet"

    @workflow.init
    def __init__(self, inp: WinBackInput) -> None:
        self._input = inp
        self._timer = DueTimer()
        self._state: WinBackState | None = (
            WinBackState.model_validate(inp.carry_over) if inp.carry_over else None
        )
        self._inbox: list[SurveyAnswer | CustomerReturned] = []
        self._actions: CustomerActions | None = None
        self._steer = Steering(self._state.steering if self._state else None)

    # ------------------------------------------------------------------ signals
    @workflow.signal(name="survey_answered")
    def survey_answered(self, raw: Cmd[SurveyAnswer] = NO_INPUT) -> None:
        """``{"reason": "too_expensive", "comment": "Budget cut this year"}``"""
        msg = self._signalled(raw, SurveyAnswer, "survey_answered")
        if msg is not None:
            self._inbox.append(msg)

    @workflow.signal(name="returned")
    def returned(self, raw: Cmd[CustomerReturned] = NO_INPUT) -> None:
        """``{"note": "re-subscribed to Starter"}`` (or no input)"""
        msg = self._signalled(raw, CustomerReturned, "returned")
        if msg is not None:
            self._inbox.append(msg)

    # ------------------------------------------------------------------ query
    @workflow.query(name="progress")
    def progress(self) -> WinBackProgress:
        st = self._state
        if st is None:
            return WinBackProgress(
                customer_id=self._input.customer_id, status=WinBackStatus.STARTING
            )
        nxt = self._next() if st.status is WinBackStatus.ACTIVE else None
        answer = st.answers[-1] if st.answers else None
        return WinBackProgress(
            customer_id=self._input.customer_id,
            status=st.status,
            started_at=st.started_at,
            day=self._day(workflow.now()),
            timezone=st.timezone,
            next_action=NextAction(step=nxt[0], summary=nxt[1], due_at=nxt[2]) if nxt else None,
            actions=list(st.actions),
            churn_reason=st.churn_reason,
            exit_reason=answer.reason if answer else None,
            exit_comment=answer.comment if answer else None,
            steps_done=list(st.done_steps),
            ends_at=self._end_time(),
            steering=self._steer.status(),
        )

    def _next_step_key(self) -> str | None:
        st = self._state
        nxt = self._next() if st is not None and st.status is WinBackStatus.ACTIVE else None
        return nxt[0] if nxt else None

    def _steered(self) -> None:
        self._details()

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: WinBackInput) -> WinBackSummary:
        if self._state is None:
            # Readable from the first moment (a start from the UI's form has no summary).
            set_details(
                [
                    f"Win-back campaign for customer {inp.customer_id}: starting (reading the CRM, loading the playbook)"
                ]
            )
            self._state = await self._begin(inp)
        st = self._state
        try:
            await self._sequence()
        except asyncio.CancelledError:
            st.status = WinBackStatus.CANCELLED
            self._steer.begin_closing()
            await self._finish("cancelled in Temporal")
            raise
        reason = self._steer.cancel_reason
        if reason is not None and st.status is WinBackStatus.ACTIVE:
            # The cancel signal: the campaign's normal closing with status "cancelled".
            st.status = WinBackStatus.CANCELLED
            self._steer.begin_closing()
            await self._finish(f"cancelled: {reason}")
        return self._summary()

    async def _begin(self, inp: WinBackInput) -> WinBackState:
        plan = await load_plan("winback", WinBackPlan)
        profile = await customer_profile(inp.customer_id)
        tag_customer(profile, stage=LifecycleStage.CHURNED)
        now = workflow.now()
        anchor = min(inp.churned_at, now) if inp.churned_at else now
        st = WinBackState(
            plan=plan,
            started_at=now,
            anchor=anchor,
            timezone=profile.timezone,
            tier=profile.tier,
            churn_reason=inp.reason,
            steering=self._steer.state,
        )
        self._state = st
        self._act.record(
            "start",
            "journey",
            f"win-back started{f' (churn reason: {inp.reason})' if inp.reason else ''}",
        )
        self._details()
        return st

    async def _sequence(self) -> None:
        st = self._require_state()
        for step in st.plan.steps:
            if step.key in st.done_steps:
                continue
            if not await self._wait_until(self._due(step)):
                return
            await self._run_step(step)
            st.done_steps.append(step.key)
            self._details()
        # Keep listening for survey answers for a while, unless one came already.
        await self._wait_until(self._end_time(), stop=lambda: bool(st.answers))
        if st.status is WinBackStatus.ACTIVE and not self._steer.cancelled:
            st.status = WinBackStatus.COMPLETED
            await self._finish("sequence completed")

    async def _wait_until(self, due: datetime, stop: Callable[[], bool] | None = None) -> bool:
        """Handle signals until ``due``; False when the campaign stopped (or ``stop``)."""
        st = self._require_state()
        while True:
            await self._drain_inbox()
            if st.status is not WinBackStatus.ACTIVE or (stop is not None and stop()):
                return False
            if self._steer.cancelled:
                return False
            remaining = due - workflow.now()
            if remaining <= timedelta(0):
                if self._steer.paused:
                    # Due while paused: hold here (a return meanwhile still stops it).
                    await workflow.wait_condition(
                        lambda: bool(self._inbox) or not self._steer.paused
                    )
                    continue
                return True
            if workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new()
            if workflow.patched(WAIT_PATCH):
                await self._timer.wait(
                    due,
                    lambda: bool(self._inbox) or self._steer.cancelled,
                    summary="next win-back step",
                )
                continue
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: bool(self._inbox) or self._steer.cancelled,
                    timeout=remaining,
                    timeout_summary="next win-back step",
                )

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._inbox:
            return  # signals came in meanwhile: handle them first, continue as new later
        await self._steer.alerts_sent()  # rejected-command alerts in flight
        workflow.continue_as_new(
            WinBackInput(
                customer_id=self._input.customer_id,
                carry_over=self._require_state().model_dump(mode="json"),
            )
        )

    # ------------------------------------------------------------------ steps
    async def _run_step(self, step: WinBackStep) -> None:
        st = self._require_state()
        answer = st.answers[-1] if st.answers else None
        skip = None
        if self._due(step) < st.started_at - SKIP_BEFORE_START:
            skip = "due before the campaign started"
        elif answer and step.purpose is StepPurpose.SURVEY:
            skip = "the exit survey was already answered"
        if skip is not None:
            self._act.record(
                step.key,
                "journey",
                f"skipped: {step.key} ({skip})",
                outcome="skipped",
                day=step.day,
            )
            return
        ctx = self._context(step.day)
        ctx.extra.update(step.params)
        if step.kind is WinBackStepKind.EMAIL:
            assert step.template is not None
            if step.purpose is StepPurpose.SURVEY:
                ctx.extra["exit_survey"] = True
            await self._act.email(step.key, step.template, ctx)
        else:
            assert step.subject is not None and step.body is not None
            why = f" Churn reason: {st.churn_reason}." if st.churn_reason else ""
            await self._act.task(
                step.key,
                step.subject,
                f"{step.body}\n\nWin-back campaign, day {step.day}.{why}",
                due_at=workflow.now() + timedelta(days=step.due_in_days),
                priority=step.priority,
                kind="winback_personal",
                day=step.day,
            )

    # ------------------------------------------------------------------ signals, handled
    async def _drain_inbox(self) -> None:
        st = self._require_state()
        while self._inbox and st.status is WinBackStatus.ACTIVE:
            msg = self._inbox.pop(0)
            if isinstance(msg, SurveyAnswer):
                await self._on_answer(msg)
            else:
                await self._on_return(msg)

    async def _on_answer(self, msg: SurveyAnswer) -> None:
        st = self._require_state()
        if msg.event_id:
            if msg.event_id in st.seen_event_ids:
                return
            st.seen_event_ids = remember(st.seen_event_ids, msg.event_id)
        last = st.answers[-1] if st.answers else None
        if last and last.reason is msg.reason and (msg.comment or None) == last.comment:
            return  # the same click twice
        now = workflow.now()
        st.answers.append(ExitAnswer(reason=msg.reason, comment=msg.comment, at=now))
        n = len(st.answers)
        self._act.record(f"answer:{n}", "journey", f"exit survey answered: {msg.reason.value}")
        props = {
            "cshub_exit_reason": msg.reason.value,
            "cshub_exit_comment": msg.comment or "",
            "cshub_exit_survey_answered": iso_date(now),
        }
        await self._act.update_company(f"answer:{n}:company", props, kind="exit_survey")
        comment = f"\nComment: {msg.comment}" if msg.comment else ""
        await self._act.note(
            f"answer:{n}:note",
            f"Exit survey answered: {msg.reason.value.replace('_', ' ')}{comment}",
            kind="exit_survey",
        )
        if msg.reason in st.plan.stop_on_answer:
            st.status = WinBackStatus.COMPLETED
            await self._finish(f"answered '{msg.reason.value}': nothing more will be sent")
        self._details()

    async def _on_return(self, msg: CustomerReturned) -> None:
        st = self._require_state()
        st.status = WinBackStatus.RETURNED
        st.returned_at = workflow.now()
        st.return_note = msg.note
        await self._finish(f"the customer returned{f': {msg.note}' if msg.note else ''}")

    async def _finish(self, why: str) -> None:
        st = self._require_state()
        now = workflow.now()
        self._act.record("end", "journey", f"win-back ended: {st.status.value} ({why})")
        await self._act.update_company(
            "end:company",
            {"cshub_winback_outcome": st.status.value, "cshub_winback_ended": iso_date(now)},
            kind="winback_outcome",
        )
        answer = st.answers[-1] if st.answers else None
        await self._act.note(
            "end:note",
            f"Win-back campaign ended: {st.status.value} ({why}).\n"
            f"Steps done: {len(st.done_steps)} of {len(st.plan.steps)}; "
            f"{count_noun(self._act.count('email'), 'e-mail')}, "
            f"{count_noun(self._act.count('crm_task'), 'CSM task')}. "
            f"Exit reason: {answer.reason.value if answer else 'not answered'}.",
            kind="winback_outcome",
        )
        self._details()

    # ------------------------------------------------------------------ helpers
    def _day_anchor(self, st: WinBackState) -> datetime:
        return st.anchor

    def _due(self, step: WinBackStep) -> datetime:
        st = self._require_state()
        return step_time(st.anchor, step.day, st.timezone, st.plan.send_window)

    def _end_time(self) -> datetime:
        st = self._require_state()
        last = step_time(st.anchor, st.plan.steps[-1].day, st.timezone, st.plan.send_window)
        return last + timedelta(days=st.plan.answer_window_days)

    def _next(self) -> tuple[str, str, datetime] | None:
        st = self._require_state()
        for step in st.plan.steps:
            if step.key not in st.done_steps:
                what = (
                    f"e-mail '{step.template}'"
                    if step.kind is WinBackStepKind.EMAIL
                    else f"CSM task: {step.subject}"
                )
                return step.key, f"{what} (day {step.day})", self._due(step)
        return "end", "campaign ends (answer window over)", self._end_time()

    def _context(self, day: int) -> MessageContext:
        st = self._require_state()
        return MessageContext(
            day=day,
            tier=st.tier,
            extra={"churned_on": iso_date(st.anchor)},
        )

    def _summary(self) -> WinBackSummary:
        st = self._require_state()
        answer = st.answers[-1] if st.answers else None
        return WinBackSummary(
            customer_id=self._input.customer_id,
            status=st.status,
            started_at=st.started_at,
            finished_at=workflow.now(),
            exit_reason=answer.reason if answer else None,
            emails_sent=self._act.count("email"),
            tasks_created=self._act.count("crm_task"),
            failed_steps=[a.step for a in st.actions if a.outcome == "failed"],
        )

    def _details(self) -> None:
        st = self._state
        if st is None:
            return
        nxt = self._next() if st.status is WinBackStatus.ACTIVE else None
        answer = st.answers[-1] if st.answers else None
        lines = [
            f"**Win-back** · day {self._day(workflow.now())} · {st.status.value}",
            f"Exit reason: {answer.reason.value if answer else '-'}",
            f"Next: {nxt[1]} at {nxt[2]:%Y-%m-%d %H:%M} UTC" if nxt else "Next: -",
        ]
        steering = self._steer.detail_line()
        if steering:
            lines.append(steering)
        set_details(lines)
