"""Zendesk implementation of :class:`connectors.base.Helpdesk` (zenpy 2).

Blocking (``requests`` underneath): call it from synchronous activities on a thread pool.

Pointing at an emulator
    zenpy builds every URL from ``{subdomain}.zendesk.com`` unless the environment variables
    ``ZENPY_FORCE_NETLOC`` / ``ZENPY_FORCE_SCHEME`` are set, which it reads at every request.
    Passing ``base_netloc`` sets them, so it is **process-wide**: every zenpy client in
    the process then talks to that host. That is what a sandbox run wants, and production
    never passes ``base_netloc``.

Rate limits
    On a 429 with ``Retry-After`` zenpy sleeps and retries by itself, spending at most
    ``ratelimit_budget_s`` per call (zenpy spends its budget over the client's whole life,
    so it is refilled before every call here). A 429 asking for a longer wait than the
    budget left fails at once - a response hook raises before zenpy starts sleeping -
    as a retryable error carrying ``retry_after``, so Temporal waits instead of a thread.

Comments
    ``internal_note`` becomes a private comment (``public: false``), ``public_comment`` a
    public one. Zendesk takes one comment per update, so when both are given the ticket is
    updated twice (field changes and the note first). Comments are not deduplicated: an
    activity that retries after an update whose answer was lost may add the comment again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar, Unpack

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment as ZComment
from zenpy.lib.api_objects import Ticket as ZTicket
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded

from connectors.base import (
    CRITICAL_PRIORITIES,
    CSAT_ANSWERED_TAG,
    CSAT_SATISFIED_MIN,
    CSAT_WINDOW_DAYS,
    SUPPORT_LOAD_WINDOW_DAYS,
    HelpdeskUser,
    LoadOptions,
    SupportLoad,
    Ticket,
    TicketUpdate,
    csat_score_from_tags,
)
from connectors.errors import (
    ActivityCancelled,
    ConnectorError,
    PermanentConnectorError,
    RetryableConnectorError,
)
from connectors.http_errors import (
    classify_http,
    parse_retry_after,
    reading_response,
    transport_error,
    unexpected_error,
)
from domain.executive_report import TicketFacts

SYSTEM = "zendesk"

T = TypeVar("T")


class ZendeskHelpdesk:
    """Support tickets through the Zendesk v2 API."""

    def __init__(
        self,
        subdomain: str,
        email: str,
        token: str,
        base_netloc: str | None = None,
        scheme: str = "https",
        timeout_s: float = 10.0,
        ratelimit_budget_s: float = 30.0,
    ) -> None:
        if base_netloc:
            os.environ["ZENPY_FORCE_NETLOC"] = base_netloc
            os.environ["ZENPY_FORCE_SCHEME"] = scheme
        self._budget = int(ratelimit_budget_s)
        # The object cache would answer get_ticket from memory after the first read, which
        # is exactly wrong for a record other people edit all day.
        self._client = Zenpy(
            subdomain=subdomain,
            email=email,
            token=token,
            timeout=timeout_s,
            ratelimit_budget=self._budget,
            disable_cache=True,
        )
        self._client.tickets.session.hooks["response"].append(self._fail_fast_on_long_wait)

    def _fail_fast_on_long_wait(
        self, response: requests.Response, *args: Any, **kwargs: Any
    ) -> None:
        """Stop zenpy from sleeping through a Retry-After longer than the budget left."""
        if response.status_code != 429:
            return
        value = response.headers.get("Retry-After", "")
        wait = parse_retry_after(value)
        left = self._client.tickets.ratelimit_budget
        if wait is None or not value.strip().isdigit() or left is None or wait >= left:
            raise _LongRateLimit(response)

    def get_ticket(self, ticket_id: str) -> Ticket:
        number = _ticket_number("get_ticket", ticket_id)
        ticket = self._call("get_ticket", ticket_id, lambda: self._client.tickets(id=number))
        converted = _to_ticket("get_ticket", ticket_id, ticket)
        if converted.organization_id is None:
            return converted
        org_number = _as_int("get_ticket", ticket_id, "organization_id", converted.organization_id)
        org = self._call(
            "get_organization",
            ticket_id,
            lambda: self._client.organizations(id=org_number),
            target=f"organization {converted.organization_id}",
        )
        external = getattr(org, "external_id", None)
        return converted.model_copy(update={"customer_id": str(external) if external else None})

    def get_user(self, user_id: str) -> HelpdeskUser:
        number = _as_int("get_user", user_id, "user id", user_id)
        user = self._call(
            "get_user", user_id, lambda: self._client.users(id=number), target=f"user {user_id}"
        )
        with reading_response(SYSTEM, "get_user", f"user {user_id}"):
            return HelpdeskUser(
                id=str(user.id),
                name=user.name or "",
                email=user.email or None,
                organization_id=_opt_str(user.organization_id),
            )

    def first_agent_reply_at(self, ticket_id: str) -> datetime | None:
        """The first public comment whose author is an agent or admin (the requester's
        own description and internal notes do not count)."""
        number = _ticket_number("first_agent_reply_at", ticket_id)

        def scan() -> datetime | None:
            roles: dict[int, str] = {}
            for comment in self._client.tickets.comments(ticket=number):
                if not comment.public or comment.author_id is None:
                    continue
                author = int(comment.author_id)
                if author not in roles:
                    roles[author] = str(self._client.users(id=author).role or "")
                if roles[author] in ("agent", "admin"):
                    return _parse_time(comment.created_at)
            return None

        return self._call("first_agent_reply_at", ticket_id, scan)

    def update_ticket(self, ticket_id: str, **change: Unpack[TicketUpdate]) -> Ticket:
        """Change the given fields only; tags are added (``additional_tags``), never replaced."""
        number = _ticket_number("update_ticket", ticket_id)
        changes = ZTicket(id=number)
        changed = False
        priority, add_tags = change.get("priority"), change.get("add_tags")
        group_id = change.get("group_id")
        if priority is not None:
            changes.priority = priority
            changed = True
        if add_tags:
            changes.additional_tags = list(add_tags)
            changed = True
        if group_id is not None:
            changes.group_id = _as_int("update_ticket", ticket_id, "group_id", group_id)
            changed = True
        updates: list[Any] = []
        comments = ((change.get("internal_note"), False), (change.get("public_comment"), True))
        for body, public in comments:
            if body:
                # The first comment rides along with the field changes; a second needs its
                # own update because Zendesk takes one comment per update.
                update = ZTicket(id=number) if updates else changes
                update.comment = ZComment(body=body, public=public)
                updates.append(update)
        if changed and not updates:
            updates.append(changes)
        if not updates:
            return self.get_ticket(ticket_id)
        result: Any = None
        for update in updates:
            result = self._call(
                "update_ticket", ticket_id, partial(self._client.tickets.update, update)
            )
        return _to_ticket("update_ticket", ticket_id, getattr(result, "ticket", result))

    def support_load(self, customer_id: str, **options: Unpack[LoadOptions]) -> SupportLoad:
        """Counted with Zendesk search (``GET /search/count.json``; the CSAT answers with
        ``GET /search.json``), per organisation whose external id is ``customer_id``
        (``GET /organizations/show_many.json?external_ids=``). Zendesk's search index lags a
        few minutes behind ticket changes: a ticket created or solved just now may not be
        counted yet. Zendesk stores times to the second, so ``created>T-1s`` is
        ``created>=T`` without relying on ``>=``."""
        critical_priorities = options.get("critical_priorities", CRITICAL_PRIORITIES)
        as_of = (options.get("now") or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        target = f"customer {customer_id}"
        org_ids = self._organizations_of("support_load", customer_id)
        window = timedelta(days=SUPPORT_LOAD_WINDOW_DAYS)
        second = timedelta(seconds=1)
        last_from, prev_from = as_of - window, as_of - 2 * window
        critical = sorted({p.strip().lower() for p in critical_priorities if p.strip()})
        counts = {"open": 0, "critical": 0, "last": 0, "prev": 0}
        answers = satisfied = 0
        for org in org_ids:
            base = f"type:ticket organization:{org}"
            queries = {
                "open": [f"{base} status<solved"],
                "critical": [f"{base} status<solved priority:{p}" for p in critical],
                "last": [f"{base} created>{_zd_time(last_from - second)}"],
                "prev": [
                    f"{base} created>{_zd_time(prev_from - second)} created<{_zd_time(last_from)}"
                ],
            }
            for name, texts in queries.items():
                for text in texts:
                    counts[name] += self._count(customer_id, text)
            since = _zd_time(as_of - timedelta(days=CSAT_WINDOW_DAYS) - second)
            rated = f"{base} tags:{CSAT_ANSWERED_TAG} updated>{since}"
            tickets = self._call(
                "support_load", customer_id, partial(self._search, rated), target=target
            )
            with reading_response(SYSTEM, "support_load", target):
                scores = [csat_score_from_tags(list(t.tags or [])) for t in tickets]
            answers += sum(1 for s in scores if s is not None)
            satisfied += sum(1 for s in scores if s is not None and s >= CSAT_SATISFIED_MIN)
        return SupportLoad(
            customer_id=customer_id,
            as_of=as_of,
            organizations=len(org_ids),
            open_tickets=counts["open"],
            critical_open=counts["critical"],
            created_last_30d=counts["last"],
            created_prev_30d=counts["prev"],
            csat_answers=answers,
            csat_satisfied=satisfied,
        )

    def ticket_facts(
        self, since: datetime, until: datetime, *, customer_id: str | None = None
    ) -> list[TicketFacts]:
        """Every ticket created in ``since <= t < until`` with its customer (the
        organisation's external id), CSAT score (the hub's tag) and metric set (replies,
        reply and full resolution times). For the executive report (every customer): one
        search, the organisations by id, and the metric sets listed
        (``GET /ticket_metrics.json``). For one ``customer_id`` (the support refresh's SLA
        figures): a search per organisation whose external id it is, and each ticket's
        metric set (``GET /tickets/{id}/metrics.json``); no organisation, no tickets."""
        second = timedelta(seconds=1)
        query = f"type:ticket created>{_zd_time(since - second)} created<{_zd_time(until)}"
        operation = "ticket_facts"
        if customer_id is None:
            target, queries = "executive report", [query]
        else:
            target = f"customer {customer_id}"
            queries = [
                f"{query} organization:{org}"
                for org in self._organizations_of(operation, customer_id)
            ]
        found = [
            z
            for text in queries
            for z in self._call(operation, "", partial(self._search, text), target=target)
        ]
        with reading_response(SYSTEM, operation, target):
            tickets = [_convert(z) for z in found]
        org_ids = sorted({int(t.organization_id) for t in tickets if t.organization_id})
        customers: dict[str, str] = {}
        if customer_id is not None:
            customers = {str(org): customer_id for org in org_ids}
        elif org_ids:
            orgs = self._call(
                operation,
                "",
                lambda: list(self._client.organizations(ids=org_ids)),
                target=target,
            )
            with reading_response(SYSTEM, operation, target):
                customers = {str(o.id): str(o.external_id) for o in orgs if o.external_id}
        wanted = {t.id for t in tickets}
        listed: list[Any] = []
        if customer_id is not None:
            listed = [
                self._call(
                    operation, t.id, partial(self._client.tickets.metrics, int(t.id)), target=target
                )
                for t in tickets
            ]
        elif wanted:
            listed = self._call(
                operation, "", lambda: list(self._client.ticket_metrics()), target=target
            )
        facts = []
        with reading_response(SYSTEM, operation, target):
            metrics = {str(m.ticket_id): m for m in listed if str(m.ticket_id) in wanted}
            for t in tickets:
                m = metrics.get(t.id)
                facts.append(
                    TicketFacts(
                        id=t.id,
                        customer_id=customers.get(t.organization_id or ""),
                        created_at=t.created_at or since,
                        status=t.status,
                        priority=t.priority,
                        tags=t.tags,
                        replies=None if m is None else m.replies,
                        reply_minutes=_calendar(m, "reply_time_in_minutes"),
                        resolution_minutes=_calendar(m, "full_resolution_time_in_minutes"),
                        csat_score=csat_score_from_tags(t.tags),
                    )
                )
        return facts

    def _organizations_of(self, operation: str, customer_id: str) -> list[int]:
        """The ids of the helpdesk organisations whose external id is ``customer_id``
        (``GET /organizations/show_many.json?external_ids=``)."""
        target = f"customer {customer_id}"
        orgs = self._call(
            operation,
            customer_id,
            lambda: list(self._client.organizations(external_ids=[customer_id])),
            target=target,
        )
        with reading_response(SYSTEM, operation, target):
            return sorted({int(o.id) for o in orgs})

    def _search(self, query: str) -> list[Any]:
        """Every result of a search (zenpy follows ``next_page``)."""
        return list(self._client.search(query=query))

    def _count(self, customer_id: str, query: str) -> int:
        target = f"customer {customer_id}"
        found = self._call(
            "support_load",
            customer_id,
            lambda: self._client.search.count(query=query),
            target=target,
        )
        with reading_response(SYSTEM, "support_load", target):
            return int(found)

    def _call(
        self, operation: str, ticket_id: str, fn: Callable[[], T], target: str | None = None
    ) -> T:
        """Run one zenpy call with a full rate-limit budget; let only ConnectorErrors out."""
        target = target or f"ticket {ticket_id}"
        # zenpy decrements this for every second it sleeps and never refills it.
        self._client.tickets.ratelimit_budget = self._budget
        try:
            return fn()
        except (ConnectorError, ActivityCancelled):
            raise
        except _LongRateLimit as exc:
            r = exc.response
            raise classify_http(
                SYSTEM, operation, target, r.status_code, r.headers, r.content
            ) from exc
        except RatelimitBudgetExceeded as exc:
            raise RetryableConnectorError(
                SYSTEM,
                operation,
                target,
                f"429 rate limited for longer than the {self._budget} s budget",
                status=429,
            ) from exc
        except (APIException, requests.HTTPError) as exc:
            response = getattr(exc, "response", None)
            if response is None:
                raise unexpected_error(SYSTEM, operation, target, exc) from exc
            raise classify_http(
                SYSTEM, operation, target, response.status_code, response.headers, response.content
            ) from exc
        except (requests.RequestException, OSError) as exc:
            raise transport_error(SYSTEM, operation, target, exc) from exc
        except Exception as exc:
            raise unexpected_error(SYSTEM, operation, target, exc) from exc


class _LongRateLimit(Exception):
    """Raised from the response hook: a 429 we will not sleep through in-process."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"429 Retry-After {response.headers.get('Retry-After')!r}")
        self.response = response


