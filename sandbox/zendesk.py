"""Zendesk Support ``/api/v2`` endpoints: tickets, comments, tags, users, organizations,
groups and search.

zenpy follows pagination links as given, so every ``links.next`` / ``next_page`` is an
absolute URL built from the request's own Host: point zenpy here with
``ZENPY_FORCE_NETLOC=<host:port>`` and ``ZENPY_FORCE_SCHEME=http``.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from sandbox.appkeys import STORE
from sandbox.errors import zendesk_error
from sandbox.middleware import BadRequest, Handler, basic_auth_user, read_json
from sandbox.store import Store
from sandbox.zendesk_search import RESULT_TYPES, search
from sandbox.zendesk_state import ZdUser, ZendeskError, record_not_found

JsonDict = dict[str, Any]

MAX_PAGE = 100


def _api(handler: Handler) -> Handler:
    """Render ``ZendeskError`` and unreadable bodies the way Zendesk does."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ZendeskError as exc:
            return zendesk_error(exc.status, exc.error, exc.description, exc.details)
        except BadRequest as exc:
            return zendesk_error(400, "InvalidRequest", str(exc))

    return wrapper


def _store(request: web.Request) -> Store:
    return request.app[STORE]


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _id(request: web.Request, key: str = "id") -> int:
    try:
        return int(request.match_info[key])
    except ValueError:
        raise record_not_found() from None


def _actor(request: web.Request) -> ZdUser:
    """The agent the credentials name (``email/token:...``), else the API admin."""
    user = basic_auth_user(request) or ""
    return _store(request).zendesk.api_user(user.split("/", 1)[0] or None)


def _int_query(request: web.Request, name: str, default: int) -> int:
    try:
        return int(request.query.get(name, default))
    except ValueError:
        raise ZendeskError(400, "InvalidPaginationParameter", f"{name} must be a number") from None


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return max(0, int(text.removeprefix("o:")))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ZendeskError(400, "InvalidPaginationParameter", "page[after] is invalid") from None


def paginate(
    request: web.Request, items: list[JsonDict], key: str, *, cursor: bool = True
) -> JsonDict:
    """One page of ``items`` under ``key``: cursor style when ``page[size]``/``page[after]``
    is given (``meta.has_more``, ``links.next``), else offset style (``next_page``)."""
    query = request.query
    if cursor and ("page[size]" in query or "page[after]" in query):
        size = max(1, min(_int_query(request, "page[size]", MAX_PAGE), MAX_PAGE))
        start = _decode_cursor(query.get("page[after]"))
        page = items[start : start + size]
        end = start + len(page)
        has_more = end < len(items)
        after = _encode_cursor(end) if page else None
        next_url = (
            str(request.url.update_query({"page[size]": str(size), "page[after]": after or ""}))
            if has_more
            else None
        )
        return {
            key: page,
            "meta": {
                "has_more": has_more,
                "after_cursor": after,
                "before_cursor": _encode_cursor(start) if page else None,
            },
            "links": {"next": next_url, "prev": None},
        }
    per_page = max(1, min(_int_query(request, "per_page", MAX_PAGE), MAX_PAGE))
    number = max(1, _int_query(request, "page", 1))
    start = (number - 1) * per_page
    page = items[start : start + per_page]

    def page_url(n: int) -> str:
        return str(request.url.update_query({"page": str(n), "per_page": str(per_page)}))

    return {
        key: page,
        "next_page": page_url(number + 1) if start + per_page < len(items) else None,
        "previous_page": page_url(number - 1) if number > 1 else None,
        "count": len(items),
    }


