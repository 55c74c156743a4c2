"""The connectors a worker uses, counting their side effects (``runtime.metrics``): an
e-mail handed to the mail server, a Slack message posted, a CRM write, a ticket update,
each counted only when it really happened (an idempotent repeat is not)."""

from __future__ import annotations

from typing import Any, cast

from connectors.base import (
    Chat,
    ChatMessageRef,
    Crm,
    CrmRecordRef,
    EmailReceipt,
    Helpdesk,
    Mailer,
    OutgoingEmail,
    Ticket,
)
from connectors.recording import TEMPLATE_HEADER
from runtime.metrics import CRM_WRITES, EMAILS_SENT, SLACK_MESSAGES, TICKET_UPDATES, count
from wiring.connectors import Connectors


class _Metered:
    """Delegates everything to the wrapped connector; subclasses count the writes."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _MeteredCrm(_Metered):
    def create_task(self, **kwargs: Any) -> CrmRecordRef:
        ref: CrmRecordRef = self._inner.create_task(**kwargs)
        if ref.created:
            count(CRM_WRITES, kind="task")
        return ref

    def create_note(self, **kwargs: Any) -> CrmRecordRef:
        ref: CrmRecordRef = self._inner.create_note(**kwargs)
        if ref.created:
            count(CRM_WRITES, kind="note")
        return ref

    def update_company(self, company_id: str, properties: dict[str, str]) -> None:
        self._inner.update_company(company_id, properties)
        count(CRM_WRITES, kind="company_update")

    def batch_update_companies(self, updates: Any) -> int:
        updated: int = self._inner.batch_update_companies(updates)
        count(CRM_WRITES, updated, kind="company_update")
        return updated

    def update_contact(self, contact_id: str, properties: dict[str, str]) -> None:
        self._inner.update_contact(contact_id, properties)
        count(CRM_WRITES, kind="contact_update")


class _MeteredHelpdesk(_Metered):
    def update_ticket(self, ticket_id: str, **kwargs: Any) -> Ticket:
        ticket: Ticket = self._inner.update_ticket(ticket_id, **kwargs)
        count(TICKET_UPDATES)
        return ticket


class _MeteredChat(_Metered):
    async def post_message(self, **kwargs: Any) -> ChatMessageRef:
        ref: ChatMessageRef = await self._inner.post_message(**kwargs)
        if ref.created:
            count(SLACK_MESSAGES)
        return ref


class _MeteredMailer(_Metered):
    async def send(self, message: OutgoingEmail) -> EmailReceipt:
        receipt: EmailReceipt = await self._inner.send(message)
        count(EMAILS_SENT, template=message.headers.get(TEMPLATE_HEADER, "unknown"))
        return receipt


def metered(connectors: Connectors) -> Connectors:
    """The same connectors, counting their side effects (see the module docstring)."""

    def wrap(inner: Any, kind: type[_Metered]) -> Any:
        return inner if isinstance(inner, _Metered) else kind(inner)

    return Connectors(
        crm=cast(Crm, wrap(connectors.crm, _MeteredCrm)),
        helpdesk=cast(Helpdesk, wrap(connectors.helpdesk, _MeteredHelpdesk)),
        chat=cast(Chat, wrap(connectors.chat, _MeteredChat)),
        mailer=cast(Mailer, wrap(connectors.mailer, _MeteredMailer)),
    )
