"""The exit survey's second page: under the thank-you for the one-click reason, seed
003's questions 2 ("What could we have done better?") and 3 ("Would you consider
returning if we addressed your concerns?"), and ``POST /survey/exit/details``, which
hands the answers to ``ExitDetailsWorkflow``.

The form carries the customer, the e-mail's campaign and the reason clicked, signed with
the survey link secret, so answers can only be sent for an exit answer the hub recorded,
once (event id ``exit-details:<campaign>``: a second send is "already recorded"). A
missing or unknown answer to question 3, or too long a text, is refused with the form
shown again and the reason in the page's language (HTTP 422).
"""

from __future__ import annotations

import html
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from domain.customer_text import MAX_TEXT
from domain.events import CustomerEvent
from domain.winback import ExitReason, WouldReturn
from webhooks.survey_comments import (
    BadLink,
    FormRoute,
    Handle,
    add_form_route,
    comment_signature,
    genuine,
)
from webhooks.survey_pages import Page, page_language, render_page, survey_event

EXIT_DETAILS = "survey.exit_details"
SIGNED_KIND = "exit_details"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "better": "What could we have done better? (optional)",
        "return": "Would you consider returning if we addressed your concerns?",
        "send": "Send",
        "choose": "Please choose an answer to: would you consider returning?",
        "too_long": f"That text is too long: at most {MAX_TEXT} characters, please.",
        WouldReturn.YES: "Yes, definitely",
        WouldReturn.MAYBE: "Maybe",
        WouldReturn.UNLIKELY: "Unlikely",
        WouldReturn.NO: "No",
    },
    "es": {
        "better": "¿Qué podríamos haber hecho mejor? (opcional)",
        "return": "¿Consideraría volver si resolviéramos lo que le preocupa?",
        "send": "Enviar",
        "choose": "Elija una respuesta a: ¿consideraría volver?",
        "too_long": f"El texto es demasiado largo: como máximo {MAX_TEXT} caracteres.",
        WouldReturn.YES: "Sí, sin duda",
        WouldReturn.MAYBE: "Quizás",
        WouldReturn.UNLIKELY: "Poco probable",
        WouldReturn.NO: "No",
    },
}

FORM_SCHEMA: dict[str, object] = {
    "type": "object",
    "required": ["customer", "campaign", "reason", "sig", "would_return"],
    "properties": {
        "customer": {"type": "string"},
        "campaign": {"type": "string", "description": "the exit-survey e-mail's campaign"},
        "reason": {"type": "string", "enum": [r.value for r in ExitReason]},
        "sig": {"type": "string", "description": "the form's signature (made by the hub)"},
        "would_return": {"type": "string", "enum": [w.value for w in WouldReturn]},
        "better": {"type": "string", "maxLength": MAX_TEXT},
    },
}


def exit_details_form(
    secret: str,
    customer_id: str,
    campaign: str,
    reason: str,
    accept_language: str | None,
    *,
    error: str | None = None,
    better: str = "",
) -> str:
    """The two questions, to append to the exit answer's thank-you page (or shown again,
    with ``error`` above them, when an answer was refused)."""
    t = TEXTS[page_language(accept_language)]
    sig = comment_signature(secret, SIGNED_KIND, campaign, customer_id, reason)
    hidden = "".join(
        f"<input type=hidden name={name} value='{html.escape(value, quote=True)}'>"
        for name, value in (
            ("customer", customer_id),
            ("campaign", campaign),
            ("reason", reason),
            ("sig", sig),
        )
    )
    options = "".join(
        f"<label style='display:block'><input type=radio name=would_return "
        f"value={w.value} required> {html.escape(t[w])}</label>"
        for w in WouldReturn
    )
    alert = f"<p role=alert style='color:#b71c1c'>{html.escape(error)}</p>" if error else ""
    return (
        f"{alert}<form method=post action='/survey/exit/details' style='margin-top:2rem'>"
        f"<fieldset style='border:0;padding:0'><legend>{html.escape(t['return'])}</legend>"
        f"{options}</fieldset>"
        f"<label for=better style='display:block;margin-top:1rem'>{html.escape(t['better'])}"
        f"</label><textarea id=better name=better rows=5 maxlength={MAX_TEXT} "
        "style='display:block;width:100%;margin:.5rem 0'>"
        f"{html.escape(better)}</textarea>{hidden}"
        f"<button type=submit>{html.escape(t['send'])}</button></form>"
    )


def add_exit_details_route(
    app: FastAPI, secret: Callable[[], str], handle: Handle, bad_link: BadLink
) -> None:
    """``POST /survey/exit/details`` (form-encoded): verify, validate, hand over."""

    def read(fields: dict[str, str], lang: str | None) -> CustomerEvent | HTMLResponse:
        customer, campaign = fields.get("customer", ""), fields.get("campaign", "")
        reason, sig = fields.get("reason", ""), fields.get("sig", "")
        if not (
            customer
            and campaign
            and genuine(secret(), sig, SIGNED_KIND, campaign, customer, reason)
        ):
            return bad_link("exit survey details form: bad signature", lang)
        if reason not in {r.value for r in ExitReason}:
            return bad_link(f"exit survey details form: unknown reason {reason!r}", lang)
        t = TEXTS[page_language(lang)]
        better = " ".join(fields.get("better", "").split())

        def refused(message: str) -> HTMLResponse:
            form = exit_details_form(
                secret(), customer, campaign, reason, lang, error=message, better=better
            )
            return HTMLResponse(render_page(Page.TRY_AGAIN, lang) + form, 422)

        try:
            would_return = WouldReturn(fields.get("would_return", ""))
        except ValueError:
            return refused(t["choose"])
        if len(better) > MAX_TEXT:
            return refused(t["too_long"])
        return survey_event(
            f"exit-details:{campaign}",
            EXIT_DETAILS,
            customer,
            {
                "campaign": campaign,
                "reason": reason,
                "would_return": would_return.value,
                "comment": better or None,
            },
        )

    add_form_route(
        app,
        FormRoute(
            "/survey/exit/details",
            "exit_details",
            "The exit survey's questions 2 and 3 (the form under its thank-you page)",
            "No or an unknown answer to question 3, or too long a text",
            FORM_SCHEMA,
            "exit survey details",
        ),
        read,
        handle,
        bad_link,
    )
