"""Customer e-mails and CSM alerts: render a template for one customer and send it.

Async activities: SMTP and Slack are async clients. The CRM look-ups they need are
blocking SDK calls, so they run on a worker thread (``asyncio.to_thread``), never on
the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.customer_context import CustomerDetails, load_customer_details
from activities.errors import connector_errors
from activities.models import ActionResult, CsmAlertRequest, CustomerEmailRequest, MessageContext
from connectors.base import Chat, Crm, Mailer, OutgoingEmail
from templates.renderer import render_email, render_slack


@dataclass(frozen=True)
class MessagingConfig:
    sender_name: str = "cshub"
    app_url: str = "https://app.example.com"
    unsubscribe_url: str = "https://app.example.com/email-preferences"
    survey_url: str = "https://app.example.com/survey"
    alerts_channel: str = "C0CSALERTS"
    crm_company_url: str | None = None
    """e.g. ``https://app.hubspot.com/contacts/PORTAL/company/{id}``"""


def _journey_fields(ctx: MessageContext) -> dict[str, Any]:
    return {
        "tier": ctx.tier.value if ctx.tier else None,
        "day": ctx.day,
        "phase_name": ctx.phase_name,
        "next_step": ctx.next_step,
        "milestone_title": ctx.milestone_title,
        "deadline_day": ctx.deadline_day,
        "nudge_message": ctx.nudge_message,
        "reason": ctx.reason,
        "summary": ctx.summary,
        "progress": ctx.progress.model_dump(),
        "extra": dict(ctx.extra),
    }


class MessagingActivities:
    def __init__(self, crm: Crm, mailer: Mailer, chat: Chat, config: MessagingConfig) -> None:
        self._crm = crm
        self._mailer = mailer
        self._chat = chat
        self._config = config

    async def _details(self, customer_id: str, *, with_contact: bool) -> CustomerDetails:
        with connector_errors():
            return await asyncio.to_thread(
                load_customer_details, self._crm, customer_id, with_contact=with_contact
            )

    @activity.defn(name="send_customer_email")
    async def send_customer_email(self, req: CustomerEmailRequest) -> ActionResult:
        """E-mail the customer's primary contact, at most once per idempotency key."""
        details = await self._details(req.customer_id, with_contact=True)
        contact = details.contact
        if contact is None:
            raise ApplicationError(
                f"crm company {req.customer_id} ({details.company.name}) has no contact "
                f"to e-mail: associate a contact with the company",
                type="MissingRecipient",
                non_retryable=True,
            )
        unsubscribe = f"{self._config.unsubscribe_url}?contact={contact.id}"
        rendered = render_email(
            req.template,
            {
                **_journey_fields(req.context),
                "company_name": details.company.name,
                "contact_first_name": contact.first_name,
                "csm_name": details.csm.full_name if details.csm else None,
                "csm_email": details.csm.email if details.csm else None,
                "sender_name": self._config.sender_name,
                "unsubscribe_url": unsubscribe,
                "app_url": self._config.app_url,
                "survey_url": self._config.survey_url,
            },
        )
        message = OutgoingEmail(
            to=contact.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            idempotency_key=req.idempotency_key,
            reply_to=details.csm.email if details.csm else None,
            headers={
                "List-Unsubscribe": f"<{unsubscribe}>",
                "X-Cshub-Template": req.template,
                "X-Cshub-Customer-Id": req.customer_id,
                "X-Cshub-Journey-Day": str(req.context.day),
            },
        )
        with connector_errors():
            receipt = await self._mailer.send(message)
        return ActionResult(channel="email", summary=rendered.subject, ref=receipt.message_id)

    @activity.defn(name="alert_csm")
    async def alert_csm(self, req: CsmAlertRequest) -> ActionResult:
        """Post an alert about the customer to the CSM alerts channel, mentioning the CSM."""
        details = await self._details(req.customer_id, with_contact=False)
        csm_slack_id = None
        if details.csm:
            with connector_errors():
                csm_slack_id = await self._chat.lookup_user_id(details.csm.email)
        crm_url = (
            self._config.crm_company_url.format(id=req.customer_id)
            if self._config.crm_company_url
            else None
        )
        rendered = render_slack(
            req.template,
            {
                **_journey_fields(req.context),
                "company_name": details.company.name,
                "customer_id": req.customer_id,
                "csm_name": details.csm.full_name if details.csm else None,
                "csm_slack_id": csm_slack_id,
                "workflow_id": req.workflow_id,
                "crm_url": crm_url,
            },
        )
        with connector_errors():
            ref = await self._chat.post_message(
                channel=self._config.alerts_channel,
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
