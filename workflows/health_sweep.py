"""HealthSweepWorkflow: score every CRM company, write the scores back, act on crossings.

Run daily by the Temporal Schedule ``health-sweep`` (``cshub schedules apply``), or by
hand from the UI with ``{}`` (``{"dry_run": true}`` to see the figures without writing;
``{"baseline": true}`` to score and record without firing any trigger, for the first
sweep of a portfolio). The models and the outreach playbook are read once, at the start.

1. Page through the portfolio, 100 companies a page, one child workflow per
   ``pages_per_activity`` pages (``<sweep id>/page-<n>``, n its first page): its activity
   reads each page, scores each company with its tier's model and writes score,
   category, trend and breakdown back in one batch, reading the next page meanwhile.
2. For each company where a trigger fired (``playbooks/health/outreach.yaml``), the page
   starts a ``HealthOutreachWorkflow`` (alerts, tasks, e-mails: quiet hours may make it
   wait, the sweep does not); a company entering Critical gets the churn-prevention
   campaign started, or told the new score when it runs; every running campaign whose
   customer's score changed is told the new score.
3. The activity spaces its own requests to ``max_calls_per_10s``, and each child gets
   ``10 s * its calls / max_calls_per_10s`` counted from its start (its pages' CRM
   requests and those the outreach it started is expected to make), so they stay under
   ``max_calls_per_10s`` (HubSpot allows 100 per 10 s to the whole app): only what the
   child did not use itself is slept; a 429 makes the activity wait and go on from its
   last page, never fail.
4. Every ``pages_per_run`` pages it continues as new with its cursor and totals, so no
   history grows without bound. The ``progress`` query shows the totals so far.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.errors import NON_RETRYABLE_TYPES
    from activities.health import HealthActivities, load_health_playbooks
    from domain.churn import (
        ChurnPreventionInput,
        HealthUpdated,
        RiskFactor,
        RiskSignal,
        churn_workflow_id,
    )
    from domain.health_model import HealthCategory
    from domain.health_outreach import CompanyHealth, OutreachPlan, Trigger
    from domain.health_sweep import (
        HealthOutreachInput,
        HealthPageInput,
        HealthPageRequest,
        HealthPageResult,
        HealthSweepInput,
        PageOutcome,
        PlaybooksData,
        SweepCarry,
        SweepCounts,
        SweepProgress,
        outreach_workflow_id,
    )
    from domain.score_text import score_text
    from workflows.campaign import signal_other, start_abandoned_child

PACE_FROM_PAGE_START = "sweep-pace-from-page-start"
"""``workflow.patched``: sweeps started before it slept the whole share after each page."""

PAGES_PER_ACTIVITY = "sweep-pages-per-activity"
"""``workflow.patched``: sweeps started before it ran one child workflow and one
activity per page, paced by the workflow alone."""

RISK_DETECTORS = "sweep-risk-detectors"
"""``workflow.patched``: pages started before it announced no warning signs (their
activity raised none)."""

PAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)


@workflow.defn(name="HealthSweepWorkflow")
class HealthSweepWorkflow:
    @workflow.init
    def __init__(self, inp: HealthSweepInput) -> None:
        self._input = inp
        carry = SweepCarry.model_validate(inp.carry_over) if inp.carry_over else None
        self._progress = carry.progress if carry else SweepProgress(dry_run=inp.dry_run)
        self._playbooks: PlaybooksData | None = carry.playbooks if carry else None

    @workflow.query(name="progress")
    def progress(self) -> SweepProgress:
        return self._progress

    @workflow.run
    async def run(self, inp: HealthSweepInput) -> SweepProgress:
        pr = self._progress
        if pr.sweep_at is None:
            pr.sweep_at = workflow.now()
        if self._playbooks is None:
            self._playbooks = await workflow.execute_activity(
                load_health_playbooks,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3),
                summary="load the health models and the outreach playbook",
            )
            if not inp.risk_detectors:
                self._playbooks = {**self._playbooks, "detectors": None}
        playbooks = self._playbooks
        sweep_id = self._sweep_id()
        pages_this_run = 0
        while True:
            if inp.max_pages is not None and pr.pages_done >= inp.max_pages:
                break
            if pages_this_run >= inp.pages_per_run:
                pr.runs += 1
                carry = SweepCarry(progress=pr, playbooks=playbooks)
                workflow.continue_as_new(
                    inp.model_copy(update={"carry_over": carry.model_dump(mode="json")})
                )
            page = pr.pages_done + 1
            pages, pace = 1, None
            if workflow.patched(PAGES_PER_ACTIVITY):
                pages = min(inp.pages_per_activity, inp.pages_per_run - pages_this_run)
                if inp.max_pages is not None:
                    pages = min(pages, inp.max_pages - pr.pages_done)
                pace = inp.max_calls_per_10s
            page_started = workflow.now()
            outcome: PageOutcome = await workflow.execute_child_workflow(
                HealthSweepPageWorkflow.run,
                HealthPageInput(
                    sweep_id=sweep_id,
                    sweep_at=pr.sweep_at,
                    page=page,
                    after=pr.next_after,
                    page_size=inp.page_size,
                    pages=pages,
                    max_calls_per_10s=pace,
                    dry_run=inp.dry_run,
                    baseline=inp.baseline,
                    playbooks=playbooks,
                ),
                id=f"{sweep_id}/page-{page}",
                static_summary=f"health sweep page {page}"
                + (f" and up to {pages - 1} more" if pages > 1 else ""),
            )
            pr.pages_done += outcome.pages
            pages_this_run += outcome.pages
            pr.next_after = outcome.next_after
            pr.counts.add(outcome.counts)
            self._details()
            if outcome.next_after is None:
                break
            # The pages' own requests and those their outreach will make (estimated) get
            # their share of the budget, counted from when the child started: the time
            # the pages took (the activity spaces its own requests) is part of it, only
            # the rest is slept.
            calls = outcome.counts.crm_calls + outcome.counts.outreach_crm_calls
            share = timedelta(seconds=10 * calls / inp.max_calls_per_10s)
            if workflow.patched(PACE_FROM_PAGE_START):
                pause = share - (workflow.now() - page_started)
            else:
                pause = share
            if pause > timedelta(0):
                await workflow.sleep(pause, summary="stay under the CRM rate limit")
        pr.done = True
        self._details()
        return pr

    def _sweep_id(self) -> str:
        """The first run's workflow id (kept across continue-as-new)."""
        return workflow.info().workflow_id

    def _details(self) -> None:
        c = self._progress.counts
        cats = ", ".join(f"{k} {v}" for k, v in sorted(c.by_category.items())) or "-"
        fired = ", ".join(f"{k} {v}" for k, v in sorted(c.fired.items())) or "none"
        state = "done" if self._progress.done else f"page {self._progress.pages_done}"
        workflow.set_current_details(
            f"{'DRY RUN · ' if self._progress.dry_run else ''}{state} · "
            f"{c.scored} scored ({cats}) · triggers: {fired} · "
            f"churn started {c.churn_started}, told {c.churn_signalled}"
        )


