"""What every customer workflow does the same way: act on the customer through the
shared activities with idempotency keys, retries and a readable log of actions.

A workflow owns one :class:`CustomerActions` and calls ``email`` / ``alert`` / ``task`` /
``note`` / ``update_company``. Each call:

* derives the idempotency key ``{workflow id}/{journey key}/{step}``, so a retried
  activity (or a replayed workflow) never repeats the side effect;
* retries transient failures (honouring Retry-After) for up to a day, stops at once on
  permanent ones;
* records an :class:`ActionRecord` (day, channel, template, summary, outcome) that the
  workflow's ``progress`` query and ``cshub simulate`` show; a failure is recorded, not
  raised: one undeliverable e-mail must not end a campaign.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.crm import CrmActivities
    from activities.errors import NON_RETRYABLE_TYPES
    from activities.messaging import MessagingActivities
    from activities.models import (
        ActionResult,
        CompanyUpdateRequest,
        CrmNoteRequest,
        CsmAlertRequest,
        CsmTaskRequest,
        CustomerEmailRequest,
        CustomerProfile,
        CustomerRef,
        EmailRecipient,
        MessageContext,
    )
    from domain import search_attributes as sa
    from domain.alert_escalation import ESCALATION_TEMPLATE
    from domain.churn_risk import RiskOutcomeRecord
    from domain.executive_report import LifecycleFact, lifecycle_properties
    from domain.journeys import ActionRecord
    from domain.search_attributes import LifecycleStage
    from domain.send_window import SendWindow, out_of_quiet_hours
    from workflows.steering import Steering
    from workflows.waiting import WAIT_PATCH, Waiter

MAX_ACTIONS_KEPT = 1000

SIDE_EFFECT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)

TIME_CRITICAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)
"""Effects whose moment matters (CSM and SLA alerts in Slack, the welcome e-mail): tried
again at most 30 s apart, so the first try after an outage ends comes within half a
minute (``make chaos`` checks: under 60 s), at two tries a minute against a system that
is down. A Retry-After the system sends still sets the wait. A retry policy is part of
the ScheduleActivityTask command's attributes, which replay does not compare: running
workflows take the new policy for the activities they schedule next (tests/replay)."""

TIME_CRITICAL_EMAILS = frozenset({"welcome"})


def retry_policy_for(channel: str, template: str | None) -> RetryPolicy:
    """Slack messages (CSM alerts, SLA warnings and breaches) and the welcome e-mail retry
    on the short schedule; other effects (later e-mails, CRM tasks and notes) on the
    long one."""
    if channel == "slack" or (channel == "email" and template in TIME_CRITICAL_EMAILS):
        return TIME_CRITICAL_RETRY
    return SIDE_EFFECT_RETRY


LOOKUP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)


async def customer_profile(customer_id: str) -> CustomerProfile:
    """Time zone, tier, company name and CSM of the customer (nothing about its
    contacts), read from the CRM."""
    return await workflow.execute_activity_method(
        CrmActivities.get_customer_profile,
        CustomerRef(customer_id=customer_id),
        start_to_close_timeout=timedelta(minutes=1),
        schedule_to_close_timeout=timedelta(hours=1),
        retry_policy=LOOKUP_RETRY,
        summary="read the customer's time zone and tier from the CRM",
    )


SEARCH_ATTRIBUTES_PATCH = "search-attributes"

ALERT_ESCALATION_PATCH = "alert-escalation"
"""Alerts posted before escalation existed started no escalation; their replay must not
either (the alert activity's result then carries no window, and this marker)."""


def tag_customer(
    profile: CustomerProfile | None,
    *,
    customer_id: str | None = None,
    stage: LifecycleStage | None = None,
) -> None:
    """Upsert the customer's search attributes (CustomerId, CompanyName, Tier, CsmOwner,
    LifecycleStage) so ops find this workflow in the UI. Workflows started before the
    hub set them replay without (patched)."""
    if not workflow.patched(SEARCH_ATTRIBUTES_PATCH):
        return
    cid = profile.customer_id if profile is not None else customer_id
    updates: list[SearchAttributeUpdate[Any]] = []
    if cid:
        updates.append(sa.CUSTOMER_ID.value_set(cid))
    if profile is not None:
        if profile.company_name:
            updates.append(sa.COMPANY_NAME.value_set(profile.company_name))
        if profile.tier is not None:
            updates.append(sa.TIER.value_set(profile.tier.value))
        if profile.csm_email:
            updates.append(sa.CSM_OWNER.value_set(profile.csm_email))
    if stage is not None:
        updates.append(sa.LIFECYCLE_STAGE.value_set(stage.value))
    if updates:
        workflow.upsert_search_attributes(updates)


def tag_stage(stage: LifecycleStage) -> None:
    if workflow.patched(SEARCH_ATTRIBUTES_PATCH):
        workflow.upsert_search_attributes([sa.LIFECYCLE_STAGE.value_set(stage.value)])


CHURN_RISK_ATTRIBUTE_PATCH = "churn-risk-attribute"
"""``workflow.patched``: runs from before it never tagged ChurnRisk (their inputs and
signals carried no estimate, so the patch is only asked when one is given)."""


def tag_health(score: float | None, category: str | None, churn_risk: float | None = None) -> None:
    """HealthScore / HealthCategory (the same words under every model: 'Critical') and,
    when the sweep scored one, ChurnRisk."""
    if not workflow.patched(SEARCH_ATTRIBUTES_PATCH):
        return
    updates: list[SearchAttributeUpdate[Any]] = []
    if score is not None:
        updates.append(sa.HEALTH_SCORE.value_set(float(score)))
    if churn_risk is not None and workflow.patched(CHURN_RISK_ATTRIBUTE_PATCH):
        updates.append(sa.CHURN_RISK.value_set(float(churn_risk)))
    value = sa.category_value(category)
    if value is not None:
        updates.append(sa.HEALTH_CATEGORY.value_set(value))
    if updates:
        workflow.upsert_search_attributes(updates)


LIFECYCLE_FACTS_PATCH = "lifecycle-facts"
"""``workflow.patched``: the onboarding, renewal, dunning and churn workflows write the
lifecycle facts the executive report reads on the CRM company (``CustomerActions.lifecycle_facts``)."""

RISK_OUTCOMES_PATCH = "risk-outcomes"
"""``workflow.patched``: runs from before it recorded no outcome for the churn-risk model."""


async def record_risk_outcome(
    customer_id: str, outcome: Literal["churned", "renewed"], step: str
) -> None:
    """Tell the hub's risk history what happened to the customer (what the churn-risk
    model learns from), once per workflow and ``step``. Not worth failing the journey
    for: an activity that keeps failing is logged and the journey goes on."""
    if not workflow.patched(RISK_OUTCOMES_PATCH):
        return
    info = workflow.info()
    try:
        await workflow.execute_activity(
            "record_risk_outcome",
            RiskOutcomeRecord(
                customer_id=customer_id,
                outcome=outcome,
                at=workflow.now(),
                key=f"{info.workflow_id}/{info.first_execution_run_id}/{step}",
                source=info.workflow_type,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=30)),
            summary=f"record the outcome for the churn-risk model: {outcome}",
        )
    except ActivityError as exc:
        workflow.logger.warning("risk outcome %s not recorded: %s", outcome, exc)


