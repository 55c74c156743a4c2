"""Win-back end to end on the time-skipping server: the real workflow, activities and
connectors, the sandbox emulators over HTTP/SMTP."""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from domain.winback import CustomerReturned, ExitReason, SurveyAnswer, WinBackInput, WinBackStatus
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.workflows.campaign_helpers import (
    SEND_HOUR,
    emails,
    local_hour,
    merged_company_update,
    notes,
    skip_to_local_hour,
    stop,
    task_subjects,
)
from workflows.winback import WinBackWorkflow

PERSONAL_TASK = "Win-back: personal message to a churned customer"


def with_survey_links(settings: Settings) -> Settings:
    if "survey_link_secret" not in Settings.model_fields:  # before the signed links land
        return settings
    return settings.model_copy(update={"survey_link_secret": SecretStr("test-survey-secret")})


async def test_timeline_days_1_7_14_30_60_then_completed(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1001"
    await skip_to_local_hour(env, customer, 12)
    async with running_worker(env, with_survey_links(hub_settings)) as worker:
        handle = await env.client.start_workflow(
            WinBackWorkflow.run,
            WinBackInput(customer_id=customer, reason="moved to a competitor"),
            id=f"winback-{customer}",
            task_queue=worker.task_queue,
        )
        try:
            summary = await handle.result()
            progress = await handle.query(WinBackWorkflow.progress)
        finally:
            await stop(handle)

    box = await outbox(clean_sandbox)
    assert emails(box, customer) == [
        (1, "winback_we_miss_you"),
        (7, "winback_whats_new"),
        (30, "winback_offer"),
        (60, "winback_exit_survey"),
    ]
    assert task_subjects(box, customer) == [PERSONAL_TASK]
    timeline = [(a.day, a.channel) for a in progress.actions if a.channel in ("email", "crm_task")]
    assert timeline == [(1, "email"), (7, "email"), (14, "crm_task"), (30, "email"), (60, "email")]
    for action in progress.actions:
        if action.channel in ("email", "crm_task"):
            assert local_hour(action.at, customer) == SEND_HOUR, action
    offer = next(e for e in box["emails"] if e["template"] == "winback_offer")
    assert "20% off" in offer["text"]

    survey = next(e for e in box["emails"] if e["template"] == "winback_exit_survey")
    if "survey_link_secret" in Settings.model_fields:
        # One signed one-click link per exit reason, in both parts.
        for reason in ExitReason:
            assert f"reason={reason.value}" in survey["text"], reason
            assert f"reason={reason.value}" in survey["html"], reason
    assert "It was too expensive" in survey["text"]

    assert summary.status is WinBackStatus.COMPLETED
    assert summary.exit_reason is None
    assert merged_company_update(box, customer)["cshub_winback_outcome"] == "completed"


async def test_a_survey_answer_is_recorded_ends_the_survey_but_keeps_the_offer(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1002"
    await skip_to_local_hour(env, customer, 12)
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            WinBackWorkflow.run,
            WinBackInput(customer_id=customer),
            id=f"winback-{customer}",
            task_queue=worker.task_queue,
        )
        try:
            await env.sleep(timedelta(days=20))
            answer = SurveyAnswer(
                reason=ExitReason.TOO_EXPENSIVE, comment="Budget cut this year", event_id="a1"
            )
            await handle.signal(WinBackWorkflow.survey_answered, answer)
            await handle.signal(WinBackWorkflow.survey_answered, answer)  # clicked twice
            summary = await handle.result()
            progress = await handle.query(WinBackWorkflow.progress)
        finally:
            await stop(handle)

    box = await outbox(clean_sandbox)
    company = merged_company_update(box, customer)
    assert company["cshub_exit_reason"] == "too_expensive"
    assert company["cshub_exit_comment"] == "Budget cut this year"
    answer_notes = [n for n in notes(box, customer) if n.startswith("Exit survey answered")]
    assert answer_notes == ["Exit survey answered: too expensive\nComment: Budget cut this year"]
    # The offer still went out on day 30; the survey on day 60 was skipped, and the
    # campaign ended there instead of waiting for answers.
    assert [t for _, t in emails(box, customer)] == [
        "winback_we_miss_you",
        "winback_whats_new",
        "winback_offer",
    ]
    assert any(a.step.startswith("day60") and a.outcome == "skipped" for a in progress.actions)
    assert summary.status is WinBackStatus.COMPLETED
    assert summary.exit_reason is ExitReason.TOO_EXPENSIVE
    assert progress.exit_comment == "Budget cut this year"


async def test_a_returning_customer_stops_the_campaign(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1004"
    await skip_to_local_hour(env, customer, 12)
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            WinBackWorkflow.run,
            WinBackInput(customer_id=customer),
            id=f"winback-{customer}",
            task_queue=worker.task_queue,
        )
        try:
            await env.sleep(timedelta(days=3))
            await handle.signal(
                WinBackWorkflow.returned, CustomerReturned(note="re-subscribed to Starter")
            )
            summary = await handle.result()
        finally:
            await stop(handle)

    box = await outbox(clean_sandbox)
    assert emails(box, customer) == [(1, "winback_we_miss_you")]
    assert summary.status is WinBackStatus.RETURNED
    assert merged_company_update(box, customer)["cshub_winback_outcome"] == "returned"
    assert any("returned: re-subscribed to Starter" in n for n in notes(box, customer))
