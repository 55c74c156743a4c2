"""ChurnPreventionWorkflow: one customer's churn-prevention campaign.

Playbook ``playbooks/churn.yaml``, in order:
1. Started by ops (``{"customer_id": "1003", "risk_factors": ["usage_drop"],
   "health_score": 55}``), by the health sweep (a score in At risk / Critical), by a
   warning sign (signal-with-start ``risk_signal``) or by the dunning workflow's final
   failure. A score below ``at_risk_below`` adds the ``low_health`` factor (the
   thresholds are the tier's, ``by_tier``: Community and Starter use seed 003's bands).
2. A check at the start and then every ``check_every_days`` at the send hour in the
   customer's zone: while at risk, the outreach of each risk factor (usage drop →
   re-engagement e-mail, support spike → personal outreach task, NPS detractor → 1:1
   call task, payment failure → the dunning workflow, low health → check-in task). A
   factor that appears between checks is answered at once.
3. A score below ``escalate_below`` escalates to the executives in Slack, once per drop
   (rising back above re-arms it).
4. Ends when every score since a check was at least the recovery threshold for
   ``consecutive_checks`` checks (recovered), on ``churned`` (then the win-back
   campaign starts), or after ``max_duration_days`` (expired). The outcome and the
   dates go on the CRM company, with a CRM note and a Slack message to the CSM.

Workflow id ``churn-{customer_id}``; idempotency keys ``{workflow id}/{start}/{step}``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.campaigns import iso_date, remember, step_time
    from domain.churn import (
        ChurnBands,
        ChurnPlan,
        ChurnPreventionInput,
        ChurnProgress,
        ChurnState,
        ChurnStatus,
        ChurnSummary,
        HealthUpdated,
        Outreach,
        OutreachAction,
        RiskFactor,
        RiskSignal,
        churn_workflow_id,
    )
    from domain.dunning import DunningInput, dunning_workflow_id
    from domain.executive_report import CHURNED_AT
    from domain.renewal import Churned
    from domain.score_text import score_text
    from domain.search_attributes import LifecycleStage
    from domain.winback import WinBackInput, winback_workflow_id
    from domain.wording import count_noun
    from workflows.campaign import CampaignWorkflow, inbox_signal, load_plan, start_abandoned_child
    from workflows.common import (
        customer_profile,
        tag_customer,
        tag_health,
    )

__all__ = ["ChurnPreventionWorkflow", "churn_workflow_id"]

FACTOR_LABELS = {
    RiskFactor.USAGE_DROP: "usage drop",
    RiskFactor.SUPPORT_SPIKE: "support spike",
    RiskFactor.NPS_DETRACTOR: "NPS detractor",
    RiskFactor.PAYMENT_FAILURE: "payment failure",
    RiskFactor.LOW_HEALTH: "low health score",
    RiskFactor.NEGATIVE_SENTIMENT: "negative-sentiment streak",
    RiskFactor.CHAMPION_CHANGE: "champion change",
    RiskFactor.HIGH_CHURN_RISK: "high churn risk",
}


@workflow.defn(name="ChurnPreventionWorkflow")
class ChurnPreventionWorkflow(CampaignWorkflow[ChurnState, ChurnPreventionInput]):
    # Its own signals (each also an update of the same name, validated and answered).
    health_updated = inbox_signal("health_updated", HealthUpdated, '{"score": 45}')
    risk_signal = inbox_signal("risk_signal", RiskSignal, '{"factor": "support_spike"}')
    churned = inbox_signal("churned", Churned, '{"reason": "moved to a competitor"}')

    NOT_STARTED = "churn prevention has not started yet"
    CAMPAIGN = "Churn-prevention campaign"
    STATE = ChurnState
    CANCELLED = ChurnStatus.CANCELLED

    @workflow.init
    def __init__(self, inp: ChurnPreventionInput) -> None:
        self._setup(inp)

    # ------------------------------------------------------------------ query
    @workflow.query(name="progress")
    def progress(self) -> ChurnProgress:
        st = self._state
        if st is None:
            return ChurnProgress(customer_id=self._input.customer_id, status=ChurnStatus.STARTING)
        return ChurnProgress(
            **self._progress_fields(st),
            risk_factors=list(st.risk_factors),
            health_score=st.health_score,
            escalated=st.escalated,
            escalations=st.escalations,
            checks_done=st.checks_done,
            recovery_streak=st.recovery_streak,
            recovery_needed=st.plan.recovery.consecutive_checks,
            ends_at=self._deadline(),
            winback_workflow_id=st.winback_workflow_id,
        )

    def _next_step_key(self) -> str | None:
        nxt = self._upcoming()
        # "added" repeats (every new warning sign): skip just the next action then.
        return nxt[0] if nxt and nxt[0] != "added" else None

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: ChurnPreventionInput) -> ChurnSummary:
        await self._run_campaign(inp, self._campaign)
        return self._summary()

    def _active(self) -> bool:
        return self._require_state().status is ChurnStatus.ACTIVE

    async def _begin(self, inp: ChurnPreventionInput) -> ChurnState:
        plan = await load_plan("churn", ChurnPlan)
        profile = await customer_profile(inp.customer_id)
        tag_customer(profile, stage=LifecycleStage.AT_RISK)
        if inp.churn_risk is not None:
            tag_health(None, None, inp.churn_risk)
        st = ChurnState(
            plan=plan,
            started_at=workflow.now(),
            timezone=profile.timezone,
            tier=profile.tier,
            reason=inp.reason,
            dunning_exhausted=inp.source == dunning_workflow_id(inp.customer_id),
            steering=self._steer.state,
        )
        self._state = st
        for factor in inp.risk_factors:
            self._add_factor(factor, pending=False)
        st.evidence.update(inp.evidence)
        for event_id in inp.event_ids:
            st.seen_event_ids = remember(st.seen_event_ids, event_id)
        self._act.record(
            "start",
            "journey",
            f"campaign started{f' ({inp.reason})' if inp.reason else ''}; risk factors: "
            f"{self._factors_text()}",
        )
        props = {
            **plan.company_properties_on_start,
            "cshub_churn_campaign_outcome": ChurnStatus.ACTIVE.value,
            "cshub_churn_campaign_started": iso_date(st.started_at),
        }
        await self._act.update_company("start:company", props, kind="churn_started")
        if inp.health_score is not None:
            await self._on_health(HealthUpdated(score=inp.health_score))
        st.pending_factors.clear()  # the first check, right now, answers them all
        self._details()
        return st

    async def _campaign(self) -> None:
        st = self._require_state()
        while st.status is ChurnStatus.ACTIVE:
            await self._drain_inbox()
            if st.status is not ChurnStatus.ACTIVE or self._steer.cancelled:
                break
            now = workflow.now()
            if now >= self._deadline():
                st.status = ChurnStatus.EXPIRED
                await self._finish(f"ran its maximum of {st.plan.max_duration_days} days")
                break
            if st.pending_factors:
                await self._answer_new_factors()
                continue
            if now >= self._check_time(st.checks_done):
                await self._weekly_check()
                continue
            if workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new()
            wake = min(self._check_time(st.checks_done), self._deadline())
            await self._sleep(wake, wake - now, "next churn-prevention check")

    # ------------------------------------------------------------------ signals, handled
    async def _handle(self, msg: HealthUpdated | RiskSignal | Churned) -> None:
        if isinstance(msg, HealthUpdated):
            await self._on_health(msg)
        elif isinstance(msg, RiskSignal):
            self._on_risk(msg)
        else:
            await self._on_churned(msg)

    async def _on_health(self, msg: HealthUpdated) -> None:
        st = self._require_state()
        plan = st.plan
        previous = st.health_score
        st.health_score = msg.score
        tag_health(msg.score, msg.category, msg.churn_risk)
        st.lowest_since_check = (
            msg.score if st.lowest_since_check is None else min(st.lowest_since_check, msg.score)
        )
        trend = f" (was {score_text(previous)})" if previous is not None else ""
        self._act.record("health", "journey", f"health score {score_text(msg.score)}{trend}")
        bands = self._bands()
        if msg.score < bands.at_risk_below:
            self._add_factor(RiskFactor.LOW_HEALTH, pending=True)
        if msg.score >= bands.escalate_below:
            st.escalated = False  # re-armed: a later drop escalates again
        elif not st.escalated:
            st.escalated = True
            st.escalations += 1
            day = self._day(workflow.now())
            ctx = self._context(day).model_copy(
                update={
                    "reason": f"health score {score_text(msg.score)}{trend}, "
                    f"below {bands.escalate_below:g}",
                    "summary": self._summary_text(),
                    "next_step": "Executive sponsor to reach out within 24 h; agree a recovery "
                    "plan with the CSM.",
                }
            )
            await self._act.alert(f"escalation:{st.escalations}", plan.escalation_template, ctx)
        self._details()

    def _on_risk(self, msg: RiskSignal) -> None:
        st = self._require_state()
        if self._seen(msg.event_id):
            return
        if msg.source == dunning_workflow_id(self._input.customer_id):
            st.dunning_exhausted = True
        added = self._add_factor(msg.factor, pending=True)
        if msg.evidence:
            st.evidence[msg.factor] = msg.evidence
        self._act.record(
            "risk_signal",
            "journey",
            f"warning sign: {FACTOR_LABELS[msg.factor]}"
            f"{f' (from {msg.source})' if msg.source else ''}"
            f"{'' if added else ' (already known)'}"
            f"{f': {msg.evidence}' if msg.evidence else ''}",
        )
        self._details()

    async def _on_churned(self, msg: Churned) -> None:
        st = self._require_state()
        st.status = ChurnStatus.CHURNED
        st.churn_reason = msg.reason
        await self._finish(f"the customer churned{f': {msg.reason}' if msg.reason else ''}")
        if st.plan.start_winback_on_churn:
            wid = winback_workflow_id(self._input.customer_id)
            started = await start_abandoned_child(
                "WinBackWorkflow",
                WinBackInput(
                    customer_id=self._input.customer_id,
                    reason=msg.reason,
                    churned_at=workflow.now(),
                ),
                workflow_id=wid,
                summary=f"win-back after churn ({workflow.info().workflow_id})",
            )
            st.winback_workflow_id = wid
            self._act.record(
                "winback",
                "workflow",
                f"started win-back {wid}" if started else f"win-back {wid} already running",
            )

    def _add_factor(self, factor: RiskFactor, *, pending: bool) -> bool:
        st = self._require_state()
        if factor in st.risk_factors:
            return False
        st.risk_factors.append(factor)
        if pending:
            st.pending_factors.append(factor)
        return True

    # ------------------------------------------------------------------ checks and outreach
    async def _weekly_check(self) -> None:
        st = self._require_state()
        plan = st.plan
        n = st.checks_done
        lowest = st.lowest_since_check
        st.lowest_since_check = st.health_score
        st.checks_done += 1
        threshold = self._bands().recovered_at_least
        if lowest is not None and lowest >= threshold:
            st.recovery_streak += 1
            self._act.record(
                f"check{n}",
                "journey",
                f"check {n}: health {score_text(lowest)} >= {threshold:g}, recovery "
                f"{st.recovery_streak}/{plan.recovery.consecutive_checks}",
            )
            if st.recovery_streak >= plan.recovery.consecutive_checks:
                st.status = ChurnStatus.RECOVERED
                await self._finish(
                    f"health at or above {threshold:g} for {count_noun(st.recovery_streak, 'check')}"
                )
            self._details()
            return
        st.recovery_streak = 0
        score = "unknown" if st.health_score is None else score_text(st.health_score)
        self._act.record(
            f"check{n}", "journey", f"check {n}: health {score}; outreach: {self._factors_text()}"
        )
        recent = workflow.now() - timedelta(days=plan.check_every_days / 2)
        for factor in st.risk_factors:
            last = st.last_outreach_at.get(factor)
            if last is not None and last > recent:
                continue  # answered a few days ago, when it appeared
            await self._outreach(factor, f"check{n}")
        self._details()

    async def _answer_new_factors(self) -> None:
        st = self._require_state()
        while st.pending_factors and st.status is ChurnStatus.ACTIVE:
            factor = st.pending_factors.pop(0)
            await self._outreach(factor, f"added:{factor.value}")
        self._details()

    async def _outreach(self, factor: RiskFactor, occasion: str) -> None:
        st = self._require_state()
        response: Outreach | None = st.plan.outreach.get(factor)
        if response is None:
            return
        times = st.outreach_counts.get(factor, 0)
        if response.max_times is not None and times >= response.max_times:
            return
        now = workflow.now()
        step = f"{occasion}:{factor.value}"
        day = self._day(now)
        if response.action is OutreachAction.DUNNING:
            if await self._act.steered_away(step, "workflow", None, day):
                return
            if not await self._start_dunning(step):
                return
        elif response.action is OutreachAction.EMAIL:
            assert response.template is not None
            ctx = self._context(day)
            ctx.extra["times_sent"] = times
            await self._act.email(step, response.template, ctx)
        else:
            assert response.subject is not None and response.body is not None
            seen = st.evidence.get(factor)
            saw = f"What the hub saw: {seen}\n\n" if seen else ""
            await self._act.task(
                step,
                response.subject,
                f"{response.body}\n\n{saw}Churn-prevention campaign, day {day}: "
                f"health {st.health_score if st.health_score is not None else 'unknown'}, "
                f"risk factors: {self._factors_text()}.",
                due_at=now + timedelta(days=response.due_in_days),
                priority=response.priority,
                kind=f"churn_{factor.value}",
            )
        st.outreach_counts[factor] = times + 1
        st.last_outreach_at[factor] = now

    async def _start_dunning(self, step: str) -> bool:
        """The payment-failure response, once per campaign: start the dunning workflow
        unless it runs already or already ran to its final failure."""
        st = self._require_state()
        if st.dunning_handled:
            return False
        st.dunning_handled = True
        if st.dunning_exhausted:
            self._act.record(
                step,
                "workflow",
                "dunning not restarted: the sequence already ran to its final failure",
                outcome="skipped",
            )
            return False
        wid = dunning_workflow_id(self._input.customer_id)
        started = await start_abandoned_child(
            "DunningWorkflow",
            DunningInput(customer_id=self._input.customer_id),
            workflow_id=wid,
            summary=f"dunning for a payment-failure risk ({workflow.info().workflow_id})",
        )
        self._act.record(
            step,
            "workflow",
            f"started dunning {wid}" if started else f"dunning {wid} already running",
            outcome="done" if started else "already_done",
        )
        return started

    async def _finish(self, why: str) -> None:
        st = self._require_state()
        plan = st.plan
        now = workflow.now()
        outcome = st.status.value
        self._act.record("end", "journey", f"campaign ended: {outcome} ({why})")
        props = {
            "cshub_churn_campaign_outcome": outcome,
            "cshub_churn_campaign_started": iso_date(st.started_at),
            "cshub_churn_campaign_ended": iso_date(now),
            **plan.company_properties_on_end.get(outcome, {}),
        }
        await self._act.update_company("end:company", props, kind="churn_outcome")
        if st.status is ChurnStatus.CHURNED:
            await self._act.lifecycle_facts("end:churned", {CHURNED_AT: now.date()})
        summary = self._summary_text()
        await self._act.note(
            "end:note",
            f"Churn-prevention campaign ended: {outcome} ({why}).\n{summary}",
            kind="churn_outcome",
        )
        if plan.ended_alert_template:
            ctx = self._context(self._day(now)).model_copy(
                update={"reason": why, "summary": summary}
            )
            ctx.extra["outcome"] = outcome
            await self._act.alert("end:alert", plan.ended_alert_template, ctx)
        self._details()

    # ------------------------------------------------------------------ helpers
    def _check_time(self, n: int) -> datetime:
        """Check 0 at the start; check n at the send hour, n weeks (playbook) later."""
        st = self._require_state()
        return step_time(
            st.started_at, n * st.plan.check_every_days, st.timezone, st.plan.send_window
        )

    def _bands(self) -> ChurnBands:
        """The tier's thresholds (its health model's bands). Campaigns that began before
        thresholds per tier keep the plan-wide ones: their history compared with those."""
        st = self._require_state()
        if workflow.patched("churn-bands-by-tier"):
            return st.plan.bands(st.tier)
        return st.plan.bands(None)

    def _deadline(self) -> datetime:
        st = self._require_state()
        return st.started_at + timedelta(days=st.plan.max_duration_days)

    def _next(self) -> tuple[str, str, datetime] | None:
        st = self._require_state()
        if st.pending_factors:
            names = ", ".join(FACTOR_LABELS[f] for f in st.pending_factors)
            return "added", f"answer new warning signs: {names}", workflow.now()
        n = st.checks_done
        due = self._check_time(n)
        if due >= self._deadline():
            return "end", "campaign ends (maximum duration)", self._deadline()
        return f"check{n}", f"weekly check {n}: {self._factors_text()}", due

    def _factors_text(self) -> str:
        st = self._require_state()
        return ", ".join(FACTOR_LABELS[f] for f in st.risk_factors) or "none yet"

    def _context_extra(self, day: int) -> dict[str, Any]:
        st = self._require_state()
        return {
            "risk_factors": [f.value for f in st.risk_factors],
            "health_score": st.health_score,
            "week": st.checks_done,
        }

    def _summary_text(self) -> str:
        st = self._require_state()
        score = "unknown" if st.health_score is None else score_text(st.health_score)
        return (
            f"Risk factors: {self._factors_text()}. Health score: {score}. "
            f"{count_noun(st.checks_done, 'weekly check')}, "
            f"{count_noun(self._act.count('email'), 'e-mail')}, "
            f"{count_noun(self._act.count('crm_task'), 'CSM task')}, "
            f"{count_noun(st.escalations, 'escalation')}."
        )

    def _summary(self) -> ChurnSummary:
        st = self._require_state()
        return ChurnSummary(
            customer_id=self._input.customer_id,
            outcome=st.status,
            started_at=st.started_at,
            finished_at=workflow.now(),
            risk_factors=list(st.risk_factors),
            health_score=st.health_score,
            checks_done=st.checks_done,
            escalations=st.escalations,
            emails_sent=self._act.count("email"),
            tasks_created=self._act.count("crm_task"),
            alerts_sent=self._act.count("slack"),
            winback_workflow_id=st.winback_workflow_id,
            failed_steps=[a.step for a in st.actions if a.outcome == "failed"],
        )

    def _detail_lines(self, st: ChurnState) -> list[str]:
        score = "-" if st.health_score is None else score_text(st.health_score)
        return [
            f"**Churn prevention** · day {self._day(workflow.now())} · {st.status.value}",
            f"Risk: {self._factors_text()} · health {score} · recovery "
            f"{st.recovery_streak}/{st.plan.recovery.consecutive_checks}",
            self._next_line(),
        ]
