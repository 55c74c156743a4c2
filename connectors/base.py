"""The small typed interfaces the rest of the hub talks to.

Activities depend on these Protocols only; each vendor module (hubspot, zendesk, slack,
email) implements one of them, and ``connectors.recording`` implements all of them in
memory for dry runs (``cshub simulate``). Nothing outside ``connectors/`` names a vendor.

Every method that creates something takes an ``idempotency_key``: calling it twice with
the same key must not create a second object (see each implementation for how, and
docs/operators/guarantees.md for the limits of that guarantee).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NotRequired, Protocol, TypedDict, Unpack

from pydantic import BaseModel, Field

from domain.deal_stages import DealStage
from domain.executive_report import TicketFacts


class Company(BaseModel):
    """A customer account. ``id`` is the CRM record id and doubles as the customer id."""

    id: str
    name: str
    domain: str | None = None
    tier: str | None = None
    owner_id: str | None = None
    timezone: str | None = None
    lifecycle_stage: str | None = None
    properties: dict[str, str | None] = Field(default_factory=dict)


class Contact(BaseModel):
    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None
    """Preferred language (BCP 47, e.g. ``es`` or ``es-MX``), when the CRM knows it."""
    timezone: str | None = None
    email_opt_out: bool = False
    """The contact unsubscribed from e-mail: never e-mail them."""
    email_opt_out_categories: list[str] = Field(default_factory=list)
    """Categories turned off in the preference centre (``domain.preferences``)."""


class CrmContact(Contact):
    """A contact with the extra CRM properties a caller asked for (e.g.
    ``cshub_nps_last_asked``); absent properties are left out or None."""

    properties: dict[str, str | None] = Field(default_factory=dict)


class CrmEmail(BaseModel):
    """An e-mail logged on the CRM's timeline (HubSpot's ``emails`` object, 0-49)."""

    id: str
    direction: str = ""
    """``INCOMING_EMAIL`` (a contact wrote), ``EMAIL`` (sent), ``FORWARDED_EMAIL``."""
    subject: str = ""
    text: str = ""
    sender: str = ""
    at: datetime | None = None
    contact_ids: list[str] = Field(default_factory=list)
    company_ids: list[str] = Field(default_factory=list)


class Owner(BaseModel):
    """A CRM user who owns records: the customer's CSM."""

    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.email


class Deal(BaseModel):
    """A CRM deal. ``company_id`` is the associated company (the customer), if any."""

    id: str
    name: str | None = None
    stage: str | None = None
    tier: str | None = None
    company_id: str | None = None


class CrmFile(BaseModel):
    """A file in the CRM's file manager: its id and where it opens."""

    id: str
    url: str


class CrmRecordRef(BaseModel):
    """What a create call returns: the record id and whether it already existed."""

    id: str
    created: bool


class CompanyPage(BaseModel):
    """One page of :meth:`Crm.list_companies`: the companies in CRM id order, and the
    cursor to pass as ``after`` for the next page (None: this was the last page)."""

    companies: list[Company] = Field(default_factory=list)
    next_after: str | None = None


MAX_BATCH_RECORDS = 100
"""The most records one CRM list page, batch read or batch update handles (HubSpot's)."""


class NewTask(TypedDict):
    """A task for ``Crm.create_task``: the company it is about, what it says, when it is
    due, whose it is (None: nobody's), its priority (LOW, MEDIUM or HIGH) and the key that
    makes a retried create find the task made before."""

    company_id: str
    subject: str
    body: str
    due_at: datetime
    owner_id: str | None
    priority: str
    idempotency_key: str
    attachment_ids: NotRequired[Sequence[str]]
    """CRM file ids (``upload_file``'s) to attach; none when left out."""


