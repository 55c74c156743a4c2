"""Create a ticket in the sandbox Zendesk, dated when the test needs it (the emulator
honours ``created_at`` as Zendesk's ticket import API does)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx

from sandbox.server import SandboxHandle


async def create_ticket(
    sandbox: SandboxHandle,
    requester: int,
    priority: str,
    created_at: datetime | None = None,
    *,
    subject: str | None = None,
    text: str = "Our scheduled workflows stopped running.",
) -> str:
    body = {
        "ticket": {
            "subject": subject or f"Test ticket {uuid.uuid4().hex[:6]}",
            "comment": {"body": text},
            "requester_id": requester,
            "priority": priority,
            "created_at": (created_at or datetime.now(UTC)).astimezone(UTC).isoformat(),
        }
    }
    async with httpx.AsyncClient(
        base_url=sandbox.http_url, auth=("automation@cshub.example/token", "sandbox")
    ) as http:
        resp = await http.post("/api/v2/tickets.json", json=body)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["ticket"]["id"])
