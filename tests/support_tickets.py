"""Tickets in any state and age in the sandbox Zendesk, for support-figure tests: the
emulator takes ``status``, ``tags`` and ``created_at`` at creation (as Zendesk's ticket
import API does); an imported ticket was last updated when it was created."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx

AUTH = ("automation@cshub.example/token", "sandbox")


async def add_ticket(
    sandbox_url: str,
    requester: int,
    *,
    created_at: datetime,
    priority: str | None = "normal",
    status: str = "open",
    tags: Sequence[str] = (),
) -> str:
    body = {
        "ticket": {
            "subject": f"Support figures {uuid.uuid4().hex[:6]}",
            "comment": {"body": "Something is not working."},
            "requester_id": requester,
            "priority": priority,
            "status": status,
            "tags": list(tags),
            "created_at": created_at.astimezone(UTC).isoformat(),
        }
    }
    async with httpx.AsyncClient(base_url=sandbox_url, auth=AUTH) as http:
        resp = await http.post("/api/v2/tickets.json", json=body)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["ticket"]["id"])


async def set_status(sandbox_url: str, ticket_id: str, status: str) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url, auth=AUTH) as http:
        resp = await http.put(
            f"/api/v2/tickets/{ticket_id}.json", json={"ticket": {"status": status}}
        )
        resp.raise_for_status()
