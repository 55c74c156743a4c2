"""Renewal countdowns end to end on the time-skipping server: the real workflow,
activities and connectors, the sandbox emulators over HTTP/SMTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from domain.renewal import (
    AutoRenewed,
    Churned,
    ReminderState,
    RenewalDateChanged,
    RenewalInput,
    RenewalOutcome,
    RenewalProgress,
    RenewalStatus,
    RenewalSummary,
    Renewed,
    add_months,
)
from playbooks.loader import PACKAGE_DIR
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.workflows.campaign_helpers import (
    SEND_HOUR,
    TIMEZONES,
    emails,
    notes,
    sent,
    skip_to_local_hour,
    slack_texts,
    stop,
    task_subjects,
    wait_for,
)
from worker import workflow_interceptors
from workflows.renewal import RenewalWorkflow

Handle = WorkflowHandle[RenewalWorkflow, RenewalSummary]


# ---------------------------------------------------------------- helpers
def tz(customer: str) -> ZoneInfo:
    return ZoneInfo(TIMEZONES[customer])


async def local_today(env: WorkflowEnvironment, customer: str) -> date:
    return (await env.get_current_time()).astimezone(tz(customer)).date()


async def sleep_until_local(
    env: WorkflowEnvironment, customer: str, day: date, hour: int = 18
) -> None:
    """Advance the test server's clock to ``hour``:00 on ``day`` in the customer's zone."""
    target = datetime.combine(day, time(hour), tzinfo=tz(customer))
    now = await env.get_current_time()
    assert target > now, (target, now)
    await env.sleep(target - now)


async def start(
    env: WorkflowEnvironment, queue: str, customer: str, renewal_date: date, **kw: Any
) -> Handle:
    """What the Stripe route does: signal-with-start, the start input and the signal
    carrying the same date (it must be a no-op)."""
    return await env.client.start_workflow(
        RenewalWorkflow.run,
        RenewalInput(customer_id=customer, renewal_date=renewal_date, **kw),
        id=f"renewal-{customer}",
        task_queue=queue,
        start_signal="renewal_date_changed",
        start_signal_args=[RenewalDateChanged(renewal_date=renewal_date, event_id="evt_start")],
    )


def latest(env: WorkflowEnvironment, customer: str) -> Handle:
    """The current run (a renewal continues-as-new into the next term)."""
    return env.client.get_workflow_handle_for(RenewalWorkflow.run, f"renewal-{customer}")


async def progress(env: WorkflowEnvironment, customer: str) -> RenewalProgress:
    return await latest(env, customer).query(RenewalWorkflow.progress)


async def wait_for_term(env: WorkflowEnvironment, customer: str, term: int) -> RenewalProgress:
    for _ in range(200):
        p = await progress(env, customer)
        if p.term == term and p.status is not RenewalStatus.STARTING:
            return p
        await asyncio.sleep(0.05)
    raise AssertionError(f"term {term} did not start")


async def begun(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait until a workflow another one started has done its first steps: terminating
    it mid-activity leaves the time-skipping server unable to skip time."""
    for _ in range(200):
        state = await handle.query("progress")
        if state["status"] != "starting":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} did not begin")


def assert_at_send_hour(at: datetime, customer: str, day: date) -> None:
    """Sent at 10:00 local on ``day`` (``at`` is when the activity returned)."""
    expected = datetime.combine(day, time(SEND_HOUR), tzinfo=tz(customer))
    assert timedelta(0) <= at - expected < timedelta(minutes=1), (at, expected)


def overdue_alerts(box: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in box["slack_messages"] if "renewal overdue" in m["text"].lower()]


def customer_tasks(box: dict[str, Any], customer: str) -> list[dict[str, Any]]:
    return [
        t for t in box["crm_tasks"] if {"type": "companies", "id": customer} in t["associations"]
    ]


