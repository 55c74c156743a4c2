"""Support-ticket side effects and look-ups for TicketSlaWorkflow.

Zendesk has no idempotency keys, so each ticket change carries a marker tag and is
skipped when the ticket already has it: the tag and the internal note travel in the same
update, so a retried escalation never adds a second note. Ticket subjects and requester
names are read here, at send time, and never enter workflow history.

``refresh_support_health_inputs`` copies a customer's support figures from the helpdesk
to the CRM company (the health score's ``cshub_critical_tickets_open`` and
``cshub_csat_percent``, plus the load and trend people read, and the review pack's SLA
results per clock): see :data:`SUPPORT_HEALTH_PROPERTIES`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import connector_errors
from activities.messaging import MessagingConfig, alert_timeline_url
from activities.models import ActionResult, CustomerRef
from activities.slack_post import post_slack
from connectors.base import Chat, Crm, Helpdesk, SupportLoad, Ticket
from connectors.errors import NotFoundError
from domain.customer_sla import SLA_WINDOW_DAYS, CustomerSla, customer_sla
from domain.health_model import INPUTS
from domain.review_pack import SLA_RESOLUTION_MET, SLA_RESPONSE_MET
from domain.sla_policy import SlaPolicy
from domain.support_records import Severity
from domain.ticket_routing import Routing, classify_ticket
from playbooks.loader import PlaybookError, load_playbook, load_routing_rules
from templates.renderer import render_slack

PRIORITY_ORDER = ["low", "normal", "high", "urgent"]

CRITICAL_TICKETS_OPEN = INPUTS["critical_tickets_open"].property
"""``cshub_critical_tickets_open``: unsolved tickets whose priority the SLA policy maps
to severity critical (a health input)."""
CSAT_PERCENT = INPUTS["csat_percent"].property
"""``cshub_csat_percent``: satisfied (4-5) / all CSAT answers x 100, last 90 days, one
decimal; blank when nobody answered (a health input: blank is "missing")."""
OPEN_TICKETS = "cshub_open_tickets"
"""Unsolved tickets (new, open, pending, on hold)."""
TICKETS_30D = "cshub_tickets_30d"
"""Tickets created in the last 30 days."""
TICKETS_PREV_30D = "cshub_tickets_prev_30d"
"""Tickets created 30-60 days ago (the trend: compare with ``cshub_tickets_30d``)."""
SUPPORT_REFRESHED_AT = "cshub_support_refreshed_at"
"""When the figures were counted, ISO 8601 UTC (``2026-10-01T12:00:00Z``)."""
SLA_RESPONSE_MET_PERCENT = SLA_RESPONSE_MET
"""``cshub_sla_first_response_met_percent``: of the tickets created in the last 90 days
whose first response is decided, the share answered within the SLA playbook's target,
one decimal; blank when none is decided (see :mod:`domain.customer_sla`)."""
SLA_RESOLUTION_MET_PERCENT = SLA_RESOLUTION_MET
"""``cshub_sla_resolution_met_percent``: of those solved, the share solved within the
target, one decimal; blank when none is solved."""
SUPPORT_HEALTH_PROPERTIES = (
    CRITICAL_TICKETS_OPEN,
    CSAT_PERCENT,
    OPEN_TICKETS,
    TICKETS_30D,
    TICKETS_PREV_30D,
    SUPPORT_REFRESHED_AT,
    SLA_RESPONSE_MET_PERCENT,
    SLA_RESOLUTION_MET_PERCENT,
)
"""Every CRM company property ``refresh_support_health_inputs`` writes, every time (the
two SLA results only while ``playbooks/sla.yaml`` reads: otherwise they keep their values)."""


class TicketRef(BaseModel):
    ticket_id: str


class TicketContext(BaseModel):
    """Ids and facts only (no names, no subject): this lands in workflow history."""

    ticket_id: str
    status: str
    priority: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    customer_id: str | None = None
    tier: str | None = None
    requester_id: str | None = None
    group_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    first_agent_reply_at: datetime | None = None
    """An agent already answered publicly (the hub heard of the ticket late)."""

    @classmethod
    def of(
        cls, ticket: Ticket, *, tier: str | None, first_agent_reply_at: datetime | None
    ) -> TicketContext:
        """The ticket's facts under the same names (status, priority, times, customer,
        requester and group ids, tags), with what the ticket does not say."""
        same = set(cls.model_fields) & set(Ticket.model_fields)
        return cls(
            **ticket.model_dump(include=same - {"id"}),
            ticket_id=ticket.id,
            tier=tier,
            first_agent_reply_at=first_agent_reply_at,
        )


class EscalateTicketRequest(BaseModel):
    ticket_id: str
    marker_tag: str
    """Added with the change; its presence means the change was already made."""
    extra_tags: list[str] = Field(default_factory=list)
    priority: str | None = None
    """Raised to this, never lowered."""
    group_id: str | None = None
    internal_note: str


class TicketCommentRequest(BaseModel):
    ticket_id: str
    marker_tag: str
    body: str
    public: bool = True


class SupportAlertRequest(BaseModel):
    ticket_id: str
    customer_id: str | None
    template: str
    channel: str | None = None
    """Default: the CSM alerts channel."""
    mention_slack_id: str | None = None
    mention_name: str | None = None
    facts: dict[str, Any] = Field(default_factory=dict)
    """Numbers, times and ids for the template (``extra``)."""
    idempotency_key: str
    workflow_id: str = ""


class RouteTicketRequest(BaseModel):
    ticket_id: str
    customer_id: str | None = None
    idempotency_key: str
    """The support lead's Slack alert (a retry posts it once)."""
    workflow_id: str = ""