class Crm(Protocol):
    """Customer records, owners, tasks and notes (HubSpot in production). Blocking."""

    def get_company(self, company_id: str) -> Company: ...

    def get_primary_contact(self, company_id: str) -> Contact | None:
        """The first contact associated with the company, or None if it has none."""
        ...

    def get_owner(self, owner_id: str) -> Owner: ...

    def list_company_contacts(
        self, company_id: str, *, properties: Sequence[str] = (), limit: int = 500
    ) -> list[CrmContact]:
        """Every contact associated with the company that has an e-mail address, in the
        CRM's order (at most ``limit``), with ``properties`` read as well."""
        ...

    def get_contact(self, contact_id: str, *, properties: Sequence[str] = ()) -> CrmContact:
        """One contact (NotFoundError when it does not exist)."""
        ...

    def find_contact_by_email(
        self, email: str, *, properties: Sequence[str] = ()
    ) -> CrmContact | None:
        """The contact with this e-mail address (case-insensitive), or None."""
        ...

    def update_contact(self, contact_id: str, properties: dict[str, str]) -> None:
        """Set properties on the contact record."""
        ...

    def get_deal(self, deal_id: str) -> Deal:
        """The deal with its stage, tier and first associated company."""
        ...

    def list_deal_stages(self) -> list[DealStage]:
        """Every stage of every deal pipeline (the default one and custom ones)."""
        ...

    def find_company_by_property(self, name: str, value: str) -> Company | None:
        """The company whose property ``name`` equals ``value`` (the lowest id when several
        do), or None. E.g. the CRM property that holds the company's Stripe customer id."""
        ...

    def update_company(self, company_id: str, properties: dict[str, str]) -> None:
        """Set properties on the company record."""
        ...

    def list_companies(
        self, *, after: str | None, limit: int = 100, properties: Sequence[str] = ()
    ) -> CompanyPage:
        """One page of every company, in id order, starting at the cursor ``after`` (None:
        the first page). ``limit`` is 1..100 (ValueError otherwise); each company carries
        ``properties`` (absent ones as None) in ``Company.properties``."""
        ...

    def batch_read_companies(self, ids: Sequence[str], properties: Sequence[str]) -> list[Company]:
        """Up to 100 companies in one call, in the order of ``ids`` (duplicates once);
        companies that do not exist are left out. More than 100 ids: ValueError."""
        ...

    def batch_update_companies(self, updates: Mapping[str, Mapping[str, str]]) -> int:
        """Set properties on up to 100 companies (``{company id: {property: value}}``) in
        one call and return how many were updated: companies that no longer exist are
        skipped, an invalid value refuses the whole batch. Idempotent (same values). More
        than 100 companies: ValueError."""
        ...

    def create_task(self, **task: Unpack[NewTask]) -> CrmRecordRef:
        """Find-or-create a task associated with the company (``NewTask``), with the CRM
        files ``attachment_ids`` attached (``upload_file``'s ids)."""
        ...

    def upload_file(self, *, name: str, content: bytes, folder: str) -> CrmFile:
        """Store a private file in the CRM's file manager under ``folder``/``name``; the
        same name in the same folder is replaced (its id kept), so a retried upload with
        a deterministic name leaves one file."""
        ...

    def create_note(
        self, *, company_id: str, body: str, timestamp: datetime, idempotency_key: str
    ) -> CrmRecordRef:
        """Find-or-create a note associated with the company."""
        ...

    def get_email(self, email_id: str) -> CrmEmail:
        """An e-mail logged in the CRM, with its text and associations (NotFoundError when
        it does not exist): what a CRM webhook about a logged reply does not carry."""
        ...


class Billing(Protocol):
    """Subscriptions and their customers (Stripe in production). Blocking. Reads only."""

    def subscription_metadata(self, subscription_id: str) -> dict[str, str] | None:
        """The subscription's metadata, or None when there is no such subscription."""
        ...

    def customer_metadata(self, customer_id: str) -> dict[str, str] | None:
        """The billing customer's metadata, or None when it does not exist (or was deleted)."""
        ...


class Ticket(BaseModel):
    id: str
    subject: str
    status: str
    priority: str | None = None
    requester_id: str | None = None
    assignee_id: str | None = None
    organization_id: str | None = None
    group_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    customer_id: str | None = None
    """The CRM company id: the ticket organisation's ``external_id``."""
    description: str = ""
    """The ticket's first comment (what the requester wrote)."""


class HelpdeskUser(BaseModel):
    id: str
    name: str = ""
    email: str | None = None
    organization_id: str | None = None


CSAT_ANSWERED_TAG = "cshub_csat"
"""On a ticket whose CSAT answer the hub recorded (``activities.surveys``)."""
CSAT_SCORE_TAG_PREFIX = "csat_score_"
"""With the score: ``csat_score_1`` … ``csat_score_5``, next to ``cshub_csat``."""
CSAT_SATISFIED_MIN = 4
"""Scores 4 and 5 are satisfied answers (as in ``domain.support_metrics``)."""
SUPPORT_LOAD_WINDOW_DAYS = 30
CSAT_WINDOW_DAYS = 90


def csat_score_from_tags(tags: Sequence[str]) -> int | None:
    """The 1-5 score the hub tagged a ticket with, or None (no or an unreadable tag)."""
    for tag in tags:
        if tag.startswith(CSAT_SCORE_TAG_PREFIX):
            number = tag.removeprefix(CSAT_SCORE_TAG_PREFIX)
            if number.isdigit() and 1 <= int(number) <= 5:
                return int(number)
    return None


