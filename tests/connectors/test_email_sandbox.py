"""SmtpMailer through real SMTP into the sandbox's outbox."""

from __future__ import annotations

import uuid

from connectors.base import OutgoingEmail
from connectors.email import SmtpMailer
from tests.connectors.connector_sandbox import SandboxClient


async def test_send_lands_in_outbox(mailer: SmtpMailer, sandbox_api: SandboxClient) -> None:
    key = f"test-mail-{uuid.uuid4()}"
    receipt = await mailer.send(
        OutgoingEmail(
            to="ana.lopez@brightleaf.example.com",
            subject="Welcome to cshub",
            text="Hello Ana",
            html="<p>Hello Ana</p>",
            idempotency_key=key,
            headers={"X-Cshub-Template": "onboarding/welcome"},
        )
    )
    emails = [
        e for e in (await sandbox_api.outbox())["emails"] if e["message_id"] == receipt.message_id
    ]
    assert len(emails) == 1
    email = emails[0]
    assert email["subject"] == "Welcome to cshub"
    assert "Hello Ana" in email["text"]
    assert "<p>Hello Ana</p>" in email["html"]
    headers = {k.lower(): v for k, v in email["headers"].items()}
    assert headers["list-unsubscribe"].startswith("<mailto:")
    assert headers["x-cshub-idempotency-key"] == key
    assert email["template"] == "onboarding/welcome"
