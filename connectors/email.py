"""SMTP implementation of :class:`connectors.base.Mailer` (aiosmtplib).

SMTP has no idempotency of its own: a message whose ``250 OK`` was lost is sent again on
retry. What this module guarantees is that both copies carry the same ``Message-ID``
(``<sha256(key)[:32]@sender-domain>``), which mail clients and the sandbox use to spot
duplicates, and an ``X-Cshub-Idempotency-Key`` header for tracing.

Every message is ``multipart/alternative`` (text, then HTML) with ``List-Unsubscribe``;
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` is added when the unsubscribe
header holds an ``https`` URL, as RFC 8058 requires (a mailto alone cannot be one-click).

Failures: connection refused, timeouts, disconnects and 4xx replies are retryable; 5xx
replies (unknown recipient, rejected content, bad credentials) are permanent.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib

from connectors.base import EmailReceipt, OutgoingEmail
from connectors.errors import ConnectorError, PermanentConnectorError, RetryableConnectorError

SYSTEM = "smtp"
TEMPLATE_HEADER = "X-Cshub-Template"
IDEMPOTENCY_HEADER = "X-Cshub-Idempotency-Key"
# Headers the mailer owns; a message may not set them through ``headers``.
_RESERVED = frozenset(
    {
        "from",
        "to",
        "subject",
        "message-id",
        "date",
        "reply-to",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        IDEMPOTENCY_HEADER.lower(),
    }
)


class SmtpMailer:
    """Sends customer e-mail through one SMTP server (a new connection per message)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = None,
        timeout_s: float = 10.0,
        unsubscribe_mailto: str | None = None,
    ) -> None:
        """``sender`` is the From header (``"Name <addr>"`` or ``addr``); ``start_tls=None``
        upgrades when the server offers STARTTLS. ``unsubscribe_mailto`` is the address in
        the default ``List-Unsubscribe`` (the sender's address when not given)."""
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._use_tls = use_tls
        self._start_tls = start_tls
        self._timeout = timeout_s
        _, self._sender_address = parseaddr(sender)
        if "@" not in self._sender_address:
            raise ValueError(f"sender {sender!r} has no e-mail address")
        self._domain = self._sender_address.rsplit("@", 1)[1]
        self._unsubscribe = unsubscribe_mailto or self._sender_address

    def message_id(self, idempotency_key: str) -> str:
        """The Message-ID every attempt of this send uses."""
        digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
        return f"<{digest}@{self._domain}>"

    def build(self, message: OutgoingEmail) -> EmailMessage:
        """The MIME message ``send`` would deliver (public so templates can be previewed)."""
        target = f"to {message.to}, key {message.idempotency_key}"
        extra = dict(message.headers)
        reserved = sorted(k for k in extra if k.lower() in _RESERVED)
        if reserved:
            raise PermanentConnectorError(
                SYSTEM, "send", target, f"headers set by the mailer cannot be given: {reserved}"
            )
        unsubscribe = _pop(extra, "List-Unsubscribe") or (
            f"<mailto:{self._unsubscribe}?subject=unsubscribe>"
        )
        one_click = _pop(extra, "List-Unsubscribe-Post")
        if one_click is None and "<https://" in unsubscribe.lower():
            one_click = "List-Unsubscribe=One-Click"
        msg = EmailMessage()
        try:
            msg["From"] = self._sender
            msg["To"] = message.to
            msg["Subject"] = message.subject
            msg["Date"] = formatdate(localtime=False, usegmt=True)
            msg["Message-ID"] = self.message_id(message.idempotency_key)
            if message.reply_to:
                msg["Reply-To"] = message.reply_to
            msg["List-Unsubscribe"] = unsubscribe
            if one_click:
                msg["List-Unsubscribe-Post"] = one_click
            msg[IDEMPOTENCY_HEADER] = message.idempotency_key
            msg.set_content(message.text)
            msg.add_alternative(message.html, subtype="html")
            # After the body: set_content() drops any Content-* header set before it
            # (e.g. Content-Language).
            for name, value in extra.items():
                msg[name] = value
        except (ValueError, TypeError) as exc:
            # Header injection (CR/LF in a value) or an unparseable address.
            raise PermanentConnectorError(
                SYSTEM, "send", target, f"invalid message: {exc}"
            ) from exc
        return msg

    async def send(self, message: OutgoingEmail) -> EmailReceipt:
        msg = self.build(message)
        target = f"to {message.to}, key {message.idempotency_key}"
        try:
            await aiosmtplib.send(
                msg,
                sender=self._sender_address,
                recipients=[_address(message.to)],
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._use_tls,
                start_tls=self._start_tls,
                timeout=self._timeout,
            )
        except ConnectorError:
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise _from_codes(target, [(r.code, r.message) for r in exc.recipients]) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _from_codes(target, [(exc.code, exc.message)]) from exc
        except ValueError as exc:
            raise PermanentConnectorError(
                SYSTEM, "send", target, f"invalid message: {exc}"
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Refused, timed out, disconnected, TLS trouble: no verdict on the message.
            kind = type(exc).__name__
            raise RetryableConnectorError(SYSTEM, "send", target, f"{kind}: {exc}") from exc
        return EmailReceipt(message_id=str(msg["Message-ID"]))


def _pop(headers: dict[str, str], name: str) -> str | None:
    """Remove and return a header, matching its name case-insensitively."""
    for key in list(headers):
        if key.lower() == name.lower():
            return headers.pop(key)
    return None


def _address(value: str) -> str:
    _, addr = parseaddr(value)
    return addr or value


def _from_codes(target: str, replies: list[tuple[int, str]]) -> ConnectorError:
    """Permanent if any reply is 5xx (it will be refused again), otherwise retryable."""
    text = "; ".join(f"{code} {' '.join(str(msg).split())}" for code, msg in replies)
    code = max((c for c, _ in replies), default=0)
    if code >= 500:
        return PermanentConnectorError(SYSTEM, "send", target, text, status=code)
    return RetryableConnectorError(SYSTEM, "send", target, text, status=code or None)
