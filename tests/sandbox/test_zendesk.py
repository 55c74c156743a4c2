"""The Zendesk emulator driven by the real zenpy client (and raw HTTP for paging details)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket
from zenpy.lib.exception import APIException, RecordNotFoundException

AUTH = ("automation@cshub.example/token", "sandbox-token")


async def test_get_ticket(http: httpx.AsyncClient, zenpy: Zenpy) -> None:
    ticket = await asyncio.to_thread(zenpy.tickets, id=5001)
    assert ticket.id == 5001
    assert ticket.subject == "Scheduled workflows stopped running after our SSO change"
    assert (ticket.status, ticket.priority, ticket.type) == ("open", "high", "incident")
    assert ticket.tags == ["sso", "scheduler"]
    assert (ticket.organization_id, ticket.requester_id, ticket.group_id) == (9007, 8110, 101)
    assert ticket.created_at.endswith("Z")


async def test_missing_ticket_raises_record_not_found(
    http: httpx.AsyncClient, zenpy: Zenpy
) -> None:
    with pytest.raises(RecordNotFoundException):
        await asyncio.to_thread(zenpy.tickets, id=424242)
    raw = await http.get("/api/v2/tickets/424242.json", auth=AUTH)
    assert raw.status_code == 404
    assert raw.json() == {"error": "RecordNotFound", "description": "Not found"}


async def test_update_with_internal_note_is_recorded(http: httpx.AsyncClient, zenpy: Zenpy) -> None:
    ticket = await asyncio.to_thread(zenpy.tickets, id=5001)
    ticket.priority = "urgent"
    ticket.tags.extend(["cshub-escalated"])
    ticket.comment = Comment(body="SLA breach: escalated to engineering", public=False)
    audit = await asyncio.to_thread(zenpy.tickets.update, ticket)
    assert audit.ticket.priority == "urgent"
    kinds = [e["type"] for e in audit.audit.events]
    assert kinds.count("Comment") == 1 and "Change" in kinds

    [change] = (await http.get("/api/outbox")).json()["ticket_changes"]
    assert change["ticket_id"] == "5001"
    assert change["changes"] == {
        "priority": "urgent",
        "tags": ["sso", "scheduler", "cshub-escalated"],
    }
    assert change["previous"] == {"priority": "high", "tags": ["sso", "scheduler"]}
    assert change["comment"]["body"] == "SLA breach: escalated to engineering"
    assert change["comment"]["public"] is False
    assert change["created"] is False

    fresh = (await http.get("/api/v2/tickets/5001.json", auth=AUTH)).json()["ticket"]
    assert fresh["priority"] == "urgent"


async def test_additional_tags_group_and_validation(http: httpx.AsyncClient) -> None:
    response = await http.put(
        "/api/v2/tickets/5002.json",
        auth=AUTH,
        json={"ticket": {"additional_tags": ["Needs-CSM"], "group_id": 102}},
    )
    assert response.status_code == 200
    assert response.json()["ticket"]["tags"] == ["onboarding", "needs-csm"]
    bad = await http.put(
        "/api/v2/tickets/5002.json",
        auth=AUTH,
        json={"ticket": {"priority": "critical", "group_id": 999}},
    )
    assert bad.status_code == 422
    assert bad.json()["error"] == "RecordInvalid"
    assert set(bad.json()["details"]) == {"priority", "group"}
    changes = (await http.get("/api/outbox")).json()["ticket_changes"]
    assert [c["changes"] for c in changes] == [
        {"tags": ["onboarding", "needs-csm"], "group_id": 102}
    ]


async def test_invalid_update_raises_api_exception(zenpy: Zenpy, http: httpx.AsyncClient) -> None:
    ticket = await asyncio.to_thread(zenpy.tickets, id=5003)
    ticket.status = "archived"
    with pytest.raises(APIException):
        await asyncio.to_thread(zenpy.tickets.update, ticket)


async def test_comments_cursor_paging(http: httpx.AsyncClient, zenpy: Zenpy) -> None:
    for i in range(101):  # the ticket has 1 comment; zenpy asks for pages of 100
        response = await http.put(
            "/api/v2/tickets/5002.json",
            auth=AUTH,
            json={"ticket": {"comment": {"body": f"follow-up {i}", "public": i % 2 == 0}}},
        )
        assert response.status_code == 200
    comments = await asyncio.to_thread(lambda: list(zenpy.tickets.comments(ticket=5002)))
    assert len(comments) == 102
    assert comments[-1].body == "follow-up 100"

    first = (await http.get("/api/v2/tickets/5002/comments.json?page[size]=40", auth=AUTH)).json()
    assert len(first["comments"]) == 40 and first["meta"]["has_more"] is True
    next_url = first["links"]["next"]
    assert next_url.startswith(
        f"{http.base_url}".rstrip("/") + "/api/v2/tickets/5002/comments.json"
    )
    pages = 1
    while next_url:
        page = (await http.get(next_url, auth=AUTH)).json()
        pages += 1
        next_url = page["links"]["next"]
    assert pages == 3 and page["meta"]["has_more"] is False


async def test_create_ticket(http: httpx.AsyncClient, zenpy: Zenpy) -> None:
    audit = await asyncio.to_thread(
        zenpy.tickets.create,
        Ticket(
            subject="Renewal questions",
            comment=Comment(body="Can we move to annual billing?"),
            requester_id=8105,
            priority="normal",
        ),
    )
    ticket = audit.ticket
    assert ticket.id > 5003
    assert (ticket.status, ticket.organization_id) == ("new", 9004)
    [change] = (await http.get("/api/outbox")).json()["ticket_changes"]
    assert change["created"] is True
    assert change["comment"]["body"] == "Can we move to annual billing?"
    assert change["changes"]["priority"] == "normal"


async def test_users_organizations_groups(http: httpx.AsyncClient, zenpy: Zenpy) -> None:
    user = await asyncio.to_thread(zenpy.users, id=8103)
    assert (user.email, user.organization_id, user.role) == (
        "grace.kim@northwind.example.com",
        9003,
        "end-user",
    )
    org = await asyncio.to_thread(zenpy.organizations, id=9003)
    assert (org.name, org.external_id) == ("Northwind Analytics", "1003")
    groups = (await http.get("/api/v2/groups.json", auth=AUTH)).json()["groups"]
    assert [g["name"] for g in groups] == ["Support", "Senior Support", "Engineering"]


async def test_search(http: httpx.AsyncClient, zenpy: Zenpy) -> None:
    users = await asyncio.to_thread(
        lambda: list(zenpy.search(type="user", email="grace.kim@northwind.example.com"))
    )
    assert [u.id for u in users] == [8103]
    open_tickets = await asyncio.to_thread(
        lambda: sorted(t.id for t in zenpy.search(type="ticket", status="open"))
    )
    assert open_tickets == [5001, 5003]
    raw = (
        await http.get(
            "/api/v2/search.json",
            params={"query": "type:ticket status<solved priority>normal -tags:sso"},
            auth=AUTH,
        )
    ).json()
    assert [(r["id"], r["result_type"]) for r in raw["results"]] == [(5003, "ticket")]
    orgs = (
        await http.get(
            "/api/v2/search.json", params={"query": "type:organization external_id:1007"}, auth=AUTH
        )
    ).json()
    assert [o["id"] for o in orgs["results"]] == [9007]
