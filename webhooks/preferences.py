"""The preference centre: the page every e-mail's unsubscribe link opens, and the RFC 8058
one-click unsubscribe a mail client POSTs to.

- ``GET /preferences?contact=&sig=`` (the footer link) and ``GET /preferences/unsubscribe``
  (the ``List-Unsubscribe`` URL opened in a browser: a GET changes nothing, link scanners
  open links): the contact's choices, in the browser's language (``?lang=`` overrides).
- ``POST /preferences`` (the page's form, url-encoded: ``contact``, ``sig``, ``category``
  once per category kept on, ``language``): writes the choice to the CRM.
- ``POST /preferences/unsubscribe?contact=&category=&sig=`` with the body
  ``List-Unsubscribe=One-Click``: turns that category off (``all``: every optional one).

Every change is written to the CRM contact (``cshub_email_opt_out_categories``,
``hs_language``, ``cshub_consent_updated_at``, ``cshub_consent_source``) and appended to the
consent log (table ``consent_log`` of ``CSHUB_API_DB``: contact, time, source, before,
after), which ``consent_history`` reads.
"""

from __future__ import annotations

import asyncio
import html
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from connectors.base import Contact, Crm
from connectors.errors import ConnectorError, NotFoundError
from domain.preferences import (
    ALL_OPTIONAL,
    CONSENT_SOURCE_PROPERTY,
    CONSENT_UPDATED_PROPERTY,
    LANGUAGE_PROPERTY,
    LANGUAGES,
    ONE_CLICK_PATH,
    OPT_OUT_PROPERTY,
    OPTIONAL,
    PREFERENCES_PATH,
    Category,
    ConsentSource,
    format_opt_outs,
    parse_opt_outs,
    verify_preference_signature,
)
from domain.surveys import CONTACT_ID_PATTERN
from runtime.settings import Settings
from runtime.sqlite_files import open_sqlite
from templates.renderer import primary_language
from webhooks.survey_pages import page_language

log = logging.getLogger("cshub.webhooks.preferences")

MAX_FORM_BYTES = 8 * 1024

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your e-mail preferences",
        "intro": "Choose the e-mails you would like to receive from us.",
        Category.ONBOARDING_TIPS: "Onboarding tips and check-ins",
        Category.PRODUCT_NEWS: "Product news and offers",
        Category.SURVEYS: "Surveys",
        Category.SERVICE: "Billing and service messages (always sent)",
        "language": "Language of our e-mails",
        "save": "Save preferences",
        "saved": "Your preferences were saved.",
        "unsubscribed": "You are unsubscribed from: {what}.",
        "invalid": "This link is not valid. Please use the link from our e-mail.",
        "try_again": "We could not save your preferences just now. Please try again in a minute.",
        "en": "English",
        "es": "Spanish",
    },
    "es": {
        "title": "Sus preferencias de correo",
        "intro": "Elija los correos que desea recibir de nuestra parte.",
        Category.ONBOARDING_TIPS: "Consejos de incorporación y seguimiento",
        Category.PRODUCT_NEWS: "Novedades del producto y ofertas",
        Category.SURVEYS: "Encuestas",
        Category.SERVICE: "Mensajes de facturación y servicio (siempre se envían)",
        "language": "Idioma de nuestros correos",
        "save": "Guardar preferencias",
        "saved": "Sus preferencias se han guardado.",
        "unsubscribed": "Se ha dado de baja de: {what}.",
        "invalid": "Este enlace no es válido. Utilice el enlace de nuestro correo electrónico.",
        "try_again": "No hemos podido guardar sus preferencias. Vuelva a intentarlo en un minuto.",
        "en": "Inglés",
        "es": "Español",
    },
}


@dataclass(frozen=True)
class ConsentChange:
    contact_id: str
    at: datetime
    source: str
    opted_out_before: str
    opted_out_after: str
    language_before: str | None
    language_after: str | None


CONSENT_LOG_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS consent_log (contact_id TEXT NOT NULL, at TEXT NOT "
    "NULL, source TEXT NOT NULL, opted_out_before TEXT NOT NULL, opted_out_after "
    "TEXT NOT NULL, language_before TEXT, language_after TEXT)"
)


