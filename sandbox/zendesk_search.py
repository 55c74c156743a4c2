"""A small subset of Zendesk's search language: enough for ``type:ticket status<solved``,
``type:user email:x``, ``type:organization external_id:1001`` and free text.

Supported: ``key:value``, ``key<value``/``key>value`` (``<=``/``>=`` too) for status,
priority and created/updated dates, ``-term`` negation, quoted values, and bare words
matched against subject, description, name and e-mail.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sandbox.clock import parse_instant
from sandbox.zendesk_state import (
    PRIORITIES,
    STATUSES,
    ZdGroup,
    ZdOrganization,
    ZdTicket,
    ZdUser,
    ZendeskState,
)

Record = ZdTicket | ZdUser | ZdOrganization | ZdGroup
RESULT_TYPES: dict[type, str] = {
    ZdTicket: "ticket",
    ZdUser: "user",
    ZdOrganization: "organization",
    ZdGroup: "group",
}

_TERM = re.compile(r"^(?P<neg>-)?(?P<key>[a-z_]+)(?P<op><=|>=|:|<|>)(?P<value>.+)$")


@dataclass(frozen=True)
class Term:
    key: str | None  # None: free text
    op: str
    value: str
    negate: bool


def parse(query: str) -> list[Term]:
    try:
        words = shlex.split(query)
    except ValueError:
        words = query.split()
    terms: list[Term] = []
    for word in words:
        match = _TERM.match(word)
        if match:
            terms.append(
                Term(match["key"], match["op"], match["value"].lower(), bool(match["neg"]))
            )
        else:
            negate = word.startswith("-") and len(word) > 1
            terms.append(
                Term(None, ":", word.removeprefix("-").lower() if negate else word.lower(), negate)
            )
    return terms


def _ordered(order: tuple[str, ...], actual: str | None, op: str, wanted: str) -> bool:
    if actual is None or wanted not in order:
        return op == ":" and actual is None and wanted == "none"
    a, w = order.index(actual), order.index(wanted)
    return {":": a == w, "<": a < w, ">": a > w, "<=": a <= w, ">=": a >= w}[op]


def _dated(actual: datetime, op: str, wanted: str) -> bool:
    moment = parse_instant(wanted)
    if moment is None:
        return False
    if op == ":":
        return actual.date() == moment.date()
    return {
        "<": actual < moment,
        ">": actual > moment,
        "<=": actual <= moment,
        ">=": actual >= moment,
    }[op]


def _is(value: object, wanted: str) -> bool:
    if value is None:
        return wanted == "none"
    return str(value).lower() == wanted


class _Matcher:
    def __init__(self, state: ZendeskState) -> None:
        self.state = state

    def _user_is(self, user_id: int | None, wanted: str) -> bool:
        if user_id is None or wanted == "none":
            return user_id is None and wanted == "none"
        user = self.state.users.get(user_id)
        return str(user_id) == wanted or (
            user is not None and wanted in (user.email.lower(), user.name.lower())
        )

    def _org_is(self, org_id: int | None, wanted: str) -> bool:
        org = self.state.organizations.get(org_id) if org_id is not None else None
        return _is(org_id, wanted) or (org is not None and org.name.lower() == wanted)

    def _group_is(self, group_id: int | None, wanted: str) -> bool:
        group = self.state.groups.get(group_id) if group_id is not None else None
        return _is(group_id, wanted) or (group is not None and group.name.lower() == wanted)

    def ticket(self, t: ZdTicket, term: Term) -> bool:
        key, op, value = term.key, term.op, term.value
        fields: dict[str, Callable[[], bool]] = {
            "status": lambda: _ordered(STATUSES, t.status, op, value),
            "priority": lambda: _ordered(PRIORITIES, t.priority, op, value),
            "ticket_type": lambda: _is(t.type, value),
            "subject": lambda: value in t.subject.lower(),
            "description": lambda: value in t.description.lower(),
            "tags": lambda: value in t.tags,
            "tag": lambda: value in t.tags,
            "requester": lambda: self._user_is(t.requester_id, value),
            "requester_id": lambda: self._user_is(t.requester_id, value),
            "assignee": lambda: self._user_is(t.assignee_id, value),
            "assignee_id": lambda: self._user_is(t.assignee_id, value),
            "organization": lambda: self._org_is(t.organization_id, value),
            "organization_id": lambda: self._org_is(t.organization_id, value),
            "group": lambda: self._group_is(t.group_id, value),
            "group_id": lambda: self._group_is(t.group_id, value),
            "external_id": lambda: _is(t.external_id, value),
            "created": lambda: _dated(t.created_at, op, value),
            "updated": lambda: _dated(t.updated_at, op, value),
            "id": lambda: str(t.id) == value,
        }
        if key is None:
            return value in t.subject.lower() or value in t.description.lower()
        check = fields.get(key)
        return check() if check else False

    def user(self, u: ZdUser, term: Term) -> bool:
        key, value = term.key, term.value
        if key is None:
            return value in u.name.lower() or value in u.email.lower()
        fields: dict[str, Callable[[], bool]] = {
            "email": lambda: u.email.lower() == value,
            "name": lambda: value in u.name.lower(),
            "role": lambda: u.role == value,
            "organization": lambda: self._org_is(u.organization_id, value),
            "organization_id": lambda: self._org_is(u.organization_id, value),
            "id": lambda: str(u.id) == value,
        }
        check = fields.get(key)
        return check() if check else False

    def organization(self, o: ZdOrganization, term: Term) -> bool:
        key, value = term.key, term.value
        if key is None:
            return value in o.name.lower()
        fields: dict[str, Callable[[], bool]] = {
            "name": lambda: value in o.name.lower(),
            "external_id": lambda: _is(o.external_id, value),
            "id": lambda: str(o.id) == value,
        }
        check = fields.get(key)
        return check() if check else False

    def group(self, g: ZdGroup, term: Term) -> bool:
        if term.key in (None, "name"):
            return term.value in g.name.lower()
        return term.key == "id" and str(g.id) == term.value

    def matches(self, record: Record, term: Term) -> bool:
        if isinstance(record, ZdTicket):
            hit = self.ticket(record, term)
        elif isinstance(record, ZdUser):
            hit = self.user(record, term)
        elif isinstance(record, ZdOrganization):
            hit = self.organization(record, term)
        else:
            hit = self.group(record, term)
        return hit != term.negate


def search(state: ZendeskState, query: str) -> list[Record]:
    terms = parse(query)
    types = {t.value for t in terms if t.key == "type" and not t.negate}
    filters = [t for t in terms if t.key != "type"]
    pools: dict[str, list[Record]] = {
        "ticket": list(state.tickets.values()),
        "user": list(state.users.values()),
        "organization": list(state.organizations.values()),
        "group": list(state.groups.values()),
    }
    matcher = _Matcher(state)
    return [
        record
        for kind, pool in pools.items()
        if not types or kind in types
        for record in pool
        if all(matcher.matches(record, term) for term in filters)
    ]
