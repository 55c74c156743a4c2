"""CSAT and NPS end to end through the signed links: the survey e-mail in the sandbox
inbox → a person's click (HTTP GET on the API) → the workflow's signal → the effects in
Zendesk, HubSpot and Slack (the sandbox outbox). On the dev server, with the real app
served by uvicorn and a worker with the real activities and connectors."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cshub.temporal_process import TemporalProcess
from domain.survey_links import csat_links, exit_survey_links, nps_links
from domain.surveys import CsatInput, NpsInput
from runtime.temporal_client import connect
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox, running_worker
from tests.webhooks.conftest import Api, drained, serve
from tests.workflows.campaign_helpers import merged_company_update, slack_texts, task_subjects
from tests.workflows.test_surveys import (
    contact_updates,
    links_of,
    query_of,
    set_ticket_status,
    survey_emails,
)
from webhooks.app import create_app
from webhooks.ledger import DeliveryLedger
from webhooks.server import serve_api

# No delay, no quiet hours, this quarter's NPS at once: real time on the dev server.
INSTANT = """
name: surveys
send_window: {send_hour: 0, quiet_start: 0, quiet_end: 0}
csat: {delay_hours: 0}
nps: {send_day: 1}
"""


@pytest.fixture
def instant_playbook(playbooks_with_test_plans: Path) -> str:
    (playbooks_with_test_plans / "surveys_instant.yaml").write_text(INSTANT, encoding="utf-8")
    return "surveys_instant"


@contextlib.asynccontextmanager
async def hub(env: WorkflowEnvironment, api: Api, *ids: str) -> AsyncIterator[None]:
    """A worker whose e-mails link to this API; the workflows terminated afterwards."""
    settings = api.settings.model_copy(update={"cshub_public_api_url": api.url})
    try:
        async with running_worker(env, settings, task_queue=settings.temporal_task_queue):
            yield
    finally:
        for wid in ids:
            with contextlib.suppress(Exception):
                await env.client.get_workflow_handle(wid).terminate("test done")


async def click(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.get(url)


async def test_csat_end_to_end_through_the_signed_links(
    api: Api,
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    instant_playbook: str,
) -> None:
    env = dev_server_env
    await set_ticket_status(clean_sandbox, "5001", "solved")  # Yuki, Atlas (1007)
    async with hub(env, api, "csat-5001"):
        handle = await env.client.start_workflow(
            "CsatSurveyWorkflow",
            CsatInput(ticket_id="5001", playbook=instant_playbook),
            id="csat-5001",
            task_queue=api.settings.temporal_task_queue,
        )

        async def sent() -> dict[int, str]:
            emails = survey_emails(await outbox(clean_sandbox), "csat_survey")
            assert len(emails) == 1
            return links_of(emails[0])

        links = await eventually(sent)
        assert all(u.startswith(f"{api.url}/survey/csat?") for u in links.values())
        q = query_of(links[5])

        # Tampered, forged, expired or incomplete links are refused and change nothing.
        secret = api.secret("survey_link_secret")
        expired = csat_links(api.url, secret, "5001", q["survey"], int(time.time()) - 60)[4]
        for bad in (
            links[5].replace("score=5", "score=1"),  # another score under the 5's signature
            links[5].replace("ticket=5001", "ticket=5003"),  # another ticket
            links[5].replace(f"exp={q['exp']}", f"exp={int(q['exp']) + 86400}"),  # longer life
            csat_links(api.url, "not-the-secret", "5001", q["survey"], int(q["exp"]))[1],
            links[5].split("&sig=")[0],  # no signature
        ):
            page = await click(bad)
            assert page.status_code == 403 and "not valid" in page.text, bad
        page = await click(expired)
        assert page.status_code == 403 and "expired" in page.text
        assert (await handle.query("status"))["status"] == "sent"

        # The click, then a second click on the same e-mail (another score): recorded once.
        first = await click(links[1])
        assert first.status_code == 200 and "Thank you" in first.text
        again = await click(links[5])
        assert again.status_code == 200 and "already recorded" in again.text
        same = await click(links[1])
        assert same.status_code == 200 and "already recorded" in same.text

        async def answered() -> dict[str, Any]:
            status: dict[str, Any] = await handle.query("status")
            assert status["status"] == "answered"
            return status

        async def recorded() -> dict[str, Any]:
            box = await outbox(clean_sandbox)
            assert merged_company_update(box, "1007").get("cshub_csat_last_score") == "1"
            assert task_subjects(box, "1007") and slack_texts(box, "CSAT 1/5")
            return box

        status = await eventually(answered)
        assert status["score"] == 1
        await eventually(recorded)
        # The workflow now waits 5 minutes for Zendesk's search index before recounting
        # the customer's support figures (tests/workflows/test_support_health.py): end it.
        await handle.terminate("test: the support-figures refresh is tested elsewhere")

        # A genuine link of another survey e-mail, after this survey ended.
        stale = csat_links(api.url, secret, "5001", "f" * 16, int(time.time()) + 3600)[4]
        closed = await click(stale)
        assert closed.status_code == 200 and "closed" in closed.text

    box = await eventually(recorded)
    tickets = [c for c in box["ticket_changes"] if c["ticket_id"] == "5001" and c["comment"]]
    assert len(tickets) == 1 and "csat_score_1" in tickets[0]["changes"]["tags"]
    assert task_subjects(box, "1007") == ["Follow up on a low CSAT score: ticket #5001 (1/5)"]
    assert len(slack_texts(box, "CSAT")) == 1
    scores = [
        u["properties"]["cshub_csat_last_score"]
        for u in box["crm_updates"]
        if "cshub_csat_last_score" in u["properties"]
    ]
    assert scores == ["1"]


async def test_nps_end_to_end_through_the_signed_links(
    api: Api,
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    instant_playbook: str,
) -> None:
    env, customer = dev_server_env, "1005"  # Helios: Camille 2006, Hugo 2007
    async with hub(env, api, f"nps-{customer}"):
        handle = await env.client.start_workflow(
            "NpsSurveyWorkflow",
            NpsInput(customer_id=customer, playbook=instant_playbook),
            id=f"nps-{customer}",
            task_queue=api.settings.temporal_task_queue,
        )

        async def sent() -> dict[str, dict[int, str]]:
            emails = survey_emails(await outbox(clean_sandbox), "nps_survey")
            assert len(emails) == 2
            return {e["headers"]["X-Cshub-Contact-Id"]: links_of(e) for e in emails}

        links = await eventually(sent)
        camille, hugo = links["2006"], links["2007"]

        forged = hugo[9].replace("contact=2007", "contact=2006")
        assert (await click(forged)).status_code == 403
        retimed = hugo[9].replace("quarter=", "quarter=1")
        assert (await click(retimed)).status_code == 403

        detractor = await click(camille[2])
        assert detractor.status_code == 200 and "Thank you" in detractor.text
        second = await click(camille[10])  # changes nothing
        assert second.status_code == 200 and "already recorded" in second.text
        promoter = await click(hugo[9])
        assert promoter.status_code == 200 and "Thank you" in promoter.text

        async def recorded() -> dict[str, Any]:
            status = await handle.query("status")
            assert sorted((a["contact_id"], a["score"]) for a in status["answers"]) == [
                ("2006", 2),
                ("2007", 9),
            ]
            box = await outbox(clean_sandbox)
            assert survey_emails(box, "nps_advocacy") and slack_texts(box, "NPS detractor")
            assert contact_updates(box, "2007").get("cshub_nps_score") == "9"
            return box

        box = await eventually(recorded)
        # Exactly one 1:1 call task and one alert for the detractor.
        assert task_subjects(box, customer) == ["Book a 1:1 call: NPS detractor (score 2)"]
        assert len(slack_texts(box, "NPS detractor")) == 1
        assert contact_updates(box, "2006")["cshub_nps_score"] == "2"
        (advocacy,) = survey_emails(box, "nps_advocacy")
        assert advocacy["to"] == ["hugo.bernard@helios-logistics.example.com"]
        assert merged_company_update(box, customer)["cshub_nps_score"] == "0"


async def test_a_click_while_temporal_is_down_says_thanks_and_reaches_the_survey_once_back(
    api_settings: Any, clean_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Durable intake for survey clicks: Temporal really stopped, the person reads "thank
    you" (the answer is stored), a second click is "already recorded", and once Temporal
    is back the ticket's survey receives the answer, once."""
    temporal = TemporalProcess(tmp_path / "temporal.db")
    await temporal.start()
    settings = api_settings.model_copy(
        update={"temporal_address": temporal.address, "cshub_forward_max_backoff_s": 1.0}
    )
    client = await connect(settings)
    # The ticket's survey is waiting for its answer (no worker needed to take a signal).
    await client.start_workflow(
        "CsatSurveyWorkflow", id="csat-5001", task_queue=f"nobody-{uuid.uuid4().hex[:8]}"
    )
    secret = settings.survey_link_secret.get_secret_value()
    server = await serve_api(create_app(settings), port=0)
    ledger = DeliveryLedger(settings.cshub_api_db)
    try:
        await temporal.stop()
        exp = int(datetime.now(UTC).timestamp()) + 3600
        csat = csat_links(server.url, secret, "5001", "0" * 16, exp)
        page = await click(csat[4])
        assert page.status_code == 200, page.text
        assert "Thank you" in page.text
        again = await click(csat[1])  # another score of the same e-mail
        assert again.status_code == 200 and "already recorded" in again.text
        assert ledger.backlog().pending == 1

        await temporal.start()
        await drained(ledger, within_s=60)
        client = await connect(settings)
        history = await client.get_workflow_handle("csat-5001").fetch_history()
        answers = [
            e.workflow_execution_signaled_event_attributes
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        ]
        assert [a.signal_name for a in answers] == ["csat_answered"]
        score = parse_qs(urlsplit(csat[4]).query)["score"][0]  # the first click's score
        assert f'"score":{score}' in answers[0].input.payloads[0].data.decode().replace(" ", "")
        await client.get_workflow_handle("csat-5001").terminate("test done")
    finally:
        ledger.close()
        await server.stop()
        await temporal.stop()


