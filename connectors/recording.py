"""In-memory connectors that record what the hub would do instead of doing it.

Used for dry runs (``cshub simulate``) and workflow tests: every Protocol in
:mod:`connectors.base` has a recorder here that answers reads with plausible fake data for
any id and appends one :class:`RecordedAction` per side effect. Pass one
:class:`ActionLog` to all four recorders to get a single ordered timeline.

The recorders honour idempotency keys exactly as the real connectors promise to: a
second create/post/send with a known key returns the first result (``created=False``)
and records nothing. Ticket updates carry no key in the Protocol, and Zendesk does not
deduplicate them either, so each call is recorded.

Thread-safe: the blocking recorders are called from activity thread pools.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar, Unpack

from pydantic import BaseModel

from connectors.base import (
    CRITICAL_PRIORITIES,
    CSAT_ANSWERED_TAG,
    CSAT_SATISFIED_MIN,
    CSAT_WINDOW_DAYS,
    MAX_BATCH_RECORDS,
    SUPPORT_LOAD_WINDOW_DAYS,
    ChatMessageRef,
    ChatPost,
    Company,
    CompanyPage,
    Contact,
    CrmContact,
    CrmEmail,
    CrmFile,
    CrmRecordRef,
    Deal,
    EmailReceipt,
    HelpdeskUser,
    LoadOptions,
    OutgoingEmail,
    Owner,
    SupportLoad,
    Ticket,
    TicketUpdate,
    csat_score_from_tags,
)
from connectors.errors import NotFoundError
from domain.deal_stages import DealStage
from domain.executive_report import TicketFacts

ActionChannel = Literal["email", "slack", "crm_task", "crm_note", "ticket_update"]
TEMPLATE_HEADER = "X-Cshub-Template"
_SUMMARY_LEN = 120
R = TypeVar("R", Company, CrmContact)
"""A CRM record with properties."""


class RecordedAction(BaseModel):
    """One side effect the hub asked for."""

    channel: ActionChannel
    key: str
    """The idempotency key (for ticket updates, a digest of ticket id and change)."""
    summary: str
    """One line: e-mail subject, Slack text, task subject, note or ticket change."""
    template: str | None = None
    target: str | None = None
    """Where it went: recipient, channel, ``company 1001`` or ``ticket 42``."""
    at: datetime


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class ActionLog:
    """An ordered, thread-safe list of recorded actions.

    ``clock`` stamps each action; replace it (e.g. with the workflow's simulated time) to
    make ``at`` meaningful in a time-skipping run.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock: Callable[[], datetime] = clock or _wall_clock
        self._lock = threading.Lock()
        self._actions: list[RecordedAction] = []

    def record(
        self,
        channel: ActionChannel,
        key: str,
        summary: str,
        *,
        template: str | None = None,
        target: str | None = None,
    ) -> RecordedAction:
        action = RecordedAction(
            channel=channel,
            key=key,
            summary=_one_line(summary),
            template=template,
            target=target,
            at=self.clock(),
        )
        with self._lock:
            self._actions.append(action)
        return action

    @property
    def actions(self) -> list[RecordedAction]:
        """A snapshot, oldest first."""
        with self._lock:
            return list(self._actions)

    def clear(self) -> None:
        with self._lock:
            self._actions.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._actions)


class _Recorder:
    def __init__(self, log: ActionLog | None) -> None:
        self.log = log if log is not None else ActionLog()
        self._lock = threading.Lock()

    @property
    def actions(self) -> list[RecordedAction]:
        """Everything in this recorder's log (all recorders' actions when it is shared)."""
        return self.log.actions


