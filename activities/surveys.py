"""Look-ups and side effects of the CSAT and NPS surveys. Plain ``def`` activities: the
HubSpot and Zendesk SDKs block, so these run on the worker's thread pool.

Personal data stays here: the requester's and the contacts' addresses are read when
needed and only ids (and dates) go back to the workflows. The one exception is a CSAT
requester who is no CRM contact: their address is the only way to reach them.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field
from temporalio import activity

from activities.errors import connector_errors
from activities.models import ActionResult
from connectors.base import Crm, Helpdesk
from domain.surveys import (
    CsatRecipient,
    CsatRecipientRequest,
    NpsContactRef,
    NpsContactsRequest,
    csat_label,
)

NPS_LAST_ASKED = "cshub_nps_last_asked"
CSAT_MARKER_TAG = "cshub_csat"
"""On a ticket whose CSAT answer is recorded: a retried activity adds no second note."""


class CsatTicketRecord(BaseModel):
    ticket_id: str
    score: int = Field(ge=1, le=5)
    answered_at: datetime
    survey_id: str | None = None


class ContactUpdateRequest(BaseModel):
    contact_id: str
    properties: dict[str, str]


def _as_date(value: str | None) -> date | None:
    """``cshub_nps_last_asked``: an ISO date (or date-time, or epoch ms); None if unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000).date()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


class SurveyActivities:
    def __init__(self, crm: Crm, helpdesk: Helpdesk) -> None:
        self._crm = crm
        self._helpdesk = helpdesk

    @activity.defn(name="csat_recipient")
    def csat_recipient(self, req: CsatRecipientRequest) -> CsatRecipient:
        """Who answers for a solved ticket: its requester, as a CRM contact when one has
        the requester's address. Also the ticket's status now (a reopened ticket gets no
        survey) and the customer (the organisation's external id) when not given."""
        with connector_errors():
            ticket = self._helpdesk.get_ticket(req.ticket_id)
            customer_id = req.customer_id or ticket.customer_id
            requester_id = req.requester_id or ticket.requester_id
            result = CsatRecipient(ticket_status=ticket.status, customer_id=customer_id)
            if customer_id is None:
                return result.model_copy(
                    update={"skip_reason": "the ticket's organisation names no CRM company"}
                )
            if not requester_id:
                return result.model_copy(update={"skip_reason": "the ticket has no requester"})
            user = self._helpdesk.get_user(requester_id)
            if not user.email:
                return result.model_copy(
                    update={"skip_reason": f"requester {requester_id} has no e-mail address"}
                )
            contact = self._crm.find_contact_by_email(user.email)
        if contact is not None:
            return result.model_copy(update={"contact_id": contact.id})
        return result.model_copy(update={"email": user.email})

    @activity.defn(name="record_csat_on_ticket")
    def record_csat_on_ticket(self, req: CsatTicketRecord) -> ActionResult:
        """Tag the ticket with the score and add an internal note, once."""
        label = csat_label(req.score)
        with connector_errors():
            ticket = self._helpdesk.get_ticket(req.ticket_id)
            if CSAT_MARKER_TAG in ticket.tags:
                return ActionResult(
                    channel="zendesk",
                    summary=f"CSAT already on ticket {req.ticket_id}",
                    created=False,
                    ref=req.ticket_id,
                )
            self._helpdesk.update_ticket(
                req.ticket_id,
                add_tags=[CSAT_MARKER_TAG, f"csat_score_{req.score}"],
                internal_note=(
                    f"Customer satisfaction (CSAT): {req.score}/5 ({label}), answered by the "
                    f"requester on {req.answered_at:%Y-%m-%d %H:%M} UTC through the cshub "
                    "survey."
                ),
            )
        return ActionResult(
            channel="zendesk",
            summary=f"ticket {req.ticket_id}: CSAT {req.score}/5 tagged and noted",
            ref=req.ticket_id,
        )

    @activity.defn(name="nps_contacts")
    def nps_contacts(self, req: NpsContactsRequest) -> list[NpsContactRef]:
        """The company's contacts with an address: ids, opt-out and when each was last
        asked for NPS (``cshub_nps_last_asked``)."""
        with connector_errors():
            contacts = self._crm.list_company_contacts(
                req.customer_id, properties=[NPS_LAST_ASKED], limit=req.limit
            )
        return [
            NpsContactRef(
                contact_id=c.id,
                last_asked=_as_date(c.properties.get(NPS_LAST_ASKED)),
                email_opt_out=c.email_opt_out,
            )
            for c in contacts
        ]

    @activity.defn(name="update_contact")
    def update_contact(self, req: ContactUpdateRequest) -> ActionResult:
        """Write properties on a CRM contact (the same values twice is harmless)."""
        with connector_errors():
            self._crm.update_contact(req.contact_id, req.properties)
        summary = ", ".join(f"{k}={v}" for k, v in sorted(req.properties.items()))
        return ActionResult(
            channel="crm_update", summary=f"contact {req.contact_id} updated: {summary}"
        )
