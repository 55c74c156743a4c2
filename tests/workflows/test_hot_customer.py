"""A customer who uses the product all day: their journey keeps its history bounded and
loses nothing while it waits (issue 18).

The 20,000 product events are sent as signals straight to the journey, 10 events per
signal (``count``), as the webhook ingress hands them on once it has aggregated them:
20,000 HTTP requests, or 20,000 single signals (about a minute of worker time on 2
cores), take longer than the suite can spend. ``python -m bench --only hot_customers``
sends single signals; the ingress aggregation has its own tests in
tests/webhooks/test_product_aggregation.py. The journey's history budget is set to 600
events here so that it must continue as new within the wait: past the budget it does so
at the next quiet moment (a one-minute timer, which fires once the test has stopped
sending and lets time run), so the continue-as-new never races a signal."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from bench.hot_customers import unhandled_command_failures, workflow_runs
from domain.onboarding import OnboardingInput, ProductEvent
from domain.tiers import ProductEventType, Tier
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import emails_for, eventually, outbox, running_worker
from workflows.onboarding import OnboardingWorkflow
from workflows.waiting import HARD_LIMIT

TEMPORAL_WARNS_AT = 10_240


def _zone_where_it_is(hour: int, now: datetime) -> str:
    offset = (hour - now.hour + 12) % 24 - 12
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs are reversed


async def _set_zone(sandbox: SandboxHandle, customer: str, zone: str) -> None:
    async with httpx.AsyncClient() as http:
        resp = await http.patch(
            f"{sandbox.http_url}/crm/v3/objects/companies/{customer}",
            headers={"Authorization": "Bearer test"},
            json={"properties": {"cshub_timezone": zone}},
        )
        resp.raise_for_status()


def _signals(runs: list[WorkflowHistory]) -> int:
    return sum(
        1
        for h in runs
        for e in h.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    )


async def _send(
    handle: WorkflowHandle[Any, Any], events: list[ProductEvent], *, wave: int = 500
) -> None:
    """Signal every event, in waves of ``wave`` (8 in flight), each wave once the journey
    has counted the one before: the pace of a sender the workflow keeps up with (all at
    once, thousands of signals land in one workflow task, which the worker must process
    within the SDK's 2-second deadlock limit)."""
    counted = sum((await handle.query(OnboardingWorkflow.progress)).event_counts.values())
    for first in range(0, len(events), wave):
        batch = iter(events[first : first + wave])

        async def sender(batch: Any = batch) -> None:
            for ev in batch:
                await handle.signal(OnboardingWorkflow.product_event, ev)

        await asyncio.gather(*(sender() for _ in range(8)))
        counted += sum(ev.count for ev in events[first : first + wave])
        target = counted

        async def absorbed(target: int = target) -> None:
            progress = await handle.query(OnboardingWorkflow.progress)
            assert sum(progress.event_counts.values()) >= target

        await eventually(absorbed, within_s=60)


async def test_20000_events_in_a_7_hour_quiet_hours_wait(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env = time_skipping_env
    now = (await env.get_current_time()).astimezone(UTC)
    zone = _zone_where_it_is(1, now)  # 01:00 there: the welcome waits until 08:00
    await _set_zone(clean_sandbox, "1004", zone)
    total, per_signal, budget = 20_000, 10, 600
    events = [ProductEvent(type=ProductEventType.WORKFLOW_CREATED, event_id="w-1")]
    events += [
        ProductEvent(type=ProductEventType.AI_REQUEST, event_id=f"ai-{i}", count=per_signal)
        for i in range((total - 1) // per_signal)
    ]
    events += [ProductEvent(type=ProductEventType.AI_REQUEST, event_id="ai-rest", count=9)]
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(
                customer_id="1004", tier=Tier.STARTER, plan="quiet_events", history_budget=budget
            ),
            id=f"onboarding-1004-hot-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        await env.sleep(timedelta(hours=1))  # 02:00 local, deep in the wait
        assert emails_for(await outbox(clean_sandbox), "1004") == []
        await _send(handle, events, wave=100)
        # A few redeliveries: dropped by event id.
        for ev in (events[-1], events[-2]):
            await handle.signal(OnboardingWorkflow.product_event, ev)
        await env.sleep(timedelta(hours=7))  # 09:00 local: the window is open
        progress = await handle.query(OnboardingWorkflow.progress)
        summary = await handle.result()
        runs = await workflow_runs(
            env.client, handle.id, handle.first_execution_run_id or handle.result_run_id
        )

    # Nothing lost: every signal the server took is counted once, across the runs.
    assert _signals(runs) == len(events) + 2
    assert progress.event_counts == {"workflow_created": 1, "ai_request": total - 1}
    assert progress.actions  # state carried: the journey went on where it was
    assert len(runs) >= 2, "the journey should have continued as new during the wait"
    lengths = [len(h.events) for h in runs]
    # Past the budget while the signals poured in, it waited for a quiet moment (never
    # near the hard limit, far under Temporal's warning), then continued as new.
    assert budget < lengths[0] < HARD_LIMIT < TEMPORAL_WARNS_AT, lengths
    assert max(lengths[1:]) < budget, lengths
    assert unhandled_command_failures(runs) == 0
    print(f"runs {len(runs)}, history lengths {lengths}")
    box = emails_for(await outbox(clean_sandbox), "1004")
    templates = Counter(e["template"] for e in box)
    # The held welcome went once, at the end of quiet hours; the milestone celebration
    # and the 10-AI-requests nudge once each, after it; then the plan's day-2 e-mail.
    assert templates["welcome"] == 1, templates
    assert templates["tips"] == 1
    assert templates["nudge"] == 1, templates
    assert sum(1 for a in progress.actions if a.step == "nudge:advanced_models") == 1
    assert any(a.step == "milestone:first_workflow" for a in progress.actions)
    assert summary.milestones_reached == ["first_workflow"]
    welcome = next(a for a in progress.actions if a.template == "welcome")
    local = welcome.at.astimezone(ZoneInfo(zone))
    assert local.time().replace(second=0, microsecond=0) == time(8, 0), local


async def test_signals_during_a_step_wait_do_not_re_arm_its_timer(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    env = time_skipping_env
    async with running_worker(env, hub_settings) as worker:
        handle = await env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="1006", tier=Tier.COMMUNITY),
            id=f"onboarding-1006-timer-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        await env.sleep(timedelta(hours=2))  # day 0's steps done; waiting for day 1
        before = await handle.fetch_history()
        events = [
            ProductEvent(type=ProductEventType.AI_REQUEST, event_id=f"t-{i}") for i in range(60)
        ]
        await _send(handle, events, wave=20)
        progress = await handle.query(OnboardingWorkflow.progress)
        after = await handle.fetch_history()
        await handle.terminate("test done")

    def timers(h: WorkflowHistory, kind: EventType.ValueType) -> int:
        return sum(1 for e in h.events if e.event_type == kind)

    started = EventType.EVENT_TYPE_TIMER_STARTED
    cancelled = EventType.EVENT_TYPE_TIMER_CANCELED
    # 60 signals woke the journey; its timer to the next step stayed as it was.
    assert timers(after, started) == timers(before, started)
    assert timers(after, cancelled) == timers(before, cancelled) == 0
    assert progress.event_counts == {"ai_request": 60}
    # The 10-AI-requests nudge went out at once (acting does not wait for the timer).
    assert any(a.step == "nudge:advanced_models" for a in progress.actions), progress.actions