@pytest.mark.parametrize(
    "query",
    [
        "ticket=5001&survey=abcdef0123456789&score=%C2%B2&exp=9999999999&sig=00",
        "ticket=5001&survey=abcdef0123456789&score=4&exp=%C2%B2&sig=00",
        "ticket=5001&survey=abcdef0123456789&score=4&exp=" + "9" * 5000 + "&sig=00",
    ],
)
async def test_odd_digits_in_a_survey_link_are_a_bad_link_not_a_crash(api: Api, query: str) -> None:
    async with httpx.AsyncClient() as http:
        resp = await http.get(f"{api.url}/survey/csat?{query}")
    assert resp.status_code == 403


async def test_survey_pages_follow_the_browsers_language(
    api_settings: Any, clean_sandbox: SandboxHandle
) -> None:
    """A Spanish-speaking browser reads the page in Spanish, whatever the answer was;
    a language the hub has no texts in gets English."""

    async def down() -> Client:
        raise OSError("connection refused")

    secret = api_settings.survey_link_secret.get_secret_value()
    spanish = {"Accept-Language": "es-MX,es;q=0.9,en;q=0.8"}
    async with serve(api_settings, down) as running, httpx.AsyncClient(timeout=30) as http:
        now = int(datetime.now(UTC).timestamp())
        fresh = csat_links(running.url, secret, "5001", "0" * 16, now + 3600)[4]
        expired = csat_links(running.url, secret, "5001", "0" * 16, now - 60)[4]
        # Temporal down: the answer is stored, the person thanked (in Spanish).
        stored = await http.get(fresh, headers=spanish)
        assert stored.status_code == 200
        assert "<html lang=es>" in stored.text and "Gracias" in stored.text
        late = await http.get(expired, headers=spanish)
        assert late.status_code == 403 and "Este enlace ha caducado" in late.text
        forged = await http.get(fresh.replace("score=4", "score=1"), headers=spanish)
        assert forged.status_code == 403 and "Este enlace no es válido" in forged.text
        german = await http.get(expired, headers={"Accept-Language": "de-DE,de;q=0.9"})
        assert "<html lang=en>" in german.text and "This link has expired" in german.text


