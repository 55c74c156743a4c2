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

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.campaigns import iso_date, step_time
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
    from workflows.campaign import CampaignWorkflow, inbox_signal, load_plan
    from workflows.common import customer_profile, tag_customer

__all__ = ["WinBackWorkflow", "winback_workflow_id"]

SKIP_BEFORE_START = timedelta(minutes=5)


@workflow.defn(name="WinBackWorkflow")
class WinBackWorkflow(CampaignWorkflow[WinBackState, WinBackInput]):
    # Its own signals (each also an update of the same name, validated and answered).
    survey_answered = inbox_signal(
        "survey_answered",
        SurveyAnswer,
        '{"reason": "too_expensive", "comment": "Budget cut this year"}',
    )
    returned = inbox_signal(
        "returned", CustomerReturned, '{"note": "re-subscribed to Starter"} (or no input)'
    )

    NOT_STARTED = "win-back has not started yet"
    CAMPAIGN = "Win-back campaign"
    STATE = WinBackState
    CANCELLED = WinBackStatus.CANCELLED
    WAIT_SUMMARY = "next win-back step"

    @workflow.init
    def __init__(self, inp: WinBackInput) -> None:
        self._setup(inp)

    # ------------------------------------------------------------------ query
    @workflow.query(name="progress")
    def progress(self) -> WinBackProgress:
        st = self._state
        if st is None:
            return WinBackProgress(
                customer_id=self._input.customer_id, status=WinBackStatus.STARTING
            )
        answer = st.answers[-1] if st.answers else None
        return WinBackProgress(
            **self._progress_fields(st),
            churn_reason=st.churn_reason,
            exit_reason=answer.reason if answer else None,
            exit_comment=answer.comment if answer else None,
            steps_done=list(st.done_steps),
            ends_at=self._end_time(),
        )

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: WinBackInput) -> WinBackSummary:
        await self._run_campaign(inp, self._sequence)
        return self._summary()

    def _active(self) -> bool:
        return self._require_state().status is WinBackStatus.ACTIVE

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
        if not await self._take_steps(st.plan.steps, self._due, self._run_step):
            return
        # Keep listening for survey answers for a while, unless one came already.
        await self._wait_until(self._end_time(), stop=lambda: bool(st.answers))
        if st.status is WinBackStatus.ACTIVE and not self._steer.cancelled:
            st.status = WinBackStatus.COMPLETED
            await self._finish("sequence completed")

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
    async def _handle(self, msg: SurveyAnswer | CustomerReturned) -> None:
        if isinstance(msg, SurveyAnswer):
            await self._on_answer(msg)
        else:
            await self._on_return(msg)

    async def _on_answer(self, msg: SurveyAnswer) -> None:
        st = self._require_state()
        if self._seen(msg.event_id):
            return
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

    def _context_extra(self, day: int) -> dict[str, Any]:
        st = self._require_state()
        return {"churned_on": iso_date(st.anchor)}

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

    def _detail_lines(self, st: WinBackState) -> list[str]:
        answer = st.answers[-1] if st.answers else None
        return [
            f"**Win-back** · day {self._day(workflow.now())} · {st.status.value}",
            f"Exit reason: {answer.reason.value if answer else '-'}",
            self._next_line(),
        ]
