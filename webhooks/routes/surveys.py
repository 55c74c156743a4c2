"""The one-click survey answers (signed links in the hub's e-mails): ``GET /survey/exit``
(win-back), ``GET /survey/csat`` (after a solved ticket), ``GET /survey/nps``
(quarterly), and the comment box under their thank-you pages (``POST /survey/comment``,
webhooks/survey_comments.py). They answer people, in their language: HTML pages, 403
for a link the hub did not sign (or an expired one), 503 to try again shortly."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, FastAPI, Header, Query
from fastapi.responses import HTMLResponse

from domain.customer_text import TextSource
from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult
from domain.journeys import CUSTOMER_ID_PATTERN
from domain.survey_links import LinkCheck, verify_csat_link, verify_exit_survey, verify_nps_link
from domain.surveys import (
    CONTACT_ID_PATTERN,
    QUARTER_PATTERN,
    SURVEY_ID_PATTERN,
    TICKET_ID_PATTERN,
)
from domain.winback import ExitReason
from webhooks.exit_details import add_exit_details_route, exit_details_form
from webhooks.onboarding_survey import add_onboarding_survey_routes
from webhooks.routes.base import RETRY_AFTER_S, Hub, HubDep
from webhooks.routing import CSAT_ANSWER, EXIT_SURVEY_ANSWER, NPS_ANSWER
from webhooks.survey_comments import add_comment_route, comment_box
from webhooks.survey_pages import (
    ANSWER_WAIT_S,
    Page,
    render_page,
    survey_delivery,
    survey_event,
)

log = logging.getLogger("cshub.webhooks")

ACCEPT_LANGUAGE = Header(None, description="The browser's languages: the page's language")
"""A survey page's language (webhooks/survey_pages.py)."""
EXPIRY = Query("", description="Expiry time of the link (unix seconds)")
SIGNATURE = Query("", description="HMAC-SHA256 of the above (SURVEY_LINK_SECRET)")
SURVEY = Query("", description="The survey e-mail's id")

SURVEY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Thank-you page (or: already recorded, survey closed)"},
    403: {"description": "Link not signed by the hub, changed, or expired"},
    503: {"description": "Try again shortly"},
}

router = APIRouter()


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def _digits(value: str, max_len: int) -> bool:
    """ASCII digits only (``isdigit`` also accepts ``²``, which ``int`` refuses)."""
    return 0 < len(value) <= max_len and value.isascii() and value.isdecimal()


def _number_in(value: str, low: int, high: int) -> bool:
    return _digits(value, 3) and low <= int(value) <= high


def _well_formed(exp: str, sig: str, *fields: tuple[str, str]) -> bool:
    """Each ``(pattern, value)`` matches, the expiry is a time, the signature fits."""
    return all(_matches(p, v) for p, v in fields) and _digits(exp, 12) and 0 < len(sig) <= 128


def bad_link(
    hub: Hub, why: str, accept_language: str | None, check: LinkCheck = LinkCheck.INVALID
) -> HTMLResponse:
    log.warning("rejected survey link: %s", why)
    expired = check is LinkCheck.EXPIRED
    hub.metrics.rejected("survey", "expired_link" if expired else "invalid_link")
    page = Page.EXPIRED_LINK if expired else Page.INVALID_LINK
    return HTMLResponse(render_page(page, accept_language), 403)


