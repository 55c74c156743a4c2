"""The onboarding survey's page (seed 001: surveys at 7, 30 and 90 days): ``GET
/survey/onboarding`` shows the three questions to whoever follows the e-mail's signed
link, ``POST /survey/onboarding`` checks the answers and hands them to
``OnboardingSurveyWorkflow``.

The link signs the customer, the survey's day and the expiry time; the form carries
them back with the signature, so answers can only be given for a survey the hub sent,
once per survey (event id ``onboarding-survey:<customer>:d<day>``: a second send is
"already recorded"). A missing or out-of-range answer, or too long a text, is refused
with the form shown again and the reason in the page's language (HTTP 422).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse

from domain.events import CustomerEvent
from domain.journeys import CUSTOMER_ID_PATTERN
from domain.onboarding_survey import COMMENT_MAX, ONBOARDING_SURVEY_PATH, SCORES, ValueSoFar
from domain.survey_links import LinkCheck, Secrets, verify_onboarding_survey_link
from webhooks.survey_comments import BadLink, FormRoute, Handle, add_form_route
from webhooks.survey_pages import page_language, survey_event

ONBOARDING_SURVEY_ANSWER = "survey.onboarding_answer"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "How is onboarding going?",
        "score": "1. How satisfied are you with your onboarding so far? "
        "(0 = not at all, 10 = completely)",
        "value": "2. Are you getting the value you expected?",
        "comment": "3. What would make the next weeks easier? (optional)",
        "send": "Send",
        "pick_score": "Please choose a number from 0 to 10 for question 1.",
        "pick_value": "Please choose an answer to question 2.",
        "too_long": f"The answer to question 3 is too long: at most {COMMENT_MAX} characters.",
        ValueSoFar.YES: "Yes",
        ValueSoFar.PARTLY: "Partly",
        ValueSoFar.NOT_YET: "Not yet",
    },
    "es": {
        "title": "¿Qué tal va la incorporación?",
        "score": "1. ¿Cuán satisfecho está con la incorporación hasta ahora? "
        "(0 = nada, 10 = totalmente)",
        "value": "2. ¿Obtiene el valor que esperaba?",
        "comment": "3. ¿Qué haría más fáciles las próximas semanas? (opcional)",
        "send": "Enviar",
        "pick_score": "Elija un número del 0 al 10 en la pregunta 1.",
        "pick_value": "Elija una respuesta en la pregunta 2.",
        "too_long": f"La respuesta a la pregunta 3 es demasiado larga: como máximo {COMMENT_MAX} "
        "caracteres.",
        ValueSoFar.YES: "Sí",
        ValueSoFar.PARTLY: "En parte",
        ValueSoFar.NOT_YET: "Todavía no",
    },
}

FORM_SCHEMA: dict[str, object] = {
    "type": "object",
    "required": ["customer", "day", "exp", "sig", "score", "value"],
    "properties": {
        "customer": {"type": "string"},
        "day": {"type": "string", "description": "the survey's onboarding day"},
        "exp": {"type": "string", "description": "the link's expiry time (unix seconds)"},
        "sig": {"type": "string", "description": "the link's signature (made by the hub)"},
        "score": {"type": "string", "enum": [str(s) for s in SCORES]},
        "value": {"type": "string", "enum": [v.value for v in ValueSoFar]},
        "comment": {"type": "string", "maxLength": COMMENT_MAX},
    },
}


def survey_form(
    fields: dict[str, str], accept_language: str | None, error: str | None = None
) -> str:
    """The page with the three questions; ``fields`` carries the signed link's values
    (and, when shown again after a refusal, the answers given)."""
    language = page_language(accept_language)
    t = TEXTS[language]
    hidden = "".join(
        f"<input type=hidden name={name} value='{html.escape(fields.get(name, ''), quote=True)}'>"
        for name in ("customer", "day", "exp", "sig")
    )

    def radios(name: str, options: list[tuple[str, str]]) -> str:
        chosen = fields.get(name)
        return "".join(
            f"<label style='margin-right:.75rem'><input type=radio name={name} "
            f"value={value} required{' checked' if value == chosen else ''}> "
            f"{html.escape(label)}</label>"
            for value, label in options
        )

    alert = f"<p role=alert style='color:#b71c1c'>{html.escape(error)}</p>" if error else ""
    comment = html.escape(fields.get("comment", ""))
    return (
        f"<!doctype html><html lang={language}><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(t['title'])}</title>"
        "<body style='font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;"
        "padding:0 1rem;color:#1f2933'>"
        f"<h1 style='font-size:1.5rem'>{html.escape(t['title'])}</h1>{alert}"
        f"<form method=post action='{ONBOARDING_SURVEY_PATH}'>"
        f"<fieldset style='border:0;padding:0;margin:0 0 1rem 0'>"
        f"<legend>{html.escape(t['score'])}</legend>"
        f"{radios('score', [(str(s), str(s)) for s in SCORES])}</fieldset>"
        f"<fieldset style='border:0;padding:0;margin:0 0 1rem 0'>"
        f"<legend>{html.escape(t['value'])}</legend>"
        f"{radios('value', [(v.value, t[v]) for v in ValueSoFar])}</fieldset>"
        f"<label for=comment>{html.escape(t['comment'])}</label>"
        f"<textarea id=comment name=comment rows=5 maxlength={COMMENT_MAX} "
        f"style='display:block;width:100%;margin:.5rem 0'>{comment}</textarea>"
        f"{hidden}<button type=submit>{html.escape(t['send'])}</button></form>"
    )


def _check(secrets: Secrets, fields: dict[str, str]) -> LinkCheck:
    customer, day, exp = fields.get("customer", ""), fields.get("day", ""), fields.get("exp", "")
    sig = fields.get("sig", "")
    if not (
        re.fullmatch(CUSTOMER_ID_PATTERN, customer)
        and day.isdigit()
        and len(day) <= 3
        and exp.isdigit()
        and len(exp) <= 12
        and 0 < len(sig) <= 128
    ):
        return LinkCheck.INVALID
    return verify_onboarding_survey_link(secrets, customer, int(day), int(exp), sig)


def add_onboarding_survey_routes(
    app: FastAPI,
    secrets: Callable[[], Secrets],
    handle: Handle,
    bad_link: BadLink,
    accept_language_header: object,
) -> None:
    """``GET`` (the page) and ``POST`` (the answers) ``/survey/onboarding``."""

    @app.get(
        ONBOARDING_SURVEY_PATH,
        summary="The onboarding survey's page (signed link from the day 7/30/90 e-mail)",
        response_class=HTMLResponse,
        responses={
            200: {"description": "The questions"},
            403: {"description": "Link not signed by the hub, changed, or expired"},
        },
    )
    async def onboarding_survey_page(
        customer: str = Query("", description="CRM company id"),
        day: str = Query("", description="The survey's onboarding day"),
        exp: str = Query("", description="Expiry time of the link (unix seconds)"),
        sig: str = Query("", description="HMAC-SHA256 of the above (SURVEY_LINK_SECRET)"),
        accept_language: str | None = accept_language_header,  # type: ignore[assignment]
    ) -> HTMLResponse:
        fields = {"customer": customer, "day": day, "exp": exp, "sig": sig}
        check = _check(secrets(), fields)
        if check is not LinkCheck.VALID:
            return bad_link(
                f"onboarding survey link for customer {customer[:20]!r}: {check.value}",
                accept_language,
                check,
            )
        return HTMLResponse(survey_form(fields, accept_language))

    def read(fields: dict[str, str], lang: str | None) -> CustomerEvent | HTMLResponse:
        check = _check(secrets(), fields)
        customer = fields.get("customer", "")
        if check is not LinkCheck.VALID:
            return bad_link(
                f"onboarding survey form for customer {customer[:20]!r}: {check.value}",
                lang,
                check,
            )
        t = TEXTS[page_language(lang)]
        fields["comment"] = " ".join(fields.get("comment", "").split())

        def refused(message: str) -> HTMLResponse:
            return HTMLResponse(survey_form(fields, lang, error=message), 422)

        score = fields.get("score", "")
        if not (score.isdigit() and int(score) in SCORES):
            return refused(t["pick_score"])
        if fields.get("value") not in {v.value for v in ValueSoFar}:
            return refused(t["pick_value"])
        if len(fields["comment"]) > COMMENT_MAX:
            return refused(t["too_long"])
        day = int(fields["day"])
        return survey_event(
            f"onboarding-survey:{customer}:d{day}",
            ONBOARDING_SURVEY_ANSWER,
            customer,
            {
                "day": day,
                "score": int(score),
                "value": fields["value"],
                "comment": fields["comment"] or None,
            },
        )

    add_form_route(
        app,
        FormRoute(
            ONBOARDING_SURVEY_PATH,
            "onboarding_survey_answers",
            "The onboarding survey's answers (the form of its page)",
            "No or an out-of-range answer, or too long a text",
            FORM_SCHEMA,
            "onboarding survey answers",
        ),
        read,
        handle,
        bad_link,
    )
