"""``cshub schedules apply`` on the dev server: creates, then updates in place, keeps a
schedule an operator paused paused, and the sweep schedule really starts the sweep."""

from __future__ import annotations

import contextlib

from temporalio.client import ScheduleOverlapPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from cshub.schedules import HEALTH_DIGEST_SCHEDULE_ID, apply_schedules
from domain.health_sweep import HEALTH_SWEEP_SCHEDULE_ID
from runtime.settings import Settings


async def test_apply_creates_then_updates_and_keeps_a_pause(
    dev_server_env: WorkflowEnvironment, hub_settings: Settings
) -> None:
    client = dev_server_env.client
    for sid in (HEALTH_SWEEP_SCHEDULE_ID, HEALTH_DIGEST_SCHEDULE_ID):
        with contextlib.suppress(RPCError):
            await client.get_schedule_handle(sid).delete()
    settings = hub_settings.model_copy(update={"temporal_task_queue": "schedules-test"})
    try:
        assert await apply_schedules(client, settings) == [
            "created health-sweep: HealthSweepWorkflow at '0 6 * * *'",
            "created health-digest: HealthDigestWorkflow at '0 8 * * 1'",
        ]
        sweep = client.get_schedule_handle(HEALTH_SWEEP_SCHEDULE_ID)
        await sweep.pause(note="paused by ops for a CRM migration")
        changed = settings.model_copy(
            update={"health_sweep_cron": "30 5 * * *", "health_schedule_timezone": "Europe/Madrid"}
        )
        assert await apply_schedules(client, changed) == [
            "updated health-sweep: HealthSweepWorkflow at '30 5 * * *'",
            "updated health-digest: HealthDigestWorkflow at '0 8 * * 1'",
        ]
        desc = await sweep.describe()
        assert desc.schedule.state.paused  # an operator's pause survives a re-apply
        assert desc.schedule.spec.time_zone_name == "Europe/Madrid"
        spec = desc.schedule.spec  # the server keeps cron as calendars
        times = [(r.start, r.end) for c in spec.calendars for r in (*c.hour, *c.minute)]
        assert spec.cron_expressions == ["30 5 * * *"] or sorted(times) == [(5, 5), (30, 30)]
        assert desc.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
        action = desc.schedule.action
        assert getattr(action, "workflow", None) == "HealthSweepWorkflow"
        assert getattr(action, "task_queue", None) == "schedules-test"
        digest = await client.get_schedule_handle(HEALTH_DIGEST_SCHEDULE_ID).describe()
        assert not digest.schedule.state.paused
        assert getattr(digest.schedule.action, "workflow", None) == "HealthDigestWorkflow"
    finally:
        for sid in (HEALTH_SWEEP_SCHEDULE_ID, HEALTH_DIGEST_SCHEDULE_ID):
            with contextlib.suppress(RPCError):
                await client.get_schedule_handle(sid).delete()
