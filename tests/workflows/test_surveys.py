"""CSAT and NPS surveys on the time-skipping server: the real workflows, activities and
connectors against the sandbox emulators (HubSpot, Zendesk, Slack, SMTP) over HTTP."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.support_records import CsatStatus, NpsStatus
from domain.surveys import (
    CancelSurvey,
    CsatAnswered,
    CsatInput,
    NpsAnswered,
    NpsInput,
    quarter_at,
)
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import fresh_time_skipping_env, outbox, running_worker
from tests.workflows.campaign_helpers import (
    TIMEZONES,
    local_hour,
    merged_company_update,
    notes,
    skip_to_local_hour,
    slack_texts,
    stop,
    task_subjects,
)
from workflows.csat import CsatSurveyWorkflow
from workflows.nps import NpsSurveyWorkflow

LINK = re.compile(r"https?://\S+/survey/(?:csat|nps)\?\S+")
CSAT_TASK = "Follow up on a low CSAT score: ticket #5001 (2/5)"
NPS_TASK = "Book a 1:1 call: NPS detractor (score 3)"


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server per test: NPS moves the clock by quarters, and a workflow
    task left behind by another test (its worker gone) would stop the clock skipping."""
    async for env in fresh_time_skipping_env():
        yield env


async def set_ticket_status(sandbox: SandboxHandle, ticket_id: str, status: str) -> None:
    async with httpx.AsyncClient(
        base_url=sandbox.http_url, auth=("automation@cshub.example/token", "sandbox")
    ) as http:
        resp = await http.put(
            f"/api/v2/tickets/{ticket_id}.json", json={"ticket": {"status": status}}
        )
        resp.raise_for_status()


def survey_emails(box: dict[str, Any], template: str) -> list[dict[str, Any]]:
    return [e for e in box["emails"] if e["template"] == template]


