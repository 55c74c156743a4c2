"""The SMTP sink: real SMTP in (aiosmtplib), parsed records out (``/api/outbox``)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import httpx

from sandbox.server import SandboxHandle


def _message(message_id: str, subject: str = "Welcome to cshub") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Dana Reyes <dana.reyes@cshub.example>"
    msg["To"] = "Ana Lopez <ana.lopez@brightleaf.example.com>"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["List-Unsubscribe"] = "<https://cshub.example/unsubscribe/abc>"
    msg["X-Cshub-Template"] = "onboarding/welcome"
    msg["X-Cshub-Idempotency-Key"] = "onboarding-1001:day0"
    msg.set_content("Hello Ana,\nwelcome aboard.")
    msg.add_alternative("<p>Hello Ana,<br>welcome <b>aboard</b>.</p>", subtype="html")
    return msg


async def test_message_lands_in_outbox(sandbox: SandboxHandle, http: httpx.AsyncClient) -> None:
    await aiosmtplib.send(
        _message("<day0.1001@cshub.example>"), hostname=sandbox.smtp_host, port=sandbox.smtp_port
    )
    [email] = (await http.get("/api/outbox")).json()["emails"]
    assert email["id"] == 1
    assert email["message_id"] == "<day0.1001@cshub.example>"
    assert email["from"] == "Dana Reyes <dana.reyes@cshub.example>"
    assert email["to"] == ["ana.lopez@brightleaf.example.com"]
    assert email["subject"] == "Welcome to cshub"
    assert email["text"].startswith("Hello Ana,")
    assert "<b>aboard</b>" in email["html"]
    assert email["headers"]["List-Unsubscribe"] == "<https://cshub.example/unsubscribe/abc>"
    assert email["headers"]["X-Cshub-Template"] == "onboarding/welcome"
    assert email["template"] == "onboarding/welcome"
    assert email["idempotency_key"] == "onboarding-1001:day0"
    assert email["duplicate"] is False
    assert email["received_at"].endswith("Z")


async def test_repeated_message_id_is_flagged(
    sandbox: SandboxHandle, http: httpx.AsyncClient
) -> None:
    for subject in ("first", "second"):
        await aiosmtplib.send(
            _message("<same@cshub.example>", subject),
            hostname=sandbox.smtp_host,
            port=sandbox.smtp_port,
        )
    await aiosmtplib.send(
        _message("<other@cshub.example>"), hostname=sandbox.smtp_host, port=sandbox.smtp_port
    )
    emails = (await http.get("/api/outbox")).json()["emails"]
    assert [(e["subject"], e["duplicate"]) for e in emails] == [
        ("first", False),
        ("second", True),
        ("Welcome to cshub", False),
    ]


async def test_plain_text_only_and_login(sandbox: SandboxHandle, http: httpx.AsyncClient) -> None:
    msg = EmailMessage()
    msg["From"] = "success@cshub.example"
    msg["To"] = "grace.kim@northwind.example.com"
    msg["Subject"] = "Plain"
    msg.set_content("just text")
    await aiosmtplib.send(
        msg,
        hostname=sandbox.smtp_host,
        port=sandbox.smtp_port,
        username="any",
        password="any",
    )
    [email] = (await http.get("/api/outbox")).json()["emails"]
    assert (email["text"].strip(), email["html"], email["message_id"]) == ("just text", None, None)
    assert email["template"] is None and email["idempotency_key"] is None
