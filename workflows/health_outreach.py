"""HealthOutreachWorkflow: what one health sweep does for one customer whose triggers fired.

Started by a health-sweep page (id ``health-outreach-<customer>-<sweep time>``), one per
customer and sweep, so a customer's e-mail waiting out their quiet hours never holds the
sweep up. In order (``playbooks/health/outreach.yaml``):

- health decline (into At risk): Slack alert to the CSM and the account executive, and a
  check-in task for the CSM;
- low feature adoption: an enablement task for the CSM;
- expansion signal: an upgrade-opportunity task for the account executive;
- usage at 85 % of a limit: Slack alert to the CSM, warning e-mail to the customer;
- celebration (recovery or milestone): Slack alert to the CSM, e-mail to the customer.

(Critical is handled by the sweep itself: it starts or tells the churn-prevention
campaign.) A health-decline alert asks the CSM to act: the workflow then stays open until
someone acts on it in Slack (*Acknowledge*, *Snooze*, *Log call*: the signals
``alert_acknowledged`` / ``call_logged``) or its window in ``playbooks/alerts.yaml`` passes,
when it escalates once and ends (patch ``health-alert-escalation``; runs from before it
ended at once). Idempotency keys ``<workflow id>/<sweep time>/<trigger>:<step>``: a retried
step or a re-run page never repeats a message or a task.

Steering (``workflows.steering``): ``pause`` holds the actions (they run at ``resume``);
``skip`` (``{}``: the next action; ``{"step": "usage"}``: that trigger's alert and e-mail;
``{"step": "usage:email"}``: one action) records it as skipped; ``cancel`` records the
reason and ends (actions not yet run are not run). ``progress`` lists the actions.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.models import MessageContext
    from domain.health_outreach import CompanyHealth, TaskSpec, Trigger
    from domain.health_sweep import HealthOutreachInput
    from domain.journeys import ActionRecord
    from domain.send_window import SendWindow
    from workflows.campaign import journey_key
    from workflows.common import (
        CustomerActions,
        customer_profile,
        set_details,
        tag_customer,
        tag_health,
    )
    from workflows.steering import Steerable, Steering

STEPS = {
    Trigger.HEALTH_DECLINE: ("decline:alert", "decline:task"),
    Trigger.LOW_ADOPTION: ("adoption:task",),
    Trigger.EXPANSION: ("expansion:task",),
    Trigger.USAGE_LIMIT: ("usage:alert", "usage:email"),
    Trigger.CELEBRATION: ("celebration:alert", "celebration:email"),
}
"""The actions of each trigger, in order (the step names ``skip`` takes)."""

HEALTH_ALERT_ESCALATION_PATCH = "health-alert-escalation"
"""``workflow.patched``: the outreach waits for its alert to be acted on or escalated
(runs from before it ended once their actions were done, leaving no timer behind)."""

_ORDER = (
    Trigger.HEALTH_DECLINE,
    Trigger.LOW_ADOPTION,
    Trigger.EXPANSION,
    Trigger.USAGE_LIMIT,
    Trigger.CELEBRATION,
)


_DOING = {
    Trigger.HEALTH_DECLINE: "Slack alert to the CSM and account executive, then a check-in task",
    Trigger.LOW_ADOPTION: "an enablement task for the CSM",
    Trigger.EXPANSION: "an upgrade-opportunity task for the account executive",
    Trigger.USAGE_LIMIT: "Slack alert to the CSM, then the warning e-mail (it waits for the "
    "customer's send hours and e-mail caps)",
    Trigger.CELEBRATION: "Slack alert to the CSM, then the celebration e-mail (it waits for "
    "the customer's send hours and e-mail caps)",
}
"""What each trigger does, for the current details."""


@workflow.defn(name="HealthOutreachWorkflow")
class HealthOutreachWorkflow(Steerable):
    @workflow.init
    def __init__(self, inp: HealthOutreachInput) -> None:
        self._input = inp
        self._actions: list[ActionRecord] = []
        self._steer = Steering()
        self._current = ""

    def _next_step_key(self) -> str | None:
        """The first action of a fired trigger not recorded yet."""
        fired = {f.trigger for f in self._input.health.fired}
        done = {a.step for a in self._actions}
        for trigger in _ORDER:
            if trigger in fired:
                for step in STEPS[trigger]:
                    if step not in done:
                        return step
        return None

    def _steered(self) -> None:
        # Who (company · tier · CSM, from the search attributes), then what it does and
        # what it waits for, then steering (paused, skips, a rejected command).
        line = self._steer.detail_line()
        set_details([x for x in (self._current, line) if x])

    def _details(self, text: str) -> None:
        self._current = text
        self._steered()

    @workflow.query(name="progress")
    def progress(self) -> list[ActionRecord]:
        return list(self._actions)

    @workflow.run
    async def run(self, inp: HealthOutreachInput) -> list[ActionRecord]:
        h = inp.health
        fired = {f.trigger: f.reason for f in h.fired}
        self._details(
            f"Customer {inp.customer_id}: reading the company and its CSM from the CRM, then "
            f"{', '.join(t.value for t in _ORDER if t in fired)}"
        )
        profile = await customer_profile(inp.customer_id)
        tag_customer(profile)
        tag_health(h.score, h.category.value, h.churn_risk)
        timezone = profile.timezone
        act = CustomerActions(
            inp.customer_id,
            journey_key(inp.sweep_at),
            self._actions,
            day_of=lambda _: 0,
            send_window=SendWindow(),
            timezone=timezone,
            steering=self._steer,
        )
        ctx = self._context(h)
        plan = inp.plan
        head = (
            f"Health {h.score:.0f} ({h.category_label}), sweep of {inp.sweep_at:%Y-%m-%d %H:%M} UTC"
        )
        for trigger in _ORDER:
            if trigger not in fired or self._steer.cancelled:
                continue
            self._details(f"{head}\n\nNow: {trigger.value} ({fired[trigger]}): {_DOING[trigger]}")
            step = ctx.model_copy(update={"reason": fired[trigger]})
            if trigger is Trigger.HEALTH_DECLINE:
                await act.alert("decline:alert", plan.health_decline.alert_template, step)
                await self._task(act, "decline:task", plan.health_decline.task, fired[trigger])
            elif trigger is Trigger.LOW_ADOPTION:
                await self._task(act, "adoption:task", plan.low_adoption.task, fired[trigger])
            elif trigger is Trigger.EXPANSION:
                await self._task(
                    act,
                    "expansion:task",
                    plan.expansion.task,
                    fired[trigger],
                    assign_to="account_executive",
                )
            elif trigger is Trigger.USAGE_LIMIT:
                await act.alert("usage:alert", plan.usage_limit.alert_template, step)
                await act.email("usage:email", plan.usage_limit.email_template, step)
            elif trigger is Trigger.CELEBRATION:
                kind = "recovery" if fired[trigger].startswith("recovery") else "milestone"
                cel = step.model_copy(update={"extra": {**step.extra, "kind": kind}})
                await act.alert("celebration:alert", plan.celebration.alert_template, cel)
                await act.email("celebration:email", plan.celebration.email_template, cel)
        await self._escalated_unless_acted_on(head)
        reason = self._steer.cancel_reason
        if reason is not None:
            self._steer.begin_closing()
            act.record("cancelled", "journey", f"outreach cancelled: {reason}", outcome="skipped")
        done = sum(1 for a in self._actions if a.outcome in ("done", "already_done"))
        self._details(f"Finished: {done} of {len(self._actions)} actions done")
        return list(self._actions)

    async def _escalated_unless_acted_on(self, head: str) -> None:
        """An alert still waiting for a click (its escalation watch, started by
        ``CustomerActions.alert``) keeps the run open until a CSM acts on it or it has
        escalated once; a ``cancel`` ends the wait."""
        steer = self._steer
        if not steer.watching() or not workflow.patched(HEALTH_ALERT_ESCALATION_PATCH):
            return
        self._details(
            f"{head}\n\nNow: actions done; waiting for a CSM to act "
            "on the Slack alert (Acknowledge, Snooze, Log call); nobody within its window "
            "(playbooks/alerts.yaml): it escalates once"
        )
        await workflow.wait_condition(lambda: not steer.watching() or steer.cancelled)

    @staticmethod
    def _context(h: CompanyHealth) -> MessageContext:
        extra: dict[str, object] = {
            "score": h.score,
            "previous_score": h.previous_score,
            "delta": h.delta,
            "category": h.category.value,
            "category_label": h.category_label,
            "model": h.model,
            "weakest": h.weakest,
            "low_confidence": h.low_confidence,
        }
        if h.usage is not None:
            extra |= h.usage.model_dump()
        return MessageContext(day=0, extra=extra)

    @staticmethod
    async def _task(
        act: CustomerActions,
        step: str,
        spec: TaskSpec,
        reason: str,
        *,
        assign_to: str = "csm",
    ) -> None:
        await act.task(
            step,
            spec.subject,
            f"{spec.body}\n\nWhy: {reason}.",
            due_at=workflow.now() + timedelta(days=spec.due_in_days),
            priority=spec.priority,
            kind=step.split(":")[0],
            assign_to="account_executive" if assign_to == "account_executive" else "csm",
        )
