"""Zendesk Support state: tickets with their comments, users, organizations and groups.

Ticket updates follow Zendesk's rules where a connector could get them wrong: values of
status/priority/type are checked, groups and assignees must exist, closed tickets cannot
change, and every update answers with an audit listing its events. Each accepted change
is reported back to the caller so the store can record it for the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.clock import iso_s, parse_instant, utcnow

JsonDict = dict[str, Any]

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
TYPES = ("problem", "incident", "question", "task")
FIRST_RUNTIME_ID = 10001


class ZendeskError(Exception):
    def __init__(
        self, status: int, error: str, description: str, details: JsonDict | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.details = details


def record_not_found() -> ZendeskError:
    return ZendeskError(404, "RecordNotFound", "Not found")


def _invalid(details: dict[str, str]) -> ZendeskError:
    return ZendeskError(
        422,
        "RecordInvalid",
        "Record validation errors",
        {k: [{"description": v, "error": "InvalidValue"}] for k, v in details.items()},
    )


@dataclass
class ZdGroup:
    id: int
    name: str
    created_at: datetime

    def to_json(self, base: str) -> JsonDict:
        return {
            "id": self.id,
            "url": f"{base}/api/v2/groups/{self.id}.json",
            "name": self.name,
            "description": "",
            "default": False,
            "deleted": False,
            "created_at": iso_s(self.created_at),
            "updated_at": iso_s(self.created_at),
        }


@dataclass
class ZdOrganization:
    id: int
    name: str
    external_id: str | None
    domain_names: list[str]
    created_at: datetime

    def to_json(self, base: str) -> JsonDict:
        return {
            "id": self.id,
            "url": f"{base}/api/v2/organizations/{self.id}.json",
            "name": self.name,
            "external_id": self.external_id,
            "domain_names": list(self.domain_names),
            "details": "",
            "notes": "",
            "group_id": None,
            "shared_tickets": False,
            "shared_comments": False,
            "tags": [],
            "organization_fields": {},
            "created_at": iso_s(self.created_at),
            "updated_at": iso_s(self.created_at),
        }


@dataclass
class ZdUser:
    id: int
    name: str
    email: str
    role: str
    organization_id: int | None
    default_group_id: int | None
    created_at: datetime

    @property
    def is_agent(self) -> bool:
        return self.role in ("agent", "admin")

    def to_json(self, base: str) -> JsonDict:
        return {
            "id": self.id,
            "url": f"{base}/api/v2/users/{self.id}.json",
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "organization_id": self.organization_id,
            "default_group_id": self.default_group_id,
            "active": True,
            "verified": True,
            "suspended": False,
            "time_zone": "UTC",
            "locale": "en-US",
            "tags": [],
            "user_fields": {},
            "created_at": iso_s(self.created_at),
            "updated_at": iso_s(self.created_at),
        }


@dataclass
class ZdComment:
    id: int
    author_id: int
    body: str
    public: bool
    created_at: datetime

    def to_json(self) -> JsonDict:
        return {
            "id": self.id,
            "type": "Comment",
            "author_id": self.author_id,
            "body": self.body,
            "html_body": f'<div class="zd-comment"><p>{_escape(self.body)}</p></div>',
            "plain_body": self.body,
            "public": self.public,
            "attachments": [],
            "audit_id": self.id,
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": iso_s(self.created_at),
        }


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class ZdTicket:
    id: int
    subject: str
    description: str
    status: str
    priority: str | None
    type: str | None
    requester_id: int
    submitter_id: int
    assignee_id: int | None
    organization_id: int | None
    group_id: int | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    custom_fields: list[JsonDict] = field(default_factory=list)
    external_id: str | None = None
    due_at: str | None = None
    comments: list[ZdComment] = field(default_factory=list)
    solved_at: datetime | None = None

    def metric_json(self, agents: set[int]) -> JsonDict:
        """Zendesk's ticket metric set, worked out from the comments and ``solved_at``:
        ``replies`` counts the agents' public comments; times are calendar minutes."""
        replies = [c for c in self.comments if c.public and c.author_id in agents]
        first = min((c.created_at for c in replies), default=None)

        def minutes(at: datetime | None) -> JsonDict:
            value = None if at is None else int((at - self.created_at).total_seconds() // 60)
            return {"calendar": value, "business": value}

        return {
            "id": self.id,
            "ticket_id": self.id,
            "replies": len(replies),
            "reopens": 0,
            "created_at": iso_s(self.created_at),
            "updated_at": iso_s(self.updated_at),
            "solved_at": iso_s(self.solved_at) if self.solved_at else None,
            "reply_time_in_minutes": minutes(first),
            "first_resolution_time_in_minutes": minutes(self.solved_at),
            "full_resolution_time_in_minutes": minutes(self.solved_at),
        }

    def to_json(self, base: str) -> JsonDict:
        return {
            "id": self.id,
            "url": f"{base}/api/v2/tickets/{self.id}.json",
            "external_id": self.external_id,
            "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": iso_s(self.created_at),
            "updated_at": iso_s(self.updated_at),
            "type": self.type,
            "subject": self.subject,
            "raw_subject": self.subject,
            "description": self.description,
            "priority": self.priority,
            "status": self.status,
            "recipient": None,
            "requester_id": self.requester_id,
            "submitter_id": self.submitter_id,
            "assignee_id": self.assignee_id,
            "organization_id": self.organization_id,
            "group_id": self.group_id,
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "has_incidents": False,
            "is_public": any(c.public for c in self.comments),
            "due_at": self.due_at,
            "tags": list(self.tags),
            "custom_fields": [dict(f) for f in self.custom_fields],
            "satisfaction_rating": None,
            "sharing_agreement_ids": [],
            "allow_channelback": False,
            "allow_attachments": True,
        }


@dataclass(frozen=True)
class TicketChange:
    """What one create/update did: the outbox records it."""

    ticket: ZdTicket
    changes: JsonDict
    previous: JsonDict
    comment: ZdComment | None
    audit: JsonDict
    created: bool


def _normalize_tags(tags: object) -> list[str]:
    if not isinstance(tags, list | tuple):
        raise _invalid({"tags": "Tags: must be a list of strings"})
    result: list[str] = []
    for tag in tags:
        for part in str(tag).lower().split():
            if part not in result:
                result.append(part)
    return result


@dataclass
class ZendeskState:
    tickets: dict[int, ZdTicket] = field(default_factory=dict)
    users: dict[int, ZdUser] = field(default_factory=dict)
    organizations: dict[int, ZdOrganization] = field(default_factory=dict)
    groups: dict[int, ZdGroup] = field(default_factory=dict)
    _next_id: int = FIRST_RUNTIME_ID

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def ensure_ids_above(self, used: int) -> None:
        """Make runtime ids start after ``used`` (the largest seeded id)."""
        self._next_id = max(self._next_id, used + 1)

    def ticket(self, ticket_id: int) -> ZdTicket:
        if ticket_id not in self.tickets:
            raise record_not_found()
        return self.tickets[ticket_id]

    def user(self, user_id: int) -> ZdUser:
        if user_id not in self.users:
            raise record_not_found()
        return self.users[user_id]

    def organization(self, organization_id: int) -> ZdOrganization:
        if organization_id not in self.organizations:
            raise record_not_found()
        return self.organizations[organization_id]

    def group(self, group_id: int) -> ZdGroup:
        if group_id not in self.groups:
            raise record_not_found()
        return self.groups[group_id]

    def api_user(self, email: str | None) -> ZdUser:
        """The agent a request acts as: the one with the auth e-mail, else the first admin."""
        agents = [u for u in self.users.values() if u.is_agent]
        return next((u for u in agents if email and u.email == email), agents[0])

    def user_by_email(self, email: str) -> ZdUser | None:
        return next((u for u in self.users.values() if u.email.lower() == email.lower()), None)

    # -- writes ------------------------------------------------------------------------

    def update_ticket(self, ticket_id: int, body: Mapping[str, Any], actor: ZdUser) -> TicketChange:
        ticket = self.ticket(ticket_id)
        if ticket.status == "closed":
            raise _invalid({"status": "Status: closed prevents ticket update"})
        updates = self._validated_fields(body, ticket.tags)
        comment_input = body.get("comment")
        changes = {k: v for k, v in updates.items() if getattr(ticket, k) != v}
        previous = {k: getattr(ticket, k) for k in changes}
        comment = self._comment(comment_input, actor) if comment_input is not None else None
        now = utcnow()
        for key, value in changes.items():
            setattr(ticket, key, value)
        if changes.get("status") == "solved":
            ticket.solved_at = now
        if comment is not None:
            ticket.comments.append(comment)
        if changes or comment is not None:
            ticket.updated_at = now
        audit = self._audit(ticket, actor, changes, previous, comment, now, created=False)
        return TicketChange(ticket, changes, previous, comment, audit, created=False)

    def create_ticket(self, body: Mapping[str, Any], actor: ZdUser) -> TicketChange:
        comment_input = body.get("comment")
        if not isinstance(comment_input, Mapping) or not (
            comment_input.get("body") or comment_input.get("html_body")
        ):
            raise _invalid({"description": "Description: cannot be blank"})
        requester = self._requester(body, actor)
        updates = self._validated_fields(body, [])
        comment = self._comment({**comment_input, "author_id": requester.id}, actor)
        now = utcnow()
        if body.get("created_at"):
            # As Zendesk's ticket import API allows: a ticket dated in the past (or, in
            # time-skipped tests, at the test clock's "now").
            created = parse_instant(str(body["created_at"]))
            if created is None:
                raise _invalid({"created_at": f"Created at: {body['created_at']} is not valid"})
            now = created
            comment.created_at = created
        ticket = ZdTicket(
            id=self.new_id(),
            subject=str(body.get("subject") or comment.body[:80]),
            description=comment.body,
            status="open" if updates.get("assignee_id") else "new",
            priority=None,
            type=None,
            requester_id=requester.id,
            submitter_id=actor.id,
            assignee_id=None,
            organization_id=requester.organization_id,
            group_id=None,
            tags=[],
            created_at=now,
            updated_at=now,
            comments=[comment],
        )
        for key, value in updates.items():
            setattr(ticket, key, value)
        self.tickets[ticket.id] = ticket
        changes = {k: getattr(ticket, k) for k in ("subject", "status", *updates)}
        audit = self._audit(ticket, actor, changes, {}, comment, now, created=True)
        return TicketChange(ticket, changes, {}, comment, audit, created=True)

    def import_ticket(self, body: Mapping[str, Any], actor: ZdUser) -> TicketChange:
        """Zendesk's ticket import (``POST /imports/tickets``): a ticket with its
        ``comments`` (each with ``author_id``, ``value`` or ``body``, ``public``,
        ``created_at``), dated ``created_at`` and, when solved, ``solved_at``."""
        comments = body.get("comments")
        if not isinstance(comments, list) or not comments:
            raise _invalid({"comments": "Comments: an import needs at least one comment"})
        dated: list[tuple[ZdComment, datetime | None]] = []
        for item in comments:
            if not isinstance(item, Mapping):
                raise _invalid({"comments": "Comments: each must be an object"})
            comment = self._comment({**item, "body": item.get("value") or item.get("body")}, actor)
            at = parse_instant(str(item["created_at"])) if item.get("created_at") else None
            dated.append((comment, at))
        first = {**body, "comment": {"body": dated[0][0].body, "public": dated[0][0].public}}
        first.pop("comments", None)
        if "requester_id" not in first:
            first["requester_id"] = dated[0][0].author_id
        change = self.create_ticket(first, actor)
        ticket = change.ticket
        ticket.comments[0].author_id = dated[0][0].author_id
        for comment, at in dated[1:]:
            comment.created_at = at or ticket.created_at
            ticket.comments.append(comment)
        if body.get("solved_at"):
            solved = parse_instant(str(body["solved_at"]))
            if solved is None:
                raise _invalid({"solved_at": f"Solved at: {body['solved_at']} is not valid"})
            ticket.solved_at = solved
        elif ticket.status in ("solved", "closed"):
            ticket.solved_at = ticket.created_at
        return change

    def _requester(self, body: Mapping[str, Any], actor: ZdUser) -> ZdUser:
        if body.get("requester_id") is not None:
            try:
                return self.user(int(body["requester_id"]))
            except (ValueError, ZendeskError):
                raise _invalid({"requester": "Requester: is invalid"}) from None
        requester = body.get("requester")
        if isinstance(requester, Mapping) and requester.get("email"):
            email = str(requester["email"])
            existing = self.user_by_email(email)
            if existing is not None:
                return existing
            user = ZdUser(
                self.new_id(),
                str(requester.get("name") or email),
                email,
                "end-user",
                None,
                None,
                utcnow(),
            )
            self.users[user.id] = user
            return user
        return actor

    def _validated_fields(self, body: Mapping[str, Any], current_tags: list[str]) -> JsonDict:
        """The ticket fields an update sets, checked; raises 422 listing every bad field."""
        errors: dict[str, str] = {}
        updates: JsonDict = {}
        checks: dict[str, tuple[str, ...]] = {
            "status": STATUSES,
            "priority": PRIORITIES,
            "type": TYPES,
        }
        for name, allowed in checks.items():
            if name in body:
                value = body[name] or None
                if value is None and name == "status":
                    errors[name] = "Status: cannot be blank"
                elif value is not None and value not in allowed:
                    errors[name] = f"{name.capitalize()}: {value} is not valid"
                else:
                    updates[name] = value
        for name in ("subject", "external_id", "due_at"):
            if name in body:
                updates[name] = None if body[name] is None else str(body[name])
        if "group_id" in body:
            group_id = body["group_id"]
            if group_id is not None and _as_int(group_id) not in self.groups:
                errors["group"] = f"Group: {group_id} is invalid"
            else:
                updates["group_id"] = _as_int(group_id)
        if "assignee_id" in body:
            assignee = body["assignee_id"]
            agent = self.users.get(_as_int(assignee) or -1)
            if assignee is not None and (agent is None or not agent.is_agent):
                errors["assignee"] = f"Assignee: {assignee} is not an agent"
            else:
                updates["assignee_id"] = _as_int(assignee)
        try:
            tags = _normalize_tags(body["tags"]) if "tags" in body else list(current_tags)
            tags += [t for t in _normalize_tags(body.get("additional_tags", [])) if t not in tags]
            removed = set(_normalize_tags(body.get("remove_tags", [])))
            tags = [t for t in tags if t not in removed]
            if tags != current_tags:
                updates["tags"] = tags
        except ZendeskError:
            errors["tags"] = "Tags: must be a list of strings"
        if "custom_fields" in body:
            updates["custom_fields"] = [dict(f) for f in body["custom_fields"] or []]
        if errors:
            raise _invalid(errors)
        return updates

    def _comment(self, comment_input: object, actor: ZdUser) -> ZdComment:
        if not isinstance(comment_input, Mapping):
            raise _invalid({"comment": "Comment: must be an object with a body"})
        body = comment_input.get("body") or comment_input.get("html_body")
        if not body:
            raise _invalid({"comment": "Comment: body cannot be blank"})
        author_id = _as_int(comment_input.get("author_id")) or actor.id
        if author_id not in self.users:
            raise _invalid({"comment": f"Comment: author {author_id} is invalid"})
        public = comment_input.get("public", True)
        return ZdComment(self.new_id(), author_id, str(body), public is not False, utcnow())

    def _audit(
        self,
        ticket: ZdTicket,
        actor: ZdUser,
        changes: JsonDict,
        previous: JsonDict,
        comment: ZdComment | None,
        at: datetime,
        *,
        created: bool,
    ) -> JsonDict:
        events: list[JsonDict] = []
        if comment is not None:
            events.append({**comment.to_json(), "type": "Comment"})
        for name, value in changes.items():
            events.append(
                {
                    "id": self.new_id(),
                    "type": "Create" if created else "Change",
                    "field_name": name,
                    "value": value,
                    "previous_value": previous.get(name),
                }
            )
        return {
            "id": self.new_id(),
            "ticket_id": ticket.id,
            "created_at": iso_s(at),
            "author_id": actor.id,
            "metadata": {"system": {"client": "cshub-sandbox"}, "custom": {}},
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "events": events,
        }


def _as_int(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        return -1