def _try_again(accept_language: str | None) -> HTMLResponse:
    return HTMLResponse(
        render_page(Page.TRY_AGAIN, accept_language),
        503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _thanks_with_comment_box(hub: Hub, event: CustomerEvent, accept_language: str | None) -> str:
    """The thank-you page with a box for a comment on the answer (risk intelligence:
    what customers write is read and, when alarming, quoted to the CSM)."""
    if event.type == EXIT_SURVEY_ANSWER and event.customer_id:
        # Seed 003's questions 2 and 3 (what could we have done better, would they
        # come back) instead of the plain comment box (webhooks/exit_details.py).
        return render_page(Page.THANKS, accept_language) + exit_details_form(
            hub.secret("survey_link_secret"),
            event.customer_id,
            event.event_id.removeprefix("exit:"),
            str(event.data.get("reason")),
            accept_language,
        )
    kinds = {CSAT_ANSWER: TextSource.CSAT, NPS_ANSWER: TextSource.NPS}
    kind = kinds.get(event.type, TextSource.EXIT)
    ref = str(event.data.get("ticket_id") if kind is TextSource.CSAT else event.customer_id)
    score = event.data.get("score")
    box = comment_box(
        hub.secret("survey_link_secret"),
        kind,
        event.event_id,
        ref,
        score if isinstance(score, int) else None,
        accept_language,
    )
    return render_page(Page.THANKS, accept_language) + box


async def survey_answer(
    hub: Hub, check: LinkCheck, why: str, event: CustomerEvent, accept_language: str | None
) -> HTMLResponse:
    """Hand a verified one-click answer to its workflow; tell the person what became of
    it. The event id names the survey e-mail, not the score: a second click on any
    link of the same e-mail is a duplicate. ``check``: the link's; ``why`` names the link
    in the log when it is not valid."""
    if check is not LinkCheck.VALID:
        return bad_link(hub, f"{why}: {check.value}", accept_language, check)
    # Stored, then forwarded (durable intake, webhooks/survey_pages.py): "thank you"
    # even while Temporal is down; the survey gets the answer once it is back.
    result = await hub.accept(event, survey_delivery(event), ANSWER_WAIT_S)
    if result.outcome is DeliveryOutcome.UNAVAILABLE:
        return _try_again(accept_language)
    ignored_before = "(ignored)" in (result.detail or "")
    if result.outcome is DeliveryOutcome.IGNORED or (
        result.outcome is DeliveryOutcome.DUPLICATE and ignored_before
    ):
        return HTMLResponse(render_page(Page.CLOSED, accept_language))
    if result.outcome is DeliveryOutcome.DUPLICATE:
        return HTMLResponse(render_page(Page.ALREADY_RECORDED, accept_language))
    if result.outcome is DeliveryOutcome.INVALID:
        return bad_link(hub, "the answer could not be read", accept_language)
    return HTMLResponse(_thanks_with_comment_box(hub, event, accept_language))


@router.get(
    "/survey/exit",
    summary="One-click exit-survey answer (signed link from the win-back e-mail)",
    response_class=HTMLResponse,
    responses=SURVEY_RESPONSES,
)
async def exit_survey(
    hub: HubDep,
    customer: str = Query(pattern=CUSTOMER_ID_PATTERN),
    reason: ExitReason = Query(),
    campaign: str = Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$"),
    exp: str = EXPIRY,
    sig: str = Query(min_length=1, max_length=128),
    accept_language: str | None = ACCEPT_LANGUAGE,
) -> HTMLResponse:
    if exp and not _digits(exp, 12):
        return bad_link(hub, f"malformed exit-survey link for customer {customer}", accept_language)
    check = verify_exit_survey(
        hub.settings.survey_link_secrets,
        customer,
        reason.value,
        campaign,
        int(exp) if exp else None,
        sig,
    )
    # One answer per e-mail: the first reason clicked; the other links of the same
    # e-mail (a mail scanner opens them all) are duplicates.
    event = survey_event(f"exit:{campaign}", EXIT_SURVEY_ANSWER, customer, {"reason": reason.value})
    why = f"exit-survey link for customer {customer}"
    return await survey_answer(hub, check, why, event, accept_language)


@router.get(
    "/survey/csat",
    summary="One-click CSAT answer (signed link from the survey after a solved ticket)",
    response_class=HTMLResponse,
    responses=SURVEY_RESPONSES,
)
async def csat_survey(
    hub: HubDep,
    ticket: str = Query("", description="Zendesk ticket id"),
    survey: str = SURVEY,
    score: str = Query("", description="1 (very dissatisfied) … 5 (very satisfied)"),
    exp: str = EXPIRY,
    sig: str = SIGNATURE,
    accept_language: str | None = ACCEPT_LANGUAGE,
) -> HTMLResponse:
    fields = ((TICKET_ID_PATTERN, ticket), (SURVEY_ID_PATTERN, survey))
    if not (_number_in(score, 1, 5) and _well_formed(exp, sig, *fields)):
        return bad_link(hub, f"malformed CSAT link for ticket {ticket[:20]!r}", accept_language)
    check = verify_csat_link(
        hub.settings.survey_link_secrets, ticket, survey, int(score), int(exp), sig
    )
    data = {"ticket_id": ticket, "survey_id": survey, "score": int(score)}
    event = survey_event(f"csat:{ticket}:{survey}", CSAT_ANSWER, None, data)
    return await survey_answer(hub, check, f"CSAT link for ticket {ticket}", event, accept_language)


@router.get(
    "/survey/nps",
    summary="One-click NPS answer (signed link from the quarterly survey)",
    response_class=HTMLResponse,
    responses=SURVEY_RESPONSES,
)
async def nps_survey(
    hub: HubDep,
    customer: str = Query("", description="CRM company id"),
    contact: str = Query("", description="CRM contact id"),
    quarter: str = Query("", description="e.g. 2026-Q4"),
    survey: str = SURVEY,
    score: str = Query("", description="0 (not at all likely) … 10 (extremely likely)"),
    exp: str = EXPIRY,
    sig: str = SIGNATURE,
    accept_language: str | None = ACCEPT_LANGUAGE,
) -> HTMLResponse:
    fields = (
        (CUSTOMER_ID_PATTERN, customer),
        (CONTACT_ID_PATTERN, contact),
        (QUARTER_PATTERN, quarter),
        (SURVEY_ID_PATTERN, survey),
    )
    if not (_number_in(score, 0, 10) and _well_formed(exp, sig, *fields)):
        return bad_link(hub, f"malformed NPS link for customer {customer[:20]!r}", accept_language)
    check = verify_nps_link(
        hub.settings.survey_link_secrets,
        customer,
        contact,
        quarter,
        survey,
        int(score),
        int(exp),
        sig,
    )
    event = survey_event(
        f"nps:{customer}:{contact}:{survey}",
        NPS_ANSWER,
        customer,
        {"contact_id": contact, "quarter": quarter, "survey_id": survey, "score": int(score)},
    )
    why = f"NPS link for customer {customer}"
    return await survey_answer(hub, check, why, event, accept_language)


def add_comment_box_route(app: FastAPI, hub: Hub) -> None:
    """``POST /survey/comment`` (webhooks/survey_comments.py), the exit survey's second
    page (``POST /survey/exit/details``, webhooks/exit_details.py) and the onboarding
    survey's page (``GET``/``POST /survey/onboarding``, webhooks/onboarding_survey.py),
    with this app's secret, intake and bad-link page. An answer is stored, then
    forwarded, like a click."""

    async def store_answer(event: CustomerEvent) -> DeliveryResult:
        return await hub.accept(event, survey_delivery(event), ANSWER_WAIT_S)

    def refuse(
        why: str, accept_language: str | None, check: LinkCheck = LinkCheck.INVALID
    ) -> HTMLResponse:
        return bad_link(hub, why, accept_language, check)

    def secret() -> str:
        return hub.secret("survey_link_secret")

    add_comment_route(app, secret, store_answer, refuse)
    add_exit_details_route(app, secret, store_answer, refuse)
    add_onboarding_survey_routes(
        app, lambda: hub.settings.survey_link_secrets, store_answer, refuse, ACCEPT_LANGUAGE
    )