class ConsentLog:
    """Append-only: one row per change of a contact's e-mail consent."""

    def __init__(self, path: Path) -> None:
        self._db = open_sqlite(path, CONSENT_LOG_SCHEMA, synchronous="FULL")
        self._lock = threading.Lock()

    def append(self, change: ConsentChange) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO consent_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    change.contact_id,
                    change.at.isoformat(),
                    change.source,
                    change.opted_out_before,
                    change.opted_out_after,
                    change.language_before,
                    change.language_after,
                ),
            )

    def history(self, contact_id: str) -> list[ConsentChange]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM consent_log WHERE contact_id = ? ORDER BY rowid", (contact_id,)
            ).fetchall()
        return [
            ConsentChange(r[0], datetime.fromisoformat(r[1]), r[2], r[3], r[4], r[5], r[6])
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def consent_history(db: Path, contact_id: str) -> list[ConsentChange]:
    """The consent log of one contact, oldest first (for support and audits)."""
    store = ConsentLog(db)
    try:
        return store.history(contact_id)
    finally:
        store.close()


def _choose_language(lang: str | None, accept_language: str | None) -> str:
    if lang and primary_language(lang) in TEXTS:
        return primary_language(lang)
    return page_language(accept_language)


def _page(language: str, body: str) -> str:
    t = TEXTS[language]
    return (
        f"<!doctype html><html lang={language}><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(t['title'])}</title>"
        "<body style='font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;"
        "padding:0 1rem;color:#1f2933'>"
        f"<h1 style='font-size:1.5rem'>{html.escape(t['title'])}</h1>{body}"
    )


def _message(language: str, key: str, **fmt: str) -> str:
    text = TEXTS[language][key].format(**fmt)
    return _page(language, f"<p role=status>{html.escape(text)}</p>")


def _form(language: str, contact: Contact, sig: str, notice: str | None = None) -> str:
    t = TEXTS[language]
    off = set(contact.email_opt_out_categories)
    rows = []
    for category in OPTIONAL:
        checked = "" if category.value in off else " checked"
        rows.append(
            f"<label style='display:block;margin:.5rem 0'><input type=checkbox name=category "
            f"value={category.value}{checked}> {html.escape(t[category])}</label>"
        )
    rows.append(
        "<label style='display:block;margin:.5rem 0;color:#52606d'><input type=checkbox "
        f"checked disabled> {html.escape(t[Category.SERVICE])}</label>"
    )
    current = primary_language(contact.language or "en")
    options = "".join(
        f"<option value={code}{' selected' if code == current else ''}>"
        f"{html.escape(t[code])}</option>"
        for code in LANGUAGES
    )
    status = f"<p role=status>{html.escape(notice)}</p>" if notice else ""
    return _page(
        language,
        f"{status}<p>{html.escape(t['intro'])}</p>"
        f"<form method=post action={PREFERENCES_PATH}?lang={language}>"
        f"<input type=hidden name=contact value='{html.escape(contact.id)}'>"
        f"<input type=hidden name=sig value='{html.escape(sig)}'>"
        f"{''.join(rows)}"
        f"<p><label>{html.escape(t['language'])} <select name=language>{options}</select>"
        f"</label></p><button type=submit>{html.escape(t['save'])}</button></form>",
    )


def add_preference_routes(app: FastAPI, settings: Settings, crm: Crm) -> ConsentLog:
    """Mount the preference centre on the API; returns the consent log it writes."""
    consent = ConsentLog(settings.cshub_api_db)

    def secret() -> str:
        value = settings.survey_link_secret
        return value.get_secret_value() if value else ""

    def signed(contact_id: str, sig: str) -> bool:
        import re

        return (
            bool(secret())
            and re.fullmatch(CONTACT_ID_PATTERN, contact_id) is not None
            and 0 < len(sig) <= 128
            and verify_preference_signature(settings.survey_link_secrets, contact_id, sig)
        )

    def invalid(language: str, why: str) -> HTMLResponse:
        log.warning("rejected preference link: %s", why)
        return HTMLResponse(_message(language, "invalid"), 403)

    def try_again(language: str) -> HTMLResponse:
        return HTMLResponse(_message(language, "try_again"), 503, headers={"Retry-After": "30"})

    async def change(
        contact: Contact, opted_out: frozenset[Category], language: str | None, source: str
    ) -> None:
        """Write the choice to the CRM, then log it (only when something changed)."""
        before = format_opt_outs(parse_opt_outs(";".join(contact.email_opt_out_categories)))
        after = format_opt_outs(opted_out)
        new_language = language or contact.language
        if before == after and new_language == contact.language:
            return
        now = datetime.now(UTC)
        properties = {
            OPT_OUT_PROPERTY: after,
            CONSENT_UPDATED_PROPERTY: now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            CONSENT_SOURCE_PROPERTY: source,
        }
        if new_language:
            properties[LANGUAGE_PROPERTY] = new_language
        await asyncio.to_thread(crm.update_contact, contact.id, properties)
        consent.append(
            ConsentChange(contact.id, now, source, before, after, contact.language, new_language)
        )
        log.info("contact %s: e-mail preferences %r -> %r (%s)", contact.id, before, after, source)

    async def load(contact_id: str) -> Contact | None:
        try:
            return await asyncio.to_thread(crm.get_contact, contact_id)
        except NotFoundError:
            return None

    async def show(
        contact: str, sig: str, lang: str | None, accept_language: str | None
    ) -> HTMLResponse:
        language = _choose_language(lang, accept_language)
        if not signed(contact, sig):
            return invalid(language, f"bad signature for contact {contact[:20]!r}")
        try:
            found = await load(contact)
        except ConnectorError as err:
            log.warning("preference page for contact %s: %s", contact, err)
            return try_again(language)
        if found is None:
            return invalid(language, f"contact {contact} no longer exists")
        return HTMLResponse(_form(language, found, sig))

    page_responses: dict[int | str, dict[str, str]] = {
        200: {"description": "The contact's preference page"},
        403: {"description": "Link not signed by the hub (or the contact no longer exists)"},
        503: {"description": "The CRM is unreachable: try again shortly"},
    }

    @app.get(
        PREFERENCES_PATH,
        summary="The contact's e-mail preference page (signed link in every e-mail)",
        response_class=HTMLResponse,
        responses=page_responses,
    )
    async def preference_page(
        request: Request,
        contact: str = Query(""),
        sig: str = Query(""),
        lang: str | None = Query(None, description="en or es; the browser's otherwise"),
    ) -> HTMLResponse:
        return await show(contact, sig, lang, request.headers.get("accept-language"))

    @app.get(
        ONE_CLICK_PATH,
        summary="The List-Unsubscribe URL opened in a browser: the preference page",
        response_class=HTMLResponse,
        responses=page_responses,
    )
    async def one_click_page(
        request: Request, contact: str = Query(""), sig: str = Query("")
    ) -> HTMLResponse:
        return await show(contact, sig, None, request.headers.get("accept-language"))

    @app.post(
        PREFERENCES_PATH,
        summary="Save the preference page's form (application/x-www-form-urlencoded)",
        response_class=HTMLResponse,
        responses=page_responses,
    )
    async def save_preferences(request: Request, lang: str | None = Query(None)) -> HTMLResponse:
        language = _choose_language(lang, request.headers.get("accept-language"))
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return invalid(language, "form too large")
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        contact_id = (form.get("contact") or [""])[0]
        sig = (form.get("sig") or [""])[0]
        if not signed(contact_id, sig):
            return invalid(language, f"bad signature for contact {contact_id[:20]!r}")
        kept = set(form.get("category", []))
        opted_out = frozenset(c for c in OPTIONAL if c.value not in kept)
        chosen = (form.get("language") or [""])[0]
        new_language = chosen if chosen in LANGUAGES else None
        try:
            found = await load(contact_id)
            if found is None:
                return invalid(language, f"contact {contact_id} no longer exists")
            await change(found, opted_out, new_language, ConsentSource.PREFERENCE_PAGE)
        except ConnectorError as err:
            log.warning("preferences of contact %s not saved: %s", contact_id, err)
            return try_again(language)
        shown = found.model_copy(
            update={
                "email_opt_out_categories": sorted(c.value for c in opted_out),
                "language": new_language or found.language,
            }
        )
        page_lang = new_language or language
        return HTMLResponse(_form(page_lang, shown, sig, TEXTS[page_lang]["saved"]))

    @app.post(
        ONE_CLICK_PATH,
        summary="RFC 8058 one-click unsubscribe (body List-Unsubscribe=One-Click)",
        response_class=HTMLResponse,
        responses={
            200: {"description": "Unsubscribed from the category (or already)"},
            400: {"description": "Not a one-click request, or an unknown category"},
            403: {"description": "Link not signed by the hub"},
            503: {"description": "The CRM is unreachable: try again shortly"},
        },
    )
    async def one_click(
        request: Request,
        contact: str = Query(""),
        category: str = Query(""),
        sig: str = Query(""),
    ) -> HTMLResponse:
        language = page_language(request.headers.get("accept-language"))
        if not signed(contact, sig):
            return invalid(language, f"bad signature for contact {contact[:20]!r}")
        body = (await request.body())[:MAX_FORM_BYTES]
        form = parse_qs(body.decode("utf-8", "replace"))
        if form.get("List-Unsubscribe") != ["One-Click"]:
            return HTMLResponse("send the body List-Unsubscribe=One-Click (RFC 8058)", 400)
        names = {c.value for c in OPTIONAL}
        if category != ALL_OPTIONAL and category not in names:
            return HTMLResponse(f"unknown category {category[:40]!r}", 400)
        try:
            found = await load(contact)
            if found is None:
                return invalid(language, f"contact {contact} no longer exists")
            before = parse_opt_outs(";".join(found.email_opt_out_categories))
            turned_off = set(OPTIONAL) if category == ALL_OPTIONAL else {Category(category)}
            await change(found, before | turned_off, None, ConsentSource.ONE_CLICK)
        except ConnectorError as err:
            log.warning("one-click unsubscribe of contact %s not saved: %s", contact, err)
            return try_again(language)
        what = ", ".join(TEXTS[language][c] for c in OPTIONAL if c in turned_off)
        return HTMLResponse(_message(language, "unsubscribed", what=what))

    return consent
