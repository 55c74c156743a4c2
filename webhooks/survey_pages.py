"""The small HTML pages a survey click answers with, in the reader's language, and how a
click's answer reaches its workflow.

A survey link is clicked in a browser, so the page follows the browser's
``Accept-Language`` (the e-mail went out in the contact's language; the person clicking
reads the page). English when no listed language is one we have.

A verified click is stored in the hub's intake queue like a webhook (durable intake,
webhooks/ledger.py) and forwarded to its workflow from there: the person reads "thank you"
once the answer is stored, even while Temporal is down, and the answer reaches the survey
once Temporal is back (once: a second click on the same e-mail is a duplicate). When the
forwarder answers quickly (:data:`ANSWER_WAIT_S`), the page names what became of it (the
survey closed, already recorded).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from domain.events import CustomerEvent, EventSource
from templates.renderer import DEFAULT_LANGUAGE, primary_language
from webhooks.ledger import RawDelivery

SURVEY_KIND = "survey"
"""The stored payload of a click: the event the verified link made (webhooks/replay.py)."""
ANSWER_WAIT_S = 2.0
"""How long a survey page waits for the embedded forwarder's first attempt before it says
"thank you" for a stored answer."""


def survey_delivery(event: CustomerEvent) -> RawDelivery:
    """What is stored for a verified click (or comment): the event itself, as JSON. Its
    link's signature was checked when it was clicked; the forwarder reads it back."""
    return RawDelivery(SURVEY_KIND, event.model_dump_json().encode())


def survey_event(
    event_id: str, event_type: str, customer_id: str | None, data: dict[str, Any]
) -> CustomerEvent:
    """A survey answer's event (a click, a comment, a form's answers), received now."""
    return CustomerEvent(
        event_id=event_id,
        source=EventSource.SURVEY,
        type=event_type,
        customer_id=customer_id,
        occurred_at=datetime.now(UTC),
        data=data,
    )


class Page(StrEnum):
    THANKS = "thanks"
    ALREADY_RECORDED = "already_recorded"
    CLOSED = "closed"
    TRY_AGAIN = "try_again"
    INVALID_LINK = "invalid_link"
    EXPIRED_LINK = "expired_link"


TEXTS: dict[str, dict[Page, tuple[str, str]]] = {
    "en": {
        Page.THANKS: ("Thank you", "Your answer helps us do better. You can close this page."),
        Page.ALREADY_RECORDED: (
            "Your answer was already recorded",
            "Thank you: we already have your answer to this survey, so this click changed "
            "nothing. You can close this page.",
        ),
        Page.CLOSED: (
            "This survey is closed",
            "Thank you for taking the time. This survey no longer takes answers.",
        ),
        Page.TRY_AGAIN: (
            "Please try again in a minute",
            "We could not record your answer just now.",
        ),
        Page.INVALID_LINK: ("This link is not valid", "Please use the link from our e-mail."),
        Page.EXPIRED_LINK: (
            "This link has expired",
            "Thank you all the same: this survey has closed.",
        ),
    },
    "es": {
        Page.THANKS: (
            "Gracias",
            "Su respuesta nos ayuda a mejorar. Puede cerrar esta página.",
        ),
        Page.ALREADY_RECORDED: (
            "Su respuesta ya estaba registrada",
            "Gracias: ya tenemos su respuesta a esta encuesta, así que este clic no cambió "
            "nada. Puede cerrar esta página.",
        ),
        Page.CLOSED: (
            "Esta encuesta está cerrada",
            "Gracias por su tiempo. Esta encuesta ya no admite respuestas.",
        ),
        Page.TRY_AGAIN: (
            "Vuelva a intentarlo en un minuto",
            "No hemos podido registrar su respuesta en este momento.",
        ),
        Page.INVALID_LINK: (
            "Este enlace no es válido",
            "Utilice el enlace de nuestro correo electrónico.",
        ),
        Page.EXPIRED_LINK: (
            "Este enlace ha caducado",
            "Gracias de todos modos: esta encuesta ya está cerrada.",
        ),
    },
}


def page_language(accept_language: str | None) -> str:
    """The first language of an ``Accept-Language`` header (by its q values, then its
    order) that has texts here; English otherwise. Malformed parts are skipped."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag.strip() and tag.strip() != "*" and q > 0:
            ranked.append((-q, position, primary_language(tag)))
    for _, _, language in sorted(ranked):
        if language in TEXTS:
            return language
    return DEFAULT_LANGUAGE


def render_page(page: Page, accept_language: str | None = None) -> str:
    language = page_language(accept_language)
    title, text = TEXTS[language][page]
    return (
        f"<!doctype html><html lang={language}><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title>"
        "<body style='font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;"
        "padding:0 1rem;color:#1f2933'>"
        f"<h1 style='font-size:1.5rem'>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
    )
