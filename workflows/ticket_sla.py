"""TicketSlaWorkflow: one Zendesk ticket's SLA clocks and escalations.

Playbook ``playbooks/sla.yaml`` (loaded once at start), in order:
1. Started by Zendesk's ticket-created webhook (or a person: ``{"ticket_id": "5001"}``).
   Reads the ticket and the customer's plan tier; severity from the Zendesk priority;
   targets = the stricter of severity and tier; the tier's business-hours calendar. The
   clocks count from the ticket's creation time. Optional auto-acknowledgement comment.
2. Two clocks in business time: first response (stopped by the first public agent
   reply) and resolution (paused while the ticket is pending / on hold, stopped when
   solved, resumed when reopened).
3. At 75 % of a target the CSM is warned in Slack (once per clock). At a breach the
   ticket escalates one level (priority raised, tag and internal note, Slack message to
   the level's channel, at engineering level a group change); each further full target
   of lateness is another breach and one more level, up to the last. Each level
   escalates at most once.
4. Solved: clocks stop, the CSAT survey starts (``csat-{ticket_id}``, once). The
   workflow waits for a reopen for the playbook's reopen window, then ends. Closed: ends.
5. When the ticket opens and when it is solved (or closed), the customer's support
   figures (open and critical tickets, tickets per 30 days, CSAT) are copied to the CRM
   company in the background, once Zendesk's search index has caught up (5 minutes
   later: ``workflows.support_health``; never fails nor delays the SLA). The workflow
   ends (or continues as new) only when no refresh is pending; a signal that comes in
   meanwhile (a reopen, a late reply) is handled as usual, not dropped.

Workflow id ``ticket-sla-{ticket_id}``; idempotency keys ``{workflow id}/{created}/{step}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.support import (
        EscalateTicketRequest,
        RouteTicketRequest,
        RouteTicketResult,
        SupportActivities,
        SupportAlertRequest,
        TicketCommentRequest,
        TicketContext,
        TicketRef,
    )
    from domain.business_time import BusinessCalendar
    from domain.journeys import ActionRecord
    from domain.sla_clock import Clock, retarget
    from domain.sla_policy import (
        EffectiveTargets,
        SlaPolicy,
        effective_targets,
        severity_for_priority,
    )
    from domain.steering import SteeringState
    from domain.support_records import (
        ClockName,
        Severity,
        SlaBreach,
        TicketSlaStatus,
    )
    from domain.surveys import CsatInput, csat_workflow_id
    from domain.ticket_sla import (
        AgentReplied,
        TicketPriorityChanged,
        TicketSlaInput,
        TicketStatusChanged,
        ticket_sla_workflow_id,
    )
    from workflows.campaign import (
        InboxSignals,
        inbox_signal,
        journey_key,
        load_plan,
        start_abandoned_child,
    )
    from workflows.common import (
        LOOKUP_RETRY,
        CustomerActions,
        required,
        set_details,
        show_starting,
        tag_customer,
    )
    from workflows.steering import Steering
    from workflows.support_health import BackgroundRefreshes

__all__ = ["TicketSlaWorkflow", "ticket_sla_workflow_id"]

SOLVED = {"solved", "closed"}
MAX_SEEN_EVENTS = 200
PARK_PATCH = "ticket-sla-park-unfetchable"
ROUTING_PATCH = "ticket-sla-smart-routing"
"""``workflow.patched``: watches started before it routed nothing."""
PARKED_FOR = timedelta(days=7)
"""How long a ticket the hub cannot read stays parked, taking (and recording) its later
events, before the workflow ends: a later event then finds it completed and is ignored,
instead of starting a run that would fail (and alert ops) again."""
PARKED_MEMO = "cshub_parked"
"""Memo the ingress reads to answer a parked ticket's events ``parked``."""
UNFETCHABLE_TYPES = ("NotFoundError", "PermanentConnectorError")
"""Zendesk answered 404 (deleted) or another 4xx (not visible to the token)."""


