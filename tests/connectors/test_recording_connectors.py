"""The in-memory recorders behave like the real connectors promise to."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from connectors.base import Chat, Crm, Helpdesk, Mailer, OutgoingEmail
from connectors.errors import NotFoundError
from connectors.recording import (
    ActionLog,
    RecordingChat,
    RecordingCrm,
    RecordingHelpdesk,
    RecordingMailer,
)

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def test_recorders_satisfy_the_protocols() -> None:
    log = ActionLog()
    crm: Crm = RecordingCrm(log)
    helpdesk: Helpdesk = RecordingHelpdesk(log)
    chat: Chat = RecordingChat(log)
    mailer: Mailer = RecordingMailer(log)
    assert all(x is not None for x in (crm, helpdesk, chat, mailer))


def test_any_company_exists_with_owner_and_contact() -> None:
    crm = RecordingCrm()
    company = crm.get_company("42")
    assert company.name == "Company 42"
    assert company.owner_id == "owner-1"
    assert crm.get_owner("owner-1").email
    contact = crm.get_primary_contact("42")
    assert contact is not None and contact.email.endswith("@example.com")


def test_missing_company_raises_not_found() -> None:
    crm = RecordingCrm(missing={"9"})
    with pytest.raises(NotFoundError, match="company 9"):
        crm.get_company("9")


async def test_shared_log_orders_actions_and_honours_keys() -> None:
    log = ActionLog(clock=lambda: T0)
    crm, chat, mailer, helpdesk = (
        RecordingCrm(log),
        RecordingChat(log),
        RecordingMailer(log),
        RecordingHelpdesk(log),
    )
    first = crm.create_task(
        company_id="1",
        subject="Call them",
        body="b",
        due_at=T0,
        owner_id=None,
        priority="HIGH",
        idempotency_key="k-task",
    )
    again = crm.create_task(
        company_id="1",
        subject="Call them",
        body="b",
        due_at=T0,
        owner_id=None,
        priority="HIGH",
        idempotency_key="k-task",
    )
    assert first.created and not again.created and first.id == again.id
    crm.create_note(company_id="1", body="A note", timestamp=T0, idempotency_key="k-note")
    ref = await chat.post_message(
        channel="cs-alerts", text="Alert\nmore", blocks=None, idempotency_key="k-slack"
    )
    ref2 = await chat.post_message(
        channel="cs-alerts", text="Alert", blocks=None, idempotency_key="k-slack"
    )
    assert ref.created and not ref2.created and ref.ts == ref2.ts
    email = OutgoingEmail(
        to="a@b.example",
        subject="Welcome",
        text="t",
        html="<p>t</p>",
        idempotency_key="k-mail",
        headers={"X-Cshub-Template": "welcome"},
    )
    r1 = await mailer.send(email)
    r2 = await mailer.send(email)
    assert r1 == r2
    ticket = helpdesk.update_ticket("7", priority="high", add_tags=["vip"], internal_note="n")
    assert ticket.priority == "high" and "vip" in ticket.tags
    assert helpdesk.get_ticket("7").tags == ["vip"]

    assert [a.channel for a in log.actions] == [
        "crm_task",
        "crm_note",
        "slack",
        "email",
        "ticket_update",
    ]
    assert crm.actions == log.actions
    assert log.actions[2].summary == "Alert more"
    assert log.actions[3].template == "welcome"
    assert all(a.at == T0 for a in log.actions)


async def test_concurrent_creates_record_once() -> None:
    crm = RecordingCrm()

    def create() -> bool:
        return crm.create_note(
            company_id="1", body="x", timestamp=T0, idempotency_key="same"
        ).created

    results = await asyncio.gather(*(asyncio.to_thread(create) for _ in range(20)))
    assert results.count(True) == 1
    assert len(crm.actions) == 1