def tag_renewal_date(renewal_date: date) -> None:
    if workflow.patched(SEARCH_ATTRIBUTES_PATCH):
        at = datetime(renewal_date.year, renewal_date.month, renewal_date.day, tzinfo=UTC)
        workflow.upsert_search_attributes([sa.RENEWAL_DATE.value_set(at)])


def identity_line() -> str:
    """``Acme Health · professional · CSM dana@acme.example`` from the search attributes
    (they survive continue-as-new): the first line of every workflow's current details."""
    attrs = workflow.info().typed_search_attributes
    company = attrs.get(sa.COMPANY_NAME)
    customer = attrs.get(sa.CUSTOMER_ID)
    csm = attrs.get(sa.CSM_OWNER)
    parts = [
        company or (f"customer {customer}" if customer else None),
        attrs.get(sa.TIER),
        f"CSM {csm}" if csm else None,
    ]
    return " · ".join(p for p in parts if p)


_T = TypeVar("_T")


def required(value: _T | None, missing: str) -> _T:
    """``value``, which a workflow has once it started (its state, its plan): a query or
    update before then fails with ``missing`` (non-retryable: asking again cannot help)."""
    if value is None:
        raise ApplicationError(missing, non_retryable=True)
    return value


def show_starting(what: str, reading: str = "reading the CRM, loading the playbook") -> None:
    """The current details while a workflow starts (a start from the UI's form has no
    summary): "<what>: starting (<reading>)"."""
    set_details([f"{what}: starting ({reading})"])


