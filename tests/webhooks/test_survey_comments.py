"""Survey comments end to end: the box under the CSAT thank-you page → POST
/survey/comment on the real app (uvicorn) → CustomerTextWorkflow on the dev server with
the real activities → the Slack alert in the sandbox outbox and the text on the CRM
company. A negative Spanish comment from a paying customer alerts the CSM once, quoting
it; a positive one alerts nobody; a forged form is refused."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
from temporalio.testing import WorkflowEnvironment

from domain.customer_text import TextReading, TextSource, text_workflow_id
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.webhooks.conftest import Api
from webhooks import sample_events as samples
from webhooks.survey_comments import comment_box
from wiring.connectors import build_connectors

NEGATIVE_ES = (
    "Pésimo servicio: llevo tres días esperando una respuesta y nadie nos contesta. "
    "Si esto sigue así vamos a cancelar el contrato."
)
POSITIVE_ES = "Muy contentos con la ayuda, el equipo fue rapidísimo y muy amable. ¡Gracias!"


def form_fields(api: Api, answer: str, score: int) -> dict[str, str]:
    """The hidden fields of the box the thank-you page shows under a CSAT answer of
    ``score`` on ticket 5001 (Atlas Manufacturing, customer 1007, Enterprise)."""
    html = comment_box(
        api.secret("survey_link_secret"), TextSource.CSAT, answer, "5001", score, "es"
    )
    assert "¿Algo más que quiera contarnos?" in html
    return dict(re.findall(r"name=(\w+) value='([^']*)'", html))


async def send(api: Api, fields: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            f"{api.url}/survey/comment", data=fields, headers={"Accept-Language": "es"}
        )


def text_alerts(box: dict[str, object]) -> list[str]:
    messages = box["slack_messages"]
    assert isinstance(messages, list)
    return [json.dumps(m, ensure_ascii=False) for m in messages if "wrote in" in str(m)]


async def test_a_negative_spanish_csat_comment_alerts_the_csm_once_and_a_positive_one_not(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    env = dev_server_env
    settings = api.settings
    async with running_worker(env, settings, task_queue=settings.temporal_task_queue):
        negative = {**form_fields(api, "csat:5001:s-neg", 1), "comment": NEGATIVE_ES}
        first = await send(api, negative)
        assert first.status_code == 200 and "Gracias" in first.text
        again = await send(api, negative)  # the form sent twice: recorded once
        assert again.status_code == 200
        await env.client.get_workflow_handle(
            text_workflow_id("survey:comment:csat:5001:s-neg")
        ).result()

        positive = {**form_fields(api, "csat:5001:s-pos", 5), "comment": POSITIVE_ES}
        assert (await send(api, positive)).status_code == 200
        reading = await env.client.get_workflow_handle(
            text_workflow_id("survey:comment:csat:5001:s-pos"), result_type=TextReading
        ).result()
        assert reading.verdict.label == "positive"

        box = await outbox(clean_sandbox)
        alerts = text_alerts(box)
        assert len(alerts) == 1, alerts
        assert "llevo tres días esperando una respuesta" in alerts[0]
        assert "negative" in alerts[0] and "waiting / no response" in alerts[0]

        crm = build_connectors(settings).crm
        (company,) = await asyncio.to_thread(
            crm.batch_read_companies, ["1007"], ["cshub_sentiment_recent", "cshub_text_themes"]
        )
        recent = json.loads(company.properties["cshub_sentiment_recent"] or "[]")
        assert [r["label"] for r in recent] == ["negative", "positive"]
        themes = json.loads(company.properties["cshub_text_themes"] or "{}")
        assert themes["texts"] == 2 and themes["negative"] == 1 and themes["waiting"] == 1

        forged = {**negative, "score": "5"}  # the signature no longer matches
        refused = await send(api, forged)
        assert refused.status_code == 403
        empty = await send(api, {**form_fields(api, "csat:5001:s-empty", 3), "comment": " "})
        assert empty.status_code == 422


async def test_a_requesters_angry_ticket_comment_is_quoted_to_the_csm(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    """A public comment by the requester on ticket 5002 (Northwind Analytics, 1003,
    Starter): read, recorded on the company, and quoted once to the CSM."""
    env = dev_server_env
    settings = api.settings
    event = samples.zendesk_comment_added("5002", by_agent=False, author_id="8103")
    event["event"]["comment"]["body"] = (
        "This is unacceptable. Still no answer after three days and we were charged twice."
    )
    request = samples.signed_zendesk(event, secret=api.secret("zendesk_webhook_secret"))
    async with running_worker(env, settings, task_queue=settings.temporal_task_queue):
        resp = await api.post(request)
        assert resp.status_code == 202 and resp.json()["outcome"] == "accepted", resp.text
        reading = await env.client.get_workflow_handle(
            resp.json()["workflow_id"], result_type=TextReading
        ).result()
        assert reading.customer_id == "1003" and reading.paying
        assert reading.verdict.signals == ["waiting", "billing_dispute"]
        again = await api.post(request)
        assert again.json()["outcome"] == "duplicate"
    alerts = text_alerts(await outbox(clean_sandbox))
    assert len(alerts) == 1 and "Still no answer after three days" in alerts[0]
    assert "a ticket comment (ticket #5002)" in alerts[0]
