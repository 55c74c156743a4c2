"""``POST /webhooks/inbound-email``: a customer's e-mail, as the mail provider's inbound
parse delivers it (Mailgun's "forward" route shape; SendGrid's Inbound Parse is the same
idea with other field names, put a small adapter in front of it).

The body is ``multipart/form-data`` or ``application/x-www-form-urlencoded`` with:

| field | meaning |
|---|---|
| ``timestamp``, ``token``, ``signature`` | ``signature`` = hex HMAC-SHA256(``INBOUND_EMAIL_SIGNING_KEY``, timestamp + token); refused when older than 5 minutes |
| ``Message-Id`` | the reply's own id (the delivery's dedup key) |
| ``In-Reply-To``, ``References`` | the hub e-mail it answers (its ``Message-ID``, looked up in the action record) |
| ``sender`` or ``from`` | who wrote it (bounces: ``MAILER-DAEMON@…``) |
| ``subject`` | |
| ``stripped-text`` (else ``body-plain``) | the new text; a quoted message below it is cut off |
| ``message-headers`` | JSON list of ``[name, value]``: ``Auto-Submitted``, ``Precedence``, ``X-Autoreply``, ``Content-Type`` … |

Answers: 401 bad or stale signature; 422 missing Message-Id; 202 with the delivery
result otherwise: ``accepted`` (a person's reply: ``CustomerReplyWorkflow`` pauses the
play and tells the CSM), ``ignored`` (an out-of-office or bounce, or a reply to no e-mail
the hub sent: recorded, nothing paused), ``duplicate`` (delivered before).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from activities.action_log import ActionRow, SqlActionStore
from activities.crm_email import reply_reading
from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult, EventSource
from domain.inbound_mail import (
    AUTO_REPLY,
    BOUNCE,
    CUSTOMER_REPLY,
    ReplyKind,
    classify,
    referenced_ids,
    reply_key,
)
from webhooks.intake import Intake

log = logging.getLogger("cshub.webhooks.inbound_mail")

MAX_BODY_BYTES = 1024 * 1024
TOLERANCE_S = 300
INBOUND_PATH = "/webhooks/inbound-email"


def sign_inbound(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def _form(content_type: str, body: bytes) -> dict[str, str]:
    """The form's fields (first value of each; files ignored)."""
    if content_type.lower().startswith("multipart/form-data"):
        message = email.message_from_bytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
        )
        fields: dict[str, str] = {}
        for part in message.iter_parts() if message.is_multipart() else []:
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str) or part.get_filename():
                continue
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                fields.setdefault(name, payload.decode("utf-8", "replace"))
        return fields
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _headers(raw: str) -> dict[str, str]:
    try:
        pairs = json.loads(raw) if raw else []
    except ValueError:
        return {}
    out: dict[str, str] = {}
    if isinstance(pairs, list):
        for pair in pairs:
            if isinstance(pair, list) and len(pair) == 2:
                out.setdefault(str(pair[0]), str(pair[1]))
    return out


def answered_action(db: Path | str, message_ids: list[str]) -> ActionRow | None:
    """The hub e-mail a reply answers: the first referenced Message-ID the action record
    knows."""
    store = SqlActionStore(db)
    try:
        for mid in message_ids:
            row = store.by_ref(mid)
            if row is not None and row.customer_id:
                return row
    finally:
        store.close()
    return None


def add_inbound_mail_route(
    app: FastAPI, key: Callable[[], str], actions_db: Path | str, intake: Intake
) -> None:
    @app.post(
        INBOUND_PATH,
        summary="A customer's e-mail from the mail provider's inbound parse (signed form)",
        status_code=202,
        responses={
            202: {"model": DeliveryResult, "description": "Accepted, ignored or duplicate"},
            401: {"description": "Missing, invalid or stale signature"},
            413: {"description": "Body over 1 MiB"},
            422: {"description": "No Message-Id"},
            503: {"description": "Temporal unreachable: retry later"},
        },
    )
    async def inbound_email(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body_too_large"}, 413)
        form = _form(request.headers.get("content-type", ""), body)
        timestamp, token = form.get("timestamp", ""), form.get("token", "")
        given = form.get("signature", "")
        expected = sign_inbound(key(), timestamp, token)
        if not (timestamp.isdigit() and token and hmac.compare_digest(expected, given)):
            log.warning("rejected inbound e-mail: bad signature")
            return JSONResponse({"error": "invalid_signature", "detail": "bad signature"}, 401)
        if abs(time.time() - int(timestamp)) > TOLERANCE_S:
            return JSONResponse({"error": "invalid_signature", "detail": "stale timestamp"}, 401)
        message_id = form.get("Message-Id") or form.get("message-id") or ""
        if not message_id.strip():
            return JSONResponse({"error": "invalid_payload", "detail": "no Message-Id"}, 422)
        headers = _headers(form.get("message-headers", ""))
        subject = form.get("subject", "")
        sender = form.get("sender") or form.get("from", "")
        kind = classify(headers, subject, sender)
        ids = referenced_ids(
            form.get("In-Reply-To") or headers.get("In-Reply-To", ""),
            form.get("References") or headers.get("References", ""),
        )
        row = answered_action(actions_db, ids) if ids else None
        text = form.get("stripped-text") or form.get("body-plain", "")
        event_type = {
            ReplyKind.PERSON: CUSTOMER_REPLY,
            ReplyKind.AUTO_REPLY: AUTO_REPLY,
            ReplyKind.BOUNCE: BOUNCE,
        }[kind]
        data: dict[str, Any] = {"subject": subject[:200], "source": "inbound_email"}
        if row is not None:
            data.update(play_workflow_id=row.workflow_id, answered_template=row.kind)
            data.update(reply_reading(text, kind))
        elif kind is ReplyKind.PERSON:
            result = DeliveryResult(
                outcome=DeliveryOutcome.IGNORED,
                event_id=message_id,
                type=event_type,
                detail="not a reply to an e-mail the hub sent: nothing paused",
            )
            return JSONResponse(result.model_dump(mode="json"), 202)
        event = CustomerEvent(
            event_id=reply_key(message_id),
            source=EventSource.EMAIL,
            type=event_type,
            customer_id=row.customer_id if row else None,
            occurred_at=datetime.now(UTC),
            data=data,
        )
        # No raw copy kept: the body is a person's e-mail.
        result = await intake.handle(event)
        status = 503 if result.outcome is DeliveryOutcome.UNAVAILABLE else 202
        if result.outcome is DeliveryOutcome.DUPLICATE:
            status = 200
        return JSONResponse(result.model_dump(mode="json"), status)