# ---------------------------------------------------------------- reminders
async def test_reminders_go_at_10_local_on_each_offset_with_a_value_summary(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1003"  # America/New_York
    await skip_to_local_hour(env, customer, 12)
    renewal = await local_today(env, customer) + timedelta(days=75)
    async with running_worker(env, hub_settings) as worker:
        await start(env, worker.task_queue, customer, renewal)
        try:
            await sleep_until_local(env, customer, renewal - timedelta(days=1))
            p = await progress(env, customer)
        finally:
            await stop(latest(env, customer))

    assert p.status is RenewalStatus.COUNTING_DOWN and p.date_changes == 0
    assert [(r.days_before, r.state) for r in p.reminders] == [
        (d, ReminderState.SENT) for d in (60, 30, 14, 7, 1)
    ]
    mails = sent(p.actions, "email")
    assert len(mails) == 5
    for action, offset in zip(mails, (60, 30, 14, 7, 1), strict=True):
        assert_at_send_hour(action.at, customer, renewal - timedelta(days=offset))
    tasks = sent(p.actions, "crm_task")
    assert [a.at.astimezone(tz(customer)).date() for a in tasks] == [
        renewal - timedelta(days=60),
        renewal - timedelta(days=30),
    ]
    assert len(sent(p.actions, "slack")) == 5
    assert p.next_action is not None and p.next_action.step == "overdue"
    assert p.next_action.due_at == datetime.combine(
        renewal + timedelta(days=1), time(SEND_HOUR), tzinfo=tz(customer)
    )

    box = await outbox(clean_sandbox)
    assert emails(box, customer) == [(a.day, "renewal_reminder") for a in mails]
    assert not [e for e in box["emails"] if e["duplicate"]]
    texts = [e["text"] for e in box["emails"]]
    assert "renews in 60 days" in texts[0] and "renews tomorrow" in texts[-1]
    # No health / usage / outcomes on this demo company: the graceful fallback.
    assert "full review of your usage and results" in texts[0]
    assert len({e["subject"] for e in box["emails"]}) >= 3  # the tone follows days_left
    alerts = slack_texts(box, "renewal in")
    assert len(alerts) == 5 and all("Northwind Analytics" in a for a in alerts)
    subjects = task_subjects(box, customer)
    assert len(subjects) == 2 and subjects[0].startswith("Renewal in 60 days")


async def test_a_renewal_less_than_60_days_away_skips_the_earlier_reminders(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1004"  # Europe/London
    await skip_to_local_hour(env, customer, 12)
    renewal = await local_today(env, customer) + timedelta(days=20)
    async with running_worker(env, hub_settings) as worker:
        await start(env, worker.task_queue, customer, renewal)
        try:
            await sleep_until_local(env, customer, renewal - timedelta(days=1))
            p = await progress(env, customer)
        finally:
            await stop(latest(env, customer))

    assert [(r.days_before, r.state) for r in p.reminders] == [
        (60, ReminderState.SKIPPED),
        (30, ReminderState.SKIPPED),
        (14, ReminderState.SENT),
        (7, ReminderState.SENT),
        (1, ReminderState.SENT),
    ]
    skipped = [a for a in p.actions if a.outcome == "skipped"]
    assert [a.step for a in skipped] == ["reminder-60d", "reminder-30d"]
    assert all("before the countdown started" in a.summary for a in skipped)
    for action, offset in zip(sent(p.actions, "email"), (14, 7, 1), strict=True):
        assert_at_send_hour(action.at, customer, renewal - timedelta(days=offset))
    box = await outbox(clean_sandbox)
    assert len(emails(box, customer)) == 3
    assert task_subjects(box, customer) == []  # the CRM tasks are at 60 and 30 days


async def test_a_spanish_contact_gets_the_spanish_reminder_with_the_value_summary(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1010"  # America/Bogota, contact language es
    await skip_to_local_hour(env, customer, 12)
    renewal = await local_today(env, customer) + timedelta(days=2)
    async with running_worker(env, hub_settings) as worker:
        await start(env, worker.task_queue, customer, renewal)
        try:
            await sleep_until_local(env, customer, renewal, hour=8)
            p = await progress(env, customer)
        finally:
            await stop(latest(env, customer))

    (action,) = sent(p.actions, "email")
    assert_at_send_hour(action.at, customer, renewal - timedelta(days=1))
    box = await outbox(clean_sandbox)
    (mail,) = [e for e in box["emails"] if e["headers"].get("X-Cshub-Customer-Id") == customer]
    assert "se renueva mañana" in mail["subject"]
    # The value summary from the CRM company (sandbox demo properties).
    assert "Despachos 30% más rápidos" in mail["text"]
    assert "12 workflows in production" in mail["text"]
    assert "82/100" in mail["text"]


async def test_reminders_keep_10_local_across_a_dst_change(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1003"
    await skip_to_local_hour(env, customer, 12)
    today = await local_today(env, customer)
    switch = next_dst_switch(today + timedelta(days=35), tz(customer))
    renewal = switch + timedelta(days=10)  # 30 and 14 days before: one side; 7 and 1: other
    async with running_worker(env, hub_settings) as worker:
        await start(env, worker.task_queue, customer, renewal)
        try:
            await sleep_until_local(env, customer, renewal - timedelta(days=1))
            p = await progress(env, customer)
        finally:
            await stop(latest(env, customer))

    mails = sent(p.actions, "email")
    offsets = [r.days_before for r in p.reminders if r.state is ReminderState.SENT]
    assert offsets[-4:] == [30, 14, 7, 1]
    for action, offset in zip(mails, offsets, strict=True):
        assert_at_send_hour(action.at, customer, renewal - timedelta(days=offset))
    utc_hours = {a.at.hour for a in mails}
    assert len(utc_hours) == 2, utc_hours  # 10:00 EST = 15:00 UTC, 10:00 EDT = 14:00 UTC


def next_dst_switch(after: date, zone: ZoneInfo) -> date:
    """The first day on or after ``after`` whose noon has another UTC offset than the
    day before's."""
    day = after
    for _ in range(400):
        before = datetime.combine(day - timedelta(days=1), time(12), tzinfo=zone).utcoffset()
        if datetime.combine(day, time(12), tzinfo=zone).utcoffset() != before:
            return day
        day += timedelta(days=1)
    raise AssertionError(f"no DST change in {zone} after {after}")


# ---------------------------------------------------------------- the date moves
async def test_a_moved_date_replans_without_a_burst_and_a_later_date_rearms(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1003"
    await skip_to_local_hour(env, customer, 12)
    today = await local_today(env, customer)
    first = today + timedelta(days=90)
    async with running_worker(env, hub_settings) as worker:
        await start(env, worker.task_queue, customer, first)
        handle = latest(env, customer)
        try:
            # The 60-day reminder goes out; then billing moves the date to 10 days away.
            day60 = first - timedelta(days=60)
            await sleep_until_local(env, customer, day60)
            earlier = day60 + timedelta(days=10)
            await handle.signal(
                RenewalWorkflow.renewal_date_changed,
                RenewalDateChanged(renewal_date=earlier, event_id="evt_earlier"),
            )
            await env.sleep(timedelta(hours=1))
            moved = await progress(env, customer)
            # The 7-day reminder of the earlier date goes out on its day ...
            await sleep_until_local(env, customer, earlier - timedelta(days=7))
            # ... then the date moves 100 days later; a redelivered old event and the same
            # date again change nothing.
            later = earlier + timedelta(days=100)
            await handle.signal(
                RenewalWorkflow.renewal_date_changed,
                RenewalDateChanged(renewal_date=later, event_id="evt_later"),
            )
            await handle.signal(
                RenewalWorkflow.renewal_date_changed,
                RenewalDateChanged(renewal_date=earlier, event_id="evt_earlier"),
            )
            await handle.signal(
                RenewalWorkflow.renewal_date_changed, RenewalDateChanged(renewal_date=later)
            )
            await sleep_until_local(env, customer, later - timedelta(days=1))
            p = await progress(env, customer)
        finally:
            await stop(handle)

    # Moved earlier: what had passed is skipped and recorded, nothing sent at once.
    assert moved.renewal_date == earlier
    assert [(r.days_before, r.state) for r in moved.reminders] == [
        (60, ReminderState.SKIPPED),
        (30, ReminderState.SKIPPED),
        (14, ReminderState.SKIPPED),
        (7, ReminderState.PENDING),
        (1, ReminderState.PENDING),
    ]
    assert len(sent(moved.actions, "email")) == 1
    skipped = [a.step for a in moved.actions if a.outcome == "skipped"]
    assert skipped == ["reminder-60d", "reminder-30d", "reminder-14d"]
    assert any("moved earlier" in a.summary for a in moved.actions)

    # Moved later: every reminder for the new date went out, each on its own day.
    assert p.renewal_date == later and p.date_changes == 2
    assert {r.state for r in p.reminders} == {ReminderState.SENT}
    mails = sent(p.actions, "email")
    expected_days = [first - timedelta(days=60), earlier - timedelta(days=7)] + [
        later - timedelta(days=d) for d in (60, 30, 14, 7, 1)
    ]
    assert len(mails) == len(expected_days)
    for action, day in zip(mails, expected_days, strict=True):
        assert_at_send_hour(action.at, customer, day)
    assert any("re-armed reminders 60, 30, 14, 7 days" in a.summary for a in p.actions)
    box = await outbox(clean_sandbox)
    assert len(emails(box, customer)) == 7
    assert not [e for e in box["emails"] if e["duplicate"]]


# ---------------------------------------------------------------- outcomes
async def test_renewed_starts_the_next_terms_countdown(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1004"
    await skip_to_local_hour(env, customer, 12)
    renewal = await local_today(env, customer) + timedelta(days=10)
    async with running_worker(env, hub_settings) as worker:
        first = await start(env, worker.task_queue, customer, renewal)
        handle = latest(env, customer)
        try:
            await sleep_until_local(env, customer, renewal, hour=12)
            await handle.signal(RenewalWorkflow.renewed, Renewed(event_id="evt_renewed"))
            p = await wait_for_term(env, customer, 2)
            run_id = (await handle.describe()).run_id
            # A redelivered webhook and a repeated renewal to the same date: ignored.
            await handle.signal(RenewalWorkflow.renewed, Renewed(event_id="evt_renewed"))
            await handle.signal(
                RenewalWorkflow.renewed, Renewed(next_renewal_date=add_months(renewal, 12))
            )
            await env.sleep(timedelta(hours=1))
            after = await progress(env, customer)
            desc = await handle.describe()
        finally:
            await stop(handle)

    assert run_id != first.result_run_id  # a new run for the new term
    next_date = add_months(renewal, 12)
    assert p.term == 2 and p.renewal_date == next_date
    assert p.status is RenewalStatus.COUNTING_DOWN
    assert {r.state for r in p.reminders} == {ReminderState.PENDING}
    (prev,) = p.previous_terms
    assert prev.term == 1 and prev.outcome is RenewalOutcome.RENEWED
    assert prev.renewal_date == renewal and prev.next_renewal_date == next_date
    assert any(a.step == "renewed" for a in p.actions)  # the log carries over
    assert after.term == 2 and desc.run_id == run_id
    assert any("this term already counts down" in a.summary for a in after.actions)
    box = await outbox(clean_sandbox)
    assert [n for n in notes(box, customer) if n.startswith("Renewal: the customer renewed")]


async def test_a_churn_racing_a_renewal_ends_the_next_term(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    """Renewed, then at once churned (the customer cancelled the new term): whichever run
    the churn reaches, the next term ends churned and the win-back starts."""
    env, customer = time_skipping_env, "1004"
    await skip_to_local_hour(env, customer, 12)
    renewal = await local_today(env, customer) + timedelta(days=5)
    winback = env.client.get_workflow_handle(f"winback-{customer}")
    async with running_worker(env, hub_settings) as worker:
        await start(env, worker.task_queue, customer, renewal)
        handle = latest(env, customer)
        try:
            await env.sleep(timedelta(days=1))
            await handle.signal(RenewalWorkflow.renewed, Renewed())
            await handle.signal(RenewalWorkflow.churned, Churned(reason="cancelled"))
            summary = await handle.result()
            await wait_for(winback)
            await begun(winback)
        finally:
            await stop(handle)
            await stop(winback)

    assert summary.outcome is RenewalOutcome.CHURNED and summary.term == 2
    assert summary.renewal_date == add_months(renewal, 12)
    assert [t.outcome for t in summary.previous_terms] == [RenewalOutcome.RENEWED]


async def test_churned_stops_the_countdown_and_starts_the_winback(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1003"
    await skip_to_local_hour(env, customer, 12)
    renewal = await local_today(env, customer) + timedelta(days=40)
    winback = env.client.get_workflow_handle(f"winback-{customer}")
    async with running_worker(env, hub_settings) as worker:
        handle = await start(env, worker.task_queue, customer, renewal)
        try:
            await env.sleep(timedelta(days=1))
            await handle.signal(RenewalWorkflow.churned, Churned(reason="budget cut"))
            summary = await handle.result()
            desc = await wait_for(winback)
            await begun(winback)
        finally:
            await stop(handle)
            await stop(winback)

    assert summary.outcome is RenewalOutcome.CHURNED
    assert summary.churn_reason == "budget cut"
    assert summary.winback_workflow_id == f"winback-{customer}"
    assert desc.workflow_type == "WinBackWorkflow"
    assert desc.parent_id == f"renewal-{customer}"
    box = await outbox(clean_sandbox)
    assert any("churned" in n and "budget cut" in n for n in notes(box, customer))
    assert summary.emails_sent == 0  # 40 days away: the 30-day reminder never came


async def test_no_outcome_escalates_once_then_ends_unknown(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env, customer = time_skipping_env, "1004"
    await skip_to_local_hour(env, customer, 12)
    renewal = await local_today(env, customer) + timedelta(days=2)
    async with running_worker(env, hub_settings) as worker:
        handle = await start(env, worker.task_queue, customer, renewal)
        try:
            await sleep_until_local(env, customer, renewal + timedelta(days=5))
            p = await progress(env, customer)
            box_escalated = await outbox(clean_sandbox)
            summary = await handle.result()
        finally:
            await stop(handle)

    assert p.status is RenewalStatus.ESCALATED and p.escalated
    (alert,) = overdue_alerts(box_escalated)
    assert "<@U0SAM>" in str(alert["blocks"])  # the account executive
    (task,) = [t for t in customer_tasks(box_escalated, customer) if "overdue" in str(t)]
    assert task["properties"]["hs_task_priority"] == "HIGH"
    (escalation,) = [a for a in p.actions if a.step == "overdue:alert"]
    assert_at_send_hour(escalation.at, customer, renewal + timedelta(days=1))

    assert summary.outcome is RenewalOutcome.UNKNOWN and summary.escalated
    box = await outbox(clean_sandbox)
    assert len(overdue_alerts(box)) == 1
    assert len([t for t in customer_tasks(box, customer) if "overdue" in str(t)]) == 1
    assert any("no outcome was recorded within 90 days" in n for n in notes(box, customer))


# ---------------------------------------------------------------- years
async def test_three_years_of_renewals_keep_every_run_under_the_history_bound(
    time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    playbooks_with_test_plans: Path,
) -> None:
    """A small bound (100 events) so that runs also continue-as-new within a term."""
    raw = yaml.safe_load((PACKAGE_DIR / "renewal.yaml").read_text(encoding="utf-8"))
    raw["history"] = {"max_events": 100, "headroom_events": 45, "actions_carried": 50}
    (playbooks_with_test_plans / "renewal_small_history.yaml").write_text(
        yaml.safe_dump(raw), encoding="utf-8"
    )
    bound = raw["history"]["max_events"]
    env, customer = time_skipping_env, "1003"
    await skip_to_local_hour(env, customer, 12)
    renewal = await local_today(env, customer) + timedelta(days=20)
    dates = [renewal]
    async with running_worker(env, hub_settings) as worker:
        first = await start(
            env, worker.task_queue, customer, renewal, playbook="renewal_small_history"
        )
        handle = latest(env, customer)
        try:
            for year in range(3):
                await sleep_until_local(env, customer, dates[-1], hour=12)
                if year == 1:
                    await handle.signal(RenewalWorkflow.auto_renewed, AutoRenewed())
                else:
                    await handle.signal(RenewalWorkflow.renewed, Renewed())
                dates.append(add_months(dates[-1], 12))
                await wait_for_term(env, customer, year + 2)
            p = await progress(env, customer)
        finally:
            await stop(handle)

    assert p.term == 4 and p.renewal_date == dates[-1]
    assert [t.outcome for t in p.previous_terms] == [
        RenewalOutcome.RENEWED,
        RenewalOutcome.AUTO_RENEWED,
        RenewalOutcome.RENEWED,
    ]
    histories = await run_histories(env, f"renewal-{customer}", first.result_run_id)
    lengths = [len(h.events) for h in histories]
    assert len(lengths) > 4, lengths  # 4 terms, and some terms continued within
    assert max(lengths) < bound, lengths
    # Every run replays deterministically from its recorded history.
    replayer = Replayer(
        workflows=[RenewalWorkflow],
        data_converter=pydantic_data_converter,
        interceptors=workflow_interceptors(),
    )
    async with replayer.workflow_replay_iterator(iter_histories(histories)) as results:
        async for result in results:
            assert result.replay_failure is None, result.replay_failure
    box = await outbox(clean_sandbox)
    # Term 1 (20 days away): 14, 7, 1; terms 2 and 3: all five; term 4 not reached yet.
    assert len(emails(box, customer)) == 3 + 5 + 5
    assert not [e for e in box["emails"] if e["duplicate"]]


async def run_histories(
    env: WorkflowEnvironment, workflow_id: str, run_id: str | None
) -> list[WorkflowHistory]:
    """The history of each run of a chain of continue-as-new runs, from ``run_id`` on."""
    histories = []
    while run_id:
        handle = env.client.get_workflow_handle(workflow_id, run_id=run_id)
        history = await handle.fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
        if run_id is None:
            status = (await handle.describe()).status
            assert status is not WorkflowExecutionStatus.CONTINUED_AS_NEW
    return histories


async def iter_histories(histories: list[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history
