"""The comment box under a survey's thank-you page (CSAT, NPS, exit survey) and
``POST /survey/comment``, which hands the comment to ``CustomerTextWorkflow``.

The form carries what the answer it follows was about (the answer's event id, the ticket
or customer, the score), signed with the survey link secret, so a comment can only be
sent for an answer the hub recorded, once (event id ``comment:<answer>``: a second send
is "already recorded").
"""

from __future__ import annotations

import hashlib
import hmac
import html
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from domain.customer_text import MAX_TEXT, TextSource
from domain.events import CustomerEvent, DeliveryOutcome
from webhooks.survey_pages import Page, page_language, render_page, survey_event

SURVEY_COMMENT = "survey.comment"

FORM_TEXTS: dict[str, tuple[str, str, str]] = {
    "en": ("Anything you would like to add? (optional)", "Send", "Your comment"),
    "es": ("¿Algo más que quiera contarnos? (opcional)", "Enviar", "Su comentario"),
}
TOO_LONG: dict[str, str] = {
    "en": f"That comment is too long: at most {MAX_TEXT} characters, please.",
    "es": f"El comentario es demasiado largo: como máximo {MAX_TEXT} caracteres.",
}
EMPTY: dict[str, str] = {
    "en": "There was no comment to send.",
    "es": "No había ningún comentario que enviar.",
}


Handle = Callable[[CustomerEvent], Awaitable[object]]
"""Hands a form's answer over to the intake (stored, then forwarded, like a click)."""
BadLink = Callable[..., HTMLResponse]
"""The page for a link or form the hub did not sign (why, Accept-Language[, check])."""
FormRead = Callable[[dict[str, str], str | None], CustomerEvent | HTMLResponse]
"""A form's fields and the page's language, read into the answer's event or a refusal."""

FORM = "application/x-www-form-urlencoded"
FORM_SCHEMA: dict[str, object] = {
    "type": "object",
    "required": ["kind", "answer", "ref", "sig", "comment"],
    "properties": {
        "kind": {"type": "string", "enum": [s.value for s in TextSource]},
        "answer": {"type": "string", "description": "the survey answer's event id"},
        "ref": {"type": "string", "description": "the ticket (CSAT) or customer id"},
        "score": {"type": "string", "description": "the score answered, if any"},
        "sig": {"type": "string", "description": "the form's signature (made by the hub)"},
        "comment": {"type": "string", "maxLength": MAX_TEXT},
    },
}


