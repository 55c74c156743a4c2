"""A real SMTP server that delivers nowhere: every message is parsed and recorded.

Runs in aiosmtpd's own thread (``Controller``). Any AUTH credentials are accepted so a
mailer configured with a username/password works unchanged; nothing is relayed.
"""

from __future__ import annotations

import asyncio
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from sandbox.store import Store

JsonDict = dict[str, Any]


def parse_email(raw: bytes, mail_from: str, rcpt_tos: list[str]) -> JsonDict:
    """The outbox fields of one message (``id``/``received_at``/``duplicate`` added by the store)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    headers: dict[str, str] = {}
    for name, value in message.items():
        headers[name] = f"{headers[name]}\n{value}" if name in headers else str(value)
    recipients = [
        addr for _, addr in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
    ]
    return {
        "message_id": (str(message["Message-ID"]).strip() or None)
        if message["Message-ID"]
        else None,
        "from": str(message["From"] or mail_from),
        "to": [a for a in recipients if a] or list(rcpt_tos),
        "envelope_from": mail_from,
        "envelope_to": list(rcpt_tos),
        "subject": str(message["Subject"] or ""),
        "text": _part(message, "plain"),
        "html": _part(message, "html"),
        "headers": headers,
        "template": _header(message, "X-Cshub-Template"),
        "idempotency_key": _header(message, "X-Cshub-Idempotency-Key"),
    }


def _header(message: EmailMessage, name: str) -> str | None:
    value = message[name]
    return None if value is None else str(value)


def _part(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


class _Recorder:
    """aiosmtpd handler: record each accepted message in the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        self._store.record_email(parse_email(data, envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def _accept_any_login(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    return AuthResult(success=True)


class _Controller(Controller):
    """Controller that supports port 0: the bound port is read back before use."""

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpSink:
    def __init__(self, store: Store, host: str = "127.0.0.1", port: int = 1025) -> None:
        self._controller = _Controller(
            _Recorder(store),
            hostname=host,
            port=port,
            authenticator=_accept_any_login,
            auth_require_tls=False,
            enable_SMTPUTF8=True,
            ready_timeout=10.0,
        )

    @property
    def host(self) -> str:
        return str(self._controller.hostname)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> None:
        """Blocking (a few milliseconds): call via ``asyncio.to_thread`` from async code."""
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