class RecordingCrm(_Recorder):
    """Any company id exists (``Company {id}``, owned by ``owner-1``) unless seeded or
    listed in ``missing``; every company has one primary contact (its only contact unless
    ``company_contacts`` lists others); any owner and any contact exists. Contact property
    updates are kept and read back.

    The portfolio (``list_companies``) is the seeded ``companies`` in id order. Company
    updates (one by one or in batches) are appended to ``company_updates`` and read back
    when a list or batch read asks for those properties; ``batch_updates`` keeps each
    batch call as one dict."""

    def __init__(
        self,
        log: ActionLog | None = None,
        *,
        companies: Mapping[str, Company] | None = None,
        contacts: Mapping[str, Contact | None] | None = None,
        owners: Mapping[str, Owner] | None = None,
        deals: Mapping[str, Deal] | None = None,
        missing: Iterable[str] = (),
        company_contacts: Mapping[str, Sequence[CrmContact]] | None = None,
    ) -> None:
        super().__init__(log)
        self.companies: dict[str, Company] = dict(companies or {})
        self.company_contacts: dict[str, list[CrmContact]] = {
            k: list(v) for k, v in (company_contacts or {}).items()
        }
        self.contact_updates: list[tuple[str, dict[str, str]]] = []
        self._contact_properties: dict[str, dict[str, str]] = {}
        self.contacts: dict[str, Contact | None] = dict(contacts or {})
        self.owners: dict[str, Owner] = dict(owners or {})
        self.deals: dict[str, Deal] = dict(deals or {})
        self.company_updates: list[tuple[str, dict[str, str]]] = []
        self.batch_updates: list[dict[str, dict[str, str]]] = []
        self._company_properties: dict[str, dict[str, str]] = {}
        self.missing: set[str] = set(missing)
        self._refs: dict[str, CrmRecordRef] = {}
        self.files: dict[str, bytes] = {}
        self._next_id = 1

    def get_company(self, company_id: str) -> Company:
        self._check_exists("get_company", company_id)
        return self.companies.get(company_id) or Company(
            id=company_id,
            name=f"Company {company_id}",
            domain=f"company-{company_id}.example",
            tier=None,
            owner_id="owner-1",
        )

    def get_primary_contact(self, company_id: str) -> Contact | None:
        self._check_exists("get_primary_contact", company_id)
        if company_id in self.contacts:
            return self.contacts[company_id]
        return Contact(
            id=f"contact-{company_id}",
            email=f"customer-{company_id}@example.com",
            first_name="Alex",
            last_name=f"Customer{company_id}",
        )

    def list_company_contacts(
        self, company_id: str, *, properties: Sequence[str] = (), limit: int = 500
    ) -> list[CrmContact]:
        self._check_exists("list_company_contacts", company_id)
        if company_id in self.company_contacts:
            found = self.company_contacts[company_id]
        else:
            primary = self.get_primary_contact(company_id)
            found = [CrmContact(**primary.model_dump())] if primary else []
        return [self._with_properties(c, properties) for c in found[:limit]]

    def get_contact(self, contact_id: str, *, properties: Sequence[str] = ()) -> CrmContact:
        if contact_id in self.missing:
            raise NotFoundError("recording", "get_contact", f"contact {contact_id}", "404")
        for contacts in self.company_contacts.values():
            for contact in contacts:
                if contact.id == contact_id:
                    return self._with_properties(contact, properties)
        fake = CrmContact(id=contact_id, email=f"{contact_id}@customer.example", first_name="Alex")
        return self._with_properties(fake, properties)

    def find_contact_by_email(
        self, email: str, *, properties: Sequence[str] = ()
    ) -> CrmContact | None:
        """Any address belongs to a contact (seeded ones first)."""
        address = email.strip().lower()
        for contacts in self.company_contacts.values():
            for contact in contacts:
                if contact.email.lower() == address:
                    return self._with_properties(contact, properties)
        digest = hashlib.sha256(address.encode()).hexdigest()[:8]
        return self._with_properties(CrmContact(id=f"contact-{digest}", email=address), properties)

    def update_contact(self, contact_id: str, properties: dict[str, str]) -> None:
        if contact_id in self.missing:
            raise NotFoundError("recording", "update_contact", f"contact {contact_id}", "404")
        with self._lock:
            self.contact_updates.append((contact_id, dict(properties)))
            self._contact_properties.setdefault(contact_id, {}).update(properties)

    def _with_properties(self, contact: CrmContact, names: Sequence[str]) -> CrmContact:
        return self._with_stored(contact, self._contact_properties, names)

    def _with_stored(
        self, record: R, written: dict[str, dict[str, str]], names: Sequence[str]
    ) -> R:
        """``record`` with the properties ``names`` as last written (``written``, by
        record id), else as seeded."""
        with self._lock:
            stored = dict(written.get(record.id, {}))
        props = {
            **record.properties,
            **{n: stored.get(n, record.properties.get(n)) for n in names},
        }
        return record.model_copy(update={"properties": props})

    def get_owner(self, owner_id: str) -> Owner:
        if owner_id in self.missing:
            raise NotFoundError("recording", "get_owner", f"owner {owner_id}", "404 not found")
        return self.owners.get(owner_id) or Owner(
            id=owner_id,
            email=f"csm-{owner_id}@cshub.example",
            first_name="Casey",
            last_name=f"Manager-{owner_id}",
        )

    def update_company(self, company_id: str, properties: dict[str, str]) -> None:
        self._check_exists("update_company", company_id)
        with self._lock:
            self.company_updates.append((company_id, dict(properties)))
            self._company_properties.setdefault(company_id, {}).update(properties)

    def list_companies(
        self, *, after: str | None, limit: int = 100, properties: Sequence[str] = ()
    ) -> CompanyPage:
        """Seeded companies with ids at or above ``after`` (the next page's first id)."""
        if not 1 <= limit <= MAX_BATCH_RECORDS:
            raise ValueError(f"limit must be 1..{MAX_BATCH_RECORDS}, not {limit}")
        ordered = sorted(
            (c for c in self.companies.values() if c.id not in self.missing),
            key=lambda c: _id_order(c.id),
        )
        if after is not None:
            ordered = [c for c in ordered if _id_order(c.id) >= _id_order(after)]
        page, rest = ordered[:limit], ordered[limit:]
        return CompanyPage(
            companies=[self._company_with(c, properties) for c in page],
            next_after=rest[0].id if rest else None,
        )

    def batch_read_companies(self, ids: Sequence[str], properties: Sequence[str]) -> list[Company]:
        wanted = list(dict.fromkeys(ids))
        if len(wanted) > MAX_BATCH_RECORDS:
            raise ValueError(f"at most {MAX_BATCH_RECORDS} companies per batch read")
        return [
            self._company_with(self.get_company(i), properties)
            for i in wanted
            if i not in self.missing
        ]

    def batch_update_companies(self, updates: Mapping[str, Mapping[str, str]]) -> int:
        """Companies in ``missing`` are skipped (HubSpot's 207), the others recorded."""
        if len(updates) > MAX_BATCH_RECORDS:
            raise ValueError(f"at most {MAX_BATCH_RECORDS} companies per batch update")
        done = {i: dict(p) for i, p in updates.items() if i not in self.missing}
        with self._lock:
            if done:
                self.batch_updates.append(done)
            for company_id, props in done.items():
                self.company_updates.append((company_id, dict(props)))
                self._company_properties.setdefault(company_id, {}).update(props)
        return len(done)

    def _company_with(self, company: Company, names: Sequence[str]) -> Company:
        return self._with_stored(company, self._company_properties, names)

    def get_deal(self, deal_id: str) -> Deal:
        if deal_id in self.missing:
            raise NotFoundError("recording", "get_deal", f"deal {deal_id}", "404 not found")
        return self.deals.get(deal_id) or Deal(
            id=deal_id, name=f"Deal {deal_id}", stage="closedwon", company_id=f"c-{deal_id}"
        )

    def list_deal_stages(self) -> list[DealStage]:
        """HubSpot's default sales pipeline: ``closedwon`` is its won stage."""
        return [
            DealStage(pipeline_id="default", stage_id="closedwon", is_closed=True, probability=1.0),
            DealStage(
                pipeline_id="default", stage_id="closedlost", is_closed=True, probability=0.0
            ),
        ]

    def find_company_by_property(self, name: str, value: str) -> Company | None:
        """Among the seeded companies and the properties written since."""
        for company_id in sorted(self.companies):
            if self._company_with(self.companies[company_id], [name]).properties.get(name) == value:
                return self.companies[company_id]
        return None

    def create_task(
        self,
        *,
        company_id: str,
        subject: str,
        idempotency_key: str,
        template: str | None = None,
        **_: object,  # body, due date, owner, priority: not recorded
    ) -> CrmRecordRef:
        return self._create("crm_task", company_id, subject, idempotency_key, template)

    def upload_file(self, *, name: str, content: bytes, folder: str) -> CrmFile:
        """Kept, not logged (a file is not an action on the customer)."""
        self.files[f"{folder}/{name}"] = content
        return CrmFile(id=f"file-{folder}/{name}", url=f"recorded://{folder}/{name}")

    def get_email(self, email_id: str) -> CrmEmail:
        raise NotFoundError("recording", "get_email", f"email {email_id}", "404")

    def create_note(
        self,
        *,
        company_id: str,
        body: str,
        timestamp: datetime,
        idempotency_key: str,
        template: str | None = None,
    ) -> CrmRecordRef:
        return self._create("crm_note", company_id, body, idempotency_key, template)

    def _create(
        self,
        channel: Literal["crm_task", "crm_note"],
        company_id: str,
        summary: str,
        key: str,
        template: str | None,
    ) -> CrmRecordRef:
        self._check_exists(f"create_{channel.removeprefix('crm_')}", company_id)
        with self._lock:
            ref = self._refs.get(f"{channel}:{key}")
            if ref is not None:
                return ref.model_copy(update={"created": False})
            ref = CrmRecordRef(id=f"{channel.removeprefix('crm_')}-{self._next_id}", created=True)
            self._next_id += 1
            self._refs[f"{channel}:{key}"] = ref
            self.log.record(
                channel, key, summary, template=template, target=f"company {company_id}"
            )
        return ref

    def _check_exists(self, operation: str, company_id: str) -> None:
        if company_id in self.missing:
            raise NotFoundError("recording", operation, f"company {company_id}", "404 not found")