async def _body_of(request: web.Request, key: str) -> Mapping[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise ZendeskError(400, "InvalidRequest", f'Expected a JSON object {{"{key}": {{...}}}}')
    inner: Mapping[str, Any] = body[key]
    return inner


# -- tickets --------------------------------------------------------------------------


@_api
async def list_tickets(request: web.Request) -> web.StreamResponse:
    state = _store(request).zendesk
    base = _base(request)
    tickets = [t.to_json(base) for t in sorted(state.tickets.values(), key=lambda t: t.id)]
    return web.json_response(paginate(request, tickets, "tickets"))


@_api
async def get_ticket(request: web.Request) -> web.StreamResponse:
    ticket = _store(request).zendesk.ticket(_id(request))
    return web.json_response({"ticket": ticket.to_json(_base(request))})


@_api
async def update_ticket(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    fields = await _body_of(request, "ticket")
    change = store.zendesk.update_ticket(_id(request), fields, _actor(request))
    if change.changes or change.comment is not None:
        store.record_ticket_change(change)
    return web.json_response(
        {"ticket": change.ticket.to_json(_base(request)), "audit": change.audit}
    )


@_api
async def create_ticket(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    fields = dict(await _body_of(request, "ticket"))
    if "comment" not in fields and fields.get("description"):
        fields["comment"] = {"body": fields["description"]}  # zenpy's Ticket(description=...)
    change = store.zendesk.create_ticket(fields, _actor(request))
    store.record_ticket_change(change)
    return web.json_response(
        {"ticket": change.ticket.to_json(_base(request)), "audit": change.audit}, status=201
    )


@_api
async def import_ticket(request: web.Request) -> web.StreamResponse:
    """``POST /imports/tickets.json``: a past ticket with its comments (Zendesk's
    ticket import API)."""
    store = _store(request)
    change = store.zendesk.import_ticket(dict(await _body_of(request, "ticket")), _actor(request))
    store.record_ticket_change(change)
    return web.json_response({"ticket": change.ticket.to_json(_base(request))}, status=201)


def _agents(request: web.Request) -> set[int]:
    return {u.id for u in _store(request).zendesk.users.values() if u.is_agent}


@_api
async def list_ticket_metrics(request: web.Request) -> web.StreamResponse:
    """``GET /ticket_metrics.json``: every ticket's metric set, in ticket id order."""
    state = _store(request).zendesk
    agents = _agents(request)
    metrics = [t.metric_json(agents) for t in sorted(state.tickets.values(), key=lambda t: t.id)]
    return web.json_response(paginate(request, metrics, "ticket_metrics"))


@_api
async def ticket_metrics(request: web.Request) -> web.StreamResponse:
    ticket = _store(request).zendesk.ticket(_id(request))
    return web.json_response({"ticket_metric": ticket.metric_json(_agents(request))})


@_api
async def list_comments(request: web.Request) -> web.StreamResponse:
    ticket = _store(request).zendesk.ticket(_id(request))
    comments = [c.to_json() for c in ticket.comments]
    if request.query.get("sort_order") == "desc":
        comments.reverse()
    return web.json_response(paginate(request, comments, "comments"))


@_api
async def ticket_tags(request: web.Request) -> web.StreamResponse:
    """GET lists, PUT adds, POST replaces, DELETE removes (``{"tags": [...]}``)."""
    store = _store(request)
    ticket_id = _id(request)
    ticket = store.zendesk.ticket(ticket_id)
    if request.method != "GET":
        body = await read_json(request)
        tags = body.get("tags") if isinstance(body, dict) else None
        if not isinstance(tags, list):
            raise ZendeskError(400, "InvalidRequest", 'Expected {"tags": [...]}')
        key = {"PUT": "additional_tags", "POST": "tags", "DELETE": "remove_tags"}[request.method]
        change = store.zendesk.update_ticket(ticket_id, {key: tags}, _actor(request))
        if change.changes:
            store.record_ticket_change(change)
    return web.json_response({"tags": list(ticket.tags)})


# -- users, organizations, groups -----------------------------------------------------


@_api
async def get_me(request: web.Request) -> web.StreamResponse:
    return web.json_response({"user": _actor(request).to_json(_base(request))})


@_api
async def get_user(request: web.Request) -> web.StreamResponse:
    user = _store(request).zendesk.user(_id(request))
    return web.json_response({"user": user.to_json(_base(request))})


@_api
async def search_users(request: web.Request) -> web.StreamResponse:
    state = _store(request).zendesk
    query = request.query.get("query", "").lower()
    external_id = request.query.get("external_id")
    users = [
        u.to_json(_base(request))
        for u in state.users.values()
        if (query and (query in u.email.lower() or query in u.name.lower()))
        or (external_id is not None and str(u.id) == external_id)
    ]
    return web.json_response(paginate(request, users, "users", cursor=False))


@_api
async def get_organization(request: web.Request) -> web.StreamResponse:
    org = _store(request).zendesk.organization(_id(request))
    return web.json_response({"organization": org.to_json(_base(request))})


@_api
async def show_many_organizations(request: web.Request) -> web.StreamResponse:
    """``?ids=1,2`` or ``?external_ids=a,b`` (exact), as Zendesk's "Show Many
    Organizations": unknown ids are left out; neither parameter is a 400."""
    ids = {i.strip() for i in request.query.get("ids", "").split(",") if i.strip()}
    external = {e.strip() for e in request.query.get("external_ids", "").split(",") if e.strip()}
    if not ids and not external:
        raise ZendeskError(400, "InvalidParameter", "Provide ids or external_ids")
    orgs = [
        o.to_json(_base(request))
        for o in _store(request).zendesk.organizations.values()
        if str(o.id) in ids or (o.external_id is not None and o.external_id in external)
    ]
    return web.json_response(paginate(request, orgs, "organizations", cursor=False))


@_api
async def list_groups(request: web.Request) -> web.StreamResponse:
    groups = [g.to_json(_base(request)) for g in _store(request).zendesk.groups.values()]
    return web.json_response(paginate(request, groups, "groups"))


@_api
async def get_group(request: web.Request) -> web.StreamResponse:
    group = _store(request).zendesk.group(_id(request))
    return web.json_response({"group": group.to_json(_base(request))})


@_api
async def search_all(request: web.Request) -> web.StreamResponse:
    state = _store(request).zendesk
    base = _base(request)
    records = search(state, request.query.get("query", ""))
    sort_by = request.query.get("sort_by")
    if sort_by in ("created_at", "updated_at", "priority", "status", "ticket_type"):
        attr = "type" if sort_by == "ticket_type" else sort_by
        records.sort(key=lambda r: str(getattr(r, attr, "") or ""))
    if request.query.get("sort_order") == "desc":
        records.reverse()
    results = [{**r.to_json(base), "result_type": RESULT_TYPES[type(r)]} for r in records]
    body = paginate(request, results, "results", cursor=False)
    body["facets"] = None
    return web.json_response(body)


@_api
async def search_count(request: web.Request) -> web.StreamResponse:
    """``GET /search/count.json?query=``: ``{"count": N}``, as ``search.json`` would find."""
    records = search(_store(request).zendesk, request.query.get("query", ""))
    return web.json_response({"count": len(records)})


def setup(app: web.Application) -> None:
    v2 = "/api/v2"
    one = r"{id:\d+}"
    app.router.add_get(f"{v2}/tickets.json", list_tickets)
    app.router.add_post(f"{v2}/tickets.json", create_ticket)
    app.router.add_get(f"{v2}/tickets/{one}.json", get_ticket)
    app.router.add_put(f"{v2}/tickets/{one}.json", update_ticket)
    app.router.add_get(f"{v2}/tickets/{one}/comments.json", list_comments)
    app.router.add_get(f"{v2}/tickets/{one}/metrics.json", ticket_metrics)
    app.router.add_get(f"{v2}/ticket_metrics.json", list_ticket_metrics)
    app.router.add_post(f"{v2}/imports/tickets.json", import_ticket)
    for method in ("GET", "PUT", "POST", "DELETE"):
        app.router.add_route(method, f"{v2}/tickets/{one}/tags.json", ticket_tags)
    app.router.add_get(f"{v2}/users/me.json", get_me)
    app.router.add_get(f"{v2}/users/search.json", search_users)
    app.router.add_get(f"{v2}/users/{one}.json", get_user)
    app.router.add_get(f"{v2}/organizations/show_many.json", show_many_organizations)
    app.router.add_get(f"{v2}/organizations/{one}.json", get_organization)
    app.router.add_get(f"{v2}/groups.json", list_groups)
    app.router.add_get(f"{v2}/groups/{one}.json", get_group)
    app.router.add_get(f"{v2}/search.json", search_all)
    app.router.add_get(f"{v2}/search/count.json", search_count)
