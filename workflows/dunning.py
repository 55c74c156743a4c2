"""DunningWorkflow: one customer's dunning sequence after a failed payment.

Playbook ``playbooks/dunning.yaml``, in order:
1. Started by Stripe's ``invoice.payment_failed`` (signal-with-start: start input
   :class:`DunningInput`, signal ``payment_failed``). Failures are counted once per
   invoice (Stripe's retries of the same invoice, a redelivered event, or the start
   followed by its own signal do not count again) and deduplicated by event id.
2. The plan's dated steps: customer e-mails (day 0 at once, later days at the send hour
   in the customer's zone) and a CSM alert in Slack.
3. Signal ``payment_succeeded`` stops it: recorded, thank-you e-mail (if the playbook has
   one), CRM note, company properties. With several failed invoices, the sequence stops
   when the last of them is paid; a payment naming no invoice settles everything.
4. No payment by the final-failure day: the CRM company is flagged at risk and churn
   prevention starts (``churn-{customer_id}``, abandoned child: it outlives this one; if
   it already runs it gets a ``risk_signal`` instead).

Workflow id ``dunning-{customer_id}``; idempotency keys ``{workflow id}/{start}/{step}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.models import MessageContext
    from domain.campaigns import (
        DunningProgress,
        DunningState,
        DunningStatus,
        DunningSummary,
        iso_date,
        remember,
        step_time,
    )
    from domain.dunning_plan import DunningPlan, DunningStep
    from domain.lifecycle import (
        ChurnPreventionInput,
        DunningInput,
        PaymentFailed,
        PaymentSucceeded,
        RiskFactor,
        RiskSignal,
        churn_workflow_id,
        dunning_workflow_id,
    )
    from domain.onboarding import NextAction
    from domain.search_attributes import LifecycleStage
    from domain.send_window import out_of_quiet_hours
    from domain.wording import count_noun, days
    from workflows.campaign import (
        CampaignActions,
        load_plan,
        signal_other,
        start_abandoned_child,
    )
    from workflows.common import (
        CustomerActions,
        customer_profile,
        record_risk_outcome,
        set_details,
        tag_customer,
    )
    from workflows.steering import NO_INPUT, Cmd, Steerable, Steering
    from workflows.waiting import WAIT_PATCH, DueTimer

__all__ = ["DunningWorkflow", "dunning_workflow_id"]


@workflow.defn(name="DunningWorkflow")
class DunningWorkflow(Steerable, CampaignActions[DunningState, DunningInput]):
    _INBOX_COMMANDS: ClassVar[dict[str, type[BaseModel]]] = {
        "payment_failed": PaymentFailed,
        "payment_succeeded": PaymentSucceeded,
    }
    """Its own signals, also taken as updates of the same name (validated, answered)."""

    NOT_STARTED = "dunning has not started yet"

    @workflow.init
    def __init__(self, inp: DunningInput) -> None:
        self._input = inp
        self._timer = DueTimer()
        self._state: DunningState | None = (
            DunningState.model_validate(inp.carry_over) if inp.carry_over else None
        )
        self._inbox: list[PaymentFailed | PaymentSucceeded] = []
        self._actions: CustomerActions | None = None
        self._steer = Steering(self._state.steering if self._state else None)

    # ------------------------------------------------------------------ signals
    @workflow.signal(name="payment_failed")
    def payment_failed(self, raw: Cmd[PaymentFailed] = NO_INPUT) -> None:
        """``{"invoice_id": "in_123", "attempt_count": 2, "event_id": "evt_1"}``"""
        msg = self._signalled(raw, PaymentFailed, "payment_failed")
        if msg is not None:
            self._inbox.append(msg)

    @workflow.signal(name="payment_succeeded")
    def payment_succeeded(self, raw: Cmd[PaymentSucceeded] = NO_INPUT) -> None:
        """``{"invoice_id": "in_123"}`` (``{}``: everything is paid)"""
        msg = self._signalled(raw, PaymentSucceeded, "payment_succeeded")
        if msg is not None:
            self._inbox.append(msg)

    # ------------------------------------------------------------------ query
    @workflow.query(name="progress")
    def progress(self) -> DunningProgress:
        st = self._state
        if st is None:
            return DunningProgress(
                customer_id=self._input.customer_id, status=DunningStatus.STARTING
            )
        nxt = self._next() if st.status is DunningStatus.ACTIVE else None
        return DunningProgress(
            customer_id=self._input.customer_id,
            status=st.status,
            started_at=st.started_at,
            day=self._day(workflow.now()),
            timezone=st.timezone,
            next_action=NextAction(step=nxt[0], summary=nxt[1], due_at=nxt[2]) if nxt else None,
            actions=list(st.actions),
            failed_invoices=list(st.failed_invoices),
            open_invoices=list(st.open_invoices),
            payment_failures=st.payment_failures,
            attempt_count=st.attempt_count,
            paid_at=st.paid_at,
            final_failure_day=st.plan.final_failure.day,
            churn_workflow_id=st.churn_workflow_id,
            steering=self._steer.status(),
        )

    def _next_step_key(self) -> str | None:
        st = self._state
        nxt = self._next() if st is not None and st.status is DunningStatus.ACTIVE else None
        return nxt[0] if nxt else None

    def _steered(self) -> None:
        self._details()

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: DunningInput) -> DunningSummary:
        if self._state is None:
            # Readable from the first moment (a start from the UI's form has no summary).
            set_details(
                [
                    f"Dunning sequence for customer {inp.customer_id}: starting (reading the CRM, loading the playbook)"
                ]
            )
            self._state = await self._begin(inp)
        try:
            await self._sequence()
        except asyncio.CancelledError:
            # "Cancel" in the Temporal UI: leave a trace on the company, then end.
            st = self._require_state()
            st.status = DunningStatus.CANCELLED
            self._steer.begin_closing()
            await self._act.note(
                "cancel:note", "Dunning sequence cancelled in Temporal.", kind="dunning_cancelled"
            )
            raise
        st = self._require_state()
        reason = self._steer.cancel_reason
        if reason is not None and st.status is DunningStatus.ACTIVE:
            # The cancel signal: the same closing, then the result says cancelled.
            st.status = DunningStatus.CANCELLED
            self._steer.begin_closing()
            await self._act.note(
                "cancel:note", f"Dunning sequence cancelled: {reason}", kind="dunning_cancelled"
            )
            self._details()
        return self._summary()

    async def _begin(self, inp: DunningInput) -> DunningState:
        plan = await load_plan("dunning", DunningPlan)
        profile = await customer_profile(inp.customer_id)
        tag_customer(profile, stage=LifecycleStage.DUNNING)
        st = DunningState(
            plan=plan,
            started_at=workflow.now(),
            timezone=profile.timezone,
            tier=profile.tier,
            amount_due_cents=inp.amount_due_cents,
            currency=inp.currency.upper() if inp.currency else None,
            steering=self._steer.state,
        )
        self._state = st
        self._count_failure(inp.invoice_id, attempt_count=None, event_id=None)
        if plan.company_properties_on_start:
            await self._act.update_company(
                "start:company", plan.company_properties_on_start, kind="dunning_started"
            )
        self._details()
        return st

    async def _sequence(self) -> None:
        st = self._require_state()
        for step in st.plan.steps:
            key = f"day{step.day}"
            if key in st.done_steps:
                continue
            if not await self._wait_until(self._due(step.day)):
                return
            await self._run_step(step)
            st.done_steps.append(key)
            self._details()
        if "final" not in st.done_steps:
            if not await self._wait_until(self._due(st.plan.final_failure.day)):
                return
            await self._final_failure()
            st.done_steps.append("final")
        self._details()

    async def _wait_until(self, due: datetime) -> bool:
        """Handle signals until ``due``; False once the payment came in."""
        st = self._require_state()
        while True:
            await self._drain_inbox()
            if st.status is not DunningStatus.ACTIVE or self._steer.cancelled:
                return False
            remaining = due - workflow.now()
            if remaining <= timedelta(0):
                if self._steer.paused:
                    # Due while paused: hold here (a payment meanwhile still stops it).
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
                    summary="next dunning step",
                )
                continue
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: bool(self._inbox) or self._steer.cancelled,
                    timeout=remaining,
                    timeout_summary="next dunning step",
                )

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._inbox:
            return  # signals came in meanwhile: handle them first, continue as new later
        await self._steer.alerts_sent()  # rejected-command alerts in flight
        workflow.continue_as_new(
            DunningInput(
                customer_id=self._input.customer_id,
                carry_over=self._require_state().model_dump(mode="json"),
            )
        )

    # ------------------------------------------------------------------ signals, handled
    async def _drain_inbox(self) -> None:
        st = self._require_state()
        while self._inbox and st.status is DunningStatus.ACTIVE:
            msg = self._inbox.pop(0)
            if isinstance(msg, PaymentFailed):
                self._count_failure(msg.invoice_id, msg.attempt_count, msg.event_id)
            else:
                await self._on_payment(msg)

    def _count_failure(
        self, invoice_id: str | None, attempt_count: int | None, event_id: str | None
    ) -> None:
        st = self._require_state()
        if event_id:
            if event_id in st.seen_event_ids:
                return
            st.seen_event_ids = remember(st.seen_event_ids, event_id)
        if attempt_count is not None:
            st.attempt_count = max(st.attempt_count or 0, attempt_count)
        if invoice_id is None:
            # A failure without an invoice id (an ops start): one failure, whatever follows.
            if not st.unknown_invoice_failed and not st.failed_invoices:
                st.unknown_invoice_failed = True
                st.payment_failures += 1
                self._act.record("failure", "journey", "payment failed (no invoice id given)")
            return
        if invoice_id in st.failed_invoices:
            if invoice_id not in st.open_invoices:
                st.open_invoices.append(invoice_id)
            return  # Stripe retrying the same invoice: the sequence already runs for it
        st.failed_invoices.append(invoice_id)
        st.open_invoices.append(invoice_id)
        if st.unknown_invoice_failed:
            # The invoice behind the ops start has now been named: still one failure.
            st.unknown_invoice_failed = False
        else:
            st.payment_failures += 1
        self._act.record(
            f"failure:{invoice_id}", "journey", f"payment failed: invoice {invoice_id}"
        )

    async def _on_payment(self, msg: PaymentSucceeded) -> None:
        st = self._require_state()
        if msg.event_id:
            if msg.event_id in st.seen_event_ids:
                return
            st.seen_event_ids = remember(st.seen_event_ids, msg.event_id)
        if msg.invoice_id is not None and st.open_invoices:
            if msg.invoice_id not in st.open_invoices:
                self._act.record(
                    "payment",
                    "journey",
                    f"ignored payment of invoice {msg.invoice_id}: not one of the failed "
                    f"invoices ({', '.join(st.open_invoices)})",
                    outcome="skipped",
                )
                return
            st.open_invoices.remove(msg.invoice_id)
            if st.open_invoices:
                self._act.record(
                    f"paid:{msg.invoice_id}",
                    "journey",
                    f"invoice {msg.invoice_id} paid; still open: {', '.join(st.open_invoices)}",
                )
                return
        await self._paid(msg.invoice_id)

    async def _paid(self, invoice_id: str | None) -> None:
        st = self._require_state()
        now = workflow.now()
        st.status = DunningStatus.PAID
        st.paid_at = now
        st.paid_invoice = invoice_id
        st.open_invoices = []
        day = self._day(now)
        self._act.record("paid", "journey", f"payment received on day {day}: sequence stopped")
        plan = st.plan
        if plan.on_paid.thank_you_email:
            await self._act.email(
                "paid:thank_you", plan.on_paid.thank_you_email, self._context(day)
            )
        if plan.on_paid.company_properties:
            await self._act.update_company(
                "paid:company", dict(plan.on_paid.company_properties), kind="dunning_paid"
            )
        await self._act.note(
            "paid:note",
            f"Payment received on day {day} of the dunning sequence"
            f"{f' (invoice {invoice_id})' if invoice_id else ''}: sequence stopped.\n"
            f"{self._summary_text()}",
            kind="dunning_paid",
            amount_due_minor=st.amount_due_cents,
            currency=st.currency,
        )
        self._details()

    # ------------------------------------------------------------------ steps
    async def _run_step(self, step: DunningStep) -> None:
        st = self._require_state()
        ctx = self._context(step.day)
        if step.email:
            await self._act.email(f"day{step.day}:email", step.email, ctx)
        if step.alert_csm:
            days_left = st.plan.final_failure.day - step.day
            alert = ctx.model_copy(
                update={
                    "summary": self._summary_text(),
                    "next_step": "Call the customer's billing contact today and help them "
                    f"update the payment method: final failure in {days(days_left)} "
                    "(the company is then flagged at risk).",
                }
            )
            await self._act.alert(f"day{step.day}:alert", step.alert_csm, alert)

    async def _final_failure(self) -> None:
        st = self._require_state()
        plan = st.plan.final_failure
        day = plan.day
        st.status = DunningStatus.FINAL_FAILURE
        self._act.record(
            "final", "journey", "final failure: no payment after the last step", day=day
        )
        props = {**plan.company_properties, "cshub_payment_failed_on": iso_date(workflow.now())}
        await self._act.update_company("final:company", props, kind="dunning_final_failure")
        await self._act.note(
            "final:note",
            f"Dunning final failure on day {day}: no payment after "
            f"{count_noun(len(st.plan.steps), 'step')}. Company flagged at risk.\n{self._summary_text()}",
            kind="dunning_final_failure",
            day=day,
            amount_due_minor=st.amount_due_cents,
            currency=st.currency,
        )
        await record_risk_outcome(self._input.customer_id, "churned", "final")
        if plan.start_churn_prevention:
            await self._start_churn_prevention(day)

    async def _start_churn_prevention(self, day: int) -> None:
        st = self._require_state()
        me = workflow.info().workflow_id
        churn_id = churn_workflow_id(self._input.customer_id)
        started = await start_abandoned_child(
            "ChurnPreventionWorkflow",
            ChurnPreventionInput(
                customer_id=self._input.customer_id,
                risk_factors=[RiskFactor.PAYMENT_FAILURE],
                reason="dunning final failure",
                source=me,
            ),
            workflow_id=churn_id,
            summary=f"churn prevention after the final payment failure ({me})",
        )
        st.churn_workflow_id = churn_id
        if started:
            self._act.record(
                "final:churn", "workflow", f"started churn prevention {churn_id}", day=day
            )
            return
        problem = await signal_other(
            churn_id,
            "risk_signal",
            RiskSignal(
                factor=RiskFactor.PAYMENT_FAILURE, event_id=self._act.key("final"), source=me
            ),
        )
        self._act.record(
            "final:churn",
            "workflow",
            f"churn prevention {churn_id} already running: told of the payment failure"
            if problem is None
            else f"could not signal {churn_id}: {problem}",
            outcome="done" if problem is None else "failed",
            day=day,
        )

    # ------------------------------------------------------------------ helpers
    def _due(self, day: int) -> datetime:
        """When plan day ``day`` is due. Day 0 is "at once", but not in the customer's
        quiet hours: that wait happens here, where a payment arriving meanwhile stops the
        sequence before the e-mail goes out."""
        st = self._require_state()
        due = step_time(st.started_at, day, st.timezone, st.plan.send_window)
        return out_of_quiet_hours(due, st.timezone, st.plan.send_window)

    def _next(self) -> tuple[str, str, datetime] | None:
        st = self._require_state()
        for step in st.plan.steps:
            if f"day{step.day}" not in st.done_steps:
                what = " + ".join(
                    x
                    for x in (
                        f"e-mail '{step.email}'" if step.email else "",
                        f"CSM alert '{step.alert_csm}'" if step.alert_csm else "",
                    )
                    if x
                )
                return f"day{step.day}", f"{what} (day {step.day})", self._due(step.day)
        if "final" not in st.done_steps:
            day = st.plan.final_failure.day
            return "final", f"final failure unless paid (day {day})", self._due(day)
        return None

    def _context(self, day: int) -> MessageContext:
        st = self._require_state()
        last_email = st.plan.last_email_day
        later = [s.day for s in st.plan.steps if s.email and s.day > day]
        return MessageContext(
            day=day,
            tier=st.tier,
            extra={
                "attempt_day": day,
                "final_notice": last_email is not None and day >= last_email,
                "next_reminder_day": later[0] if later else None,
                "final_failure_day": st.plan.final_failure.day,
                "amount_due_cents": st.amount_due_cents,
                "currency": st.currency,
                "open_invoices": len(st.open_invoices),
            },
        )

    def _summary_text(self) -> str:
        st = self._require_state()
        invoices = ", ".join(st.failed_invoices) or "not given"
        return (
            f"Failed invoices: {invoices}. "
            f"{count_noun(self._act.count('email'), 'dunning e-mail')} sent, "
            f"{count_noun(self._act.count('slack'), 'CSM alert')}."
        )

    def _summary(self) -> DunningSummary:
        st = self._require_state()
        return DunningSummary(
            customer_id=self._input.customer_id,
            status=st.status,
            started_at=st.started_at,
            finished_at=workflow.now(),
            failed_invoices=list(st.failed_invoices),
            payment_failures=st.payment_failures,
            paid_at=st.paid_at,
            emails_sent=self._act.count("email"),
            alerts_sent=self._act.count("slack"),
            churn_workflow_id=st.churn_workflow_id,
            failed_steps=[a.step for a in st.actions if a.outcome == "failed"],
        )

    def _details(self) -> None:
        st = self._state
        if st is None:
            return
        nxt = self._next() if st.status is DunningStatus.ACTIVE else None
        lines = [
            f"**Dunning** · day {self._day(workflow.now())} · {st.status.value}",
            f"Failed invoices: {', '.join(st.failed_invoices) or '-'}"
            f" · open: {', '.join(st.open_invoices) or '-'}",
            f"Next: {nxt[1]} at {nxt[2]:%Y-%m-%d %H:%M} UTC" if nxt else "Next: -",
        ]
        steering = self._steer.detail_line()
        if steering:
            lines.append(steering)
        set_details(lines)
