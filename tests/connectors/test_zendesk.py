"""ZendeskHelpdesk through the real zenpy client against the sandbox emulator."""

from __future__ import annotations

import asyncio
import time

import pytest

from connectors.errors import NotFoundError, PermanentConnectorError, RetryableConnectorError
from connectors.zendesk import ZendeskHelpdesk
from tests.connectors.connector_sandbox import SandboxClient


async def test_get_ticket(zendesk: ZendeskHelpdesk) -> None:
    ticket = await asyncio.to_thread(zendesk.get_ticket, "5002")
    assert ticket.id == "5002"
    assert ticket.subject == "How do I invite teammates to a shared workspace?"
    assert ticket.status == "new"
    assert ticket.group_id == "101"
    assert "onboarding" in ticket.tags
    assert ticket.created_at is not None
    # The customer is the organisation's external id (the CRM company id).
    assert ticket.organization_id is not None and ticket.customer_id is not None
    assert ticket.customer_id.startswith("10")


async def test_get_user(zendesk: ZendeskHelpdesk) -> None:
    user = await asyncio.to_thread(zendesk.get_user, "8101")
    assert (user.name, user.email) == ("Ana Lopez", "ana.lopez@brightleaf.example.com")
    assert user.organization_id == "9001"
    with pytest.raises(NotFoundError):
        await asyncio.to_thread(zendesk.get_user, "999999")


@pytest.mark.usefixtures("clean_sandbox")  # it edits demo ticket 5001
async def test_update_ticket(zendesk: ZendeskHelpdesk, sandbox_api: SandboxClient) -> None:
    ticket = await asyncio.to_thread(
        lambda: zendesk.update_ticket(
            "5001",
            priority="urgent",
            add_tags=["cshub-escalated"],
            internal_note="SLA breach: escalated to engineering",
        )
    )
    assert ticket.priority == "urgent"
    assert {"sso", "scheduler", "cshub-escalated"} <= set(ticket.tags)
    again = await asyncio.to_thread(zendesk.get_ticket, "5001")
    assert again.priority == "urgent"
    changes = [
        c for c in (await sandbox_api.outbox())["ticket_changes"] if c["ticket_id"] == "5001"
    ]
    assert len(changes) == 1
    assert changes[0]["changes"]["priority"] == "urgent"
    assert changes[0]["comment"]["public"] is False
    assert changes[0]["comment"]["body"] == "SLA breach: escalated to engineering"


async def test_note_and_public_comment_are_two_updates(
    zendesk: ZendeskHelpdesk, sandbox_api: SandboxClient
) -> None:
    await asyncio.to_thread(
        lambda: zendesk.update_ticket("5002", internal_note="private", public_comment="public")
    )
    comments = [
        c["comment"]
        for c in (await sandbox_api.outbox())["ticket_changes"]
        if c["ticket_id"] == "5002" and c.get("comment")
    ][-2:]
    assert [(c["body"], c["public"]) for c in comments] == [("private", False), ("public", True)]


async def test_missing_ticket_is_not_found(zendesk: ZendeskHelpdesk) -> None:
    with pytest.raises(NotFoundError, match=r"zendesk get_ticket\(ticket 999999\): 404"):
        await asyncio.to_thread(zendesk.get_ticket, "999999")


async def test_non_numeric_ticket_id_is_permanent(zendesk: ZendeskHelpdesk) -> None:
    with pytest.raises(PermanentConnectorError, match="not a number"):
        await asyncio.to_thread(zendesk.get_ticket, "abc")


async def test_long_retry_after_fails_fast(
    zendesk: ZendeskHelpdesk, sandbox_api: SandboxClient
) -> None:
    await sandbox_api.fault("zendesk", 429, retry_after=60, path_contains="/tickets/5003")
    started = time.monotonic()
    with pytest.raises(RetryableConnectorError) as info:
        await asyncio.to_thread(zendesk.get_ticket, "5003")
    assert info.value.retry_after == 60
    assert time.monotonic() - started < 2


async def test_500_is_retryable(zendesk: ZendeskHelpdesk, sandbox_api: SandboxClient) -> None:
    await sandbox_api.fault("zendesk", 500, path_contains="/tickets/5003")
    with pytest.raises(RetryableConnectorError):
        await asyncio.to_thread(zendesk.get_ticket, "5003")


async def test_slow_answer_times_out_as_retryable(sandbox_api: SandboxClient) -> None:
    helpdesk = ZendeskHelpdesk(
        "sandbox",
        "agent@sandbox.example",
        "token",
        base_netloc=sandbox_api.url.split("://", 1)[1],
        scheme="http",
        timeout_s=0.3,
    )
    await sandbox_api.fault("zendesk", None, delay_s=1.0, path_contains="/tickets/5004")
    with pytest.raises(RetryableConnectorError, match=r"get_ticket\(ticket 5004\)"):
        await asyncio.to_thread(helpdesk.get_ticket, "5004")


@pytest.mark.usefixtures("clean_sandbox")  # other tests comment on the demo tickets
async def test_first_agent_reply_is_the_first_public_agent_comment(
    zendesk: ZendeskHelpdesk,
) -> None:
    # 5001: the requester's description, then an agent's public answer.
    replied = await asyncio.to_thread(zendesk.first_agent_reply_at, "5001")
    ticket = await asyncio.to_thread(zendesk.get_ticket, "5001")
    assert replied is not None and ticket.created_at is not None
    assert replied > ticket.created_at
    # 5002: only the requester has written.
    assert await asyncio.to_thread(zendesk.first_agent_reply_at, "5002") is None
