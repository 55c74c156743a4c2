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

from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.campaigns import iso_date, step_time
    from domain.churn import ChurnPreventionInput, RiskFactor, RiskSignal, churn_workflow_id
    from domain.dunning import (
        DunningInput,
        DunningPlan,
        DunningProgress,
        DunningState,
        DunningStatus,
        DunningStep,
        DunningSummary,
        PaymentFailed,
        PaymentSucceeded,
        dunning_workflow_id,
    )
    from domain.executive_report import CHURNED_AT
    from domain.search_attributes import LifecycleStage
    from domain.send_window import out_of_quiet_hours
    from domain.wording import count_noun, days
    from workflows.campaign import (
        CampaignWorkflow,
        inbox_signal,
        load_plan,
        signal_other,
        start_abandoned_child,
    )
    from workflows.common import customer_profile, record_risk_outcome, tag_customer

__all__ = ["DunningWorkflow", "dunning_workflow_id"]


def _key(step: DunningStep) -> str:
    return f"day{step.day}"


@workflow.defn(name="DunningWorkflow")
class DunningWorkflow(CampaignWorkflow[DunningState, DunningInput]):
    # Its own signals (each also an update of the same name, validated and answered).
    payment_failed = inbox_signal(
        "payment_failed",
        PaymentFailed,
        '{"invoice_id": "in_123", "attempt_count": 2, "event_id": "evt_1"}',
    )
    payment_succeeded = inbox_signal(
        "payment_succeeded", PaymentSucceeded, '{"invoice_id": "in_123"} ({}: everything is paid)'
    )

    NOT_STARTED = "dunning has not started yet"
    CAMPAIGN = "Dunning sequence"
    STATE = DunningState
    CANCELLED = DunningStatus.CANCELLED
    WAIT_SUMMARY = "next dunning step"

    @workflow.init
    def __init__(self, inp: DunningInput) -> None:
        self._setup(inp)

    # ------------------------------------------------------------------ query
    @workflow.query(name="progress")
    def progress(self) -> DunningProgress:
        st = self._state
        if st is None:
            return DunningProgress(
                customer_id=self._input.customer_id, status=DunningStatus.STARTING
            )
        return DunningProgress(
            **self._progress_fields(st),
            failed_invoices=list(st.failed_invoices),
            open_invoices=list(st.open_invoices),
            payment_failures=st.payment_failures,
            attempt_count=st.attempt_count,
            paid_at=st.paid_at,
            final_failure_day=st.plan.final_failure.day,
            churn_workflow_id=st.churn_workflow_id,
        )

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: DunningInput) -> DunningSummary:
        await self._run_campaign(inp, self._sequence)
        return self._summary()

    def _active(self) -> bool:
        return self._require_state().status is DunningStatus.ACTIVE

    async def _cancelled_by(self, reason: str | None) -> None:
        st = self._require_state()
        st.status = DunningStatus.CANCELLED
        if reason is None:
            # "Cancel" in the Temporal UI: leave a trace on the company, then end.
            await self._act.note(
                "cancel:note", "Dunning sequence cancelled in Temporal.", kind="dunning_cancelled"
            )
            return
        # The cancel signal: the same closing, then the result says cancelled.
        await self._act.note(
            "cancel:note", f"Dunning sequence cancelled: {reason}", kind="dunning_cancelled"
        )
        self._details()

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
        steps = st.plan.steps
        if not await self._take_steps(steps, self._step_due, self._run_step, key=_key):
            return
        if "final" not in st.done_steps:
            if not await self._wait_until(self._due(st.plan.final_failure.day)):
                return
            await self._final_failure()
            st.done_steps.append("final")
        self._details()

    # ------------------------------------------------------------------ signals, handled
    async def _handle(self, msg: PaymentFailed | PaymentSucceeded) -> None:
        if isinstance(msg, PaymentFailed):
            self._count_failure(msg.invoice_id, msg.attempt_count, msg.event_id)
        else:
            await self._on_payment(msg)

    def _count_failure(
        self, invoice_id: str | None, attempt_count: int | None, event_id: str | None
    ) -> None:
        st = self._require_state()
        if self._seen(event_id):
            return
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
        if self._seen(msg.event_id):
            return
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
        await self._act.lifecycle_facts("final:churned", {CHURNED_AT: workflow.now().date()})
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
    def _step_due(self, step: DunningStep) -> datetime:
        return self._due(step.day)

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

    def _context_extra(self, day: int) -> dict[str, Any]:
        st = self._require_state()
        last_email = st.plan.last_email_day
        later = [s.day for s in st.plan.steps if s.email and s.day > day]
        return {
            "attempt_day": day,
            "final_notice": last_email is not None and day >= last_email,
            "next_reminder_day": later[0] if later else None,
            "final_failure_day": st.plan.final_failure.day,
            "amount_due_cents": st.amount_due_cents,
            "currency": st.currency,
            "open_invoices": len(st.open_invoices),
        }

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

    def _detail_lines(self, st: DunningState) -> list[str]:
        return [
            f"**Dunning** · day {self._day(workflow.now())} · {st.status.value}",
            f"Failed invoices: {', '.join(st.failed_invoices) or '-'}"
            f" · open: {', '.join(st.open_invoices) or '-'}",
            self._next_line(),
        ]
