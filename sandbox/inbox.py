"""The sandbox inbox: the page at ``/`` and the JSON it reads.

``GET /api/outbox`` is the record of everything the hub sent (tests assert on it);
``GET /api/requests`` lists every emulated-API call; ``GET /_sandbox/data`` describes the
current demo data (names for ids, and the endpoints to configure).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.appkeys import INFO, STORE
from sandbox.hubspot_state import HubSpotState
from sandbox.store import Store

JsonDict = dict[str, Any]

PAGE = Path(__file__).with_name("static") / "inbox.html"


async def inbox_page(request: web.Request) -> web.StreamResponse:
    return web.Response(
        text=PAGE.read_text(encoding="utf-8"),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )


async def get_outbox(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[STORE].outbox_json())


async def clear_outbox(request: web.Request) -> web.StreamResponse:
    request.app[STORE].clear_outbox()
    return web.json_response({"ok": True})


async def get_requests(request: web.Request) -> web.StreamResponse:
    """Every emulated-API call, oldest first; ``?limit=N`` keeps the latest N."""
    requests = request.app[STORE].requests_json()
    total = len(requests)
    limit = request.query.get("limit", "")
    if limit.isdigit():
        requests = requests[max(0, total - int(limit)) :]
    return web.json_response(requests, headers={"X-Total-Count": str(total)})


def _owner_name(hubspot: HubSpotState, owner_id: str | None) -> str | None:
    owner = hubspot.owners.get(owner_id or "")
    return None if owner is None else f"{owner.first_name} {owner.last_name}"


def directory(store: Store) -> JsonDict:
    """Current names for the ids the outbox mentions."""
    hubspot, zendesk, slack = store.hubspot, store.zendesk, store.slack
    companies = []
    for company in hubspot.objects["companies"].values():
        props = company.properties
        contact_ids = list(hubspot.associations("companies", company.id, "contacts"))
        primary = hubspot.objects["contacts"].get(contact_ids[0]) if contact_ids else None
        companies.append(
            {
                "id": company.id,
                "name": props.get("name"),
                "domain": props.get("domain"),
                "tier": props.get("cshub_tier"),
                "owner_id": props.get("hubspot_owner_id"),
                "owner_name": _owner_name(hubspot, props.get("hubspot_owner_id")),
                "timezone": props.get("cshub_timezone"),
                "primary_contact": None if primary is None else primary.properties.get("email"),
            }
        )
    contacts = [
        {
            "id": c.id,
            "name": " ".join(
                filter(None, (c.properties.get("firstname"), c.properties.get("lastname")))
            ),
            "email": c.properties.get("email"),
        }
        for c in hubspot.objects["contacts"].values()
    ]
    slack_ids = {o.email: o.slack_user_id for o in store.data.owners}
    return {
        "companies": companies,
        "contacts": contacts,
        "owners": [
            {
                "id": o.id,
                "name": f"{o.first_name} {o.last_name}",
                "email": o.email,
                "slack_user_id": slack_ids.get(o.email),
            }
            for o in hubspot.owners.values()
        ],
        "slack_channels": [{"id": c.id, "name": c.display_name} for c in slack.channels.values()],
        "zendesk_groups": [{"id": g.id, "name": g.name} for g in zendesk.groups.values()],
        "zendesk_agents": [
            {"id": u.id, "name": u.name, "email": u.email}
            for u in zendesk.users.values()
            if u.is_agent
        ],
        "tickets": [
            {
                "id": t.id,
                "subject": t.subject,
                "status": t.status,
                "priority": t.priority,
                "organization": zendesk.organizations[t.organization_id].name
                if t.organization_id in zendesk.organizations
                else None,
                "group": zendesk.groups[t.group_id].name if t.group_id in zendesk.groups else None,
            }
            for t in zendesk.tickets.values()
        ],
    }


async def get_directory(request: web.Request) -> web.StreamResponse:
    info = request.app[INFO]
    body = directory(request.app[STORE])
    body["endpoints"] = {
        "http": info.http_url,
        "hubspot_host": info.http_url,
        "zendesk_netloc": info.http_url.split("://", 1)[-1],
        "slack_base_url": f"{info.http_url}/api/",
        "smtp": f"{info.smtp_host}:{info.smtp_port}",
    }
    return web.json_response(body)


def setup(app: web.Application) -> None:
    app.router.add_get("/", inbox_page)
    app.router.add_get("/api/outbox", get_outbox)
    app.router.add_delete("/api/outbox", clear_outbox)
    app.router.add_get("/api/requests", get_requests)
    app.router.add_get("/_sandbox/data", get_directory)