class RecordingHelpdesk(_Recorder):
    """Any ticket id exists (open, normal priority) unless listed in ``missing``; updates
    change the in-memory ticket so a later ``get_ticket`` sees them."""

    def __init__(
        self,
        log: ActionLog | None = None,
        *,
        tickets: Mapping[str, Ticket] | None = None,
        missing: Iterable[str] = (),
    ) -> None:
        super().__init__(log)
        self.tickets: dict[str, Ticket] = dict(tickets or {})
        self.missing: set[str] = set(missing)

    def get_ticket(self, ticket_id: str) -> Ticket:
        with self._lock:
            return self._ticket("get_ticket", ticket_id)

    def update_ticket(self, ticket_id: str, **change: Unpack[TicketUpdate]) -> Ticket:
        parts: list[str] = []
        with self._lock:
            ticket = self._ticket("update_ticket", ticket_id)
            update: dict[str, object] = {"updated_at": self.log.clock()}
            if (priority := change.get("priority")) is not None:
                update["priority"] = priority
                parts.append(f"priority {priority}")
            if add_tags := change.get("add_tags"):
                update["tags"] = ticket.tags + [t for t in add_tags if t not in ticket.tags]
                parts.append("tags +" + ",".join(add_tags))
            if (group_id := change.get("group_id")) is not None:
                update["group_id"] = group_id
                parts.append(f"group {group_id}")
            if internal_note := change.get("internal_note"):
                parts.append(f"internal note: {internal_note}")
            if public_comment := change.get("public_comment"):
                parts.append(f"public comment: {public_comment}")
            ticket = ticket.model_copy(update=update)
            self.tickets[ticket_id] = ticket
        summary = f"ticket {ticket_id}: " + ("; ".join(parts) or "no change")
        digest = hashlib.sha256(summary.encode("utf-8")).hexdigest()[:12]
        self.log.record(
            "ticket_update", f"ticket-{ticket_id}-{digest}", summary, target=f"ticket {ticket_id}"
        )
        return ticket

    def _ticket(self, operation: str, ticket_id: str) -> Ticket:
        if ticket_id in self.missing:
            raise NotFoundError("recording", operation, f"ticket {ticket_id}", "404 not found")
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            now = self.log.clock()
            ticket = Ticket(
                id=ticket_id,
                subject=f"Ticket {ticket_id}",
                status="open",
                priority="normal",
                requester_id="requester-1",
                created_at=now,
                updated_at=now,
                customer_id="simulated",
            )
            self.tickets[ticket_id] = ticket
        return ticket

    def first_agent_reply_at(self, ticket_id: str) -> datetime | None:
        """Simulated tickets have no replies until the workflow is told of one."""
        return None

    def get_user(self, user_id: str) -> HelpdeskUser:
        """Any user exists, with an address derived from the id."""
        return HelpdeskUser(id=user_id, name=f"User {user_id}", email=f"{user_id}@customer.example")

    def support_load(self, customer_id: str, **options: Unpack[LoadOptions]) -> SupportLoad:
        """Counted over the tickets this recorder knows (seeded or read) whose
        ``customer_id`` matches, by the same rules as Zendesk's; a ticket without
        ``created_at`` counts in no window, one without ``updated_at`` in no CSAT one."""
        as_of = (options.get("now") or self.log.clock()).astimezone(UTC)
        critical_priorities = options.get("critical_priorities", CRITICAL_PRIORITIES)
        critical = {p.strip().lower() for p in critical_priorities}
        window = timedelta(days=SUPPORT_LOAD_WINDOW_DAYS)
        csat_since = as_of - timedelta(days=CSAT_WINDOW_DAYS)
        with self._lock:
            mine = [t for t in self.tickets.values() if t.customer_id == customer_id]
        unsolved = [t for t in mine if t.status.lower() not in ("solved", "closed")]
        created = [_utc(t.created_at) for t in mine if t.created_at is not None]
        scores = [
            csat_score_from_tags(t.tags)
            for t in mine
            if CSAT_ANSWERED_TAG in t.tags
            and t.updated_at is not None
            and _utc(t.updated_at) > csat_since
        ]
        answers = [s for s in scores if s is not None]
        return SupportLoad(
            customer_id=customer_id,
            as_of=as_of,
            organizations=1 if mine else 0,
            open_tickets=len(unsolved),
            critical_open=sum(1 for t in unsolved if (t.priority or "none").lower() in critical),
            created_last_30d=sum(1 for c in created if c >= as_of - window),
            created_prev_30d=sum(1 for c in created if as_of - 2 * window <= c < as_of - window),
            csat_answers=len(answers),
            csat_satisfied=sum(1 for s in answers if s >= CSAT_SATISFIED_MIN),
        )

    def ticket_facts(
        self, since: datetime, until: datetime, *, customer_id: str | None = None
    ) -> list[TicketFacts]:
        """The tickets this recorder knows created in the window (``customer_id``'s only
        when given); a recorded ticket has no metric set, so no reply or resolution
        minutes (its SLA figures read as not known)."""
        with self._lock:
            known = list(self.tickets.values())
        shared = {"id", "customer_id", "created_at", "status", "priority", "tags"}
        return [
            TicketFacts(**t.model_dump(include=shared), csat_score=csat_score_from_tags(t.tags))
            for t in known
            if t.created_at is not None
            and _utc(since) <= _utc(t.created_at) < _utc(until)
            and (customer_id is None or t.customer_id == customer_id)
        ]


