"""``cshub schedules apply``: create or update the hub's Temporal Schedules, idempotently.

- ``health-sweep``: HealthSweepWorkflow, daily (``HEALTH_SWEEP_CRON``, default 06:00);
- ``health-digest``: HealthDigestWorkflow, weekly (``HEALTH_DIGEST_CRON``, Monday 08:00).

Both in ``HEALTH_SCHEDULE_TIMEZONE`` (default UTC), overlap policy SKIP (a sweep still
running when the next is due is not doubled), catch-up window one hour (a cluster that
was down at 06:00 runs the missed sweep when it is back within the hour, not days of
them). Running it again changes only what differs; a paused schedule stays paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from domain.health_sweep import HEALTH_SWEEP_SCHEDULE_ID, HealthSweepInput
from runtime.settings import Settings

HEALTH_DIGEST_SCHEDULE_ID = "health-digest"


@dataclass(frozen=True)
class ScheduleDef:
    schedule_id: str
    workflow: str
    arg: BaseModel | dict[str, object]
    cron: str
    note: str


def hub_schedules(settings: Settings) -> list[ScheduleDef]:
    return [
        ScheduleDef(
            HEALTH_SWEEP_SCHEDULE_ID,
            "HealthSweepWorkflow",
            HealthSweepInput(max_calls_per_10s=settings.health_sweep_max_calls_per_10s),
            settings.health_sweep_cron,
            "score every company, write scores to the CRM, fire outreach triggers",
        ),
        ScheduleDef(
            HEALTH_DIGEST_SCHEDULE_ID,
            "HealthDigestWorkflow",
            {},
            settings.health_digest_cron,
            "each CSM's at-risk accounts in Slack",
        ),
    ]


def _schedule(d: ScheduleDef, settings: Settings, *, paused: bool = False) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            d.workflow,
            d.arg,
            id=d.schedule_id,  # Temporal appends the scheduled time
            task_queue=settings.temporal_task_queue,
            static_summary=f"{d.schedule_id} ({d.cron} {settings.health_schedule_timezone})",
        ),
        spec=ScheduleSpec(
            cron_expressions=[d.cron], time_zone_name=settings.health_schedule_timezone
        ),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=1)
        ),
        state=ScheduleState(note=d.note, paused=paused),
    )


async def apply_schedules(client: Client, settings: Settings) -> list[str]:
    """Create each schedule, or update it in place when it exists. One line per schedule."""
    lines: list[str] = []
    for d in hub_schedules(settings):
        try:
            await client.create_schedule(d.schedule_id, _schedule(d, settings))
            lines.append(f"created {d.schedule_id}: {d.workflow} at '{d.cron}'")
            continue
        except ScheduleAlreadyRunningError:
            pass
        handle = client.get_schedule_handle(d.schedule_id)

        def update(current: ScheduleUpdateInput, d: ScheduleDef = d) -> ScheduleUpdate:
            paused = current.description.schedule.state.paused
            return ScheduleUpdate(schedule=_schedule(d, settings, paused=paused))

        await handle.update(update)
        lines.append(f"updated {d.schedule_id}: {d.workflow} at '{d.cron}'")
    return lines