class RouteTicketResult(BaseModel):
    """What smart routing saw and did (no text of the ticket: this lands in history)."""

    routing: Routing
    priority: str | None = Field(description="the ticket's priority afterwards")
    group_id: str | None = None
    alerted: bool = False
    changed: bool = False
    summary: str = ""


ROUTED_TAG = "cshub_routed"
"""On a ticket smart routing acted on (its presence: done, a retry changes nothing)."""


def higher_priority(current: str | None, wanted: str | None) -> str | None:
    """``wanted`` when it is above ``current`` (Zendesk's order), else None."""
    if wanted is None:
        return None
    rank = {p: i for i, p in enumerate(PRIORITY_ORDER)}
    if rank.get(wanted, -1) > rank.get((current or "normal").lower(), 1):
        return wanted
    return None


def critical_priorities(policy: SlaPolicy) -> list[str]:
    """The Zendesk priorities the policy calls critical (``none``: tickets with no
    priority, when the policy's default severity is critical)."""
    found: list[str] = sorted(
        p for p, s in policy.priority_to_severity.items() if s is Severity.CRITICAL
    )
    if policy.default_severity is Severity.CRITICAL:
        found.append("none")
    return found


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def support_properties(load: SupportLoad, sla: CustomerSla | None) -> dict[str, str]:
    """The CRM company properties for these figures (strings, as CRM properties are);
    ``sla`` None (the SLA playbook unreadable): the SLA results are left as they were."""
    figures = {
        CRITICAL_TICKETS_OPEN: str(load.critical_open),
        CSAT_PERCENT: _figure(load.csat_percent),
        OPEN_TICKETS: str(load.open_tickets),
        TICKETS_30D: str(load.created_last_30d),
        TICKETS_PREV_30D: str(load.created_prev_30d),
        SUPPORT_REFRESHED_AT: load.as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if sla is not None:
        figures[SLA_RESPONSE_MET_PERCENT] = _figure(sla.first_response_met_percent)
        figures[SLA_RESOLUTION_MET_PERCENT] = _figure(sla.resolution_met_percent)
    return figures


def _current_policy() -> SlaPolicy | None:
    """The current ``playbooks/sla.yaml`` (the figures are about all the customer's
    tickets, so they follow the policy in force, not the one a running workflow kept)."""
    try:
        return load_playbook("sla", SlaPolicy)
    except PlaybookError as exc:
        activity.logger.warning(
            "sla playbook unreadable (%s): urgent counts as critical, SLA results not known",
            exc,
        )
        return None


class SupportActivities:
    def __init__(self, helpdesk: Helpdesk, crm: Crm, chat: Chat, config: MessagingConfig) -> None:
        self._helpdesk = helpdesk
        self._crm = crm
        self._chat = chat
        self._config = config

    @activity.defn(name="get_ticket_context")
    def get_ticket_context(self, req: TicketRef) -> TicketContext:
        """The ticket and, from the CRM company behind its organisation, the plan tier."""
        with connector_errors():
            ticket = self._helpdesk.get_ticket(req.ticket_id)
            replied_at = self._helpdesk.first_agent_reply_at(req.ticket_id)
            tier = None
            if ticket.customer_id:
                try:
                    tier = self._crm.get_company(ticket.customer_id).tier
                except NotFoundError:
                    activity.logger.warning(
                        "ticket %s: organisation external id %s is no CRM company",
                        req.ticket_id,
                        ticket.customer_id,
                    )
        return TicketContext.of(ticket, tier=tier, first_agent_reply_at=replied_at)

    @activity.defn(name="escalate_ticket")
    def escalate_ticket(self, req: EscalateTicketRequest) -> ActionResult:
        """Raise the priority, tag, note and (optionally) move group, in one update."""
        with connector_errors():
            ticket = self._helpdesk.get_ticket(req.ticket_id)
            if req.marker_tag in ticket.tags:
                return ActionResult(
                    channel="zendesk",
                    summary=f"already escalated ({req.marker_tag})",
                    created=False,
                )
            priority = higher_priority(ticket.priority, req.priority)
            group = req.group_id if req.group_id and req.group_id != ticket.group_id else None
            self._helpdesk.update_ticket(
                req.ticket_id,
                priority=priority,
                add_tags=[req.marker_tag, *req.extra_tags],
                group_id=group,
                internal_note=req.internal_note,
            )
        changes = [f"tag {req.marker_tag}"]
        if priority:
            changes.append(f"priority {priority}")
        if group:
            changes.append(f"group {group}")
        return ActionResult(channel="zendesk", summary=", ".join(changes), ref=req.ticket_id)

    @activity.defn(name="comment_on_ticket")
    def comment_on_ticket(self, req: TicketCommentRequest) -> ActionResult:
        """A comment (e.g. the auto-acknowledgement), at most once per marker tag."""
        with connector_errors():
            ticket = self._helpdesk.get_ticket(req.ticket_id)
            if req.marker_tag in ticket.tags:
                return ActionResult(channel="zendesk", summary="already commented", created=False)
            requester = (
                self._helpdesk.get_user(ticket.requester_id) if ticket.requester_id else None
            )
            first_name = (requester.name.split() or [""])[0] if requester else ""
            body = req.body.replace("{requester_name}", first_name or "there").replace(
                "{ticket_id}", ticket.id
            )
            self._helpdesk.update_ticket(
                req.ticket_id,
                add_tags=[req.marker_tag],
                public_comment=body if req.public else None,
                internal_note=None if req.public else body,
            )
        return ActionResult(channel="zendesk", summary=body.splitlines()[0][:120], ref=ticket.id)

    @activity.defn(name="route_ticket")
    async def route_ticket(self, req: RouteTicketRequest) -> RouteTicketResult:
        """Smart routing (``playbooks/routing.yaml``): the topic and urgency of a new
        ticket's text; when it is more urgent than its Zendesk priority, tell the support
        lead in Slack and (``raise_and_route``) raise the priority and move the ticket to
        the topic's group, with an internal note saying what was done and why."""
        try:
            rules = load_routing_rules()
        except PlaybookError as exc:
            raise ApplicationError(str(exc), type="PlaybookError", non_retryable=True) from exc
        with connector_errors():
            ticket = await asyncio.to_thread(self._helpdesk.get_ticket, req.ticket_id)
        routing = classify_ticket(f"{ticket.subject}\n{ticket.description}", ticket.priority, rules)
        same = RouteTicketResult(
            routing=routing, priority=ticket.priority, group_id=ticket.group_id
        )
        if ROUTED_TAG in ticket.tags:
            return same.model_copy(update={"summary": "already routed"})
        if not routing.under_prioritised or routing.urgency is None:
            return same.model_copy(
                update={"summary": f"topic {routing.topic or 'none'}: priority fits"}
            )
        change = rules.raise_and_route
        group = routing.group_id if change and routing.group_id != ticket.group_id else None
        priority = routing.urgency if change else ticket.priority
        terms = ", ".join(f'"{t}"' for t in routing.matched[:3])
        did = (
            f"Priority raised from {ticket.priority or 'none'} to {routing.urgency}"
            + (f" and the ticket moved to group {group}" if group else "")
            + "; the support lead was told in Slack."
            if change
            else "The support lead was told in Slack; nothing changed (routing playbook: "
            "raise_and_route is off)."
        )
        note = (
            f"cshub smart routing: the text reads as {routing.topic.replace('_', ' ') if routing.topic else '-'} "
            f"({terms}), urgency {routing.urgency}, above the ticket's priority "
            f"{ticket.priority or 'none'}. {did}"
        )
        await self._post(
            SupportAlertRequest(
                ticket_id=req.ticket_id,
                customer_id=req.customer_id,
                template="ticket_routing",
                channel=rules.support_lead_channel,
                mention_name=rules.support_lead_name,
                facts={
                    "topic": routing.topic,
                    "urgency": routing.urgency,
                    "terms": list(routing.matched[:3]),
                    "was": ticket.priority,
                    "changed": change,
                    "group_id": group,
                },
                idempotency_key=req.idempotency_key,
                workflow_id=req.workflow_id,
            ),
            ticket,
        )
        with connector_errors():
            await asyncio.to_thread(
                self._helpdesk.update_ticket,
                req.ticket_id,
                priority=priority if change else None,
                add_tags=[ROUTED_TAG],
                group_id=group,
                internal_note=note,
            )
        return RouteTicketResult(
            routing=routing,
            priority=priority,
            group_id=group or ticket.group_id,
            alerted=True,
            changed=change,
            summary=did,
        )

    @activity.defn(name="post_support_alert")
    async def post_support_alert(self, req: SupportAlertRequest) -> ActionResult:
        """A Slack message about a ticket (SLA warning to the CSM, breach escalation)."""
        with connector_errors():
            ticket = await asyncio.to_thread(self._helpdesk.get_ticket, req.ticket_id)
        return await self._post(req, ticket)

    async def _post(self, req: SupportAlertRequest, ticket: Ticket) -> ActionResult:
        with connector_errors():
            company_name = csm_name = csm_slack_id = None
            if req.customer_id:
                try:
                    company = await asyncio.to_thread(self._crm.get_company, req.customer_id)
                    company_name = company.name
                    if company.owner_id:
                        owner = await asyncio.to_thread(self._crm.get_owner, company.owner_id)
                        csm_name = owner.full_name
                        csm_slack_id = await self._chat.lookup_user_id(owner.email)
                except NotFoundError:
                    pass
        crm_url = (
            self._config.crm_company_url.format(id=req.customer_id)
            if self._config.crm_company_url and req.customer_id
            else None
        )
        rendered = render_slack(
            req.template,
            {
                "ticket_id": ticket.id,
                "ticket_subject": ticket.subject,
                "ticket_status": ticket.status,
                "ticket_priority": ticket.priority,
                "company_name": company_name or "(no CRM company)",
                "customer_id": req.customer_id or "-",
                "csm_name": csm_name,
                "csm_slack_id": csm_slack_id,
                "mention_slack_id": req.mention_slack_id,
                "mention_name": req.mention_name,
                "workflow_id": req.workflow_id,
                "crm_url": crm_url,
                "timeline_url": (
                    alert_timeline_url(self._config, req.customer_id) if req.customer_id else None
                ),
                "extra": dict(req.facts),
            },
            locale=self._config.team_locale,
        )
        return await post_slack(
            self._chat, req.channel or self._config.alerts_channel, rendered, req.idempotency_key
        )

    @activity.defn(name="refresh_support_health_inputs")
    def refresh_support_health_inputs(self, req: CustomerRef) -> ActionResult:
        """Count the customer's tickets and CSAT answers in the helpdesk, and its SLA
        results per clock from the ticket metric sets of the last 90 days (held to the
        SLA playbook's targets for the company's tier), and write them on the CRM company
        (:data:`SUPPORT_HEALTH_PROPERTIES`). Idempotent: a retry or a second call writes
        the same figures (and a later ``cshub_support_refreshed_at``); an unreadable SLA
        playbook leaves the SLA results as they were. A customer with no helpdesk
        organisation gets nothing written: no tickets found there means "unknown", not
        "no critical tickets"."""
        policy = _current_policy()
        priorities = critical_priorities(policy) if policy else ["urgent"]
        with connector_errors():
            load = self._helpdesk.support_load(req.customer_id, critical_priorities=priorities)
            if load.organizations == 0:
                return ActionResult(
                    channel="crm_update",
                    summary=f"no helpdesk organisation for customer {req.customer_id}: "
                    "support figures left as they were",
                    created=False,
                    ref=req.customer_id,
                )
            sla = None
            if policy is not None:
                tickets = self._helpdesk.ticket_facts(
                    load.as_of - timedelta(days=SLA_WINDOW_DAYS),
                    load.as_of + timedelta(seconds=1),
                    customer_id=req.customer_id,
                )
                try:
                    tier = self._crm.get_company(req.customer_id).tier
                except NotFoundError:
                    tier = None
                sla = customer_sla(tickets, policy, tier, load.as_of)
            properties = support_properties(load, sla)
            self._crm.update_company(req.customer_id, properties)
        csat = properties[CSAT_PERCENT] or "-"
        sla_text = (
            ""
            if sla is None
            else f", first response within SLA {properties[SLA_RESPONSE_MET_PERCENT] or '-'} % "
            f"of {sla.responses}, resolved within SLA "
            f"{properties[SLA_RESOLUTION_MET_PERCENT] or '-'} % of {sla.resolutions}"
        )
        return ActionResult(
            channel="crm_update",
            summary=(
                f"support figures: {load.open_tickets} open ({load.critical_open} critical), "
                f"{load.created_last_30d} created in 30 days ({load.created_prev_30d} the 30 "
                f"before), CSAT {csat} % of {load.csat_answers}{sla_text}"
            ),
            ref=req.customer_id,
        )