class RecordingChat(_Recorder):
    """Posts are kept in ``posts``; every e-mail maps to a stable fake user id except those
    in ``unknown_emails``."""

    def __init__(self, log: ActionLog | None = None, *, unknown_emails: Iterable[str] = ()) -> None:
        super().__init__(log)
        self.unknown_emails = {e.lower() for e in unknown_emails}
        self.posts: list[dict[str, object]] = []
        self._refs: dict[str, ChatMessageRef] = {}

    async def post_message(
        self, *, template: str | None = None, **post: Unpack[ChatPost]
    ) -> ChatMessageRef:
        channel, text, blocks = post["channel"], post["text"], post["blocks"]
        idempotency_key = post["idempotency_key"]
        with self._lock:
            ref = self._refs.get(idempotency_key)
            if ref is not None:
                return ref.model_copy(update={"created": False})
            ts = f"{self.log.clock().timestamp():.6f}"
            ref = ChatMessageRef(channel=channel, ts=ts, created=True)
            self._refs[idempotency_key] = ref
            self.posts.append(
                {"channel": channel, "text": text, "blocks": blocks, "key": idempotency_key}
            )
            self.log.record("slack", idempotency_key, text, template=template, target=channel)
        return ref

    async def lookup_user_id(self, email: str) -> str | None:
        if email.lower() in self.unknown_emails:
            return None
        return "U" + hashlib.sha256(email.lower().encode("utf-8")).hexdigest()[:10].upper()


