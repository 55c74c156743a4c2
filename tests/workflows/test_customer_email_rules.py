"""The rules every customer e-mail of the hub follows, whatever workflow sends it:
consent (unsubscribed contacts get nothing, the CSM is told), language (the contact's,
English otherwise), and time (never in the customer's quiet hours)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
from temporalio.testing import WorkflowEnvironment

from domain.onboarding import OnboardingInput
from domain.tiers import Tier
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from workflows.onboarding import OnboardingWorkflow


async def test_an_unsubscribed_contact_gets_nothing_and_the_csm_is_told(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await time_skipping_env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="1009", tier=Tier.STARTER),  # Noah opted out
            id=f"onboarding-1009-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        await time_skipping_env.sleep(timedelta(days=1, hours=12))
        progress = await handle.query(OnboardingWorkflow.progress)
        await handle.terminate("test done")

    box = await outbox(clean_sandbox)
    assert box["emails"] == []
    notices = [m for m in box["slack_messages"] if "not sent" in m["text"].lower() or
               "unsubscribed" in (m["text"] + str(m["blocks"])).lower()]  # fmt: skip
    assert len(notices) == 2  # welcome (day 0) and quick win (day 1), one notice each
    emails = [a for a in progress.actions if a.channel == "email"]
    assert [a.outcome for a in emails] == ["suppressed", "suppressed"]
    assert "noah" not in str(box["slack_messages"]).lower()  # no personal data needed


async def test_the_contacts_language_picks_the_template(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    async with running_worker(time_skipping_env, hub_settings) as worker:
        for customer in ("1010", "1005"):  # Lucía (es) and Camille (no language: English)
            handle = await time_skipping_env.client.start_workflow(
                OnboardingWorkflow.run,
                OnboardingInput(customer_id=customer, tier=Tier.PROFESSIONAL),
                id=f"onboarding-{customer}-{uuid.uuid4().hex[:6]}",
                task_queue=worker.task_queue,
            )
            await time_skipping_env.sleep(timedelta(hours=1))
            await handle.terminate("test done")

    by_customer = {
        e["headers"]["X-Cshub-Customer-Id"]: e for e in (await outbox(clean_sandbox))["emails"]
    }
    spanish, english = by_customer["1010"], by_customer["1005"]
    assert spanish["headers"]["Content-Language"] == "es"
    assert "Hola" in spanish["text"] and "Lucía" in spanish["text"]
    assert english["headers"]["Content-Language"] == "en"
    assert "Hi Camille" in english["text"]


def _zone_where_it_is(hour: int, now: datetime) -> str:
    """An Etc/GMT zone in which the local hour is ``hour`` right now."""
    offset = (hour - now.hour + 12) % 24 - 12
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs are reversed


async def test_nothing_goes_out_in_quiet_hours(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    now = await time_skipping_env.get_current_time()  # the test server's (skipped) clock
    zone = _zone_where_it_is(23, now.astimezone(UTC))
    async with httpx.AsyncClient() as http:
        resp = await http.patch(
            f"{clean_sandbox.http_url}/crm/v3/objects/companies/1004",
            headers={"Authorization": "Bearer test"},
            json={"properties": {"cshub_timezone": zone}},
        )
        resp.raise_for_status()
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await time_skipping_env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="1004", tier=Tier.STARTER, plan="quiet"),
            id=f"onboarding-1004-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        await handle.result()
        progress = await handle.query(OnboardingWorkflow.progress)
        history = await handle.fetch_history()

    # When each e-mail really went out: the start time of its activity's last attempt.
    scheduled: dict[int, str] = {}
    sent_at: list[datetime] = []
    for event in history.events:
        attrs = event.activity_task_scheduled_event_attributes
        if event.HasField("activity_task_scheduled_event_attributes"):
            scheduled[event.event_id] = attrs.activity_type.name
        if event.HasField("activity_task_started_event_attributes"):
            sched = event.activity_task_started_event_attributes.scheduled_event_id
            if scheduled.get(sched) == "send_customer_email":
                sent_at.append(event.event_time.ToDatetime(tzinfo=UTC))
    tz = ZoneInfo(zone)
    welcome, tips, _complete = (t.astimezone(tz) for t in sent_at)
    start_local = progress.started_at.astimezone(tz)
    # Started at 23:xx local: the welcome waits for the end of quiet hours (08:00).
    assert welcome.time().replace(second=0, microsecond=0) == time(8, 0)
    assert welcome.date() == start_local.date() + timedelta(days=1)
    # Day 2's e-mail goes at the 10:00 send hour.
    assert tips.time().replace(second=0, microsecond=0) == time(10, 0)
    assert tips.date() == start_local.date() + timedelta(days=2)
    assert len((await outbox(clean_sandbox))["emails"]) == 3  # welcome, tips, complete