@workflow.defn(name="HealthSweepPageWorkflow")
class HealthSweepPageWorkflow:
    """Pages of a sweep: score and write 100 companies a page, then start their outreach."""

    @workflow.run
    async def run(self, inp: HealthPageInput) -> PageOutcome:
        result: HealthPageResult = await workflow.execute_activity_method(
            HealthActivities.score_health_page,
            HealthPageRequest(
                sweep_at=inp.sweep_at,
                after=inp.after,
                page_size=inp.page_size,
                pages=inp.pages,
                max_calls_per_10s=inp.max_calls_per_10s,
                dry_run=inp.dry_run,
                baseline=inp.baseline,
                playbooks=inp.playbooks,
            ),
            start_to_close_timeout=timedelta(minutes=4 + inp.pages),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=PAGE_RETRY,
            summary=f"score {inp.page_size * inp.pages} companies after {inp.after or 'the start'}",
        )
        counts = result.counts
        if not inp.dry_run and result.actionable:
            # Only the small outreach playbook is validated here (see PlaybooksData).
            plan = OutreachPlan.model_validate(inp.playbooks["plan"])
            await asyncio.gather(*(self._act(inp, plan, h, counts) for h in result.actionable))
        return PageOutcome(
            page=inp.page, next_after=result.next_after, counts=counts, pages=result.pages
        )

    async def _act(
        self, inp: HealthPageInput, plan: OutreachPlan, h: CompanyHealth, counts: SweepCounts
    ) -> None:
        fired = {f.trigger for f in h.fired}
        critical = Trigger.CRITICAL in fired
        started = False
        if critical:
            started = await start_abandoned_child(
                "ChurnPreventionWorkflow",
                ChurnPreventionInput(
                    customer_id=h.customer_id,
                    risk_factors=[RiskFactor.LOW_HEALTH],
                    health_score=h.score,
                    churn_risk=h.churn_risk,
                    reason=f"health score {score_text(h.score)} {h.category_label} ({h.model})",
                    source=inp.sweep_id,
                ),
                workflow_id=churn_workflow_id(h.customer_id),
                summary=f"churn prevention: health {score_text(h.score)} {h.category_label}",
            )
            if started:
                counts.churn_started += 1
        if h.risks and workflow.patched(RISK_DETECTORS):
            started = await self._announce_risks(inp, h, counts, started) or started
        tell = (h.churn_campaign_active and h.changed) or (critical and not started)
        if tell and h.score is not None and h.category is not HealthCategory.UNKNOWN:
            failed = await signal_other(
                churn_workflow_id(h.customer_id),
                "health_updated",
                HealthUpdated(score=h.score, category=h.category.value, churn_risk=h.churn_risk),
            )
            if failed is None:
                counts.churn_signalled += 1
            else:
                counts.churn_signal_failed += 1
        if not fired - {Trigger.CRITICAL}:
            return
        outreach = await start_abandoned_child(
            "HealthOutreachWorkflow",
            HealthOutreachInput(
                customer_id=h.customer_id,
                sweep_id=inp.sweep_id,
                sweep_at=inp.sweep_at,
                health=h,
                plan=plan,
            ),
            workflow_id=outreach_workflow_id(h.customer_id, inp.sweep_at),
            summary=f"health outreach · {h.customer_id} · "
            + ", ".join(f.trigger.value for f in h.fired),
        )
        if outreach:  # else this page ran before (a retry): the outreach is on its way
            counts.outreach_started += 1

    async def _announce_risks(
        self, inp: HealthPageInput, h: CompanyHealth, counts: SweepCounts, started: bool
    ) -> bool:
        """Each new warning sign goes to the customer's churn-prevention campaign, once
        per episode: it starts the campaign (with every sign and its evidence) or, when
        one runs, is signalled with its event id (a repeat is dropped there). True when
        this started the campaign."""
        cid = h.customer_id
        began = False
        if not started:
            began = await start_abandoned_child(
                "ChurnPreventionWorkflow",
                ChurnPreventionInput(
                    customer_id=cid,
                    risk_factors=list(dict.fromkeys(r.factor for r in h.risks)),
                    churn_risk=h.churn_risk,
                    reason="; ".join(r.evidence for r in h.risks)[:500],
                    source=inp.sweep_id,
                    evidence={r.factor: r.evidence for r in h.risks},
                    event_ids=[r.event_id for r in h.risks],
                ),
                workflow_id=churn_workflow_id(cid),
                summary="churn prevention: " + ", ".join(r.detector.value for r in h.risks),
            )
            if began:
                counts.churn_started += 1
                return True
        for r in h.risks:
            failed = await signal_other(
                churn_workflow_id(cid),
                "risk_signal",
                RiskSignal(
                    factor=r.factor,
                    event_id=r.event_id,
                    source=inp.sweep_id,
                    evidence=r.evidence[:1000],
                ),
            )
            if failed is None:
                counts.churn_signalled += 1
            else:
                counts.churn_signal_failed += 1
        return False
