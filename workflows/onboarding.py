"""OnboardingWorkflow: one customer's onboarding journey, from welcome to completion.

Playbook, in order:
1. Load the tier's plan once (an edited plan file changes new journeys, not this one).
2. Walk the plan's dated steps: e-mails to the customer, check-in tasks for the CSM,
   phase changes, milestone deadlines. A deadline passing with its milestone unreached
   alerts the CSM in Slack and creates an intervention task, once.
3. Meanwhile, product events and "milestone reached" signals drive celebrations and
   feature-discovery nudges. Pause stops the clock (later steps shift by the paused
   time); cancel ends the journey with a reason.
4. At the end of the plan: completion e-mail, CSM alert and a CRM note with the summary.

Workflow id ``onboarding-{customer_id}``. Every side effect carries the idempotency key
``{workflow id}/{journey start}/{step}`` so a retried activity does not repeat it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.crm import CrmActivities
    from activities.models import (
        CustomerRef,
        LoadPlanRequest,
        MessageContext,
        Progress,
    )
    from activities.playbooks import load_onboarding_plan_activity
    from activities.year import ReviewPackRequest
    from domain.customer_year import CustomerYearInput, customer_year_workflow_id
    from domain.executive_report import (
        CUSTOMER_SINCE,
        DAYS_TO_FIRST_VALUE,
        ONBOARDING_COMPLETED_AT,
        ONBOARDING_STARTED_AT,
        LifecycleFact,
    )
    from domain.experiments import ExperimentAssignment, PlayKind
    from domain.journeys import NextAction
    from domain.onboarding import (
        MilestoneReached,
        OnboardingCarryOver,
        OnboardingInput,
        OnboardingProgress,
        OnboardingStatus,
        OnboardingSummary,
        PauseRequest,
        ProductEvent,
        ResumeRequest,
        SkipRequest,
    )
    from domain.onboarding_plan import EventTrigger, Milestone, Nudge, OnboardingPlan
    from domain.onboarding_schedule import PlannedStep, StepKind, build_schedule
    from domain.search_attributes import LifecycleStage
    from domain.send_window import SendWindow, local_date, local_send_time
    from domain.tiers import ProductEventType, Tier
    from domain.wording import count_noun
    from workflows.campaign import start_abandoned_child
    from workflows.common import (
        LOOKUP_RETRY,
        CustomerActions,
        customer_profile,
        required,
        set_details,
        tag_customer,
        tag_stage,
    )
    from workflows.customer_year import review_pack
    from workflows.experiments import EXPERIMENT_PATCH, assign_experiment
    from workflows.steering import (
        NO_INPUT,
        SIGNAL_NOTE,
        STEERING_PATCH,
        Cmd,
        Steerable,
        Steering,
        decode_command,
    )
    from workflows.waiting import HISTORY_BUDGET, WAIT_PATCH, Waiter

START_ALERT_BESIDE_STEPS = "start-alert-beside-steps"
"""``workflow.patched``: journeys started before it awaited the start alert first."""
WELCOME_FIRST_PATCH = "welcome-first"
"""``workflow.patched``: journeys started before it took product events before the welcome."""
MAX_EVENT_IDS_KEPT = 500
NO_QUIET_HOURS = SendWindow(send_hour=10, quiet_start=0, quiet_end=0)


SURVEYS_PATCH = "onboarding-surveys"
"""``workflow.patched``: journeys begun since send the onboarding surveys (day 7/30/90)."""
REVIEW_PACK_PATCH = "review-pack-in-onboarding"
"""``workflow.patched``: business reviews inside onboarding carry the review pack."""
REVIEW_CHECK_INS = frozenset({"business_review", "executive_check_in", "innovation_workshop"})

YEAR_PLAYS_PATCH = "post-onboarding-plays"
"""``workflow.patched``: journeys completed before it started no post-onboarding plays."""

EMAIL_ON_EVENT_PATCH = "email-sent-on-product-event"
"""``workflow.patched``: plan e-mails with ``sent_on`` go when the event arrives."""

if TYPE_CHECKING:  # callers send the model; the handlers take the payload raw
    MilestoneInput = MilestoneReached | RawValue
else:
    MilestoneInput = RawValue


@workflow.defn(name="OnboardingWorkflow")
class OnboardingWorkflow(Steerable):
    _INBOX_COMMANDS: ClassVar[dict[str, type[BaseModel]]] = {"product_event": ProductEvent}
    """Its own signals, also taken as updates of the same name (validated, answered)."""

    @workflow.init
    def __init__(self, inp: OnboardingInput) -> None:
        self._input = inp
        self._state: OnboardingCarryOver | None = inp.carry_over
        self._start_alert: asyncio.Task[None] | None = None
        self._inbox: list[ProductEvent | MilestoneReached] = []
        self._cancel_reason: str | None = None
        self._status = OnboardingStatus.SCHEDULED
        self._schedule: list[PlannedStep] = []
        self._actions: CustomerActions | None = None
        self._step_day: int | None = None
        self._steer = Steering(self._state.steering if self._state else None)
        self._waiter = Waiter(
            pending=lambda: bool(self._inbox) and self._state is not None,
            absorb=self._absorb_inbox,
            act=self._act_on_inbox,
            continue_as_new=self._continue_as_new,
            budget=inp.history_budget or HISTORY_BUDGET,
        )
        self._new_waits: bool | None = None

    # ------------------------------------------------------------------ commands
    # pause / resume / skip / cancel: signals and updates of the same name (Steerable),
    # applied by the journey's own steering below (a pause moves the plan).
    @workflow.signal(
        name="milestone_reached",
        description='{"milestone": "...", "note": "..."}: mark it reached, celebrate it'
        + SIGNAL_NOTE,
    )
    def milestone_reached(self, raw: MilestoneInput = NO_INPUT) -> None:
        """``{"milestone": "first_workflow", "note": "..."}``"""
        msg = self._signalled(raw, MilestoneReached, "milestone_reached")
        if msg is not None:
            self._inbox.append(msg)

    @workflow.update(
        name="milestone_reached",
        description='{"milestone": "...", "note": "..."}: mark it reached, celebrate it'
        + " (an unknown milestone or a payload that does not fit is refused)",
    )
    def milestone_reached_update(self, raw: MilestoneInput = NO_INPUT) -> str:
        """As the signal; refused when the plan has no such milestone."""
        msg = decode_command(raw, MilestoneReached, "milestone_reached")
        self._inbox.append(msg)
        return f"milestone {msg.milestone!r} recorded; the journey celebrates it next"

    @milestone_reached_update.validator
    def _validate_milestone(self, raw: MilestoneInput = NO_INPUT) -> None:
        self._validate(
            lambda: decode_command(raw, MilestoneReached, "milestone_reached"),
            "milestone_reached",
        )

    @workflow.signal(name="product_event")
    def product_event(self, raw: Cmd[ProductEvent] = NO_INPUT) -> None:
        event = self._signalled(raw, ProductEvent, "product_event")
        if event is not None:
            self._inbox.append(event)

    def _apply_pause(self, req: PauseRequest) -> None:
        if self._state and self._state.paused_since is None and self._cancel_reason is None:
            self._state.paused_since = workflow.now()
            self._record("pause", "journey", f"paused: {req.reason or 'no reason given'}")

    def _apply_resume(self, req: ResumeRequest) -> None:
        if self._state and self._state.paused_since is not None:
            paused = workflow.now() - self._state.paused_since
            self._state.paused_total_s += paused.total_seconds()
            self._state.paused_since = None
            self._record("resume", "journey", f"resumed after {_human(paused)}")

    def _apply_skip(self, req: SkipRequest) -> None:
        if not workflow.patched(STEERING_PATCH):
            return
        nxt = self._next_step() if self._state is not None and not req.step else None
        self._steer.skip(req, nxt.key if nxt else None)

    def _apply_cancel(self, req: Any) -> None:
        if self._cancel_reason is None:
            self._cancel_reason = req.reason

    def _check_command(self, command: str, req: BaseModel) -> str | None:
        st = self._state
        if st is None:
            return "the journey has not started yet (its plan is loading); try again"
        if isinstance(req, MilestoneReached) and st.plan.milestone(req.milestone) is None:
            known = ", ".join(m.key for m in st.plan.milestones) or "none"
            return f"unknown milestone {req.milestone!r} (the {st.plan.name} plan has: {known})"
        if isinstance(req, SkipRequest) and req.step:
            keys = [s.key for s in self._schedule]
            if not any(k == req.step or k.startswith(req.step + ":") for k in keys):
                return f"no step {req.step!r} in the plan (see the progress query's next_action)"
        return None

    def _steered(self) -> None:
        self._update_details()

    def _answer(self) -> str:
        st = self._state
        if st is None:
            return "not started yet"
        parts = [f"{self._current_status().value} (day {self._day(workflow.now())})"]
        if st.paused_since is not None:
            pause = next((a for a in reversed(st.actions) if a.step == "pause"), None)
            parts.append(
                f"since {st.paused_since:%Y-%m-%d %H:%M} UTC"
                + (f", {pause.summary}" if pause else "")
            )
        if self._cancel_reason:
            parts.append(f"cancel requested: {self._cancel_reason}")
        if self._steer.detail_line():
            parts.append(str(self._steer.detail_line()))
        return "; ".join(parts)

    # ------------------------------------------------------------------ query
    @workflow.query(name="progress")
    def progress(self) -> OnboardingProgress:
        st = self._require_state()
        plan = st.plan
        now = workflow.now()
        nxt = self._next_step()
        return OnboardingProgress(
            customer_id=self._input.customer_id,
            tier=plan.tier,
            plan=plan.name,
            plan_version=plan.version,
            status=self._current_status(),
            started_at=st.started_at,
            day=self._day(now),
            phase=self._phase_name(now),
            milestones_done=sorted(st.milestones_reached),
            milestones_missed=self._missed(),
            milestones_pending=[
                m.key
                for m in plan.milestones
                if m.key not in st.milestones_reached and m.key not in st.milestones_missed
            ],
            next_action=(
                NextAction(step=nxt.key, summary=_describe(nxt), due_at=self._due(nxt))
                if nxt
                else None
            ),
            paused_for_seconds=st.paused_total_s
            + ((now - st.paused_since).total_seconds() if st.paused_since else 0.0),
            actions=list(st.actions),
            event_counts=dict(st.event_counts),
            experiment=st.experiment,
            steering=self._steer.status().model_copy(
                update={
                    "paused": st.paused_since is not None,
                    "paused_since": st.paused_since,
                    "paused_total_s": st.paused_total_s,
                    "cancel_reason": self._cancel_reason,
                }
            ),
        )

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: OnboardingInput) -> OnboardingSummary:
        if self._state is None:
            # Something to read in the UI from the first moment (a start from the UI's
            # form has no summary): what the journey is doing.
            set_details(
                [
                    f"Onboarding of customer {inp.customer_id}: starting "
                    f"({inp.tier.value + ' plan' if inp.tier else 'reading the tier from the CRM'})"
                ]
            )
            self._state = await self._begin(inp)
            self._state.surveys = workflow.patched(SURVEYS_PATCH)
        self._schedule = [
            step
            for step in build_schedule(self._state.plan)
            if self._state.surveys or step.kind is not StepKind.SURVEY
        ]
        self._status = OnboardingStatus.ACTIVE

        try:
            if self._state.owed_emails:
                await self._send_owed()
            await self._walk_schedule()
        except asyncio.CancelledError:
            # "Cancel" in the Temporal UI: close the journey the same way as the cancel
            # signal does (CSM told, CRM note), then end as cancelled.
            self._cancel_reason = self._cancel_reason or "cancel requested in Temporal"
            await self._finish_cancelled()
            await self._start_alert_sent()
            raise

        await self._start_alert_sent()
        if self._cancel_reason is not None:
            return await self._finish_cancelled()
        self._status = OnboardingStatus.COMPLETED
        tag_stage(LifecycleStage.ADOPTION)
        return self._summary()

    async def _walk_schedule(self) -> None:
        st = self._require_state()
        for step in self._schedule:
            if step.key in st.done_steps:
                continue
            if not await self._wait_until(step):
                return  # cancelled
            if step.key in st.done_steps:
                continue  # sent early, by its product event (``sent_on``)
            if st.skip_before is not None and self._due(step) < st.skip_before:
                self._record(
                    step.key,
                    "journey",
                    f"skipped (due before the journey was started): {_describe(step)}",
                    outcome="skipped",
                )
            else:
                await self._run_step(step)
            st.done_steps.append(step.key)
            self._update_details()
            if workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new()

    async def _begin(self, inp: OnboardingInput) -> OnboardingCarryOver:
        tier = inp.tier or await workflow.execute_activity_method(
            CrmActivities.get_customer_tier,
            CustomerRef(customer_id=inp.customer_id),
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=LOOKUP_RETRY,
            summary="read the customer's tier from the CRM",
        )
        if tier is None:
            raise ApplicationError(
                f"customer {inp.customer_id}: no tier given and the CRM company has no valid "
                f'cshub_tier; start again with "tier" set',
                type="MissingTier",
                non_retryable=True,
            )
        # An experiment on the onboarding play may pick the plan, or hold the customer
        # out; an explicit plan override keeps the journey out of experiments.
        experiment: ExperimentAssignment | None = None
        experiment_error: str | None = None
        if workflow.patched(EXPERIMENT_PATCH) and inp.plan is None:
            experiment, experiment_error = await assign_experiment(
                PlayKind.ONBOARDING, inp.customer_id, tier, inp.start_date or workflow.now()
            )
        plan_name = inp.plan or (experiment.plan if experiment else None) or tier.value
        plan: OnboardingPlan = await workflow.execute_activity(
            load_onboarding_plan_activity,
            LoadPlanRequest(plan=plan_name),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3),
            summary=f"load onboarding plan '{plan_name}'",
        )
        if plan.tier is not tier and plan_name == tier.value:
            raise ApplicationError(
                f"plan {plan.name} is for tier {plan.tier}, not {tier}", non_retryable=True
            )
        timezone = None
        profile = None
        if workflow.patched("customer-local-send-hour"):
            profile = await customer_profile(inp.customer_id)
            timezone = profile.timezone
        tag_customer(profile, customer_id=inp.customer_id, stage=LifecycleStage.ONBOARDING)
        now = workflow.now()
        started_at = inp.start_date or now
        state = OnboardingCarryOver(
            timezone=timezone,
            plan=plan,
            started_at=started_at,
            day_length_seconds=inp.day_length_seconds or 86_400,
            # A back-dated journey skips what fell due before it was started.
            skip_before=now - timedelta(minutes=5) if started_at < now else None,
            steering=self._steer.state,
            experiment=experiment,
        )
        self._state = state
        if experiment is not None:
            # Recorded once, hold-outs too: the timeline and a CRM note say who got what.
            await self._act.note("experiment", experiment.describe(), kind="experiment")
        elif experiment_error is not None:
            self._record(
                "experiment",
                "journey",
                f"experiment assignment failed, journey runs outside experiments: "
                f"{experiment_error}",
                outcome="failed",
            )
        if plan.alert_csm_on_start:
            ctx = self._context(now, summary=plan.description or None)
            if workflow.patched(START_ALERT_BESIDE_STEPS):
                # The CSM's heads-up runs beside the plan: Slack down for an hour must not
                # hold the customer's welcome e-mail (the alert waits out the outage).
                self._start_alert = asyncio.create_task(
                    self._alert("start", "onboarding_started", ctx)
                )
            else:
                await self._alert("start", "onboarding_started", ctx)
        facts: dict[str, LifecycleFact] = {ONBOARDING_STARTED_AT: started_at.date()}
        if profile is not None and profile.customer_since is None:
            facts[CUSTOMER_SINCE] = started_at.date()
        await self._act.lifecycle_facts("start:company", facts)
        self._update_details()
        return state

    async def _start_alert_sent(self) -> None:
        """Before the run ends or continues as new, the start alert has had its outcome."""
        if self._start_alert is not None:
            await self._start_alert

    # ------------------------------------------------------------------ waiting
    def _waits_handle_inbox(self) -> bool:
        """This run waits with :class:`Waiter` (one timer per wait, signals taken in and
        continue-as-new possible during every wait); memoised per run."""
        if self._new_waits is None:
            self._new_waits = workflow.patched(WAIT_PATCH)
        return self._new_waits

    async def _wait_until(self, step: PlannedStep) -> bool:
        """Sleep until the step is due (its due time moves with pauses), handling signals
        meanwhile, with one timer per wait. Returns False when the journey was cancelled."""
        if not self._waits_handle_inbox():
            return await self._wait_until_v1(step)
        st = self._require_state()

        def cancelled() -> bool:
            return self._cancel_reason is not None

        while True:
            if cancelled():
                return False
            self._absorb_inbox()
            await self._act_on_inbox()
            if cancelled():
                return False
            if st.paused_since is not None:
                self._update_details()
                await self._waiter.until(
                    None,
                    summary="paused",
                    interrupt=lambda: st.paused_since is None or cancelled(),
                )
                continue
            due = self._due(step)
            if due <= workflow.now():
                return True
            if self._waiter.over_budget():
                await self._continue_as_new()
            await self._waiter.until(
                due,
                summary="next onboarding step",
                interrupt=lambda: cancelled() or st.paused_since is not None,
            )

    async def _wait_until_v1(self, step: PlannedStep) -> bool:
        """Before :data:`WAIT_PATCH`: a timer re-armed each time a signal woke it."""
        st = self._require_state()
        while True:
            if self._cancel_reason is not None:
                return False
            if st.paused_since is not None:
                self._update_details()
                await workflow.wait_condition(
                    lambda: st.paused_since is None or self._cancel_reason is not None
                )
                continue
            hold_inbox = self._welcome_pending()
            if not hold_inbox:
                await self._drain_inbox()
            remaining = (self._due(step) - workflow.now()).total_seconds()
            if remaining <= 0:
                return True
            if workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new()
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda held=hold_inbox: (  # type: ignore[misc]
                        (bool(self._inbox) and not held)
                        or self._cancel_reason is not None
                        or st.paused_since is not None
                    ),
                    timeout=timedelta(seconds=remaining),
                    timeout_summary="next onboarding step",
                )

    def _welcome_first_holds(self) -> bool:
        """:data:`WAIT_PATCH` runs: day 0's first e-mail (the welcome) is not sent yet and
        absorbed signals would trigger something: it waits (patch ``welcome-first``)."""
        st = self._require_state()
        first = next((s for s in self._schedule if s.kind is StepKind.EMAIL), None)
        if first is None or first.day > 0 or first.key in st.done_steps:
            return False
        triggered = any(
            ms.reached_by and ms.key not in st.milestones_reached and self._fired(ms.reached_by)
            for ms in st.plan.milestones
        ) or any(n.key not in st.nudges_sent and self._fired(n.trigger) for n in st.plan.nudges)
        if not st.inbox and not triggered:
            return False
        return workflow.patched(WELCOME_FIRST_PATCH)

    def _welcome_pending(self) -> bool:
        """Day 0's first e-mail (the welcome) is not sent yet: product events and
        milestones wait in the inbox, so no celebration or nudge precedes it. Journeys
        started before this drained the inbox first (patch ``welcome-first``)."""
        st = self._require_state()
        first = next((s for s in self._schedule if s.kind is StepKind.EMAIL), None)
        if first is None or first.day > 0 or first.key in st.done_steps:
            return False
        if not self._inbox:
            return False
        return workflow.patched(WELCOME_FIRST_PATCH)

    async def _continue_as_new(self) -> None:
        await self._start_alert_sent()
        await self._steer.alerts_sent()
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._waits_handle_inbox():
            # Taken into the state it carries, with no await in between: nothing that
            # arrived before the command is left behind (the next run acts on it).
            self._absorb_inbox()
        else:
            await self._drain_inbox()
        workflow.continue_as_new(
            OnboardingInput(
                customer_id=self._input.customer_id,
                tier=self._require_state().plan.tier,
                carry_over=self._require_state(),
                history_budget=self._input.history_budget,
            )
        )

    # ------------------------------------------------------------------ steps
    async def _run_step(self, step: PlannedStep) -> None:
        # Actions of a scheduled step carry its plan day (a send hour can fall a few hours
        # either side of the nominal time).
        self._step_day = step.day
        try:
            await self._run_scheduled(step)
        finally:
            self._step_day = None

    async def _run_scheduled(self, step: PlannedStep) -> None:
        st = self._require_state()
        now = workflow.now()
        if step.kind is StepKind.PHASE_START:
            self._record(step.key, "journey", f"phase started: {step.title}")
        elif step.kind is StepKind.EMAIL:
            await self._email(step.key, step.ref, self._context(now))
        elif step.kind is StepKind.CHECK_IN:
            priority = "HIGH" if step.ref in ("executive_touchpoint", "kickoff") else "MEDIUM"
            body = (
                f"Day {step.day} of the {st.plan.name} onboarding plan"
                f" ({self._phase_name(now) or 'no phase'}). {self._next_step_text() or ''}".strip()
            )
            body, attached = await self._with_review_pack(step, body)
            await self._task(
                step.key,
                f"Onboarding {step.ref.replace('_', ' ')}: {step.title}",
                body,
                due_at=now + self._days(1),
                priority=priority,
                kind=step.ref,
                attachment_ids=attached,
            )
        elif step.kind is StepKind.SURVEY:
            ctx = self._context(now)
            ctx.extra["onboarding_survey_day"] = step.day
            await self._email(step.key, step.ref, ctx)
        elif step.kind is StepKind.MILESTONE_DEADLINE:
            await self._milestone_deadline(step)
        elif step.kind is StepKind.COMPLETE:
            await self._complete(step)

    async def _with_review_pack(self, step: PlannedStep, body: str) -> tuple[str, list[str]]:
        """A business review inside the onboarding window (seed 001: Starter monthly
        reviews, Professional executive check-ins and innovation workshops) carries the
        review pack, as the reviews after onboarding do, and its chart attached (the CRM
        file id). Only plans with these kinds have such steps; a pack the CRM cannot give
        leaves the plain body."""
        st = self._require_state()
        exp = st.experiment
        if (
            step.ref not in REVIEW_CHECK_INS
            or (exp is not None and exp.holdout)
            or not workflow.patched(REVIEW_PACK_PATCH)
        ):
            return body, []
        try:
            pack = await review_pack(
                ReviewPackRequest(
                    customer_id=self._input.customer_id,
                    pack_key=self._act.key(step.key),
                    title=step.title,
                    day=step.day,
                    milestones_reached=list(st.milestones_reached),
                    milestones_missed=self._missed(),
                )
            )
        except ActivityError as err:
            workflow.logger.warning("review pack for %s failed: %s", step.key, err.cause)
            return body, []
        return f"{body}\n\n{pack.text}", [pack.chart_file_id] if pack.chart_file_id else []

    async def _milestone_deadline(self, step: PlannedStep) -> None:
        st = self._require_state()
        ms = st.plan.milestone(step.ref)
        assert ms is not None
        if ms.key in st.milestones_reached:
            self._record(step.key, "journey", f"milestone met before its deadline: {ms.title}")
            return
        st.milestones_missed.append(ms.key)
        ctx = self._context(workflow.now(), milestone=ms)
        await self._alert(step.key, "milestone_missed", ctx)
        await self._task(
            f"{step.key}:intervention",
            f"Intervention: onboarding milestone missed - {ms.title}",
            f'The milestone "{ms.title}" was due by day {ms.deadline_day} of the '
            f"{st.plan.name} plan and has not been reached. Reach out to the customer, find "
            f"the blocker and agree a new date.",
            due_at=workflow.now() + self._days(1),
            priority="HIGH",
            kind="milestone_intervention",
        )

    async def _complete(self, step: PlannedStep) -> None:
        st = self._require_state()
        now = workflow.now()
        summary = self._summary_text()
        await self._email(
            step.key, st.plan.completion_template, self._context(now, summary=summary)
        )
        await self._alert(
            f"{step.key}:alert", "onboarding_completed", self._context(now, summary=summary)
        )
        await self._note(
            f"{step.key}:note",
            f"Onboarding complete ({st.plan.name} plan)\n{summary}",
            kind="onboarding_complete",
        )
        await self._act.lifecycle_facts(
            f"{step.key}:company", {ONBOARDING_COMPLETED_AT: now.date()}
        )
        if workflow.patched(YEAR_PLAYS_PATCH):
            await self._start_year_plays(step)

    async def _start_year_plays(self, step: PlannedStep) -> None:
        """The rest of the term's plays (reviews, success plan, upgrade, advocacy):
        ``CustomerYearWorkflow``, which outlives this journey. A hold-out customer and a
        demo journey (days of seconds) get none."""
        st = self._require_state()
        exp = st.experiment
        if (
            not st.plan.then_year_plays
            or (exp is not None and exp.holdout)
            or st.day_length_seconds != 86_400
        ):
            return
        summary = self._summary()
        started = await start_abandoned_child(
            "CustomerYearWorkflow",
            CustomerYearInput(
                customer_id=self._input.customer_id,
                tier=st.plan.tier,
                start_day=step.day,
                milestones_reached=summary.milestones_reached,
                milestones_missed=summary.milestones_missed,
            ),
            workflow_id=customer_year_workflow_id(self._input.customer_id),
            summary=f"Post-onboarding plays for customer {self._input.customer_id}",
        )
        self._record(
            f"{step.key}:year",
            "journey",
            "post-onboarding plays started" if started else "post-onboarding plays already running",
        )

    async def _finish_cancelled(self) -> OnboardingSummary:
        self._status = OnboardingStatus.CANCELLED
        self._steer.begin_closing()
        reason = self._cancel_reason or "cancelled"
        now = workflow.now()
        await self._alert("cancel", "onboarding_cancelled", self._context(now, reason=reason))
        await self._note(
            "cancel:note",
            f"Onboarding cancelled: {reason}\n{self._summary_text()}",
            kind="onboarding_cancelled",
        )
        self._update_details()
        return self._summary()

    # ------------------------------------------------------------------ events
    def _absorb_inbox(self) -> None:
        """Take every signal out of the inbox into the journey's state, with no side
        effect: product events counted (a repeated event id dropped), milestone signals
        queued in the state. Runs during any wait and just before continue-as-new."""
        st = self._state
        if st is None:
            return
        # In one pass over a batch (a busy customer's signals arrive by the thousand
        # after a stall): one set for the ids, the state's fields written once.
        seen = dict.fromkeys(st.seen_event_ids)
        counts = dict(st.event_counts)
        max_usage = st.max_usage_percent
        for msg in self._inbox:
            if isinstance(msg, MilestoneReached):
                st.inbox.append(msg)
                continue
            if msg.event_id:
                if msg.event_id in seen:
                    continue
                seen[msg.event_id] = None
            if msg.type is ProductEventType.USAGE_THRESHOLD:
                max_usage = max(max_usage, msg.percent or 0.0)
            counts[msg.type.value] = counts.get(msg.type.value, 0) + msg.count
        self._inbox.clear()
        st.seen_event_ids = list(seen)[-MAX_EVENT_IDS_KEPT:]
        st.event_counts = counts
        st.max_usage_percent = max_usage

    async def _act_on_inbox(self) -> None:
        """What the absorbed signals trigger: milestones reached (celebrations) and
        feature-discovery nudges. Not while paused or cancelled, nor before the welcome."""
        st = self._require_state()
        if self._welcome_first_holds():
            return
        while st.inbox and st.paused_since is None and self._cancel_reason is None:
            await self._on_milestone_signal(st.inbox.pop(0))
        if st.paused_since is None and self._cancel_reason is None:
            await self._act_on_triggers()

    async def _send_owed(self) -> None:
        """E-mails (and their CSM alerts) a previous run held in quiet hours when it
        continued as new; the idempotency keys are the same, so none goes twice."""
        st = self._require_state()
        for key in list(st.owed_emails):
            ms = next((m for m in st.plan.milestones if key == _celebrate_key(m)), None)
            nudge = next((n for n in st.plan.nudges if key == f"nudge:{n.key}"), None)
            if ms is not None and ms.celebrate_template:
                ctx = self._context(workflow.now(), milestone=ms)
                await self._email(key, ms.celebrate_template, ctx)
            elif nudge is not None:
                await self._send_nudge(nudge)
            if key in st.owed_emails:
                st.owed_emails.remove(key)

    async def _on_milestone_signal(self, msg: MilestoneReached) -> None:
        st = self._require_state()
        ms = st.plan.milestone(msg.milestone)
        if ms is None:
            known = ", ".join(m.key for m in st.plan.milestones) or "none"
            self._record(
                "signal",
                "journey",
                f"ignored milestone_reached: unknown milestone {msg.milestone!r} "
                f"(plan has: {known})",
                outcome="skipped",
            )
        else:
            await self._reach(ms, how=f"signal{': ' + msg.note if msg.note else ''}")

    async def _act_on_triggers(self) -> None:
        await self._fire_triggers(None, self._send_nudge)

    async def _fire_triggers(
        self, event: str | None, send: Callable[[Nudge], Awaitable[None]]
    ) -> None:
        """What the product events counted so far set off: milestones reached (by
        ``event``, else by the milestone's own event), plan e-mails sent on an event, and
        nudges (each sent once, by ``send``)."""
        st = self._require_state()
        for ms in st.plan.milestones:
            if ms.reached_by and ms.key not in st.milestones_reached and self._fired(ms.reached_by):
                await self._reach(ms, how=f"product event {event or ms.reached_by.event.value}")
        await self._emails_sent_on()
        for nudge in st.plan.nudges:
            if nudge.key in st.nudges_sent or not self._fired(nudge.trigger):
                continue
            st.nudges_sent.append(nudge.key)
            await send(nudge)

    async def _send_nudge(self, nudge: Nudge) -> None:
        st = self._require_state()
        key = f"nudge:{nudge.key}"
        owed = self._waits_handle_inbox()
        if owed and key not in st.owed_emails:
            st.owed_emails.append(key)
        ctx = self._context(workflow.now(), nudge_message=nudge.message)
        await self._email(key, nudge.template, ctx)
        if nudge.alert_csm_template:
            await self._alert(f"{key}:alert", nudge.alert_csm_template, ctx)
        if owed and key in st.owed_emails:
            st.owed_emails.remove(key)

    def _count_event(self, ev: ProductEvent) -> bool:
        """Count a product event into the state; False for a repeated event id."""
        st = self._require_state()
        if ev.event_id:
            if ev.event_id in st.seen_event_ids:
                return False
            st.seen_event_ids = [*st.seen_event_ids[-(MAX_EVENT_IDS_KEPT - 1) :], ev.event_id]
        if ev.type is ProductEventType.USAGE_THRESHOLD:
            st.max_usage_percent = max(st.max_usage_percent, ev.percent or 0.0)
        st.event_counts[ev.type.value] = st.event_counts.get(ev.type.value, 0) + ev.count
        return True

    async def _drain_inbox(self) -> None:
        """Before :data:`WAIT_PATCH`: one signal at a time, acted on at once."""
        st = self._require_state()
        while self._inbox and st.paused_since is None and self._cancel_reason is None:
            msg = self._inbox.pop(0)
            if isinstance(msg, MilestoneReached):
                await self._on_milestone_signal(msg)
            else:
                await self._on_product_event(msg)

    async def _on_product_event(self, ev: ProductEvent) -> None:
        if self._count_event(ev):
            await self._fire_triggers(ev.type.value, self._send_nudge_v1)

    async def _send_nudge_v1(self, nudge: Nudge) -> None:
        """Before :data:`WAIT_PATCH`: the nudge goes at once (not kept as owed)."""
        ctx = self._context(workflow.now(), nudge_message=nudge.message)
        await self._email(f"nudge:{nudge.key}", nudge.template, ctx)
        if nudge.alert_csm_template:
            await self._alert(f"nudge:{nudge.key}:alert", nudge.alert_csm_template, ctx)

    async def _emails_sent_on(self) -> None:
        """Plan e-mails with ``sent_on: <event>`` whose event has come and that are not sent
        yet go now, under their own step key (so the scheduled send on their day does not
        repeat them)."""
        st = self._require_state()
        wanted = {
            (e.day, e.template)
            for e in st.plan.emails
            if e.sent_on is not None and st.event_counts.get(e.sent_on.value, 0) > 0
        }
        if not wanted or not workflow.patched(EMAIL_ON_EVENT_PATCH):
            return
        for step in self._schedule:
            if step.kind is not StepKind.EMAIL or (step.day, step.ref) not in wanted:
                continue
            if step.key in st.done_steps:
                continue
            st.done_steps.append(step.key)
            await self._email(step.key, step.ref, self._context(workflow.now()))
            self._record(step.key, "journey", f"sent early, on its product event: {step.ref}")

    def _fired(self, trigger: EventTrigger) -> bool:
        st = self._require_state()
        if trigger.event is ProductEventType.USAGE_THRESHOLD:
            return st.max_usage_percent >= (trigger.min_percent or 0.0)
        return st.event_counts.get(trigger.event.value, 0) >= trigger.count

    async def _reach(self, ms: Milestone, *, how: str) -> None:
        st = self._require_state()
        if ms.key in st.milestones_reached:
            return
        st.milestones_reached[ms.key] = workflow.now()
        late = " (after its deadline)" if ms.key in st.milestones_missed else ""
        self._record(
            f"milestone:{ms.key}", "journey", f"milestone reached{late}: {ms.title} ({how})"
        )
        if ms.first_value:
            days = (workflow.now() - st.started_at).total_seconds() / st.day_length_seconds
            await self._act.lifecycle_facts(
                f"milestone:{ms.key}:company", {DAYS_TO_FIRST_VALUE: round(max(days, 0.0), 1)}
            )
        if ms.celebrate_template:
            key = _celebrate_key(ms)
            owed = self._waits_handle_inbox()
            if owed:
                st.owed_emails.append(key)
            ctx = self._context(workflow.now(), milestone=ms)
            await self._email(key, ms.celebrate_template, ctx)
            if owed and key in st.owed_emails:
                st.owed_emails.remove(key)
        self._update_details()

    # ------------------------------------------------------------------ side effects
    @property
    def _act(self) -> CustomerActions:
        st = self._require_state()
        if self._actions is None:
            real_time = st.day_length_seconds == 86_400
            self._actions = CustomerActions(
                self._input.customer_id,
                f"{st.started_at:%Y%m%dT%H%M%S}",
                st.actions,
                self._day,
                # Demo time (a plan day lasting seconds) has no send or quiet hours.
                send_window=st.plan.send_window if real_time else NO_QUIET_HOURS,
                timezone=st.timezone if real_time else None,
                # Skips only: pause and cancel are the journey's own (the plan moves).
                steering=self._steer,
                waiter=self._waiter,
                day_seconds=None if real_time else st.day_length_seconds,
            )
        return self._actions

    def _held_out(self, step_key: str, channel: str, what: str) -> bool:
        """A hold-out customer gets nothing from the journey: each side effect is recorded
        as held out instead (milestones are still tracked, so they are measured alike)."""
        exp = self._state.experiment if self._state is not None else None
        if exp is None or not exp.holdout:
            return False
        self._record(
            step_key,
            channel,
            f"held out ({exp.experiment}/{exp.arm}): {what} not sent",
            template=what if channel in ("email", "slack") else None,
            outcome="skipped",
        )
        return True

    async def _email(self, step_key: str, template: str, ctx: MessageContext) -> None:
        if self._held_out(step_key, "email", template):
            return
        await self._act.email(step_key, template, ctx)

    async def _alert(self, step_key: str, template: str, ctx: MessageContext) -> None:
        if self._held_out(step_key, "slack", template):
            return
        await self._act.alert(step_key, template, ctx)

    async def _task(
        self,
        step_key: str,
        subject: str,
        body: str,
        *,
        due_at: datetime,
        priority: str,
        kind: str,
        attachment_ids: Sequence[str] = (),
    ) -> None:
        if self._held_out(step_key, "crm_task", kind):
            return
        await self._act.task(
            step_key,
            subject,
            body,
            due_at=due_at,
            priority=priority,
            kind=kind,
            day=self._step_day,
            attachment_ids=attachment_ids,
        )

    async def _note(self, step_key: str, body: str, *, kind: str) -> None:
        if self._held_out(step_key, "crm_note", kind):
            return
        await self._act.note(step_key, body, kind=kind, day=self._step_day)

    # ------------------------------------------------------------------ helpers
    def _require_state(self) -> OnboardingCarryOver:
        return required(self._state, "onboarding has not started yet")

    def _record(self, step: str, channel: str, summary: str, **options: Any) -> None:
        """:meth:`CustomerActions.record` once the journey has begun (none before)."""
        if self._state is not None:
            self._act.record(step, channel, summary, **options)

    def _days(self, n: float) -> timedelta:
        """``n`` plan days (compressed when the journey runs in demo time)."""
        return timedelta(seconds=n * self._require_state().day_length_seconds)

    def _day(self, at: datetime) -> int:
        st = self._require_state()
        elapsed = at - st.started_at - timedelta(seconds=st.paused_total_s)
        if st.paused_since is not None:
            elapsed -= at - st.paused_since
        return max(0, int(elapsed.total_seconds() // st.day_length_seconds))

    def _due(self, step: PlannedStep) -> datetime:
        """When a step falls due: start + its plan day + time spent paused; a customer
        e-mail goes at the plan's send hour in the customer's time zone that day."""
        st = self._require_state()
        base = st.started_at + self._days(step.day) + timedelta(seconds=st.paused_total_s)
        if (
            step.kind in (StepKind.EMAIL, StepKind.SURVEY)
            and step.day > 0
            and st.timezone is not None
            and st.day_length_seconds == 86_400
        ):
            local_day = local_date(base, st.timezone)
            return local_send_time(local_day, st.timezone, st.plan.send_window)
        return base

    def _phase_name(self, at: datetime) -> str | None:
        ph = self._require_state().plan.phase_on(self._day(at))
        return ph.name if ph else None

    def _current_status(self) -> OnboardingStatus:
        st = self._state
        if (
            st is not None
            and st.paused_since is not None
            and self._status is OnboardingStatus.ACTIVE
        ):
            return OnboardingStatus.PAUSED
        return self._status

    def _next_step(self) -> PlannedStep | None:
        done = set(self._require_state().done_steps)
        return next((s for s in self._schedule if s.key not in done), None)

    def _next_step_text(self) -> str | None:
        st = self._require_state()
        today = self._day(workflow.now())
        pending = [
            m
            for m in st.plan.milestones
            if m.key not in st.milestones_reached
            and m.key not in st.milestones_missed
            and m.deadline_day >= today
        ]
        if pending:
            m = min(pending, key=lambda m: m.deadline_day)
            return f"Next milestone: {m.title} (by day {m.deadline_day})."
        nxt = next(
            (s for s in self._schedule if s.kind is StepKind.CHECK_IN and s.day > today), None
        )
        return f"Next check-in: {nxt.title} on day {nxt.day}." if nxt else None

    def _context(
        self,
        now: datetime,
        *,
        milestone: Milestone | None = None,
        nudge_message: str | None = None,
        reason: str | None = None,
        summary: str | None = None,
    ) -> MessageContext:
        st = self._require_state()
        return MessageContext(
            day=self._day(now) if self._step_day is None else self._step_day,
            tier=st.plan.tier,
            phase_name=self._phase_name(now),
            next_step=self._next_step_text(),
            milestone_title=milestone.title if milestone else None,
            deadline_day=milestone.deadline_day if milestone else None,
            nudge_message=nudge_message,
            reason=reason,
            summary=summary,
            progress=Progress(
                milestones_done=len(st.milestones_reached),
                milestones_total=len(st.plan.milestones),
                actions_taken=sum(1 for a in st.actions if a.channel != "journey"),
            ),
        )

    def _missed(self) -> list[str]:
        """Milestones whose deadline passed and that are still not reached (one reached
        late counts as reached: it is in ``milestones_done``, not in both)."""
        st = self._require_state()
        return [m for m in st.milestones_missed if m not in st.milestones_reached]

    def _summary_text(self) -> str:
        s = self._summary()
        return (
            f"Milestones reached: {', '.join(s.milestones_reached) or 'none'}. "
            f"Missed: {', '.join(s.milestones_missed) or 'none'}. "
            f"{count_noun(s.emails_sent, 'e-mail')}, {count_noun(s.tasks_created, 'CSM task')}, "
            f"{count_noun(s.alerts_sent, 'alert')}."
        )

    def _summary(self) -> OnboardingSummary:
        st = self._require_state()

        def count(channel: str) -> int:
            return sum(
                1
                for a in st.actions
                if a.channel == channel and a.outcome in ("done", "already_done")
            )

        return OnboardingSummary(
            customer_id=self._input.customer_id,
            tier=st.plan.tier,
            plan=st.plan.name,
            status=self._current_status(),
            started_at=st.started_at,
            finished_at=workflow.now(),
            milestones_reached=sorted(st.milestones_reached),
            milestones_missed=self._missed(),
            emails_sent=count("email"),
            tasks_created=count("crm_task"),
            alerts_sent=count("slack"),
            failed_steps=[a.step for a in st.actions if a.outcome == "failed"],
            cancel_reason=self._cancel_reason,
        )

    def _update_details(self) -> None:
        st = self._state
        if st is None:
            return
        now = workflow.now()
        nxt = self._next_step()
        last = next((a for a in reversed(st.actions) if a.channel != "journey"), None)
        lines = [
            f"**{st.plan.name}** plan · day {self._day(now)} · {self._current_status().value}",
            f"Phase: {self._phase_name(now) or '-'}",
            f"Milestones: {len(st.milestones_reached)} reached, "
            f"{len(self._missed())} missed, of {len(st.plan.milestones)}",
            f"Next: {_describe(nxt)} (due {self._due(nxt):%Y-%m-%d %H:%M} UTC + pauses)"
            if nxt
            else "Next: -",
            f"Last: {last.summary} ({last.at:%Y-%m-%d %H:%M} UTC)" if last else "Last: -",
        ]
        if st.experiment is not None:
            held = " (hold-out: nothing sent)" if st.experiment.holdout else ""
            lines.append(f"Experiment: {st.experiment.experiment} · arm {st.experiment.arm}{held}")
        set_details(lines, self._steer.rejected_line())


def _celebrate_key(ms: Milestone) -> str:
    return f"milestone:{ms.key}:celebrate"


def _describe(step: PlannedStep) -> str:
    match step.kind:
        case StepKind.EMAIL:
            return f"e-mail '{step.ref}' (day {step.day})"
        case StepKind.CHECK_IN:
            return f"CSM task: {step.title} (day {step.day})"
        case StepKind.SURVEY:
            return f"onboarding survey e-mail (day {step.day})"
        case StepKind.MILESTONE_DEADLINE:
            return f"milestone deadline: {step.title} (day {step.day})"
        case StepKind.PHASE_START:
            return f"phase: {step.title} (day {step.day})"
        case _:
            return f"complete the plan (day {step.day})"


def _human(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


__all__ = ["OnboardingWorkflow", "Tier"]
