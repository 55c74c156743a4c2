"""A customer's e-mail to the hub: a person's reply, an out-of-office, or a bounce.

A person's reply to an automated e-mail pauses that play's nudges for the customer and
tells the CSM with the quote (``workflows/customer_reply.py``). Out-of-office and other
automatic answers (RFC 3834 ``Auto-Submitted``, the common vendor headers, the usual
subjects in English and Spanish) and bounces (delivery status notifications) are
recognised and pause nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

CUSTOMER_REPLY = "mail.customer_reply"
AUTO_REPLY = "mail.auto_reply"
BOUNCE = "mail.bounce"
MAX_QUOTE_CHARS = 500


class ReplyKind(StrEnum):
    PERSON = "person"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"


class CustomerReplyInput(BaseModel):
    """What ``CustomerReplyWorkflow`` acts on (no address, no full body: the quote only)."""

    customer_id: str
    play_workflow_id: str | None = None
    """The workflow whose e-mail was answered: its nudges are paused."""
    answered_template: str | None = None
    subject: str = ""
    quote: str = ""
    received_at: datetime
    source: str = "inbound_email"
    """``inbound_email`` (the mail provider's inbound parse) or ``crm`` (logged in HubSpot)."""
    sentiment: str | None = None
    """The hub's text classifier on the quote (``runtime.text_classifier``): negative,
    neutral or positive; None when not classified."""
    sentiment_score: float | None = None
    signals: list[str] = Field(default_factory=list)
    """Churn-intent signals in the quote (cancellation, competitor, …)."""


class CustomerReplyResult(BaseModel):
    paused: bool
    detail: str
    actions: list[str] = Field(default_factory=list)


CRM_REPLY_WINDOW_DAYS = 30
"""A reply logged in the CRM counts as answering the hub's latest e-mail to the customer
when that e-mail went out at most this many days before (the CRM keeps no In-Reply-To)."""


class CrmEmailEvent(BaseModel):
    """HubSpot told of an e-mail logged on its timeline (``object.creation`` of 0-49)."""

    email_id: str = Field(min_length=1, max_length=40)


class CrmEmailReply(BaseModel):
    """What the logged e-mail is, read from the CRM (``read_crm_email_reply``)."""

    kind: str
    """``person``, ``auto_reply``, ``bounce``, or ``not_incoming`` (sent by the team)."""
    customer_id: str | None = None
    detail: str = ""
    reply: CustomerReplyInput | None = None
    """A person's reply after a hub e-mail: what ``CustomerReplyWorkflow`` acts on."""


def crm_email_workflow_id(email_id: str) -> str:
    return f"crm-email-{email_id}"


def customer_reply_workflow_id(reply_key: str) -> str:
    return f"customer-reply-{reply_key}"


def reply_key(message_id: str) -> str:
    """A short stable key of an inbound message (its Message-Id)."""
    return hashlib.sha256(message_id.strip().encode()).hexdigest()[:24]


_AUTO_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto(matic)?[- ]?reply|autoreply|auto-response"
    r"|away from (the )?office|on vacation|on leave|on holiday"
    r"|fuera de (la )?oficina|respuesta autom[aá]tica|ausencia|ausente|de vacaciones"
    r"|no estar[eé] disponible",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver(able|ed)|delivery status notification|delivery (has )?failed"
    r"|mail delivery (failed|failure|subsystem)|returned mail|failure notice"
    r"|no se (ha )?pu(do|ede) entregar|notificaci[oó]n de estado de (la )?entrega"
    r"|error de entrega|correo devuelto",
    re.IGNORECASE,
)
_BOUNCE_SENDER = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value.strip()
    return ""


def classify(headers: Mapping[str, str], subject: str, sender: str) -> ReplyKind:
    """A bounce, an automatic answer, or a person's reply."""
    address = re.sub(r".*<([^>]*)>.*", r"\1", sender).strip()
    content_type = _header(headers, "Content-Type").lower()
    if (
        _BOUNCE_SENDER.match(address)
        or _header(headers, "Return-Path") == "<>"
        or ("multipart/report" in content_type and "delivery-status" in content_type)
        or _BOUNCE_SUBJECT.search(subject)
    ):
        return ReplyKind.BOUNCE
    auto_submitted = _header(headers, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return ReplyKind.AUTO_REPLY
    if _header(headers, "X-Autoreply") or _header(headers, "X-Autorespond"):
        return ReplyKind.AUTO_REPLY
    if _header(headers, "X-Auto-Response-Suppress").lower() in {"all", "oof"}:
        return ReplyKind.AUTO_REPLY
    if _header(headers, "Precedence").lower() in {"auto_reply", "bulk", "junk"}:
        return ReplyKind.AUTO_REPLY
    if _AUTO_SUBJECT.search(subject):
        return ReplyKind.AUTO_REPLY
    return ReplyKind.PERSON


_QUOTE_INTRO = re.compile(
    r"^(on .+ wrote:|el .+ escribi[oó]:|-----\s*original message\s*-----"
    r"|-----\s*mensaje original\s*-----|from: .+|de: .+)\s*$",
    re.IGNORECASE,
)


def quote_of(text: str) -> str:
    """The new text of a reply: up to the quoted message (``>`` lines, "On … wrote:",
    "El … escribió:"), blank lines folded, at most ``MAX_QUOTE_CHARS`` characters."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith(">") or _QUOTE_INTRO.match(stripped):
            break
        kept.append(stripped)
    quote = re.sub(r"\n{2,}", "\n", "\n".join(kept)).strip()
    if len(quote) > MAX_QUOTE_CHARS:
        quote = quote[: MAX_QUOTE_CHARS - 1].rstrip() + "…"
    return quote


def referenced_ids(in_reply_to: str, references: str) -> list[str]:
    """The Message-IDs a reply refers to, the one it answers first."""
    found: list[str] = []
    for value in (in_reply_to, references):
        for mid in re.findall(r"<[^<>\s]+>", value or ""):
            if mid not in found:
                found.append(mid)
    return found
