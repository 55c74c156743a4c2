"""The preference centre as a contact uses it: headless Chromium (Debian's package, as in
test_temporal_ui.py) opens the signed link from an e-mail, in a Spanish and in an
English browser, turns a category off, saves, and the CRM (sandbox HubSpot) has it.
Skipped when /usr/bin/chromium is missing, like the Temporal UI test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright, expect

from domain.preferences import preference_link
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.ui.test_temporal_ui import CHROMIUM_ARGS, chromium_or_skip
from tests.webhooks.conftest import Api, serve
from tests.webhooks.test_preferences import contact_properties, no_temporal

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def prefs_api(hub_settings: Settings, tmp_path: Path) -> AsyncIterator[Api]:
    settings = hub_settings.model_copy(update={"cshub_api_db": tmp_path / "api.db"})
    async with serve(settings, no_temporal) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_or_skip()
    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.mark.parametrize(
    ("locale", "contact", "title", "surveys", "save", "saved"),
    [
        (
            "es-ES",
            "2014",
            "Sus preferencias de correo",
            "Encuestas",
            "Guardar preferencias",
            "Sus preferencias se han guardado.",
        ),
        (
            "en-US",
            "2001",
            "Your e-mail preferences",
            "Surveys",
            "Save preferences",
            "Your preferences were saved.",
        ),
    ],
)
async def test_a_contact_turns_surveys_off_in_their_language(
    prefs_api: Api,
    clean_sandbox: SandboxHandle,
    browser: Browser,
    locale: str,
    contact: str,
    title: str,
    surveys: str,
    save: str,
    saved: str,
) -> None:
    link = preference_link(prefs_api.url, prefs_api.secret("survey_link_secret"), contact)
    context = await browser.new_context(locale=locale)  # the browser's Accept-Language
    try:
        page = await context.new_page()
        page.set_default_timeout(10_000)
        await page.goto(link)
        await expect(page.get_by_role("heading", name=title)).to_be_visible()
        box = page.get_by_label(surveys)
        await expect(box).to_be_checked()
        await box.uncheck()
        await page.get_by_role("button", name=save).click()
        await expect(page.get_by_role("status")).to_have_text(saved)
        await expect(page.get_by_label(surveys)).not_to_be_checked()
    finally:
        await context.close()
    props = await contact_properties(clean_sandbox, contact)
    assert props["cshub_email_opt_out_categories"] == "surveys"
    assert props["cshub_consent_source"] == "preference_page"
    async with httpx.AsyncClient() as http:  # the language the contact already had is kept
        resp = await http.get(
            f"{clean_sandbox.http_url}/crm/v3/objects/contacts/{contact}",
            params={"properties": "hs_language"},
            headers={"Authorization": "Bearer test"},
        )
    expected = "es" if contact == "2014" else "en"
    assert resp.json()["properties"]["hs_language"] == expected