def _ticket_number(operation: str, ticket_id: str) -> int:
    return _as_int(operation, ticket_id, "ticket id", ticket_id)


def _as_int(operation: str, ticket_id: str, what: str, value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PermanentConnectorError(
            SYSTEM, operation, f"ticket {ticket_id}", f"{what} {value!r} is not a number"
        ) from None


def _to_ticket(operation: str, ticket_id: str, z: Any) -> Ticket:
    with reading_response(SYSTEM, operation, f"ticket {ticket_id}"):
        return _convert(z)


def _convert(z: Any) -> Ticket:
    return Ticket(
        id=str(z.id),
        subject=z.subject or z.raw_subject or "",
        description=getattr(z, "description", None) or "",
        status=z.status or "new",
        priority=z.priority,
        requester_id=_opt_str(z.requester_id),
        assignee_id=_opt_str(z.assignee_id),
        organization_id=_opt_str(z.organization_id),
        group_id=_opt_str(z.group_id),
        tags=list(z.tags or []),
        created_at=_parse_time(z.created_at),
        updated_at=_parse_time(z.updated_at),
    )


def _calendar(metric: Any, name: str) -> int | None:
    """A metric set's ``{"calendar": minutes, "business": minutes}`` calendar value."""
    if metric is None:
        return None
    value = getattr(metric, name, None)
    minutes = value.get("calendar") if isinstance(value, dict) else None
    return int(minutes) if isinstance(minutes, int | float) else None


def _zd_time(moment: datetime) -> str:
    """A search value Zendesk reads as that UTC instant: ``2026-10-01T12:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
