"""CustomerYearWorkflow: the plays after onboarding, for the rest of the customer's term.

Playbook ``playbooks/year/<tier>.yaml`` (seeds 001/002/003), in order of day:
1. Started by the onboarding journey when it completes (day 90), or by ops
   (``{"customer_id": "1001"}``). Day 0 is the onboarding's start.
2. Business reviews (monthly, quarterly, executive): a CRM meeting task for the CSM whose
   body is the **review pack** (health explanation and trend, usage against limits,
   milestones, tickets and SLA, survey answers) built from the CRM when the task is made.
3. Success plan: a task to agree its goals, then check-in tasks on those goals.
4. Upgrade acceleration, every two weeks: a healthy account near a limit or rated
   upgrade-ready gets a task for its account executive and a Slack alert to the CSM,
   until it converts (a higher tier in the CRM, or signal ``upgrade_outcome``) or
   declines (the signal).
5. Advocacy, quarterly: a healthy promoter (NPS 9-10) gets the next ask (review, case
   study, reference) by e-mail (category product news in the preference centre).
6. Signal ``referral``: who this customer referred and the contract's value; the
   commission (seed 002: 30 %) goes on the referred company and into a CRM note.

Pause / resume / skip / cancel as every customer workflow (``Steerable``). Workflow id
``customer-year-{customer_id}``; idempotency keys ``{workflow id}/{start}/{step}``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.models import CustomerRef, LoadPlanRequest, MessageContext
    from activities.year import (
        ReferralRequest,
        ReviewPack,
        ReviewPackRequest,
        YearActivities,
        load_year_plan_activity,
    )
    from domain.campaigns import step_time
    from domain.customer_year import (
        CustomerYearInput,
        Referral,
        ReferralMade,
        UpgradeAnswer,
        UpgradeOutcome,
        YearProgress,
        YearState,
        YearStatus,
        YearSummary,
    )
    from domain.journeys import NextAction
    from domain.search_attributes import LifecycleStage
    from domain.tiers import Tier
    from domain.year_plan import (
        AccountSignals,
        YearPlan,
        YearStep,
        YearStepKind,
        build_year_schedule,
        commission_minor,
        is_promoter,
        upgrade_reasons,
        upgraded,
    )
    from workflows.campaign import CampaignWorkflow, inbox_signal
    from workflows.common import LOOKUP_RETRY, customer_profile, set_details, tag_customer
    from workflows.waiting import HISTORY_BUDGET, history_over_budget

__all__ = ["CustomerYearWorkflow", "review_pack"]


async def review_pack(req: ReviewPackRequest) -> ReviewPack:
    """The review pack for a business review (text and chart), built from the CRM now."""
    return await workflow.execute_activity_method(
        YearActivities.build_review_pack,
        req,
        start_to_close_timeout=timedelta(minutes=2),
        schedule_to_close_timeout=timedelta(hours=6),
        retry_policy=LOOKUP_RETRY,
        summary=f"review pack for the {req.title.lower()}",
    )


@workflow.defn(name="CustomerYearWorkflow")
class CustomerYearWorkflow(CampaignWorkflow[YearState, CustomerYearInput]):
    NOT_STARTED = "the post-onboarding plays have not started yet"
    STATE = YearState
    WAIT_SUMMARY = "next play"

    @workflow.init
    def __init__(self, inp: CustomerYearInput) -> None:
        self._setup(inp)
        self._schedule: list[YearStep] = []

    # ------------------------------------------------------------------ signals
    upgrade_outcome = inbox_signal(
        "upgrade_outcome",
        UpgradeAnswer,
        '{"outcome": "converted"}',
        ' or ``{"outcome": "declined", "note": "..."}``',
    )

    referral = inbox_signal(
        "referral",
        ReferralMade,
        '{"referred_customer_id": "2001", "value_minor": 120000, "currency": "USD"}',
    )

    # ------------------------------------------------------------------ query
    @workflow.query(name="progress")
    def progress(self) -> YearProgress:
        st = self._state
        if st is None:
            return YearProgress(customer_id=self._input.customer_id, status=YearStatus.STARTING)
        nxt = self._next_play() if st.status is YearStatus.ACTIVE else None
        return YearProgress(
            customer_id=self._input.customer_id,
            status=st.status,
            tier=st.tier,
            day=self._day(workflow.now()),
            next_action=(
                NextAction(
                    step=nxt.key, summary=f"{nxt.title} (day {nxt.day})", due_at=self._due(nxt)
                )
                if nxt
                else None
            ),
            upgrade=st.upgrade,
            referrals=list(st.referrals),
            steps_done=list(st.done_steps),
            actions=list(st.actions),
            steering=self._steer.status(),
        )

    def _next_step_key(self) -> str | None:
        nxt = self._next_play() if self._state is not None else None
        return nxt.key if nxt else None

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: CustomerYearInput) -> YearSummary:
        if self._state is None:
            set_details([f"Post-onboarding plays for customer {inp.customer_id}: starting"])
            self._state = await self._begin(inp)
        st = self._state
        self._schedule = build_year_schedule(st.plan)
        try:
            await self._walk()
        except asyncio.CancelledError:
            st.status = YearStatus.CANCELLED
            self._steer.begin_closing()
            self._act.record("end", "journey", "post-onboarding plays cancelled in Temporal")
            raise
        if self._steer.cancelled and st.status is YearStatus.ACTIVE:
            st.status = YearStatus.CANCELLED
            self._act.record("end", "journey", f"cancelled: {self._steer.cancel_reason}")
        elif st.status is YearStatus.ACTIVE:
            st.status = YearStatus.COMPLETED
            self._act.record("end", "journey", "the term's plays are done")
        self._details()
        return self._summary()

    async def _begin(self, inp: CustomerYearInput) -> YearState:
        profile = await customer_profile(inp.customer_id)
        tag_customer(profile, stage=LifecycleStage.ADOPTION)
        tier = inp.tier or profile.tier or Tier.STARTER
        plan: YearPlan = await workflow.execute_activity(
            load_year_plan_activity,
            LoadPlanRequest(plan=tier.value),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=LOOKUP_RETRY,
            summary=f"load playbook 'year/{tier.value}'",
        )
        now = workflow.now()
        start_day = plan.starts_on_day if inp.start_day is None else inp.start_day
        st = YearState(
            plan=plan,
            started_at=now,
            anchor=now - timedelta(days=start_day),
            timezone=profile.timezone or "UTC",
            tier=tier,
            steering=self._steer.state,
            milestones_reached=list(inp.milestones_reached),
            milestones_missed=list(inp.milestones_missed),
        )
        self._state = st
        self._act.record(
            "start", "journey", f"post-onboarding plays started ({tier.value}, day {start_day})"
        )
        if inp.tier is None and profile.tier is None:
            workflow.logger.warning("customer %s: no tier in the CRM", inp.customer_id)
            self._act.record(
                "start:tier",
                "journey",
                "no tier given nor on the CRM company: the Starter plays run (set cshub_tier "
                "and start again for another tier's)",
            )
        self._details()
        return st

    async def _walk(self) -> None:
        st = self._require_state()
        before_start = self._day(st.started_at)
        await self._take_steps(
            self._schedule,
            self._due,
            self._run_step,
            passed=lambda step: step.day < before_start,  # before the plays started: not ours
        )
        await self._drain_inbox()

    # ------------------------------------------------------------------ waits
    def _over_budget(self) -> bool:
        return history_over_budget(self._input.history_budget or HISTORY_BUDGET)

    def _waits_on_due_timer(self) -> bool:
        return True  # from its first release (no WAIT_PATCH in its histories)

    def _next_run(self, carry_over: dict[str, Any]) -> BaseModel:
        return CustomerYearInput(
            customer_id=self._input.customer_id,
            carry_over=carry_over,
            history_budget=self._input.history_budget,
        )

    # ------------------------------------------------------------------ plays
    async def _run_step(self, step: YearStep) -> None:
        if step.kind is YearStepKind.REVIEW:
            await self._review(step)
        elif step.kind in (YearStepKind.SUCCESS_PLAN, YearStepKind.SUCCESS_CHECK_IN):
            await self._success_plan(step)
        elif step.kind is YearStepKind.UPGRADE_CHECK:
            await self._upgrade_check(step)
        else:
            await self._advocacy(step)

    async def _review(self, step: YearStep) -> None:
        st = self._require_state()
        review = next(r for r in st.plan.reviews if r.key == step.ref)
        goals = st.plan.success_plan.goals if st.plan.success_plan else []
        pack = await review_pack(
            ReviewPackRequest(
                customer_id=self._input.customer_id,
                pack_key=self._act.key(step.key),
                title=review.title,
                day=step.day,
                agenda=review.agenda,
                goals=goals,
                milestones_reached=st.milestones_reached,
                milestones_missed=st.milestones_missed,
            )
        )
        await self._act.task(
            step.key,
            f"{review.title} (day {step.day}): book {review.duration_minutes} min with "
            f"{review.attendees}",
            pack.text,
            due_at=workflow.now() + timedelta(days=7),
            priority="HIGH" if review.kind.value == "executive_review" else "MEDIUM",
            kind=review.kind.value,
            day=step.day,
            attachment_ids=[pack.chart_file_id] if pack.chart_file_id else [],
        )

    async def _success_plan(self, step: YearStep) -> None:
        sp = self._require_state().plan.success_plan
        assert sp is not None
        goals = "\n".join(f"- {g}" for g in sp.goals)
        agree = step.kind is YearStepKind.SUCCESS_PLAN
        await self._act.task(
            step.key,
            "Success plan: agree the goals for the rest of the term"
            if agree
            else f"Success plan check-in (day {step.day})",
            (
                "Agree these goals with the customer, with a date and an owner for each:\n"
                if agree
                else "Review progress on each goal, note what is blocked, agree next steps:\n"
            )
            + goals,
            due_at=workflow.now() + timedelta(days=7),
            kind=step.kind.value,
            day=step.day,
        )

    async def _signals(self) -> AccountSignals:
        return await workflow.execute_activity_method(
            YearActivities.read_account_signals,
            CustomerRef(customer_id=self._input.customer_id),
            start_to_close_timeout=timedelta(minutes=1),
            schedule_to_close_timeout=timedelta(hours=6),
            retry_policy=LOOKUP_RETRY,
            summary="read health, NPS, usage and upgrade readiness from the CRM",
        )

    async def _upgrade_check(self, step: YearStep) -> None:
        st = self._require_state()
        spec = st.plan.upgrade_acceleration
        assert spec is not None
        if st.upgrade is not None:
            self._act.record(
                step.key, "journey", f"upgrade acceleration over: {st.upgrade.value}", day=step.day
            )
            return
        signals = await self._signals()
        if upgraded(st.tier, signals.tier):
            assert signals.tier is not None
            await self._upgrade_ended(UpgradeOutcome.CONVERTED, f"tier now {signals.tier.value}")
            return
        reasons = upgrade_reasons(signals, spec)
        if not reasons:
            self._act.record(
                step.key,
                "check",
                f"upgrade acceleration: not a candidate ({signals.health_label or 'no health score'}, "
                f"{signals.usage_name or 'usage'} {'unknown' if signals.usage_percent is None else f'{signals.usage_percent:g} %'}, "
                f"readiness {signals.upgrade_readiness or 'not rated'})",
                template=spec.alert_template,
                outcome="skipped",
                day=step.day,
            )
            return
        reason = " and ".join(reasons)
        ctx = MessageContext(day=step.day, tier=st.tier, reason=reason, summary=spec.task_subject)
        await self._act.alert(f"{step.key}:alert", spec.alert_template, ctx)
        await self._act.task(
            step.key,
            spec.task_subject,
            f"{spec.task_body}\n\nWhy now: {reason}.",
            due_at=workflow.now() + timedelta(days=7),
            priority="HIGH",
            kind="upgrade_acceleration",
            day=step.day,
            assign_to="account_executive",
        )

    async def _advocacy(self, step: YearStep) -> None:
        st = self._require_state()
        spec = st.plan.advocacy
        assert spec is not None
        signals = await self._signals()
        if not is_promoter(signals, spec):
            self._act.record(
                step.key,
                "check",
                f"advocacy ({step.ref}): not a healthy promoter "
                f"({signals.health_label or 'no health score'}, NPS "
                f"{'unknown' if signals.nps is None else f'{signals.nps:g}'})",
                template=spec.template,
                outcome="skipped",
                day=step.day,
            )
            return
        ctx = MessageContext(day=step.day, tier=st.tier, extra={"ask": step.ref})
        await self._act.email(step.key, spec.template, ctx)

    # ------------------------------------------------------------------ signals, handled
    async def _handle(self, msg: UpgradeAnswer | ReferralMade) -> None:
        if isinstance(msg, UpgradeAnswer):
            if self._require_state().upgrade is None:
                await self._upgrade_ended(msg.outcome, msg.note)
        else:
            await self._on_referral(msg)

    async def _upgrade_ended(self, outcome: UpgradeOutcome, note: str | None) -> None:
        st = self._require_state()
        st.upgrade = outcome
        st.upgrade_note = note
        why = f": {note}" if note else ""
        self._act.record("upgrade", "journey", f"upgrade acceleration ended: {outcome.value}{why}")
        await self._act.note(
            f"upgrade:{outcome.value}",
            f"Upgrade acceleration ended: {outcome.value}{why}. No more two-weekly follow-ups.",
            kind="upgrade_outcome",
        )

    async def _on_referral(self, msg: ReferralMade) -> None:
        st = self._require_state()
        spec = st.plan.referrals
        if spec is None:
            self._act.record(
                "referral",
                "journey",
                "referral ignored: no referral programme in this playbook",
                outcome="skipped",
            )
            return
        if any(r.referred_customer_id == msg.referred_customer_id for r in st.referrals):
            return  # told twice
        commission = commission_minor(msg.value_minor, spec.commission_percent)
        st.referrals.append(
            Referral(
                referred_customer_id=msg.referred_customer_id,
                value_minor=msg.value_minor,
                commission_minor=commission,
                currency=msg.currency,
                at=workflow.now(),
            )
        )
        key = f"referral:{msg.referred_customer_id}"
        await self._act.run(
            key,
            "crm_update",
            "referral",
            YearActivities.record_referral,
            ReferralRequest(
                referrer_id=self._input.customer_id,
                referred_id=msg.referred_customer_id,
                value_minor=msg.value_minor,
                currency=msg.currency,
                commission_percent=spec.commission_percent,
            ),
            f"record the referral of {msg.referred_customer_id}",
        )
        await self._act.note(
            f"{key}:note",
            f"Referral: this customer referred customer {msg.referred_customer_id}. Commission "
            f"owed: {commission / 100:.2f} {msg.currency} ({spec.commission_percent:g} % of "
            f"{msg.value_minor / 100:.2f} {msg.currency}).",
            kind="referral",
        )

    # ------------------------------------------------------------------ helpers
    def _day_anchor(self, st: YearState) -> datetime:
        return st.anchor

    def _due(self, step: YearStep) -> datetime:
        st = self._require_state()
        return step_time(st.anchor, step.day, st.timezone, st.plan.send_window)

    def _next_play(self) -> YearStep | None:
        st = self._require_state()
        return next((s for s in self._schedule if s.key not in st.done_steps), None)

    def _summary(self) -> YearSummary:
        st = self._require_state()
        return YearSummary(
            customer_id=self._input.customer_id,
            status=st.status,
            reviews=sum(
                1 for a in st.actions if a.channel == "crm_task" and a.step.startswith("review:")
            ),
            emails_sent=self._act.count("email"),
            tasks_created=self._act.count("crm_task"),
            upgrade=st.upgrade,
            referrals=len(st.referrals),
        )

    def _detail_lines(self, st: YearState) -> list[str]:
        nxt = self._next_play() if st.status is YearStatus.ACTIVE else None
        return [
            f"**Post-onboarding plays** · day {self._day(workflow.now())} · {st.status.value}",
            f"Upgrade: {st.upgrade.value if st.upgrade else 'open'} · referrals: {len(st.referrals)}",
            f"Next: {nxt.title} (day {nxt.day}) at {self._due(nxt):%Y-%m-%d %H:%M} UTC"
            if nxt
            else "Next: -",
        ]