class _Unfetchable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TicketSlaState(BaseModel):
    """Everything the workflow knows; carried across continue-as-new."""

    policy: SlaPolicy
    ticket_id: str
    customer_id: str | None = None
    tier: str | None = None
    requester_id: str | None = None
    severity: Severity
    status: str
    created_at: datetime
    first_response_at: datetime | None = None
    solved_at: datetime | None = None
    clocks: list[Clock]
    level: int = 0
    breaches: list[SlaBreach] = Field(default_factory=list)
    seen_event_ids: list[str] = Field(default_factory=list)
    actions: list[ActionRecord] = Field(default_factory=list)
    csat_started: bool = False
    reopen_until: datetime | None = None
    escalated_priority: str | None = None
    """The Zendesk priority the hub itself set when escalating: Zendesk's webhook for that
    change must not re-target the clocks."""
    finished: bool = False
    steering: SteeringState = Field(default_factory=SteeringState)
    """Pause / skip / cancel requests (the steering signals)."""


Message = AgentReplied | TicketStatusChanged | TicketPriorityChanged


@workflow.defn(name="TicketSlaWorkflow")
class TicketSlaWorkflow(InboxSignals):
    @workflow.init
    def __init__(self, inp: TicketSlaInput) -> None:
        self._input = inp
        self._state: TicketSlaState | None = (
            TicketSlaState.model_validate(inp.carry_over) if inp.carry_over else None
        )
        self._inbox: list[Message] = []
        self._actions: CustomerActions | None = None
        self._refreshes = BackgroundRefreshes()
        self._steer = Steering(self._state.steering if self._state else None)
        self._parked_why: str | None = None

    async def _parked(self, inp: TicketSlaInput, reason: str) -> TicketSlaStatus:
        """The ticket cannot be read (deleted, not visible to the token): no
        clock can run. Ops heard of it once (the failed read's alert); the ticket's later
        events are taken and counted here for ``PARKED_FOR``, then the workflow ends."""
        why = f"ticket {inp.ticket_id} cannot be read from Zendesk: {reason}"
        self._parked_why = why
        workflow.upsert_memo({PARKED_MEMO: why})
        received = 0

        def show() -> None:
            set_details(
                [
                    f"**Ticket {inp.ticket_id} SLA** · parked",
                    why,
                    f"Events received while parked: {received} (recorded, not acted on)",
                ]
            )

        show()
        until = workflow.now() + PARKED_FOR
        while (left := until - workflow.now()) > timedelta(0) and not self._steer.cancelled:
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(
                    lambda: bool(self._inbox) or self._steer.cancelled, timeout=left
                )
            if self._inbox:
                received += len(self._inbox)
                self._inbox.clear()
                show()
        return TicketSlaStatus(ticket_id=inp.ticket_id, finished=True, parked=why)

    # ------------------------------------------------------------------ signals
    agent_replied = inbox_signal(
        "agent_replied",
        AgentReplied,
        "{}",
        ": the first public agent reply (stops the first-response clock).",
    )

    status_changed = inbox_signal(
        "status_changed",
        TicketStatusChanged,
        '{"status": "pending"}',
        " (pending / hold pause, solved stops, open resumes).",
    )

    priority_changed = inbox_signal(
        "priority_changed",
        TicketPriorityChanged,
        '{"priority": "urgent"}',
        ": targets recomputed for the new severity.",
    )

    # ------------------------------------------------------------------ query
    @workflow.query(name="sla_status")
    def sla_status(self) -> TicketSlaStatus:
        """Targets, time used and left, breaches and the escalation level."""
        if self._state is None:
            return TicketSlaStatus(ticket_id=self._input.ticket_id, parked=self._parked_why)
        return self._status()

    def _next_step_key(self) -> str | None:
        nxt = self._next_due() if self._state is not None else None
        return nxt[0] if nxt else None

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: TicketSlaInput) -> TicketSlaStatus:
        if self._state is None:
            show_starting(
                f"SLA watch of Zendesk ticket {inp.ticket_id}", "reading Zendesk and the CRM"
            )
            try:
                self._state = await self._begin(inp)
            except _Unfetchable as err:
                return await self._parked(inp, err.reason)
        try:
            while True:
                await self._watch()
                # The last refresh may wait minutes (Zendesk's search index): a signal
                # that comes meanwhile (e.g. a reopen) is handled, not dropped at the end.
                await workflow.wait_condition(lambda: self._refreshes.idle or bool(self._inbox))
                if not self._inbox or self._steer.cancelled:
                    break
            await self._refreshes.settled()  # all done: collects them
        except asyncio.CancelledError:
            self._require_state().finished = True
            raise
        st = self._require_state()
        reason = self._steer.cancel_reason
        if reason is not None:
            # The cancel signal: the clocks stop watching, the result says cancelled.
            self._steer.begin_closing()
            self._act.record("cancelled", "journey", f"SLA watch cancelled: {reason}")
        st.finished = True
        self._details()
        return self._status()

    async def _route(self, inp: TicketSlaInput, ticket: TicketContext) -> RouteTicketResult | None:
        """Smart routing of a new ticket (``playbooks/routing.yaml``): its text more urgent
        than its priority tells the support lead and may raise it (then the clocks follow
        the new priority). Never stops the SLA watch: a failure is logged and skipped."""
        if ticket.status.lower() in SOLVED or not workflow.patched(ROUTING_PATCH):
            return None
        wid = workflow.info().workflow_id
        try:
            result: RouteTicketResult = await workflow.execute_activity_method(
                SupportActivities.route_ticket,
                RouteTicketRequest(
                    ticket_id=inp.ticket_id,
                    customer_id=ticket.customer_id,
                    idempotency_key=f"{wid}/routing",
                    workflow_id=wid,
                ),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RetryPolicy(
                    maximum_attempts=5, maximum_interval=timedelta(seconds=30)
                ),
                summary="read the ticket's text: topic and urgency (smart routing)",
            )
        except ActivityError as err:
            workflow.logger.warning("ticket %s: smart routing failed: %s", inp.ticket_id, err)
            return None
        return result

    async def _begin(self, inp: TicketSlaInput) -> TicketSlaState:
        policy = await load_plan("sla", SlaPolicy)
        try:
            ticket: TicketContext = await workflow.execute_activity_method(
                SupportActivities.get_ticket_context,
                TicketRef(ticket_id=inp.ticket_id),
                start_to_close_timeout=timedelta(minutes=1),
                schedule_to_close_timeout=timedelta(hours=1),
                retry_policy=LOOKUP_RETRY,
                summary=f"read Zendesk ticket {inp.ticket_id} and the customer's tier",
            )
        except ActivityError as err:
            cause = err.cause
            if (
                isinstance(cause, ApplicationError)
                and cause.type in UNFETCHABLE_TYPES
                and workflow.patched(PARK_PATCH)
            ):
                raise _Unfetchable(cause.message) from err
            raise
        routed = await self._route(inp, ticket)
        if routed is not None and routed.priority != ticket.priority:
            ticket = ticket.model_copy(
                update={"priority": routed.priority, "group_id": routed.group_id}
            )
        now = workflow.now()
        created = min(ticket.created_at or now, now)
        severity = severity_for_priority(policy, ticket.priority)
        targets = effective_targets(policy, severity, ticket.tier)
        status = ticket.status.lower()
        response = Clock(
            name=ClockName.FIRST_RESPONSE,
            target_minutes=targets.first_response.total_seconds() / 60,
            running_since=created,
        )
        resolution = Clock(
            name=ClockName.RESOLUTION,
            target_minutes=targets.resolution.total_seconds() / 60,
            running_since=created,
        )
        st = TicketSlaState(
            policy=policy,
            ticket_id=inp.ticket_id,
            customer_id=ticket.customer_id,
            tier=ticket.tier,
            requester_id=ticket.requester_id,
            severity=severity,
            # A ticket already solved when we first see it is handled as a solve below.
            status="open" if status in SOLVED else status,
            created_at=created,
            clocks=[response, resolution],
        )
        self._state = st
        cal = targets.calendar
        if ticket.first_agent_reply_at is not None:
            replied = min(max(ticket.first_agent_reply_at, created), now)
            response.stop(cal, replied, met=True)
            st.first_response_at = replied
        # Heard of late: it has been in its current state since its last update.
        since = min(max(ticket.updated_at or created, created), now)
        if status in policy.pause_resolution_on:
            resolution.stop(cal, since, met=False)
        self._act.record(
            "start",
            "journey",
            f"SLA started: {severity.value} ticket, tier {ticket.tier or 'unknown'}, "
            f"first response {_fmt(targets.first_response)}, resolution "
            f"{_fmt(targets.resolution)} ({cal.name})",
        )
        if routed is not None and routed.alerted:
            self._act.record("routing", "zendesk", f"smart routing: {routed.summary}")
        tag_customer(None, customer_id=ticket.customer_id)
        if status in SOLVED:
            await self._on_status(status, since)  # refreshes the support figures
        else:
            self._refreshes.start(ticket.customer_id, "ticket opened")
        if status not in SOLVED and policy.auto_acknowledge.enabled:
            await self._act.run(
                "ack",
                "zendesk",
                "auto_acknowledge",
                SupportActivities.comment_on_ticket,
                TicketCommentRequest(
                    ticket_id=inp.ticket_id,
                    marker_tag="cshub_acknowledged",
                    body=policy.auto_acknowledge.comment.replace(
                        "{response_target}", _fmt(targets.first_response)
                    ),
                ),
                "auto-acknowledgement comment on the ticket",
            )
        self._details()
        return st

    async def _watch(self) -> None:
        st = self._require_state()
        while True:
            await self._drain_inbox()
            now = workflow.now()
            if st.status == "closed" or self._steer.cancelled:
                return
            if st.status == "solved" and st.reopen_until is not None and now >= st.reopen_until:
                return
            wake = self._next_wake()
            if self._steer.paused and wake is not None and wake <= now:
                # A warning or breach due while paused: hold here (replies and status
                # changes are still taken in); it runs at resume.
                await workflow.wait_condition(
                    lambda: bool(self._inbox) or not self._steer.paused or self._steer.cancelled
                )
                continue
            await self._fire_due(now)
            wake = self._next_wake()
            # Continue as new once no refresh is pending; meanwhile the clocks keep
            # running here (a pending refresh wakes the loop when it is done).
            if self._renew_due() and self._refreshes.idle:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._inbox:
                    await self._refreshes.settled()
                    await self._steer.alerts_sent()  # rejected-command alerts in flight
                    workflow.continue_as_new(
                        TicketSlaInput(
                            ticket_id=st.ticket_id, carry_over=st.model_dump(mode="json")
                        )
                    )
            timeout = None if wake is None else max(wake - workflow.now(), timedelta(0))
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: (
                        bool(self._inbox)
                        or (self._renew_due() and self._refreshes.idle)
                        or self._steer.cancelled
                    ),
                    timeout=timeout,
                    timeout_summary="next SLA warning or breach",
                )

    @staticmethod
    def _renew_due() -> bool:
        return workflow.info().is_continue_as_new_suggested()

    # ------------------------------------------------------------------ timers
    def _next_wake(self) -> datetime | None:
        st = self._require_state()
        if st.status == "solved":
            return st.reopen_until
        cal = self._calendar()
        times = []
        for clock in st.clocks:
            for t in (
                clock.warn_at(cal, st.policy.warn_at_fraction),
                None if self._at_last_level() else clock.next_breach_at(cal),
            ):
                if t is not None:
                    times.append(t)
        return min(times) if times else None

    def _next_due(self) -> tuple[str, datetime] | None:
        """The next warning or escalation: its step name and when."""
        st = self._require_state()
        if st.status in SOLVED:
            return None
        cal = self._calendar()
        due: list[tuple[datetime, str]] = []
        for clock in st.clocks:
            warn = clock.warn_at(cal, st.policy.warn_at_fraction)
            if warn is not None:
                due.append((warn, f"warn:{clock.name.value}"))
            breach = None if self._at_last_level() else clock.next_breach_at(cal)
            if breach is not None:
                due.append((breach, f"escalate:{st.level + 1}"))
        if not due:
            return None
        at, step = min(due)
        return step, at

    def _at_last_level(self) -> bool:
        st = self._require_state()
        return st.level >= len(st.policy.escalation) - 1

    async def _fire_due(self, now: datetime) -> None:
        st = self._require_state()
        cal = self._calendar()
        for clock in st.clocks:
            warn = clock.warn_at(cal, st.policy.warn_at_fraction)
            breach = None if self._at_last_level() else clock.next_breach_at(cal)
            if breach is not None and breach <= now:
                await self._breach(clock, breach, now)
            elif warn is not None and warn <= now:
                await self._warn(clock, warn)

    async def _warn(self, clock: Clock, at: datetime) -> None:
        st = self._require_state()
        clock.warned = True
        clock.warned_at = at
        cal = self._calendar()
        left = clock.target - clock.used(cal, workflow.now())
        due = clock.next_breach_at(cal)
        await self._act.run(
            f"warn:{clock.name.value}",
            "slack",
            st.policy.warning_template,
            SupportActivities.post_support_alert,
            SupportAlertRequest(
                ticket_id=st.ticket_id,
                customer_id=st.customer_id,
                template=st.policy.warning_template,
                facts=self._facts(clock)
                | {
                    "minutes_left": max(0, round(left.total_seconds() / 60)),
                    "due_at": due.isoformat() if due else None,
                    "percent_used": round(st.policy.warn_at_fraction * 100),
                },
                idempotency_key=self._act.key(f"warn:{clock.name.value}"),
                workflow_id=workflow.info().workflow_id,
            ),
            f"warn the CSM: {_label(clock.name)} at {round(st.policy.warn_at_fraction * 100)} %",
        )
        self._details()

    async def _breach(self, clock: Clock, at: datetime, now: datetime) -> None:
        """One escalation per firing: targets missed while nobody could act (a ticket
        heard of late, a worker outage, a stricter target) count, but move the ticket up
        one level only."""
        st = self._require_state()
        cal = self._calendar()
        overdue = int(clock.used(cal, now) / clock.target) if clock.target else 1
        clock.breaches = max(clock.breaches + 1, overdue)
        if clock.first_breached_at is None:
            clock.first_breached_at = at
        levels = st.policy.escalation
        new_level = min(st.level + 1, len(levels) - 1)
        level = levels[new_level]
        st.breaches.append(
            SlaBreach(clock=clock.name, at=at, level=new_level, level_name=level.name)
        )
        st.level = new_level
        if level.zendesk_priority:
            st.escalated_priority = level.zendesk_priority
        step = f"escalate:{new_level}"
        note = (
            f"SLA breach: {_label(clock.name)} target of {_fmt(clock.target)} "
            f"({st.severity.value}, tier {st.tier or 'unknown'}) passed"
            f"{'' if clock.breaches == 1 else f' {clock.breaches} times over'}. "
            f"Escalated to {level.name}: {level.who}."
        )
        await self._act.run(
            f"{step}:zendesk",
            "zendesk",
            "sla_escalation",
            SupportActivities.escalate_ticket,
            EscalateTicketRequest(
                ticket_id=st.ticket_id,
                marker_tag=level.tag or f"cshub_sla_level_{new_level}",
                extra_tags=["cshub_sla_breached"],
                priority=level.zendesk_priority,
                group_id=str(level.group_id) if level.group_id is not None else None,
                internal_note=note,
            ),
            f"escalate ticket {st.ticket_id} to {level.name}",
        )
        await self._act.run(
            f"{step}:slack",
            "slack",
            st.policy.breach_template,
            SupportActivities.post_support_alert,
            SupportAlertRequest(
                ticket_id=st.ticket_id,
                customer_id=st.customer_id,
                template=st.policy.breach_template,
                channel=level.slack_channel,
                mention_slack_id=level.mention,
                mention_name=level.who,
                facts=self._facts(clock)
                | {
                    "level": new_level,
                    "level_name": level.name,
                    "breach_count": clock.breaches,
                    "breached_at": at.isoformat(),
                    "group_id": level.group_id,
                },
                idempotency_key=self._act.key(f"{step}:slack"),
                workflow_id=workflow.info().workflow_id,
            ),
            f"tell {level.who} in Slack ({level.name})",
        )
        self._details()

    # ------------------------------------------------------------------ signals, handled
    async def _drain_inbox(self) -> None:
        st = self._require_state()
        while self._inbox:
            msg = self._inbox.pop(0)
            if msg.event_id:
                if msg.event_id in st.seen_event_ids:
                    continue
                st.seen_event_ids = [*st.seen_event_ids[-(MAX_SEEN_EVENTS - 1) :], msg.event_id]
            at = self._event_time(msg.at)
            if isinstance(msg, AgentReplied):
                self._on_reply(at)
            elif isinstance(msg, TicketStatusChanged):
                await self._on_status(msg.status.lower(), at)
            else:
                self._on_priority(msg.priority, at)
            self._details()

    def _on_reply(self, at: datetime) -> None:
        st = self._require_state()
        clock = self._clock(ClockName.FIRST_RESPONSE)
        if clock.met_at is not None:
            return
        clock.stop(self._calendar(), at, met=True)
        st.first_response_at = at
        used = clock.used(self._calendar(), at)
        self._act.record(
            "first_response",
            "journey",
            f"first public agent reply after {_fmt(used)} of business time "
            f"(target {_fmt(clock.target)}{', breached' if clock.breaches else ''})",
        )

    async def _on_status(self, status: str, at: datetime) -> None:
        st = self._require_state()
        previous = st.status
        if status == previous and status not in SOLVED:
            return
        st.status = status
        cal = self._calendar()
        resolution = self._clock(ClockName.RESOLUTION)
        if status in SOLVED:
            if previous in SOLVED:
                return
            response = self._clock(ClockName.FIRST_RESPONSE)
            if response.met_at is None and response.running_since is not None:
                # Solved with no public reply (spam, merged, fixed in passing): the
                # first-response clock stops without being met.
                response.stop(cal, at, met=False)
                response.paused = False
                self._act.record(
                    "no_reply", "journey", "solved without a public agent reply", outcome="skipped"
                )
            resolution.stop(cal, at, met=True)
            st.solved_at = at
            st.reopen_until = workflow.now() + timedelta(days=st.policy.reopen_window_days)
            self._act.record(
                "solved",
                "journey",
                f"solved after {_fmt(resolution.used(cal, at))} of business time "
                f"(target {_fmt(resolution.target)}"
                f"{', breached' if resolution.breaches else ''})",
            )
            await self._start_csat(at)
            self._refreshes.start(st.customer_id, f"ticket {status}")
            return
        if previous in SOLVED:
            # Reopened (to open, new, pending or hold): not solved any more; a later
            # solve asks for CSAT again.
            st.solved_at = None
            st.reopen_until = None
            st.csat_started = False
            resolution.start(at)
            self._act.record("reopened", "journey", f"reopened ({status}): clock resumes")
            self._refreshes.start(st.customer_id, f"ticket reopened ({status})")
        if status in st.policy.pause_resolution_on:
            if resolution.running_since is not None:
                resolution.stop(cal, at, met=False)
                self._act.record("paused", "journey", f"resolution clock paused ({status})")
        else:
            if resolution.paused:
                self._act.record("resumed", "journey", f"resolution clock resumed ({status})")
            if resolution.running_since is None:
                resolution.start(at)

    def _on_priority(self, priority: str | None, at: datetime) -> None:
        st = self._require_state()
        if priority is not None and priority.lower() == (st.escalated_priority or ""):
            return  # Zendesk telling us about the priority our own escalation set
        severity = severity_for_priority(st.policy, priority)
        if severity is st.severity:
            return
        st.severity = severity
        targets = self._targets()
        for clock in st.clocks:
            retarget(
                clock,
                targets.first_response
                if clock.name is ClockName.FIRST_RESPONSE
                else targets.resolution,
            )
        self._act.record(
            f"severity:{severity.value}",
            "journey",
            f"priority {priority}: now {severity.value} (first response "
            f"{_fmt(targets.first_response)}, resolution {_fmt(targets.resolution)})",
        )
        self._refreshes.start(st.customer_id, f"priority {priority}")  # critical count

    async def _start_csat(self, at: datetime) -> None:
        st = self._require_state()
        if st.csat_started or not st.policy.start_csat_survey:
            return
        st.csat_started = True
        csat_id = csat_workflow_id(st.ticket_id)
        started = await start_abandoned_child(
            "CsatSurveyWorkflow",
            CsatInput(
                ticket_id=st.ticket_id,
                customer_id=st.customer_id,
                requester_id=st.requester_id,
                solved_at=at,
            ),
            workflow_id=csat_id,
            summary=f"CSAT survey for ticket {st.ticket_id}",
        )
        self._act.record(
            "csat",
            "workflow",
            f"started the CSAT survey {csat_id}" if started else f"{csat_id} already running",
        )

    # ------------------------------------------------------------------ helpers
    @property
    def _act(self) -> CustomerActions:
        st = self._require_state()
        if self._actions is None:
            self._actions = CustomerActions(
                st.customer_id or "",
                journey_key(st.created_at),
                st.actions,
                lambda at: max(0, (at - st.created_at).days),
                steering=self._steer,
            )
        return self._actions

    def _require_state(self) -> TicketSlaState:
        return required(self._state, "the SLA has not started yet")

    def _targets(self) -> EffectiveTargets:
        st = self._require_state()
        return effective_targets(st.policy, st.severity, st.tier)

    def _calendar(self) -> BusinessCalendar:
        return self._targets().calendar

    def _clock(self, name: ClockName) -> Clock:
        return next(c for c in self._require_state().clocks if c.name is name)

    def _event_time(self, at: datetime | None) -> datetime:
        """The event's own time (delivery can lag), never before the ticket or after now."""
        st = self._require_state()
        now = workflow.now()
        if at is None:
            return now
        return min(max(at, st.created_at), now)

    def _facts(self, clock: Clock) -> dict[str, object]:
        st = self._require_state()
        return {
            "clock": clock.name.value,
            "clock_label": _label(clock.name),
            "target": _fmt(clock.target),
            "severity": st.severity.value,
            "tier": st.tier,
            "calendar": self._calendar().name,
        }

    def _status(self) -> TicketSlaStatus:
        st = self._require_state()
        cal = self._calendar()
        now = workflow.now()
        response = self._clock(ClockName.FIRST_RESPONSE)
        resolution = self._clock(ClockName.RESOLUTION)
        return TicketSlaStatus(
            ticket_id=st.ticket_id,
            customer_id=st.customer_id,
            tier=st.tier,
            severity=st.severity,
            status=st.status,
            created_at=st.created_at,
            first_response_at=st.first_response_at,
            solved_at=st.solved_at,
            calendar=cal.name,
            clocks=[c.status(cal, now) for c in st.clocks],
            breaches=list(st.breaches),
            level=st.level,
            level_name=st.policy.escalation[st.level].name,
            first_response_business_minutes=(
                round(response.used(cal, now).total_seconds() / 60, 2)
                if response.met_at is not None
                else None
            ),
            resolution_business_minutes=(
                round(resolution.used(cal, now).total_seconds() / 60, 2)
                if resolution.met_at is not None
                else None
            ),
            finished=st.finished,
            cancelled=self._steer.cancelled,
            steering=self._steer.status(),
        )

    def _details(self) -> None:
        st = self._state
        if st is None:
            return
        level = st.policy.escalation[st.level].name
        lines = [f"**Ticket {st.ticket_id} SLA** · {st.severity.value} · {st.status} · {level}"]
        cal = self._calendar()
        for clock in st.clocks:
            state = (
                "met"
                if clock.met_at
                else "paused"
                if clock.paused
                else f"breached {clock.breaches} time(s)"
                if clock.breaches
                else "running"
            )
            lines.append(
                f"{_label(clock.name)}: {state} · used {_fmt(clock.used(cal, workflow.now()))}"
                f" of {_fmt(clock.target)}"
            )
        wake = self._next_wake()
        lines.append(f"Next check: {wake:%Y-%m-%d %H:%M} UTC" if wake else "Next check: -")
        set_details(lines, self._steer.detail_line())


def _label(name: ClockName) -> str:
    return "first response" if name is ClockName.FIRST_RESPONSE else "resolution"


def _fmt(d: timedelta) -> str:
    minutes = round(d.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" if not rest else f"{hours} h {rest} min"