async def test_links_signed_before_a_secret_rotation_still_work_until_it_is_removed(
    api_settings: Any, clean_sandbox: SandboxHandle
) -> None:
    """Rotation: the new secret signs, the old one is listed in
    SURVEY_LINK_PREVIOUS_SECRETS and still verifies the links already in inboxes (CSAT,
    NPS, exit); once removed from the list, its links are invalid. With Temporal down a
    genuine link is stored (200: thanks, or already recorded when another secret's link
    of the same e-mail was clicked first) and a bad one 403, so no worker is needed."""

    async def down() -> Client:
        raise OSError("connection refused")

    exp = int(datetime.now(UTC).timestamp()) + 3600

    def links(base: str, secret: str) -> list[str]:
        return [
            csat_links(base, secret, "5001", "0" * 16, exp)[4],
            nps_links(base, secret, "1003", "2003", "2026-Q4", "0" * 16, exp)[9],
            exit_survey_links(base, secret, "1003", "c" * 16, expires=exp)["too_expensive"],
        ]

    rotated = api_settings.model_copy(
        update={
            "survey_link_secret": SecretStr("new-secret-2027"),
            "survey_link_previous_secrets": SecretStr("old-secret-2026, older-2025"),
        }
    )
    async with serve(rotated, down) as running:
        for secret in ("new-secret-2027", "old-secret-2026", "older-2025"):
            for url in links(running.url, secret):
                page = await click(url)
                assert page.status_code == 200, (secret, url, page.text)  # genuine
                assert "Thank you" in page.text or "already recorded" in page.text
        for url in links(running.url, "removed-secret"):
            page = await click(url)
            assert page.status_code == 403 and "not valid" in page.text, url
    removed = rotated.model_copy(update={"survey_link_previous_secrets": None})
    async with serve(removed, down) as running:
        for url in links(running.url, "old-secret-2026"):
            assert (await click(url)).status_code == 403, url
        for url in links(running.url, "new-secret-2027"):
            assert (await click(url)).status_code == 200, url
