"""SmtpMailer: message shape and failure classification against a local aiosmtpd server.

The sandbox's SMTP emulator always accepts mail, so the 4xx/5xx paths are exercised here
with a tiny aiosmtpd handler that refuses chosen recipients.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from connectors.base import OutgoingEmail
from connectors.email import SmtpMailer
from connectors.errors import PermanentConnectorError, RetryableConnectorError


class _Refusing:
    """Accepts mail except for the recipients it is told to refuse with a given reply."""

    def __init__(self) -> None:
        self.replies = {
            "unknown@example.com": "550 5.1.1 No such user here",
            "busy@example.com": "451 4.3.0 Mailbox temporarily unavailable",
        }
        self.received: list[bytes] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.original_content or envelope.content)
        return "250 Message accepted"


@pytest.fixture(scope="module")
async def smtp_server() -> AsyncIterator[tuple[int, _Refusing]]:
    handler = _Refusing()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield port, handler
    server.close()
    await server.wait_closed()


def _email(to: str = "ada@example.com", **headers: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject="Welcome to Acme",
        text="Hello Ada",
        html="<p>Hello Ada</p>",
        idempotency_key="onboarding-1001:welcome",
        headers=dict(headers),
    )


def test_message_shape() -> None:
    mailer = SmtpMailer("127.0.0.1", 25, "Acme Success <success@acme.example>")
    msg = mailer.build(
        _email(**{"X-Cshub-Template": "welcome", "List-Unsubscribe": "<https://acme.example/u>"})
    )
    assert msg["From"] == "Acme Success <success@acme.example>"
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert msg["Message-ID"] == mailer.message_id("onboarding-1001:welcome")
    assert str(msg["Message-ID"]).endswith("@acme.example>")
    assert msg["X-Cshub-Idempotency-Key"] == "onboarding-1001:welcome"
    assert msg["X-Cshub-Template"] == "welcome"
    assert msg["List-Unsubscribe"] == "<https://acme.example/u>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_default_unsubscribe_is_a_mailto_without_one_click() -> None:
    mailer = SmtpMailer("h", 25, "success@acme.example", unsubscribe_mailto="unsub@acme.example")
    msg = mailer.build(_email())
    assert msg["List-Unsubscribe"] == "<mailto:unsub@acme.example?subject=unsubscribe>"
    assert msg["List-Unsubscribe-Post"] is None


def test_reserved_headers_and_header_injection_are_permanent() -> None:
    mailer = SmtpMailer("h", 25, "success@acme.example")
    with pytest.raises(PermanentConnectorError, match="message-id"):
        mailer.build(_email(**{"message-id": "<x@y>"}))
    with pytest.raises(PermanentConnectorError, match="invalid message"):
        mailer.build(_email().model_copy(update={"subject": "Hi\r\nBcc: all@example.com"}))


async def test_send_delivers(smtp_server: tuple[int, _Refusing]) -> None:
    port, handler = smtp_server
    mailer = SmtpMailer("127.0.0.1", port, "success@acme.example", timeout_s=5)
    receipt = await mailer.send(_email())
    received = message_from_bytes(handler.received[-1], policy=policy.default)
    assert received["Message-ID"] == receipt.message_id


async def test_5xx_recipient_is_permanent(smtp_server: tuple[int, _Refusing]) -> None:
    port, _ = smtp_server
    mailer = SmtpMailer("127.0.0.1", port, "success@acme.example", timeout_s=5)
    with pytest.raises(PermanentConnectorError) as info:
        await mailer.send(_email(to="unknown@example.com"))
    assert info.value.status == 550
    assert "smtp send(to unknown@example.com" in str(info.value)


async def test_4xx_recipient_is_retryable(smtp_server: tuple[int, _Refusing]) -> None:
    port, _ = smtp_server
    mailer = SmtpMailer("127.0.0.1", port, "success@acme.example", timeout_s=5)
    with pytest.raises(RetryableConnectorError) as info:
        await mailer.send(_email(to="busy@example.com"))
    assert info.value.status == 451


async def test_closed_port_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mailer = SmtpMailer("127.0.0.1", port, "success@acme.example", timeout_s=2)
    with pytest.raises(RetryableConnectorError, match="smtp send"):
        await mailer.send(_email())