class RecordingMailer(_Recorder):
    """Sent messages are kept in ``sent``; the template name comes from ``X-Cshub-Template``."""

    def __init__(self, log: ActionLog | None = None) -> None:
        super().__init__(log)
        self.sent: list[OutgoingEmail] = []
        self._receipts: dict[str, EmailReceipt] = {}

    async def send(self, message: OutgoingEmail) -> EmailReceipt:
        with self._lock:
            receipt = self._receipts.get(message.idempotency_key)
            if receipt is not None:
                return receipt
            digest = hashlib.sha256(message.idempotency_key.encode("utf-8")).hexdigest()[:32]
            receipt = EmailReceipt(message_id=f"<{digest}@recording.invalid>")
            self._receipts[message.idempotency_key] = receipt
            self.sent.append(message)
            template = next(
                (v for k, v in message.headers.items() if k.lower() == TEMPLATE_HEADER.lower()),
                None,
            )
            self.log.record(
                "email",
                message.idempotency_key,
                message.subject,
                template=template,
                target=message.to,
            )
        return receipt


def _utc(moment: datetime) -> datetime:
    """Naive times are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _id_order(company_id: str) -> tuple[int, int, str]:
    """CRM id order: numeric ids by value, before any other ids (by text)."""
    return (0, int(company_id), "") if company_id.isdigit() else (1, 0, company_id)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _SUMMARY_LEN else line[: _SUMMARY_LEN - 1] + "…"
