"""A reply a contact sent that the CRM logged (HubSpot's ``emails`` object): read it,
since HubSpot's webhook about it carries no content, and decide what it is.

HubSpot logs an incoming e-mail on the contact's timeline (inbox connection, BCC, the
sales extension). Its generic webhook (``object.creation`` of object type ``0-49``) names
the e-mail's id only: ``read_crm_email_reply`` fetches it (``GET
/crm/v3/objects/emails/{id}`` with its contact and company associations), recognises
out-of-office answers and bounces as the inbound-parse route does (subject, sender), and
finds the play it answers: the hub's latest e-mail to that customer in the action record
within ``CRM_REPLY_WINDOW_DAYS`` (the CRM keeps no In-Reply-To). The quote is read by
the text classifier (sentiment, churn signals) like an inbound-parse reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity

from activities.action_log import ActionRow, ActionStore
from activities.errors import connector_errors
from connectors.base import Crm
from domain.inbound_mail import (
    CRM_REPLY_WINDOW_DAYS,
    CrmEmailEvent,
    CrmEmailReply,
    CustomerReplyInput,
    ReplyKind,
    classify,
    quote_of,
)
from runtime.text_classifier import default_classifier

INCOMING = "INCOMING_EMAIL"


def reply_reading(text: str, kind: ReplyKind) -> dict[str, Any]:
    """The quote of a reply and, for a person's, the classifier's reading of it
    (``sentiment``, ``sentiment_score``, ``signals``): as both reply routes record it."""
    quote = quote_of(text)
    facts: dict[str, Any] = {"quote": quote}
    if kind is ReplyKind.PERSON and quote:
        verdict = default_classifier().classify_one(quote)
        facts.update(
            sentiment=verdict.label.value,
            sentiment_score=verdict.score,
            signals=[s.value for s in verdict.signals],
        )
    return facts


@dataclass(frozen=True)
class CrmEmailActivities:
    """Reads of logged e-mails: the CRM, and the action record (None: no hub e-mail can
    be found, so no logged e-mail counts as a reply)."""

    crm: Crm
    actions: ActionStore | None

    @activity.defn(name="read_crm_email_reply")
    def read_crm_email_reply(self, req: CrmEmailEvent) -> CrmEmailReply:
        with connector_errors():
            mail = self.crm.get_email(req.email_id)
        if mail.direction != INCOMING:
            return CrmEmailReply(kind="not_incoming", detail=f"a {mail.direction or '?'} e-mail")
        kind = classify({}, mail.subject, mail.sender)
        customer = mail.company_ids[0] if mail.company_ids else None
        if customer is None:
            return CrmEmailReply(kind=kind.value, detail="no company on the e-mail")
        if kind is not ReplyKind.PERSON:
            return CrmEmailReply(
                kind=kind.value, customer_id=customer, detail=f"{kind.value}: nothing paused"
            )
        at = mail.at or datetime.now(UTC)
        answered = self._answered(customer, mail.contact_ids, at)
        if answered is None:
            return CrmEmailReply(
                kind=kind.value,
                customer_id=customer,
                detail=f"no hub e-mail to the customer in the {CRM_REPLY_WINDOW_DAYS} days "
                "before: nothing paused",
            )
        reading = reply_reading(mail.text, kind)
        return CrmEmailReply(
            kind=kind.value,
            customer_id=customer,
            detail=f"a reply after {answered.kind or 'an e-mail'} of {answered.workflow_id}",
            reply=CustomerReplyInput(
                customer_id=customer,
                play_workflow_id=answered.workflow_id or None,
                answered_template=answered.kind,
                subject=mail.subject[:200],
                received_at=at,
                source="crm",
                **reading,
            ),
        )

    def _answered(self, customer: str, contacts: list[str], at: datetime) -> ActionRow | None:
        """The hub's latest e-mail to the customer (to one of the e-mail's contacts when
        the record says whom) sent in the window before the reply."""
        if self.actions is None:
            return None
        since = at - timedelta(days=CRM_REPLY_WINDOW_DAYS)
        for row in self.actions.for_customer(customer, since=since, limit=200):
            if row.channel != "email" or row.outcome not in ("done", "already_done"):
                continue
            if row.first_at > at or (
                contacts and row.contact_id and row.contact_id not in contacts
            ):
                continue
            return row
        return None