def links_of(email: dict[str, Any]) -> dict[int, str]:
    """Score → link, from the plain-text part."""
    found = {}
    for url in LINK.findall(email["text"]):
        found[int(parse_qs(urlparse(url).query)["score"][0])] = url
    return found


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def contact_updates(box: dict[str, Any], contact_id: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for u in box["crm_updates"]:
        if u["type"] == "contacts" and str(u["id"]) == contact_id:
            merged.update(u["properties"])
    return merged


async def until(check: Any, within_s: float = 15) -> Any:
    """Poll ``check`` (an async callable that asserts) in real time."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


# ---------------------------------------------------------------------------- CSAT


async def test_csat_goes_after_the_delay_and_a_low_score_is_recorded_everywhere(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env = time_skipping_env
    await set_ticket_status(clean_sandbox, "5001", "solved")  # Yuki (Atlas, 1007, Tokyo)
    await skip_to_local_hour(env, "1007", 12)
    solved_at = await env.get_current_time()
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            CsatSurveyWorkflow.run,
            CsatInput(ticket_id="5001", solved_at=solved_at),
            id="csat-5001",
            task_queue=worker.task_queue,
        )
        try:
            await env.sleep(timedelta(hours=23))
            assert (await handle.query(CsatSurveyWorkflow.status)).status == "waiting"
            assert survey_emails(await outbox(clean_sandbox), "csat_survey") == []
            await env.sleep(timedelta(hours=2))
            status = await handle.query(CsatSurveyWorkflow.status)
            assert status.status == "sent" and status.customer_id == "1007"

            box = await outbox(clean_sandbox)
            (email,) = survey_emails(box, "csat_survey")
            assert email["to"] == ["yuki.tanaka@atlas-mfg.example.com"]
            assert email["headers"]["X-Cshub-Contact-Id"] == "2010"
            links = links_of(email)
            assert sorted(links) == [1, 2, 3, 4, 5]
            survey = query_of(links[2])["survey"]
            assert {query_of(u)["survey"] for u in links.values()} == {survey}
            assert "#5001" in email["text"]

            # The answer (the second click, of another score, is ignored).
            await handle.signal(
                CsatSurveyWorkflow.csat_answered,
                CsatAnswered(score=2, survey_id=survey, event_id="survey:csat:5001:x"),
            )
            await handle.signal(
                CsatSurveyWorkflow.csat_answered, CsatAnswered(score=5, survey_id=survey)
            )
            result = await handle.result()
            progress = await handle.query(CsatSurveyWorkflow.progress)
        finally:
            await stop(handle)

    assert isinstance(result, CsatStatus)
    assert (result.status, result.score, result.customer_id) == ("answered", 2, "1007")
    assert result.sent_at is not None and result.sent_at - solved_at >= timedelta(hours=24)
    sent = next(a for a in progress.actions if a.channel == "email")
    assert local_hour(sent.at, "1007") == 12  # 24 h after solved: outside quiet hours

    box = await outbox(clean_sandbox)
    changes = [c for c in box["ticket_changes"] if c["ticket_id"] == "5001" and c["comment"]]
    assert len(changes) == 1
    assert {"cshub_csat", "csat_score_2"} <= set(changes[0]["changes"]["tags"])
    assert changes[0]["comment"]["public"] is False
    assert "CSAT): 2/5 (dissatisfied)" in changes[0]["comment"]["body"]
    company = merged_company_update(box, "1007")
    assert company["cshub_csat_last_score"] == "2"
    assert company["cshub_csat_last_ticket"] == "5001"
    assert [n for n in notes(box, "1007") if n.startswith("CSAT")] == [
        "CSAT 2/5 (dissatisfied) from the requester of Zendesk ticket #5001."
    ]
    assert task_subjects(box, "1007") == [CSAT_TASK]
    assert len(slack_texts(box, "CSAT 2/5")) == 1
    assert any("ignored: already answered" in a.summary for a in progress.actions)


async def test_a_good_score_needs_no_follow_up_and_no_answer_means_expired(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env = time_skipping_env
    await set_ticket_status(clean_sandbox, "5003", "solved")  # Hugo (Helios, 1005)
    await set_ticket_status(clean_sandbox, "5002", "solved")  # Grace (Northwind, 1003)
    await skip_to_local_hour(env, "1005", 16)  # 10:00 in New York
    now = await env.get_current_time()
    async with running_worker(env, hub_settings) as worker:
        happy = await env.client.start_workflow(
            CsatSurveyWorkflow.run,
            CsatInput(ticket_id="5003", solved_at=now - timedelta(days=2)),  # delay long past
            id="csat-5003",
            task_queue=worker.task_queue,
        )
        silent = await env.client.start_workflow(
            CsatSurveyWorkflow.run,
            CsatInput(ticket_id="5002", customer_id="1003", solved_at=now - timedelta(days=2)),
            id="csat-5002",
            task_queue=worker.task_queue,
        )
        try:

            async def both_sent() -> None:
                for h in (happy, silent):
                    assert (await h.query(CsatSurveyWorkflow.status)).status == "sent"

            await until(both_sent)
            await happy.signal(CsatSurveyWorkflow.csat_answered, CsatAnswered(score=5))
            answered = await happy.result()
            expired = await silent.result()
            why = (await silent.query(CsatSurveyWorkflow.progress)).reason
        finally:
            await stop(happy)
            await stop(silent)

    assert (answered.status, answered.score) == ("answered", 5)
    assert (expired.status, expired.score) == ("expired", None)
    assert why == "no answer before the links expired"
    box = await outbox(clean_sandbox)
    assert merged_company_update(box, "1005")["cshub_csat_last_score"] == "5"
    assert task_subjects(box, "1005") == [] and box["slack_messages"] == []
    assert "cshub_csat_last_score" not in merged_company_update(box, "1003")
    assert not [c for c in box["ticket_changes"] if c["ticket_id"] == "5002" and c["comment"]]


async def test_a_reopened_ticket_gets_no_survey(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env = time_skipping_env
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            CsatSurveyWorkflow.run,
            CsatInput(ticket_id="5001"),  # still open in the sandbox
            id="csat-5001",
            task_queue=worker.task_queue,
        )
        try:
            result = await handle.result()
            reason = (await handle.query(CsatSurveyWorkflow.progress)).reason
        finally:
            await stop(handle)
    assert result.status == "skipped" and result.sent_at is None
    assert reason == "the ticket is open again: no survey for now"
    assert (await outbox(clean_sandbox))["emails"] == []


async def test_a_survey_cancelled_before_it_went_is_skipped(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env = time_skipping_env
    await set_ticket_status(clean_sandbox, "5001", "solved")
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            CsatSurveyWorkflow.run,
            CsatInput(ticket_id="5001", customer_id="1007"),
            id="csat-5001",
            task_queue=worker.task_queue,
        )
        try:
            await env.sleep(timedelta(hours=3))
            await handle.signal(CsatSurveyWorkflow.cancel, CancelSurvey(reason="ticket reopened"))
            result = await handle.result()
            reason = (await handle.query(CsatSurveyWorkflow.progress)).reason
        finally:
            await stop(handle)
    assert result.status == "skipped" and reason == "cancelled: ticket reopened"
    assert (await outbox(clean_sandbox))["emails"] == []


# ---------------------------------------------------------------------------- NPS


async def asked(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], n: int) -> Any:
    """Skip to this quarter's survey (if it is still ahead) and wait until ``n`` contacts
    were asked (or skipped)."""
    progress = await handle.query(NpsSurveyWorkflow.progress)
    now = await env.get_current_time()
    due = progress.next_survey_at
    if progress.quarter is not None and not progress.asked and due is not None and due > now:
        await env.sleep(due - now + timedelta(minutes=5))

    async def done() -> Any:
        p = await handle.query(NpsSurveyWorkflow.progress)
        assert len(p.asked) + len(p.skipped) >= n, p
        return p

    return await until(done)


async def test_nps_asks_every_contact_once_a_quarter_and_follows_up_each_answer(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1003"  # Northwind: Grace 2003, Leo 2004
    await skip_to_local_hour(env, customer, 12)
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            NpsSurveyWorkflow.run,
            NpsInput(customer_id=customer),
            id=f"nps-{customer}",
            task_queue=worker.task_queue,
        )
        try:
            first = await asked(env, handle, 2)
            assert sorted(first.asked) == ["2003", "2004"]
            quarter = first.quarter
            box = await outbox(clean_sandbox)
            emails = survey_emails(box, "nps_survey")
            assert sorted(e["headers"]["X-Cshub-Contact-Id"] for e in emails) == ["2003", "2004"]
            for action in first.actions:
                if action.channel == "email":  # the send day's 10:00, or at once (12:00)
                    assert local_hour(action.at, customer) in (10, 12), action
            for e in emails:
                links = links_of(e)
                assert sorted(links) == list(range(11))
                assert query_of(links[0])["quarter"] == quarter
            assert contact_updates(box, "2003")["cshub_nps_last_asked"]
            by_contact = {e["headers"]["X-Cshub-Contact-Id"]: links_of(e) for e in emails}

            def answer(contact: str, score: int, event: str) -> NpsAnswered:
                q = query_of(by_contact[contact][score])
                return NpsAnswered(
                    contact_id=contact,
                    score=score,
                    survey_id=q["survey"],
                    quarter=q["quarter"],
                    event_id=event,
                )

            await handle.signal(NpsSurveyWorkflow.nps_answered, answer("2003", 3, "e1"))
            await handle.signal(
                NpsSurveyWorkflow.nps_answered, answer("2003", 3, "e1")
            )  # redelivered
            await handle.signal(
                NpsSurveyWorkflow.nps_answered, answer("2003", 9, "e2")
            )  # 2nd click
            await handle.signal(NpsSurveyWorkflow.nps_answered, answer("2004", 10, "e3"))

            async def recorded() -> NpsStatus:
                s: NpsStatus = await handle.query(NpsSurveyWorkflow.status)
                assert len(s.answers) == 2
                box = await outbox(clean_sandbox)
                assert survey_emails(box, "nps_advocacy")
                assert slack_texts(box, "NPS detractor")
                return s

            status = await until(recorded)
            assert sorted((a.contact_id, a.score) for a in status.answers) == [
                ("2003", 3),
                ("2004", 10),
            ]
            box = await outbox(clean_sandbox)
            # A detractor: exactly one 1:1 call task and one alert; a promoter: advocacy.
            assert task_subjects(box, customer) == [NPS_TASK]
            task = next(
                t for t in box["crm_tasks"] if t["properties"]["hs_task_subject"] == NPS_TASK
            )
            assert task["properties"]["hs_task_priority"] == "HIGH"
            assert len(slack_texts(box, "NPS detractor")) == 1
            (advocacy,) = survey_emails(box, "nps_advocacy")
            assert advocacy["to"] == ["leo.martin@northwind.example.com"]
            assert "case study" in advocacy["text"]
            assert contact_updates(box, "2003")["cshub_nps_score"] == "3"
            assert contact_updates(box, "2003")["cshub_nps_category"] == "detractor"
            assert contact_updates(box, "2004")["cshub_nps_score"] == "10"
            company = merged_company_update(box, customer)
            assert company["cshub_nps_score"] == "0"  # 1 promoter, 1 detractor of 2
            assert company["cshub_nps_responses"] == "2"
            assert company["cshub_nps_quarter"] == quarter
            assert len([n for n in notes(box, customer) if n.startswith("NPS")]) == 2

            # The next quarter: asked again, once each; the answers are carried over.
            before = (await handle.describe()).run_id
            nxt = (await handle.query(NpsSurveyWorkflow.progress)).next_survey_at
            assert nxt is not None
            await env.sleep(nxt - await env.get_current_time() + timedelta(hours=1))
            latest = env.client.get_workflow_handle(f"nps-{customer}")

            async def asked_again() -> Any:
                p = await latest.query(NpsSurveyWorkflow.progress)
                assert p.quarter != quarter and len(p.asked) == 2, p
                return p

            second = await until(asked_again)
            assert (await latest.describe()).run_id != before  # continued as new
            assert len(second.answers) == 2
            assert len(survey_emails(await outbox(clean_sandbox), "nps_survey")) == 4
        finally:
            await stop(env.client.get_workflow_handle(f"nps-{customer}"))


async def test_no_contact_is_asked_twice_in_a_quarter_even_by_a_fresh_start(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1005"  # Helios: Camille 2006, Hugo 2007
    await skip_to_local_hour(env, customer, 12)
    async with running_worker(env, hub_settings) as worker:
        first = await env.client.start_workflow(
            NpsSurveyWorkflow.run,
            NpsInput(customer_id=customer),
            id=f"nps-{customer}",
            task_queue=worker.task_queue,
        )
        try:
            progress = await asked(env, first, 2)
            assert sorted(progress.asked) == ["2006", "2007"]
            await first.terminate("ops restarts the cycle")
            again = await env.client.start_workflow(
                NpsSurveyWorkflow.run,
                NpsInput(customer_id=customer),
                id=f"nps-{customer}",
                task_queue=worker.task_queue,
            )
            restarted = await asked(env, again, 2)
        finally:
            await stop(env.client.get_workflow_handle(f"nps-{customer}"))
    assert restarted.quarter == progress.quarter and restarted.asked == []
    assert all("already asked this quarter" in why for why in restarted.skipped.values())
    assert len(survey_emails(await outbox(clean_sandbox), "nps_survey")) == 2


async def test_nps_follows_consent_and_language(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env = time_skipping_env
    await skip_to_local_hour(env, "1006", 12)  # Denver and Bogotá are close to it
    handles = []
    async with running_worker(env, hub_settings) as worker:
        try:
            for customer in ("1009", "1010"):  # Noah opted out; Lucía reads Spanish
                handles.append(
                    await env.client.start_workflow(
                        NpsSurveyWorkflow.run,
                        NpsInput(customer_id=customer),
                        id=f"nps-{customer}",
                        task_queue=worker.task_queue,
                    )
                )
            opted_out = await asked(env, handles[0], 1)
            spanish = await asked(env, handles[1], 1)
        finally:
            for h in handles:
                await stop(h)
    assert opted_out.asked == [] and opted_out.skipped == {"2013": "unsubscribed from e-mail"}
    assert spanish.asked == ["2014"]
    box = await outbox(clean_sandbox)
    (email,) = survey_emails(box, "nps_survey")
    assert email["headers"]["Content-Language"] == "es"
    assert "¿recomendaría" in email["subject"]
    assert box["slack_messages"] == []  # an unsubscribed contact is skipped, not noticed


def test_quarter_in_the_customers_zone() -> None:
    from datetime import UTC, datetime

    new_year_utc = datetime(2027, 1, 1, 3, tzinfo=UTC)  # still 2026 in Chicago
    assert quarter_at(new_year_utc, TIMEZONES["1002"]) == "2026-Q4"
    assert quarter_at(new_year_utc, TIMEZONES["1007"]) == "2027-Q1"