class SupportLoad(BaseModel):
    """A customer's support figures, counted in the helpdesk at ``as_of``.

    Windows are relative to ``as_of`` and include their start: ``created_last_30d``
    counts tickets created at or after as_of - 30 days, ``created_prev_30d`` those
    created from as_of - 60 days up to (not including) as_of - 30 days;
    CSAT counts the hub's answers (tags ``csat_score_N``) on tickets updated in the last
    90 days (an answer is an update, so every answer of the window is in; an older answer
    on a ticket updated since is too)."""

    customer_id: str
    as_of: datetime
    organizations: int = Field(ge=0, description="Helpdesk organisations of the customer")
    open_tickets: int = Field(ge=0, description="Unsolved (new, open, pending, hold)")
    critical_open: int = Field(ge=0, description="Unsolved with a critical priority")
    created_last_30d: int = Field(ge=0)
    created_prev_30d: int = Field(ge=0)
    csat_answers: int = Field(ge=0, description="CSAT answers in the last 90 days")
    csat_satisfied: int = Field(ge=0, description="... of them 4 or 5")

    @property
    def csat_percent(self) -> float | None:
        """Satisfied / all answers x 100 (one decimal); None when nobody answered."""
        if not self.csat_answers:
            return None
        return round(self.csat_satisfied * 100 / self.csat_answers, 1)


class TicketUpdate(TypedDict, total=False):
    """What ``Helpdesk.update_ticket`` may change; a field left out is left as it is."""

    priority: str | None
    add_tags: list[str] | None
    """Added to the ticket's tags, never replacing them."""
    group_id: str | None
    internal_note: str | None
    public_comment: str | None


class LoadOptions(TypedDict, total=False):
    """How ``Helpdesk.support_load`` counts: the helpdesk priorities that count as
    critical (default :data:`CRITICAL_PRIORITIES`) and the end of its windows (default:
    the current time)."""

    critical_priorities: Sequence[str]
    now: datetime | None


CRITICAL_PRIORITIES: tuple[str, ...] = ("urgent",)


class Helpdesk(Protocol):
    """Support tickets (Zendesk in production). Blocking."""

    def get_ticket(self, ticket_id: str) -> Ticket:
        """The ticket, with ``customer_id`` read from its organisation."""
        ...

    def get_user(self, user_id: str) -> HelpdeskUser: ...

    def first_agent_reply_at(self, ticket_id: str) -> datetime | None:
        """When an agent first replied publicly on the ticket (None: not yet)."""
        ...

    def update_ticket(self, ticket_id: str, **change: Unpack[TicketUpdate]) -> Ticket:
        """Change the given fields only (``TicketUpdate``); tags are added, never replaced."""
        ...

    def support_load(self, customer_id: str, **options: Unpack[LoadOptions]) -> SupportLoad:
        """The customer's (the organisations whose ``external_id`` is ``customer_id``)
        ticket counts and CSAT answers; all zero when the helpdesk has no such
        organisation. ``critical_priorities``: the helpdesk priorities that count as
        critical. ``now``: the end of the windows (default: the current time)."""
        ...

    def ticket_facts(
        self, since: datetime, until: datetime, *, customer_id: str | None = None
    ) -> list[TicketFacts]:
        """The tickets created in ``since <= t < until`` (only ``customer_id``'s when
        given), each with its metric set: replies, minutes to the first agent reply and
        to the full resolution (calendar time), CSAT score."""
        ...


class ChatMessageRef(BaseModel):
    channel: str
    ts: str
    created: bool


class ChatPost(TypedDict):
    """A message for ``Chat.post_message``: the channel (name or id), the fallback text,
    the Block Kit blocks (None: the text alone) and the key that makes a retried post
    find the message posted before."""

    channel: str
    text: str
    blocks: list[dict[str, object]] | None
    idempotency_key: str


class Chat(Protocol):
    """Team chat (Slack in production). Async."""

    async def post_message(self, **post: Unpack[ChatPost]) -> ChatMessageRef:
        """Post unless a message with this idempotency key is already in the channel."""
        ...

    async def lookup_user_id(self, email: str) -> str | None:
        """The chat user id for an e-mail address, or None when nobody has it."""
        ...


class OutgoingEmail(BaseModel):
    to: str
    subject: str
    text: str
    html: str
    idempotency_key: str
    headers: dict[str, str] = Field(default_factory=dict)
    reply_to: str | None = None


class EmailReceipt(BaseModel):
    message_id: str


class Mailer(Protocol):
    """Outgoing customer e-mail (SMTP in production). Async."""

    async def send(self, message: OutgoingEmail) -> EmailReceipt:
        """Send one message. The Message-ID is derived from the idempotency key."""
        ...
