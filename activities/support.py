"""Support-ticket side effects and look-ups for TicketSlaWorkflow.

Zendesk has no idempotency keys, so each ticket change carries a marker tag and is
skipped when the ticket already has it: the tag and the internal note travel in the same
update, so a retried escalation never adds a second note. Ticket subjects and requester
names are read here, at send time, and never enter workflow history.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from temporalio import activity

from activities.errors import connector_errors
from activities.messaging import MessagingConfig
from activities.models import ActionResult
from connectors.base import Chat, Crm, Helpdesk
from connectors.errors import NotFoundError
from templates.renderer import render_slack

PRIORITY_ORDER = ["low", "normal", "high", "urgent"]


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


def higher_priority(current: str | None, wanted: str | None) -> str | None:
    """``wanted`` when it is above ``current`` (Zendesk's order), else None."""
    if wanted is None:
        return None
    rank = {p: i for i, p in enumerate(PRIORITY_ORDER)}
    if rank.get(wanted, -1) > rank.get((current or "normal").lower(), 1):
        return wanted
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
        return TicketContext(
            ticket_id=ticket.id,
            status=ticket.status,
            priority=ticket.priority,
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
            customer_id=ticket.customer_id,
            tier=tier,
            requester_id=ticket.requester_id,
            group_id=ticket.group_id,
            tags=ticket.tags,
            first_agent_reply_at=replied_at,
        )

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

    @activity.defn(name="post_support_alert")
    async def post_support_alert(self, req: SupportAlertRequest) -> ActionResult:
        """A Slack message about a ticket (SLA warning to the CSM, breach escalation)."""
        with connector_errors():
            ticket = await asyncio.to_thread(self._helpdesk.get_ticket, req.ticket_id)
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
                "extra": dict(req.facts),
            },
        )
        with connector_errors():
            ref = await self._chat.post_message(
                channel=req.channel or self._config.alerts_channel,
                text=rendered.text,
                blocks=rendered.blocks,
                idempotency_key=req.idempotency_key,
            )
        return ActionResult(
            channel="slack",
            summary=rendered.text,
            created=ref.created,
            ref=f"{ref.channel}/{ref.ts}",
        )
