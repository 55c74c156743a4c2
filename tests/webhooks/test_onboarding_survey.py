"""The onboarding survey end to end: the signed link from the day 7/30/90 e-mail → the
page with its three questions (in the reader's language) → POST /survey/onboarding on the
real app → OnboardingSurveyWorkflow on the dev server with the real activities → the
answers on the CRM company and in a note, and, for an unhappy answer, a Slack message
and a call task for the CSM. Bad answers are refused with a visible message; a forged,
changed or expired link is refused."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from activities.action_log import SqlActionStore
from domain import onboarding_survey as survey
from domain.survey_links import onboarding_survey_link
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.webhooks.conftest import Api
from wiring.connectors import build_connectors


def link(api: Api, customer: str, day: int, expires_in: int = 3600) -> str:
    secret = api.secret("survey_link_secret")
    return onboarding_survey_link(api.url, secret, customer, day, int(time.time()) + expires_in)


def fields_of(page: str) -> dict[str, str]:
    return dict(re.findall(r"name=(\w+) value='([^']*)'", page))


async def post(api: Api, fields: dict[str, str], lang: str = "en") -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            f"{api.url}/survey/onboarding", data=fields, headers={"Accept-Language": lang}
        )


async def get(url: str, lang: str = "en") -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.get(url, headers={"Accept-Language": lang})


def unhappy_alerts(box: dict[str, object]) -> list[str]:
    messages = box["slack_messages"]
    assert isinstance(messages, list)
    return [m for m in map(json.dumps, messages) if "unhappy onboarding survey" in m]


async def test_an_unhappy_answer_is_recorded_and_reaches_the_csm(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    env = dev_server_env
    queue = api.settings.temporal_task_queue
    store = SqlActionStore(tmp_path / "actions.db")  # the customer's timeline
    async with running_worker(env, api.settings, task_queue=queue, actions=store):
        page = await get(link(api, "1003", 30), "es")
        assert page.status_code == 200
        assert "¿Cuán satisfecho está con la incorporación hasta ahora?" in page.text
        assert "¿Obtiene el valor que esperaba?" in page.text and "Todavía no" in page.text
        assert "¿Qué haría más fáciles las próximas semanas?" in page.text
        english = await get(link(api, "1003", 30))
        assert "How satisfied are you with your onboarding so far?" in english.text
        signed = fields_of(page.text)
        assert signed["customer"] == "1003" and signed["day"] == "30"

        no_score = await post(api, {**signed, "value": "yes", "comment": "Más ejemplos"}, "es")
        assert no_score.status_code == 422
        assert "Elija un número del 0 al 10 en la pregunta 1." in no_score.text
        assert "Más ejemplos</textarea>" in no_score.text  # what was written is kept
        out_of_range = await post(api, {**signed, "score": "11", "value": "yes"})
        assert out_of_range.status_code == 422 and "from 0 to 10" in out_of_range.text
        no_value = await post(api, {**signed, "score": "4"})
        assert no_value.status_code == 422 and "question 2" in no_value.text
        too_long = await post(api, {**signed, "score": "4", "value": "yes", "comment": "x" * 2001})
        assert too_long.status_code == 422 and "too long" in too_long.text
        forged = await post(api, {**signed, "customer": "1004", "score": "9", "value": "yes"})
        assert forged.status_code == 403
        moved = await post(api, {**signed, "day": "90", "score": "9", "value": "yes"})
        assert moved.status_code == 403
        expired = await get(link(api, "1003", 7, expires_in=-60))
        assert expired.status_code == 403 and "expired" in expired.text.lower()

        answers = {**signed, "score": "4", "value": "not_yet", "comment": "No warehouse yet"}
        sent = await post(api, answers)
        assert sent.status_code == 200 and "Thank you" in sent.text
        result = await env.client.get_workflow_handle(
            survey.onboarding_survey_workflow_id(survey.onboarding_survey_key("1003", 30)),
            result_type=survey.OnboardingSurveyResult,
        ).result()
        assert result.csm_alerted and result.score == 4
        again = await post(api, answers)
        assert again.status_code == 200 and "already" in again.text.lower()

    box = await outbox(clean_sandbox)
    (alert,) = unhappy_alerts(box)
    assert "Northwind Analytics" in alert and "4/10" in alert and "not yet" in alert
    assert "No warehouse yet" in alert
    tasks = json.dumps(box["crm_tasks"])
    assert "Onboarding survey day 30: 4/10, value: not yet" in tasks
    notes = json.dumps(box["crm_notes"])
    assert "Onboarding survey (day 30): satisfaction 4/10" in notes
    crm = build_connectors(api.settings).crm
    (company,) = await asyncio.to_thread(
        crm.batch_read_companies,
        ["1003"],
        [survey.SCORE, survey.VALUE, survey.DAY, survey.day_score_property(30)],
    )
    assert company.properties[survey.SCORE] == "4"
    assert company.properties[survey.VALUE] == "not_yet"
    assert company.properties[survey.DAY] == "30"
    assert company.properties[survey.day_score_property(30)] == "4"
    timeline = [(r.channel, r.summary) for r in store.for_customer("1003")]
    assert any(c == "crm_note" and "Onboarding survey (day 30)" in t for c, t in timeline)
    assert any(c == "slack" for c, _ in timeline) and any(c == "crm_task" for c, _ in timeline)


async def test_a_happy_answer_is_recorded_without_an_alert(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    env = dev_server_env
    queue = api.settings.temporal_task_queue
    async with running_worker(env, api.settings, task_queue=queue):
        signed = fields_of((await get(link(api, "1004", 7))).text)
        assert (await post(api, {**signed, "score": "9", "value": "yes"})).status_code == 200
        result = await env.client.get_workflow_handle(
            survey.onboarding_survey_workflow_id(survey.onboarding_survey_key("1004", 7)),
            result_type=survey.OnboardingSurveyResult,
        ).result()
        assert not result.csm_alerted
    box = await outbox(clean_sandbox)
    assert unhappy_alerts(box) == []
    assert "Onboarding survey (day 7): satisfaction 9/10" in json.dumps(box["crm_notes"])