def set_details(lines: list[str], last: str | None = None) -> None:
    """The workflow's current details in the UI: who, then the workflow's own lines, then
    ``last`` when there is one (the steering line: paused, skips, a rejected command)."""
    who = identity_line()
    shown = [who, *lines] if who else list(lines)
    if last:
        shown.append(last)
    workflow.set_current_details("\n\n".join(shown))


class CustomerActions:
    """Side effects on one customer, for one workflow, with an action log.

    ``actions`` is the list the workflow keeps in its state (and carries across
    continue-as-new); ``day_of`` turns a time into the workflow's day number;
    ``journey_key`` distinguishes successive journeys of the same workflow id (e.g. the
    start time or the renewal term), so a new journey acts again.
    """

    def __init__(
        self,
        customer_id: str,
        journey_key: str,
        actions: list[ActionRecord],
        day_of: Callable[[datetime], int],
        send_window: SendWindow | None = None,
        timezone: str | None = None,
        steering: Steering | None = None,
        waiter: Waiter | None = None,
        day_seconds: int | None = None,
    ) -> None:
        """``day_seconds``: a demo journey's day length (its e-mails count contact
        pressure in those days)."""
        self.customer_id = customer_id
        self.waiter = waiter
        """The workflow's :class:`~workflows.waiting.Waiter`: a quiet-hours wait then keeps
        handling signals and may continue as new (the workflow re-sends the e-mail in its
        next run). None: a plain durable timer."""
        self._day_seconds = day_seconds
        self._last_result: ActionResult | None = None
        self.steering = steering
        self.journey_key = journey_key
        self.actions = actions
        self._day_of = day_of
        self._send_window = send_window
        self._timezone = timezone

    def key(self, step: str) -> str:
        return f"{workflow.info().workflow_id}/{self.journey_key}/{step}"

    def record(
        self,
        step: str,
        channel: str,
        summary: str,
        *,
        template: str | None = None,
        outcome: str = "done",
        day: int | None = None,
    ) -> None:
        """``day`` defaults to the workflow's day number now; scheduled steps pass their
        plan day (a send hour may fall a few hours either side of the nominal time)."""
        now = workflow.now()
        self.actions.append(
            ActionRecord(
                at=now,
                day=self._day_of(now) if day is None else day,
                step=step,
                channel=channel,
                template=template,
                summary=summary,
                outcome=outcome,
            )
        )
        if len(self.actions) > MAX_ACTIONS_KEPT:
            del self.actions[: len(self.actions) - MAX_ACTIONS_KEPT]

    def count(self, channel: str) -> int:
        return sum(
            1
            for a in self.actions
            if a.channel == channel and a.outcome in ("done", "already_done")
        )

    async def email(
        self,
        step: str,
        template: str,
        ctx: MessageContext,
        recipient: EmailRecipient | None = None,
    ) -> str:
        """E-mail the customer (``recipient``: another contact than the primary one).
        Never in their quiet hours: a send that falls in them waits (a durable timer)
        until they end. The e-mail activity checks again."""
        # Steering first: an e-mail held by a pause still waits out quiet hours after.
        if await self.steered_away(step, "email", template, ctx.day):
            return "skipped"
        if (
            self._send_window is not None
            and self._timezone is not None
            and workflow.patched("quiet-hours-in-workflow")
        ):
            now = workflow.now()
            allowed = out_of_quiet_hours(now, self._timezone, self._send_window)
            if allowed > now:
                summary = f"quiet hours: e-mail '{template}' waits"
                if self.waiter is not None and workflow.patched(WAIT_PATCH):
                    await self.waiter.until(allowed, summary=summary, act=False)
                else:
                    await workflow.sleep(allowed - now, summary=summary)
        req = CustomerEmailRequest(
            customer_id=self.customer_id,
            template=template,
            idempotency_key=self.key(step),
            context=ctx,
            send_window=self._send_window,
            recipient=recipient,
            day_seconds=self._day_seconds,
        )
        who = (
            f"contact {recipient.contact_id}"
            if recipient is not None and recipient.contact_id
            else "the customer"
        )
        outcome = "deferred"
        while outcome == "deferred":
            outcome = await self.run(
                step,
                "email",
                template,
                MessagingActivities.send_customer_email,
                req,
                f"e-mail '{template}' to {who} (day {ctx.day})",
                day=ctx.day,
                gated=True,
            )
            held = self._last_result
            if outcome == "deferred" and held is not None and held.defer_until is not None:
                # Contact pressure: held back (the record says why); try again then,
                # waiting the way quiet hours do.
                summary = f"contact pressure: e-mail '{template}' waits"
                if self.waiter is not None and workflow.patched(WAIT_PATCH):
                    await self.waiter.until(held.defer_until, summary=summary, act=False)
                elif held.defer_until > workflow.now():
                    await workflow.sleep(held.defer_until - workflow.now(), summary=summary)
                # Paused or cancelled meanwhile: steering decides again.
                if await self.steered_away(step, "email", template, ctx.day):
                    return "skipped"
        return outcome

    async def alert(self, step: str, template: str, ctx: MessageContext) -> str:
        req = CsmAlertRequest(
            customer_id=self.customer_id,
            template=template,
            idempotency_key=self.key(step),
            context=ctx,
            workflow_id=workflow.info().workflow_id,
        )
        outcome = await self.run(
            step,
            "slack",
            template,
            MessagingActivities.alert_csm,
            req,
            f"Slack alert '{template}'",
            day=ctx.day,
        )
        posted = self._last_result
        if (
            outcome in ("done", "already_done")
            and self.steering is not None
            and posted is not None
            and posted.ref
            and posted.escalate_after_hours
            and workflow.patched(ALERT_ESCALATION_PATCH)
        ):
            watch = self._escalate_unless_acknowledged(
                step, template, posted.ref, posted.escalate_after_hours, ctx.day
            )
            self.steering.escalations.append(asyncio.create_task(watch))
        return outcome

    async def _escalate_unless_acknowledged(
        self, step: str, template: str, ref: str, hours: float, day: int
    ) -> None:
        """An alert that asks the CSM to act escalates once if nobody clicks it within
        its window (``domain.alert_escalation``): a timer in this run, beside the
        workflow's own work; the run ending (or continuing as new) calls it off."""
        assert self.steering is not None
        acked = self.steering.acknowledged_alerts
        channel, _, ts = ref.partition("/")
        try:
            await workflow.wait_condition(lambda: ts in acked, timeout=timedelta(hours=hours))
            return
        except TimeoutError:
            pass
        await self.run(
            f"{step}:escalated",
            "slack",
            ESCALATION_TEMPLATE,
            MessagingActivities.alert_csm,
            CsmAlertRequest(
                customer_id=self.customer_id,
                template=ESCALATION_TEMPLATE,
                idempotency_key=self.key(f"{step}:escalated"),
                context=MessageContext(
                    day=day,
                    extra={
                        "alert_template": template,
                        "after_hours": hours,
                        "alert_channel": channel,
                        "alert_ts": ts,
                    },
                ),
                workflow_id=workflow.info().workflow_id,
            ),
            f"escalate the unacknowledged '{template}' alert",
            day=day,
            gated=True,
        )

    async def task(
        self,
        step: str,
        subject: str,
        body: str,
        *,
        due_at: datetime,
        priority: str = "MEDIUM",
        kind: str = "task",
        day: int | None = None,
        assign_to: Literal["csm", "account_executive"] = "csm",
        attachment_ids: Sequence[str] = (),
    ) -> str:
        req = CsmTaskRequest(
            customer_id=self.customer_id,
            subject=subject,
            body=body,
            due_at=due_at,
            priority=priority,
            idempotency_key=self.key(step),
            assign_to=assign_to,
            attachment_ids=list(attachment_ids),
        )
        return await self.run(
            step,
            "crm_task",
            kind,
            CrmActivities.create_csm_task,
            req,
            f"CRM task: {subject}",
            day=day,
        )

    async def note(
        self,
        step: str,
        body: str,
        *,
        kind: str = "note",
        day: int | None = None,
        amount_due_minor: int | None = None,
        currency: str | None = None,
    ) -> str:
        req = CrmNoteRequest(
            customer_id=self.customer_id,
            body=body,
            timestamp=workflow.now(),
            idempotency_key=self.key(step),
            amount_due_minor=amount_due_minor,
            currency=currency,
        )
        return await self.run(
            step,
            "crm_note",
            kind,
            CrmActivities.add_crm_note,
            req,
            "CRM note on the company",
            day=day,
        )

    async def update_company(self, step: str, properties: dict[str, str], *, kind: str) -> str:
        """Write properties on the CRM company (idempotent by nature: same values)."""
        req = CompanyUpdateRequest(customer_id=self.customer_id, properties=properties)
        return await self.run(
            step,
            "crm_update",
            kind,
            CrmActivities.update_company,
            req,
            f"update CRM company: {', '.join(sorted(properties))}",
        )

    async def lifecycle_facts(self, step: str, facts: dict[str, LifecycleFact]) -> str | None:
        """Write what the workflow just learnt about the customer's lifecycle (customer
        since, churn, renewal outcome and ARR, onboarding dates) on the CRM company, where
        the executive report reads it. Behind ``workflow.patched(LIFECYCLE_FACTS_PATCH)``
        (runs started before it write nothing); the values are decided in the workflow, so
        a retry writes the same ones. None when there is nothing to write."""
        if not workflow.patched(LIFECYCLE_FACTS_PATCH):
            return None
        props = lifecycle_properties(facts)
        if not props:
            return None
        return await self.update_company(step, props, kind="lifecycle_facts")

    async def run(
        self,
        step: str,
        channel: str,
        template: str | None,
        activity_method: Any,
        request: BaseModel,
        summary: str,
        day: int | None = None,
        gated: bool = False,
    ) -> str:
        """Run one side-effect activity returning an ActionResult and record it (the
        e-mails, alerts, tasks and notes above go through here; a workflow calls it for
        any other, e.g. a Zendesk ticket change); returns the outcome recorded (done,
        already_done, suppressed, failed or skipped). ``gated``: the steering gate was
        passed already; ``day``: the campaign day recorded (default: today's)."""
        if not gated and await self.steered_away(step, channel, template, day):
            return "skipped"
        try:
            result: ActionResult = await workflow.execute_activity_method(
                activity_method,
                request,
                start_to_close_timeout=timedelta(minutes=2),
                # Past a day the moment has gone: record the step as failed, carry on.
                schedule_to_close_timeout=timedelta(days=1),
                retry_policy=retry_policy_for(channel, template),
                summary=summary,
            )
        except ActivityError as err:
            cause = (
                err.cause.message
                if isinstance(err.cause, ApplicationError)
                else str(err.cause or err)
            )
            self.record(
                step, channel, f"failed: {cause}", template=template, outcome="failed", day=day
            )
            workflow.logger.warning("step %s failed: %s", step, cause)
            return "failed"
        self._last_result = result
        outcome = (
            "deferred"
            if result.held == "later" and result.defer_until is not None
            else "dropped"
            if result.held is not None
            else "suppressed"
            if result.suppressed
            else "done"
            if result.created
            else "already_done"
        )
        self.record(step, channel, result.summary, template=template, outcome=outcome, day=day)
        return outcome

    async def steered_away(
        self, step: str, channel: str, template: str | None, day: int | None
    ) -> bool:
        """Wait while the workflow is paused; True (and the step recorded as skipped)
        when a skip request or a cancel covers it."""
        if self.steering is None:
            return False
        decision, reason = await self.steering.gate(step)
        if decision == "run":
            return False
        self.record(
            step, channel, f"skipped: {reason}", template=template, outcome="skipped", day=day
        )
        return True
