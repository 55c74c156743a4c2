"""The preference centre end to end: an e-mail from the messaging activity (real SMTP
into the sandbox) → its ``List-Unsubscribe`` one-click POST to the API (uvicorn) → the
CRM contact (sandbox HubSpot) → the next e-mails of that category suppressed, billing and
service e-mails still sent; the consent log has the change with its time and source."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.messaging import MessagingActivities
from activities.models import ActionResult, CustomerEmailRequest, MessageContext
from domain.preferences import TEMPLATE_CATEGORIES, preference_link
from domain.send_window import SendWindow
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox
from tests.webhooks.conftest import Api, serve
from webhooks.preferences import consent_history
from wiring.connectors import build_connectors
from worker import messaging_config

COMPANY = "1005"  # Camille, no language (English)
ALWAYS = SendWindow(send_hour=0, quiet_start=0, quiet_end=0)


async def no_temporal() -> Client:
    raise OSError("the preference centre needs no Temporal")


@pytest.fixture
async def prefs_api(hub_settings: Settings, tmp_path: Path) -> AsyncIterator[Api]:
    settings = hub_settings.model_copy(update={"cshub_api_db": tmp_path / "api.db"})
    async with serve(settings, no_temporal) as running:
        yield running


def messaging(api: Api) -> MessagingActivities:
    settings = api.settings.model_copy(update={"cshub_public_api_url": api.url})
    c = build_connectors(settings)
    return MessagingActivities(c.crm, c.mailer, c.chat, messaging_config(settings))


async def send(acts: MessagingActivities, template: str, extra: dict[str, Any]) -> ActionResult:
    req = CustomerEmailRequest(
        customer_id=COMPANY,
        template=template,
        idempotency_key=f"prefs-{template}-{uuid.uuid4().hex[:8]}",
        context=MessageContext(day=0, extra=extra),
        send_window=ALWAYS,
    )
    return await ActivityEnvironment().run(acts.send_customer_email, req)


async def contact_properties(sandbox: SandboxHandle, contact_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        resp = await http.get(
            f"{sandbox.http_url}/crm/v3/objects/contacts/{contact_id}",
            params={"properties": ["cshub_email_opt_out_categories", "cshub_consent_source"]},
            headers={"Authorization": "Bearer test"},
        )
        resp.raise_for_status()
        props: dict[str, Any] = resp.json()["properties"]
        return props


DUNNING = {"amount": "$49.00", "attempt": 1, "update_url": "https://billing.example/update"}


async def test_one_click_unsubscribe_from_surveys_stops_surveys_not_billing(
    prefs_api: Api, clean_sandbox: SandboxHandle
) -> None:
    acts = messaging(prefs_api)
    first = await send(acts, "winback_exit_survey", {})
    assert not first.suppressed
    [email] = (await outbox(clean_sandbox))["emails"]
    headers = email["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = re.fullmatch(r"<(.+)>", headers["List-Unsubscribe"])
    assert one_click and one_click.group(1).startswith(f"{prefs_api.url}/preferences/unsubscribe")
    assert "category=surveys" in one_click.group(1)
    contact_id = first.contact_id
    assert contact_id
    # The footer links to the hub's own signed page.
    assert f"{prefs_api.url}/preferences?contact={contact_id}" in email["text"]

    async with httpx.AsyncClient(timeout=10) as http:
        # What a mail client sends (RFC 8058): a POST with the one-click body.
        resp = await http.post(
            one_click.group(1),
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert resp.status_code == 200, resp.text
        assert "Surveys" in resp.text
        # A GET (a link scanner, a browser) changes nothing more; a forged link is refused.
        assert (await http.get(one_click.group(1))).status_code == 200
        forged = one_click.group(1).replace(f"contact={contact_id}", "contact=2001")
        refused = await http.post(forged, content=b"List-Unsubscribe=One-Click")
        assert refused.status_code == 403

    props = await contact_properties(clean_sandbox, contact_id)
    assert props["cshub_email_opt_out_categories"] == "surveys"
    assert props["cshub_consent_source"] == "one_click"
    [change] = consent_history(prefs_api.settings.cshub_api_db, contact_id)
    assert (change.source, change.opted_out_before, change.opted_out_after) == (
        "one_click",
        "",
        "surveys",
    )
    assert abs((datetime.now(UTC) - change.at).total_seconds()) < 60

    survey = await send(acts, "winback_exit_survey", {})
    billing = await send(acts, "dunning_payment_failed", DUNNING)
    tips = await send(acts, "tips", {})
    assert survey.suppressed and "opted out of surveys" in survey.summary
    assert not billing.suppressed and not tips.suppressed
    box = await outbox(clean_sandbox)
    sent = [e["headers"]["X-Cshub-Template"] for e in box["emails"]]
    assert sent == ["winback_exit_survey", "dunning_payment_failed", "tips"]
    # A billing e-mail's one-click link turns off every optional category, never billing.
    assert "category=all" in box["emails"][1]["headers"]["List-Unsubscribe"]
    # The CSM hears of the suppressed survey in Slack.
    assert any("opted out of surveys" in str(m) for m in box["slack_messages"])


async def test_the_preference_form_saves_categories_and_language(
    prefs_api: Api, clean_sandbox: SandboxHandle
) -> None:
    secret = prefs_api.secret("survey_link_secret")
    link = preference_link(prefs_api.url, secret, "2014")  # Lucía (es)
    async with httpx.AsyncClient(timeout=10) as http:
        page = await http.get(link)
        assert page.status_code == 200
        sig = re.search(r"name=sig value='([^']+)'", page.text)
        assert sig
        saved = await http.post(
            f"{prefs_api.url}/preferences",
            content=f"contact=2014&sig={sig.group(1)}&category=surveys&language=en".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert saved.status_code == 200
        assert "Your preferences were saved." in saved.text
        bad = await http.get(link.replace("sig=", "sig=0"))
        assert bad.status_code == 403
    props = await contact_properties(clean_sandbox, "2014")
    assert props["cshub_email_opt_out_categories"] == "onboarding_tips;product_news"
    assert props["cshub_consent_source"] == "preference_page"
    [change] = consent_history(prefs_api.settings.cshub_api_db, "2014")
    assert (change.language_before, change.language_after) == ("es", "en")


def test_every_email_template_has_a_category() -> None:
    folder = Path(__file__).parents[2] / "templates" / "email"
    names = {p.name.split(".")[0] for p in folder.glob("*.txt.j2") if not p.name.startswith("_")}
    assert names == set(TEMPLATE_CATEGORIES)