def comment_signature(secret: str, kind: str, answer: str, ref: str, score: str) -> str:
    message = "\x1f".join(("comment", kind, answer, ref, score)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def comment_box(
    secret: str,
    kind: TextSource,
    answer: str,
    ref: str,
    score: int | None,
    accept_language: str | None,
) -> str:
    """The form to append to a thank-you page."""
    label, send, aria = FORM_TEXTS[page_language(accept_language)]
    score_text = "" if score is None else str(score)
    sig = comment_signature(secret, kind.value, answer, ref, score_text)
    hidden = "".join(
        f"<input type=hidden name={name} value='{html.escape(value, quote=True)}'>"
        for name, value in (
            ("kind", kind.value),
            ("answer", answer),
            ("ref", ref),
            ("score", score_text),
            ("sig", sig),
        )
    )
    return (
        "<form method=post action='/survey/comment' style='margin-top:2rem'>"
        f"<label for=comment>{html.escape(label)}</label>"
        f"<textarea id=comment name=comment rows=5 maxlength={MAX_TEXT} aria-label="
        f"'{html.escape(aria, quote=True)}' style='display:block;width:100%;margin:.5rem 0'>"
        f"</textarea>{hidden}<button type=submit>{html.escape(send)}</button></form>"
    )


def _message_page(title_page: Page, text: str, accept_language: str | None) -> str:
    return render_page(title_page, accept_language) + f"<p>{html.escape(text)}</p>"


def add_comment_route(
    app: FastAPI, secret: Callable[[], str], handle: Handle, bad_link: BadLink
) -> None:
    """``POST /survey/comment`` (form-encoded): verify, then hand over to the intake."""

    def read(fields: dict[str, str], lang: str | None) -> CustomerEvent | HTMLResponse:
        kind, answer = fields.get("kind", ""), fields.get("answer", "")
        ref, score, sig = fields.get("ref", ""), fields.get("score", ""), fields.get("sig", "")
        if not (kind and answer and ref and genuine(secret(), sig, kind, answer, ref, score)):
            return bad_link("survey comment form: bad signature", lang)
        try:
            source = TextSource(kind)
        except ValueError:
            return bad_link(f"survey comment form: unknown kind {kind!r}", lang)
        text = " ".join(fields.get("comment", "").split())
        language = page_language(lang)
        if not text:
            return HTMLResponse(_message_page(Page.THANKS, EMPTY[language], lang), 422)
        if len(text) > MAX_TEXT:
            return HTMLResponse(render_page(Page.TRY_AGAIN, lang) + TOO_LONG[language], 422)
        return survey_event(
            f"comment:{answer}",
            SURVEY_COMMENT,
            None if source is TextSource.CSAT else ref,
            {
                "source": source.value,
                "text": text,
                "ticket_id": ref if source is TextSource.CSAT else None,
                "score": int(score) if score.lstrip("-").isdigit() else None,
            },
        )

    add_form_route(
        app,
        FormRoute(
            "/survey/comment",
            "survey_comment",
            "A comment sent from the box under a survey's thank-you page",
            "Empty or too long a comment",
            FORM_SCHEMA,
            "survey comment",
        ),
        read,
        handle,
        bad_link,
    )


@dataclass(frozen=True)
class FormRoute:
    """What tells one survey form route from another: where it is, its name (the OpenAPI
    operation's), what its docs say, and what the bad-link log calls it."""

    path: str
    name: str
    summary: str
    refused: str
    schema: dict[str, object]
    what: str


def add_form_route(
    app: FastAPI,
    route: FormRoute,
    read: FormRead,
    handle: Handle,
    bad_link: BadLink,
) -> None:
    """A form-encoded survey route: ``read`` turns the form's fields (and the page's
    language) into the answer's event, or into the page that refuses them; the event is
    handed to ``handle`` (the intake) and the sender sees :func:`answer_page`."""

    @app.post(
        route.path,
        name=route.name,
        summary=route.summary,
        **form_route_docs(route.refused, route.schema),
    )
    async def form_route(request: Request) -> HTMLResponse:
        lang = request.headers.get("accept-language")
        answer = read(await form_fields(request), lang)
        if isinstance(answer, HTMLResponse):
            return answer
        return answer_page(await handle(answer), lang, bad_link, route.what)


def form_route_docs(refused: str, schema: dict[str, object]) -> dict[str, Any]:
    """The OpenAPI parts of a form route (the body is read by hand, so declared here)."""
    return {
        "response_class": HTMLResponse,
        "responses": {
            200: {"description": "Thank-you page (or: already recorded)"},
            403: {"description": "The form was not made by the hub"},
            422: {"description": refused},
            503: {"description": "Try again shortly"},
        },
        "openapi_extra": {"requestBody": {"required": True, "content": {FORM: {"schema": schema}}}},
    }


async def form_fields(request: Request) -> dict[str, str]:
    """A form-encoded body's fields (the first value of each; blanks kept)."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def genuine(secret: str, sig: str, kind: str, answer: str, ref: str, score: str) -> bool:
    """The form's hidden fields are as the hub signed them."""
    expected = comment_signature(secret, kind, answer, ref, score)
    return hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace"))


def answer_page(result: object, lang: str | None, bad_link: BadLink, what: str) -> HTMLResponse:
    """What a form's sender sees once the intake took (or refused) their answers."""
    outcome = getattr(result, "outcome", None)
    if outcome is DeliveryOutcome.UNAVAILABLE:
        return HTMLResponse(render_page(Page.TRY_AGAIN, lang), 503, headers={"Retry-After": "30"})
    if outcome is DeliveryOutcome.DUPLICATE:
        return HTMLResponse(render_page(Page.ALREADY_RECORDED, lang))
    if outcome is DeliveryOutcome.INVALID:
        return bad_link(f"{what} could not be read", lang)
    return HTMLResponse(render_page(Page.THANKS, lang))
