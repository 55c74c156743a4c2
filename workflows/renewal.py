"""RenewalWorkflow: one customer's countdown to their renewal date, term after term.

Playbook ``playbooks/renewal.yaml``, in order:
1. Started by ops (``{"customer_id": "1003", "renewal_date": "2027-03-01"}``) or by the
   Stripe subscription webhook (signal-with-start ``renewal_date_changed`` carrying the
   same date: a no-op). The playbook and the customer's time zone are read once per run.
2. Reminders ``days_before`` the date (60, 30, 14, 7, 1) at the send hour in the
   customer's zone: an e-mail to the customer with a value summary, a Slack alert to the
   CSM, a CRM task at 60 and 30 days. Reminders already past at the start are skipped.
3. Signal ``renewal_date_changed`` re-plans the countdown: reminders whose time has passed
   are skipped and recorded (never sent late, never in a burst); a date moved later sends
   the reminders not yet sent for it (see ``rearm_min_shift_days``).
4. Outcomes: ``renewed`` / ``auto_renewed`` start the next term's countdown (continue-as-
   new with the new date, by default the date plus the term); ``churned`` stops it and
   starts the win-back campaign (``winback-{customer_id}``, an abandoned child).
5. The date passing with no outcome escalates once (CSM and account executive in Slack, a
   HIGH CRM task), then the workflow waits ``outcome_wait_days`` and ends as "unknown".

Workflow id ``renewal-{customer_id}``; idempotency keys
``{workflow id}/term-{renewal date}/{step}``: a new term (or a moved date) sends its own
reminders, a replay or a retried activity never repeats one.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.models import MessageContext
    from domain.campaigns import campaign_day
    from domain.customer_year import customer_year_workflow_id
    from domain.executive_report import (
        ARR,
        ARR_BEFORE_RENEWAL,
        CHURNED_AT,
        RENEWAL_DECIDED_AT,
        RENEWAL_OUTCOME,
        LifecycleFact,
    )
    from domain.journeys import NextAction
    from domain.renewal import (
        MAX_TERMS_KEPT,
        AutoRenewed,
        Churned,
        NextTerm,
        Reminder,
        ReminderState,
        ReminderView,
        RenewalCarryOver,
        RenewalDateChanged,
        RenewalInput,
        RenewalOutcome,
        RenewalProgress,
        RenewalState,
        RenewalStatus,
        RenewalSummary,
        Renewed,
        SentReminder,
        TermRecord,
        add_months,
        escalate_at,
        journey_key,
        outcome_deadline,
        plan_reminders,
        renewal_workflow_id,
    )
    from domain.renewal_plan import RenewalPlan
    from domain.search_attributes import LifecycleStage
    from domain.send_window import local_date
    from domain.steering import CancelRequest
    from domain.winback import WinBackInput, winback_workflow_id
    from domain.wording import days
    from workflows.campaign import (
        InboxSignals,
        actions_for,
        inbox_signal,
        load_plan,
        seen_before,
        signal_other,
        start_abandoned_child,
    )
    from workflows.common import (
        CustomerActions,
        customer_profile,
        record_risk_outcome,
        required,
        set_details,
        show_starting,
        tag_customer,
        tag_renewal_date,
    )
    from workflows.steering import Steering
    from workflows.waiting import WAIT_PATCH, DueTimer

__all__ = ["RenewalWorkflow", "renewal_workflow_id"]

Message = RenewalDateChanged | Renewed | AutoRenewed | Churned

_OUTCOME_STATUS = {
    RenewalOutcome.RENEWED: RenewalStatus.RENEWED,
    RenewalOutcome.AUTO_RENEWED: RenewalStatus.AUTO_RENEWED,
    RenewalOutcome.CHURNED: RenewalStatus.CHURNED,
    RenewalOutcome.UNKNOWN: RenewalStatus.UNKNOWN,
}


CHURNED_STOPS_PLAYS_PATCH = "renewal-churned-stops-year-plays"
"""``workflow.patched``: a churn cancels the post-onboarding plays (reviews, upgrade and
advocacy asks) of the customer, if they run."""

CHURNED_ALERT_PATCH = "renewal-churned-slack-alert"
CHURNED_ALERT = "renewal_churned"
"""Slack template telling the CSM the customer churned (templates/slack)."""


@workflow.defn(name="RenewalWorkflow")
class RenewalWorkflow(InboxSignals):
    @workflow.init
    def __init__(self, inp: RenewalInput) -> None:
        self._input = inp
        self._timer = DueTimer()
        carry = RenewalCarryOver.model_validate(inp.carry_over) if inp.carry_over else None
        self._next_term: NextTerm | None = carry.next_term if carry else None
        self._state: RenewalState | None = carry.state if carry else None
        self._inbox: list[Message] = []
        self._actions: CustomerActions | None = None
        self._cancelled = False
        self._steer = Steering(
            self._state.steering
            if self._state
            else (carry.next_term.steering if carry and carry.next_term else None)
        )

    # ------------------------------------------------------------------ signals
    renewal_date_changed = inbox_signal(
        "renewal_date_changed",
        RenewalDateChanged,
        '{"renewal_date": "2027-04-15"}',
        " (the same date again: nothing happens)",
    )

    renewed = inbox_signal(
        "renewed",
        Renewed,
        "{}",
        ' (next date = date + term) or ``{"next_renewal_date": "2028-03-01"}``',
    )

    auto_renewed = inbox_signal(
        "auto_renewed", AutoRenewed, "{}", ' or ``{"next_renewal_date": "2028-03-01"}``'
    )

    churned = inbox_signal("churned", Churned, '{"reason": "moved to a competitor"}')

    # ------------------------------------------------------------------ query
    @workflow.query(name="progress")
    def progress(self) -> RenewalProgress:
        st = self._state
        if st is None:
            return RenewalProgress(
                customer_id=self._input.customer_id,
                renewal_date=self._input.renewal_date,
                term=self._next_term.term if self._next_term else 1,
                term_months=self._input.term_months,
                status=RenewalStatus.STARTING,
            )
        nxt = self._next()
        now = workflow.now()
        return RenewalProgress(
            customer_id=self._input.customer_id,
            renewal_date=st.renewal_date,
            term=st.term,
            term_months=st.term_months,
            status=self._status(),
            timezone=st.timezone,
            started_at=st.started_at,
            term_started_at=st.term_started_at,
            days_left=(st.renewal_date - local_date(now, st.timezone)).days,
            next_action=NextAction(step=nxt[0], summary=nxt[1], due_at=nxt[2]) if nxt else None,
            reminders=[
                ReminderView(
                    days_before=r.days_before,
                    due_at=r.due_at,
                    state=r.state,
                    renewal_date=r.renewal_date,
                    note=r.note,
                )
                for r in st.reminders
            ],
            escalate_at=escalate_at(st.plan, st.renewal_date, st.timezone),
            outcome_deadline=outcome_deadline(st.plan, st.renewal_date, st.timezone),
            escalated=st.escalated_for == st.renewal_date,
            date_changes=st.date_changes,
            outcome=st.outcome,
            next_renewal_date=st.next_renewal_date,
            winback_workflow_id=st.winback_workflow_id,
            previous_terms=list(st.previous_terms),
            actions=list(st.actions),
            steering=self._steer.status(),
        )

    def _next_step_key(self) -> str | None:
        nxt = self._next() if self._state is not None else None
        return nxt[0] if nxt else None

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: RenewalInput) -> RenewalSummary:
        if self._state is None:
            show_starting(f"Renewal countdown for customer {inp.customer_id}")
            self._state = await self._begin(inp)
        st = self._state
        try:
            await self._countdown()
        except asyncio.CancelledError:
            # "Cancel" in the Temporal UI: leave a trace on the company, then end.
            self._cancelled = True
            self._steer.begin_closing()
            await self._act.note(
                "cancel:note",
                f"Renewal countdown to {st.renewal_date.isoformat()} cancelled in Temporal.",
                kind="renewal_cancelled",
            )
            raise
        reason = self._steer.cancel_reason
        if reason is not None and st.outcome is None:
            # The cancel signal: the same closing, then the result says cancelled.
            self._cancelled = True
            self._steer.begin_closing()
            self._act.record("cancelled", "journey", f"countdown cancelled: {reason}")
            await self._act.note(
                "cancel:note",
                f"Renewal countdown to {st.renewal_date.isoformat()} cancelled: {reason}\n"
                f"{self._summary_text()}",
                kind="renewal_cancelled",
            )
            self._details()
            return self._summary()
        if st.outcome in (RenewalOutcome.RENEWED, RenewalOutcome.AUTO_RENEWED) and (
            st.plan.next_term_countdown
        ):
            await self._start_next_term()
        self._details()
        return self._summary()

    async def _begin(self, inp: RenewalInput) -> RenewalState:
        nt = self._next_term
        playbook = nt.playbook if nt else inp.playbook
        plan = await load_plan(playbook, RenewalPlan)
        profile = await customer_profile(inp.customer_id)
        tag_customer(profile, stage=LifecycleStage.RENEWAL)
        tag_renewal_date(inp.renewal_date)
        now = workflow.now()
        st = RenewalState(
            plan=plan,
            playbook=playbook,
            started_at=nt.started_at if nt else now,
            term_started_at=now,
            term=nt.term if nt else 1,
            term_months=inp.term_months,
            renewal_date=inp.renewal_date,
            timezone=profile.timezone,
            tier=profile.tier,
            arr_at_term_start=profile.arr,
            previous_terms=list(nt.previous_terms) if nt else [],
            seen_event_ids=list(nt.seen_event_ids) if nt else [],
            actions=list(nt.actions) if nt else [],
            steering=self._steer.state,
        )
        if now >= outcome_deadline(plan, st.renewal_date, st.timezone):
            raise ApplicationError(
                f"renewal_date {st.renewal_date.isoformat()} is more than "
                f"{plan.outcome_wait_days} days in the past: start again with the next "
                f"renewal date",
                type="RenewalDateInPast",
                non_retryable=True,
            )
        self._state = st
        st.reminders = plan_reminders(
            plan,
            st.renewal_date,
            st.timezone,
            now,
            [],
            why_past="due before the countdown started",
        )
        away = (st.renewal_date - local_date(now, st.timezone)).days
        self._act.record(
            "start",
            "journey",
            f"term {st.term}: countdown to the renewal on {st.renewal_date.isoformat()} "
            f"({days(away)} away, {st.timezone})",
        )
        self._record_skipped(st.reminders)
        if nt is not None and nt.churned is not None:
            self._inbox.insert(0, nt.churned)  # handled first, like a signal
        self._details()
        return st

    async def _countdown(self) -> None:
        """Reminders, escalation and the wait for an outcome, until there is one."""
        st = self._require_state()
        while True:
            await self._drain_inbox()
            if st.outcome is not None or self._steer.cancelled:
                return
            now = workflow.now()
            due = [r for r in st.reminders if r.state is ReminderState.PENDING and r.due_at <= now]
            if self._steer.paused and (due or self._step_due(now)):
                # Due while paused: hold here (an outcome or a cancel meanwhile still
                # ends the countdown); what fell due runs at resume.
                await workflow.wait_condition(
                    lambda: bool(self._inbox) or not self._steer.paused or self._steer.cancelled
                )
                continue
            if due:
                await self._send_due(due)
                self._details()
                continue
            if now >= outcome_deadline(st.plan, st.renewal_date, st.timezone):
                await self._no_outcome()
                return
            if st.escalated_for != st.renewal_date and now >= escalate_at(
                st.plan, st.renewal_date, st.timezone
            ):
                await self._escalate()
                self._details()
                continue
            if self._history_nearly_full():
                await self._continue_as_new()
                continue  # an outcome came in while draining
            nxt = self._next()
            assert nxt is not None  # the outcome deadline is always ahead
            if workflow.patched(WAIT_PATCH):
                await self._timer.wait(
                    nxt[2],
                    lambda: bool(self._inbox) or self._steer.cancelled,
                    summary=nxt[1],
                )
                continue
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: bool(self._inbox) or self._steer.cancelled,
                    timeout=nxt[2] - now,
                    timeout_summary=nxt[1],
                )

    def _step_due(self, now: datetime) -> bool:
        """The escalation or the end as unknown is due."""
        st = self._require_state()
        return now >= outcome_deadline(st.plan, st.renewal_date, st.timezone) or (
            st.escalated_for != st.renewal_date
            and now >= escalate_at(st.plan, st.renewal_date, st.timezone)
        )

    # ------------------------------------------------------------------ continue-as-new
    def _history_nearly_full(self) -> bool:
        info = workflow.info()
        bound = self._require_state().plan.history
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= bound.continue_at
        )

    def _trimmed_actions(self) -> None:
        st = self._require_state()
        keep = st.plan.history.actions_carried
        if len(st.actions) > keep:
            del st.actions[: len(st.actions) - keep]

    async def _continue_as_new(self) -> None:
        """Same term, fresh history (the state, with a bounded action log, carries on)."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._drain_inbox()
        st = self._require_state()
        if st.outcome is not None:
            return
        self._trimmed_actions()
        await self._steer.alerts_sent()  # rejected-command alerts in flight
        workflow.continue_as_new(
            RenewalInput(
                customer_id=self._input.customer_id,
                renewal_date=st.renewal_date,
                term_months=st.term_months,
                playbook=st.playbook,
                carry_over=RenewalCarryOver(state=st).model_dump(mode="json"),
            )
        )

    async def _start_next_term(self) -> None:
        """Renewed: the next term's countdown, as a new run (new date, playbook re-read)."""
        st = self._require_state()
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert st.outcome is not None and st.next_renewal_date is not None
        next_date = st.next_renewal_date
        # Signals that raced the renewal belong to the next term: a date beyond this
        # term's (Stripe sends the new period end with the renewal), a churn.
        churned: Churned | None = None
        for msg in self._inbox:
            if self._seen(msg.event_id):
                continue
            if isinstance(msg, RenewalDateChanged) and msg.renewal_date > st.renewal_date:
                next_date = msg.renewal_date
            elif isinstance(msg, Churned):
                churned = msg.model_copy(update={"event_id": None})  # its id is seen already
            else:
                self._act.record(
                    "ignored", "journey", f"ignored {_describe_msg(msg)}: the term has ended"
                )
        self._inbox.clear()
        st.next_renewal_date = next_date
        st.previous_terms = [
            *st.previous_terms[-(MAX_TERMS_KEPT - 1) :],
            TermRecord(
                term=st.term,
                renewal_date=st.renewal_date,
                outcome=st.outcome,
                at=st.outcome_at or workflow.now(),
                next_renewal_date=next_date,
            ),
        ]
        self._trimmed_actions()
        await self._steer.alerts_sent()  # rejected-command alerts in flight
        workflow.continue_as_new(
            RenewalInput(
                customer_id=self._input.customer_id,
                renewal_date=next_date,
                term_months=st.next_term_months or st.term_months,
                playbook=st.playbook,
                carry_over=RenewalCarryOver(
                    next_term=NextTerm(
                        term=st.term + 1,
                        started_at=st.started_at,
                        playbook=st.playbook,
                        previous_terms=st.previous_terms,
                        seen_event_ids=st.seen_event_ids,
                        actions=st.actions,
                        churned=churned,
                        # Skips applied name this term's steps: the next term starts clean.
                        steering=st.steering.model_copy(update={"skipped": []}),
                    )
                ).model_dump(mode="json"),
            )
        )

    # ------------------------------------------------------------------ signals, handled
    def _seen(self, event_id: str | None) -> bool:
        """True for a redelivered event; remembers new ones."""
        return seen_before(self._require_state(), event_id)

    async def _drain_inbox(self) -> None:
        st = self._require_state()
        while self._inbox and st.outcome is None:
            msg = self._inbox.pop(0)
            if self._seen(msg.event_id):
                continue
            if isinstance(msg, RenewalDateChanged):
                self._change_date(msg.renewal_date)
            elif isinstance(msg, Renewed):
                await self._renewed(
                    RenewalOutcome.RENEWED, msg.next_renewal_date, msg.term_months, msg.arr
                )
            elif isinstance(msg, AutoRenewed):
                await self._renewed(
                    RenewalOutcome.AUTO_RENEWED, msg.next_renewal_date, msg.term_months, msg.arr
                )
            else:
                await self._churned(msg.reason)
            self._details()

    def _change_date(self, new: date) -> None:
        st = self._require_state()
        old = st.renewal_date
        if new == old:
            return  # the webhook's signal-with-start repeating the start date
        now = workflow.now()
        st.renewal_date = new
        tag_renewal_date(new)
        st.date_changes += 1
        self._act.journey_key = journey_key(new)
        before = {r.days_before: r.state for r in st.reminders}
        st.reminders = plan_reminders(
            st.plan,
            new,
            st.timezone,
            now,
            st.sent,
            why_past=f"due before the date moved from {old.isoformat()}",
        )
        direction = "later" if new > old else "earlier"
        rearmed = [
            r.days_before
            for r in st.reminders
            if r.state is ReminderState.PENDING
            and before.get(r.days_before) not in (None, ReminderState.PENDING)
        ]
        self._act.record(
            f"date:{new.isoformat()}",
            "journey",
            f"renewal date moved {direction}: {old.isoformat()} -> {new.isoformat()}"
            + (
                f"; re-armed reminders {', '.join(map(str, rearmed))} days before"
                if rearmed
                else ""
            ),
        )
        self._record_skipped(
            [
                r
                for r in st.reminders
                if r.state is ReminderState.SKIPPED
                and before.get(r.days_before) is not ReminderState.SKIPPED
            ]
        )

    async def _renewed(
        self,
        outcome: RenewalOutcome,
        next_date: date | None,
        term_months: int | None,
        arr: float | None = None,
    ) -> None:
        st = self._require_state()
        if next_date is not None and next_date == st.renewal_date and st.term > 1:
            # The renewal that started this term, delivered again.
            self._act.record(
                "ignored",
                "journey",
                f"ignored {outcome.value} to {next_date.isoformat()}: this term already "
                f"counts down to that date",
                outcome="skipped",
            )
            return
        now = workflow.now()
        st.outcome = outcome
        st.outcome_at = now
        st.next_term_months = term_months
        st.next_renewal_date = next_date or add_months(st.renewal_date, st.term_months)
        label = "renewed" if outcome is RenewalOutcome.RENEWED else "auto-renewed"
        self._act.record(
            outcome.value,
            "journey",
            f"{label}: term {st.term} ({st.renewal_date.isoformat()}) done; next renewal "
            f"{st.next_renewal_date.isoformat()}",
        )
        await self._act.note(
            f"{outcome.value}:note",
            f"Renewal: the customer {label} (term {st.term}, renewal date "
            f"{st.renewal_date.isoformat()}). Next renewal date: "
            f"{st.next_renewal_date.isoformat()}.\n{self._summary_text()}",
            kind=f"renewal_{outcome.value}",
        )
        await self._decided(outcome.value, {ARR: arr})
        await record_risk_outcome(self._input.customer_id, "renewed", f"term{st.term}:renewed")

    async def _decided(self, outcome: str, facts: dict[str, LifecycleFact]) -> None:
        """The term's outcome, its day and the ARR before and after on the CRM company."""
        st = self._require_state()
        await self._act.lifecycle_facts(
            f"{outcome}:company",
            {
                RENEWAL_OUTCOME: outcome,
                RENEWAL_DECIDED_AT: workflow.now().date(),
                ARR_BEFORE_RENEWAL: st.arr_at_term_start,
                **facts,
            },
        )

    async def _churned(self, reason: str | None) -> None:
        st = self._require_state()
        now = workflow.now()
        st.outcome = RenewalOutcome.CHURNED
        st.outcome_at = now
        st.churn_reason = reason
        self._act.record(
            "churned", "journey", f"churned{f': {reason}' if reason else ''}; countdown stopped"
        )
        await self._act.note(
            "churned:note",
            f"Renewal: the customer churned before/at the renewal on "
            f"{st.renewal_date.isoformat()}{f' ({reason})' if reason else ''}. Countdown "
            f"stopped; win-back campaign started.\n{self._summary_text()}",
            kind="renewal_churned",
        )
        await self._decided(RenewalOutcome.CHURNED.value, {CHURNED_AT: now.date()})
        await record_risk_outcome(self._input.customer_id, "churned", f"term{st.term}:churned")
        if workflow.patched(CHURNED_ALERT_PATCH):
            # The CSM hears of it in Slack, as for every other turn of the renewal.
            ctx = self._context(0).model_copy(
                update={"reason": reason, "summary": self._summary_text()}
            )
            await self._act.alert("churned:alert", CHURNED_ALERT, ctx)
        if workflow.patched(CHURNED_STOPS_PLAYS_PATCH):
            plays = customer_year_workflow_id(self._input.customer_id)
            gone = await signal_other(
                plays, "cancel", CancelRequest(reason=f"churned{f': {reason}' if reason else ''}")
            )
            self._act.record(
                "churned:plays",
                "workflow",
                f"post-onboarding plays {plays} cancelled"
                if gone is None
                else f"no post-onboarding plays to stop ({plays}: {gone})",
            )
        child_id = winback_workflow_id(self._input.customer_id)
        started = await start_abandoned_child(
            "WinBackWorkflow",
            WinBackInput(customer_id=self._input.customer_id, reason=reason, churned_at=now),
            workflow_id=child_id,
            summary=f"win-back after churn at renewal ({workflow.info().workflow_id})",
        )
        st.winback_workflow_id = child_id
        self._act.record(
            "churned:winback",
            "workflow",
            f"started win-back {child_id}"
            if started
            else f"win-back {child_id} already running: not started again",
        )

    # ------------------------------------------------------------------ steps
    async def _send_due(self, due: list[Reminder]) -> None:
        """Send the latest due reminder; older ones due at the same time (a worker that
        was down, a date moved earlier) are skipped, not sent in a burst."""
        latest = min(due, key=lambda r: r.days_before)
        now = workflow.now()
        stale = [r for r in due if r is not latest]
        for r in stale:
            r.state = ReminderState.SKIPPED
            r.done_at = now
            r.note = f"superseded by the {latest.days_before}-day reminder (sent late)"
        self._record_skipped(stale)
        await self._send_reminder(latest)

    async def _send_reminder(self, r: Reminder) -> None:
        st = self._require_state()
        cfg = st.plan.reminder(r.days_before)
        assert cfg is not None
        now = workflow.now()
        step = f"reminder-{r.days_before}d"
        ctx = self._context(r.days_before)
        outcomes: list[str] = []
        if cfg.email:
            outcomes.append(await self._act.email(f"{step}:email", cfg.email, ctx))
        if cfg.alert_csm:
            alert = ctx.model_copy(
                update={"summary": self._summary_text(), "next_step": self._next_reminder_text(r)}
            )
            outcomes.append(await self._act.alert(f"{step}:alert", cfg.alert_csm, alert))
        if cfg.crm_task:
            outcomes.append(
                await self._act.task(
                    f"{step}:task",
                    f"Renewal in {days(r.days_before)} ({st.renewal_date.isoformat()}): "
                    + (
                        "prepare the value review" if r.days_before > 30 else "renewal conversation"
                    ),
                    f"The renewal of term {st.term} is on {st.renewal_date.isoformat()} "
                    f"({days(r.days_before)}). Review health, usage and outcomes, confirm the "
                    f"decision maker and the renewal terms, and record the outcome in "
                    f"Temporal (signal renewed, auto_renewed or churned).",
                    due_at=now + timedelta(days=cfg.task_due_days),
                    priority=cfg.task_priority,
                    kind="renewal_reminder",
                )
            )
        r.done_at = now
        if outcomes and all(o == "skipped" for o in outcomes):
            # The skip signal: recorded, not sent (a moved date may re-arm it).
            r.state = ReminderState.SKIPPED
            r.note = "skipped on request"
            return
        r.state = (
            ReminderState.FAILED
            if outcomes and all(o == "failed" for o in outcomes)
            else ReminderState.SENT
        )
        st.sent.append(SentReminder(days_before=r.days_before, renewal_date=r.renewal_date, at=now))

    async def _escalate(self) -> None:
        st = self._require_state()
        esc = st.plan.escalation
        now = workflow.now()
        st.escalated_for = st.renewal_date
        st.escalations += 1
        overdue = (local_date(now, st.timezone) - st.renewal_date).days
        ctx = self._context(-overdue).model_copy(
            update={
                "reason": f"no outcome recorded {overdue} day(s) after the renewal date",
                "summary": self._summary_text(),
                "next_step": "Find out where the renewal stands today, then record it in "
                "Temporal: signal renewed, auto_renewed or churned (or move the date).",
            }
        )
        ctx.extra.update(
            {
                "days_overdue": overdue,
                "account_executive_slack_id": esc.account_executive.slack_user_id,
                "account_executive_name": esc.account_executive.name,
            }
        )
        await self._act.alert("overdue:alert", esc.alert_template, ctx)
        await self._act.task(
            "overdue:task",
            f"Renewal overdue: no outcome {overdue} day(s) after {st.renewal_date.isoformat()}",
            f"The renewal date {st.renewal_date.isoformat()} (term {st.term}) has passed and no "
            f"outcome was recorded. With the account executive, find out whether the customer "
            f"renewed or is leaving, and record it in Temporal (signal renewed, auto_renewed "
            f"or churned on {workflow.info().workflow_id}).",
            due_at=now + timedelta(days=esc.task_due_days),
            priority=esc.task_priority,
            kind="renewal_overdue",
        )

    async def _no_outcome(self) -> None:
        st = self._require_state()
        st.outcome = RenewalOutcome.UNKNOWN
        st.outcome_at = workflow.now()
        self._act.record(
            "unknown",
            "journey",
            f"no outcome {days(st.plan.outcome_wait_days)} after {st.renewal_date.isoformat()}: "
            f"ended as unknown",
        )
        await self._act.note(
            "unknown:note",
            f"Renewal: no outcome was recorded within {days(st.plan.outcome_wait_days)} of the "
            f"renewal date {st.renewal_date.isoformat()}; the countdown ended as unknown. "
            f"Start a new one with the next date once it is known.\n{self._summary_text()}",
            kind="renewal_unknown",
        )

    # ------------------------------------------------------------------ helpers
    @property
    def _act(self) -> CustomerActions:
        st = self._require_state()
        if self._actions is None:
            key = journey_key(st.renewal_date)
            self._actions = actions_for(self._input.customer_id, key, st, self._day, self._steer)
        return self._actions

    def _require_state(self) -> RenewalState:
        return required(self._state, "renewal has not started yet")

    def _day(self, at: datetime) -> int:
        st = self._require_state()
        return campaign_day(st.started_at, at, st.timezone)

    def _status(self) -> RenewalStatus:
        st = self._require_state()
        if self._cancelled:
            return RenewalStatus.CANCELLED
        if st.outcome is not None:
            return _OUTCOME_STATUS[st.outcome]
        if st.escalated_for == st.renewal_date:
            return RenewalStatus.ESCALATED
        if self._steer.paused:
            return RenewalStatus.PAUSED
        if local_date(workflow.now(), st.timezone) > st.renewal_date:
            return RenewalStatus.AWAITING_OUTCOME
        return RenewalStatus.COUNTING_DOWN

    def _next(self) -> tuple[str, str, datetime] | None:
        st = self._require_state()
        if st.outcome is not None or self._cancelled:
            return None
        pending = [r for r in st.reminders if r.state is ReminderState.PENDING]
        if pending:
            r = min(pending, key=lambda r: r.due_at)
            return (
                f"reminder-{r.days_before}d",
                f"renewal reminder {r.days_before} days before {r.renewal_date.isoformat()}",
                r.due_at,
            )
        if st.escalated_for != st.renewal_date:
            return (
                "overdue",
                "escalate unless an outcome comes in",
                escalate_at(st.plan, st.renewal_date, st.timezone),
            )
        return (
            "unknown",
            "end as unknown unless an outcome comes in",
            outcome_deadline(st.plan, st.renewal_date, st.timezone),
        )

    def _context(self, days_left: int) -> MessageContext:
        st = self._require_state()
        return MessageContext(
            day=self._day(workflow.now()),
            tier=st.tier,
            extra={
                "renewal_date": st.renewal_date.isoformat(),
                "days_left": days_left,
                "term": st.term,
                "term_months": st.term_months,
            },
        )

    def _next_reminder_text(self, current: Reminder) -> str | None:
        st = self._require_state()
        later = [
            r
            for r in st.reminders
            if r.state is ReminderState.PENDING and r.days_before < current.days_before
        ]
        if not later:
            return None
        return f"Next reminder {days(later[0].days_before)} before the date."

    def _record_skipped(self, reminders: list[Reminder]) -> None:
        for r in reminders:
            if r.state is ReminderState.SKIPPED:
                self._act.record(
                    f"reminder-{r.days_before}d",
                    "journey",
                    f"skipped the {r.days_before}-day reminder for "
                    f"{r.renewal_date.isoformat()} (due {r.due_at:%Y-%m-%d %H:%M} UTC): {r.note}",
                    outcome="skipped",
                )

    def _summary_text(self) -> str:
        st = self._require_state()
        sent = [r.days_before for r in st.reminders if r.state is ReminderState.SENT]
        skipped = [r.days_before for r in st.reminders if r.state is ReminderState.SKIPPED]
        return (
            f"Term {st.term}, renewal date {st.renewal_date.isoformat()}. Reminders sent: "
            f"{', '.join(f'{d}d' for d in sent) or 'none'}; skipped: "
            f"{', '.join(f'{d}d' for d in skipped) or 'none'}."
        )

    def _summary(self) -> RenewalSummary:
        st = self._require_state()
        return RenewalSummary(
            customer_id=self._input.customer_id,
            outcome=st.outcome or RenewalOutcome.UNKNOWN,
            term=st.term,
            renewal_date=st.renewal_date,
            next_renewal_date=st.next_renewal_date,
            term_started_at=st.term_started_at,
            finished_at=workflow.now(),
            reminders_sent=len(st.sent),
            reminders_skipped=sum(1 for r in st.reminders if r.state is ReminderState.SKIPPED),
            emails_sent=self._act.count("email"),
            alerts_sent=self._act.count("slack"),
            tasks_created=self._act.count("crm_task"),
            escalated=st.escalations > 0,
            date_changes=st.date_changes,
            churn_reason=st.churn_reason,
            winback_workflow_id=st.winback_workflow_id,
            previous_terms=list(st.previous_terms),
            failed_steps=[a.step for a in st.actions if a.outcome == "failed"],
            status=self._status(),
            cancel_reason=self._steer.cancel_reason,
        )

    def _details(self) -> None:
        st = self._state
        if st is None:
            return
        nxt = self._next()
        reminders = " · ".join(f"{r.days_before}d {r.state.value}" for r in st.reminders)
        lines = [
            f"**Renewal** term {st.term} · {st.renewal_date.isoformat()} · {self._status().value}",
            f"Reminders: {reminders or '-'}",
            f"Next: {nxt[1]} at {nxt[2]:%Y-%m-%d %H:%M} UTC" if nxt else "Next: -",
        ]
        set_details(lines, self._steer.detail_line())


def _describe_msg(msg: Message) -> str:
    if isinstance(msg, RenewalDateChanged):
        return f"date change to {msg.renewal_date.isoformat()}"
    if isinstance(msg, Churned):
        return "churned"
    return "renewed" if isinstance(msg, Renewed) else "auto_renewed"
