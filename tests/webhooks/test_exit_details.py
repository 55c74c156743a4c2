"""The exit survey's second page end to end: the one-click reason (a signed link from
the win-back e-mail) → the thank-you page asks seed 003's questions 2 and 3 (in the
reader's language) → POST /survey/exit/details on the real app → ExitDetailsWorkflow on
the dev server with the real activities → the answers on the CRM company, a note, and,
when the customer would consider coming back, a Slack message and a call task for the
CSM. A missing answer is refused with a visible message; a forged form is refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator

import httpx
from temporalio.testing import WorkflowEnvironment

from domain.survey_links import exit_survey_links
from domain.winback import ExitDetailsResult, exit_details_workflow_id
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.webhooks.conftest import Api
from wiring.connectors import build_connectors


@contextlib.asynccontextmanager
async def winback(env: WorkflowEnvironment, api: Api, customer: str) -> AsyncIterator[None]:
    wid = f"winback-{customer}"
    async with running_worker(env, api.settings, task_queue=api.settings.temporal_task_queue):
        await env.client.start_workflow(
            "WinBackWorkflow",
            {"customer_id": customer, "reason": "test"},
            id=wid,
            task_queue=api.settings.temporal_task_queue,
        )
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await env.client.get_workflow_handle(wid).terminate("test done")


def form_of(page: str) -> dict[str, str]:
    return dict(re.findall(r"name=(\w+) value='([^']*)'", page))


async def click(api: Api, customer: str, campaign: str, lang: str) -> str:
    secret = api.secret("survey_link_secret")
    links = exit_survey_links(api.url, secret, customer, campaign, expires=int(time.time()) + 3600)
    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(links["too_expensive"], headers={"Accept-Language": lang})
    assert page.status_code == 200, page.text
    return page.text


async def send(api: Api, fields: dict[str, str], lang: str = "en") -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            f"{api.url}/survey/exit/details", data=fields, headers={"Accept-Language": lang}
        )


def would_return_alerts(box: dict[str, object]) -> list[str]:
    messages = box["slack_messages"]
    assert isinstance(messages, list)
    found = [json.dumps(m, ensure_ascii=False) for m in messages]
    return [m for m in found if "would consider coming back" in m]


async def test_the_page_asks_both_questions_and_a_would_be_returner_reaches_the_csm(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    env = dev_server_env
    async with winback(env, api, "1002"):
        page = await click(api, "1002", "wb-1002-d60", "es")
        # Today's page only thanked: the questions the e-mail promised are on it now.
        assert "¿Consideraría volver si resolviéramos lo que le preocupa?" in page
        assert "¿Qué podríamos haber hecho mejor? (opcional)" in page
        for option in ("Sí, sin duda", "Quizás", "Poco probable"):
            assert option in page
        fields = form_of(page)
        assert fields["customer"] == "1002" and fields["reason"] == "too_expensive"

        # No answer to question 3: refused where the person sees it, the text kept.
        missing = await send(api, {**fields, "better": "Más barato"}, "es")
        assert missing.status_code == 422
        assert "Elija una respuesta a: ¿consideraría volver?" in missing.text
        assert "Más barato</textarea>" in missing.text
        unknown = await send(api, {**fields, "would_return": "perhaps"})
        assert unknown.status_code == 422 and "Please choose an answer" in unknown.text
        too_long = await send(api, {**fields, "would_return": "no", "better": "x" * 2001})
        assert too_long.status_code == 422 and "too long" in too_long.text
        forged = await send(api, {**fields, "customer": "1003", "would_return": "yes"})
        assert forged.status_code == 403

        answers = {**fields, "would_return": "maybe", "better": "Cheaper seats for small teams"}
        sent = await send(api, answers)
        assert sent.status_code == 200 and "Thank you" in sent.text
        result = await env.client.get_workflow_handle(
            exit_details_workflow_id("wb-1002-d60"), result_type=ExitDetailsResult
        ).result()
        assert result.csm_alerted
        again = await send(api, answers)
        assert again.status_code == 200 and "already" in again.text.lower()

    box = await outbox(clean_sandbox)
    alerts = would_return_alerts(box)
    assert len(alerts) == 1, alerts
    assert "Pixel Harbor" in alerts[0] and "maybe" in alerts[0]
    assert "Cheaper seats for small teams" in alerts[0] and "too expensive" in alerts[0]
    crm = build_connectors(api.settings).crm
    (company,) = await asyncio.to_thread(
        crm.batch_read_companies, ["1002"], ["cshub_exit_would_return", "cshub_exit_better"]
    )
    assert company.properties["cshub_exit_would_return"] == "maybe"
    assert company.properties["cshub_exit_better"] == "Cheaper seats for small teams"
    tasks = json.dumps(box.get("crm_tasks") or box.get("tasks") or [])
    assert "Win-back chance: would consider returning (maybe)" in tasks


async def test_a_no_is_recorded_without_telling_the_csm(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    env = dev_server_env
    async with winback(env, api, "1001"):
        fields = form_of(await click(api, "1001", "wb-1001-d60", "en"))
        sent = await send(api, {**fields, "would_return": "no"})
        assert sent.status_code == 200
        result = await env.client.get_workflow_handle(
            exit_details_workflow_id("wb-1001-d60"), result_type=ExitDetailsResult
        ).result()
        assert not result.csm_alerted
    box = await outbox(clean_sandbox)
    assert would_return_alerts(box) == []
    notes = json.dumps(box.get("crm_notes") or box.get("notes") or [])
    assert "would consider returning if we addressed their concerns: no." in notes
