"""Dry runs: the real workflow code on the time-skipping test server, with recording
connectors instead of HubSpot/Slack/SMTP, so ops can see what a playbook will do."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from connectors.factory import Connectors
from connectors.recording import (
    ActionLog,
    RecordingChat,
    RecordingCrm,
    RecordingHelpdesk,
    RecordingMailer,
)
from cshub.binaries import temporal_test_server
from cshub.settings import Settings
from domain.onboarding import ActionRecord, OnboardingInput
from domain.tiers import Tier
from playbooks.loader import load_onboarding_plan
from worker import create_worker
from workflows.onboarding import OnboardingWorkflow


class SimulatedAction(BaseModel):
    day: int
    channel: str
    template: str | None
    summary: str
    step: str
    outcome: str


def _quiet_runtime() -> Runtime:
    """The test server lacks some capabilities the SDK core warns about: not news here."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


def recording_connectors() -> Connectors:
    log = ActionLog()
    return Connectors(
        crm=RecordingCrm(log),
        helpdesk=RecordingHelpdesk(log),
        chat=RecordingChat(log),
        mailer=RecordingMailer(log),
    )


async def simulate_timeline(
    run: Any,
    inp: BaseModel,
    *,
    days: int,
    id_prefix: str,
    signals: Sequence[tuple[float, str, BaseModel | None]] = (),
    until_complete: bool = False,
) -> list[SimulatedAction]:
    """Run a workflow on simulated time for ``days`` days and return every action it took.

    ``run`` is the workflow's run method; ``signals`` are ``(day, signal name, payload)``
    sent on those days (e.g. "paid on day 5"). With ``until_complete`` the run goes to
    the workflow's own end instead. The workflow must answer a ``progress`` query with
    an ``actions`` list (see workflows.common)."""
    settings = Settings(
        temporal_task_queue=f"simulate-{uuid.uuid4().hex[:8]}", worker_max_concurrent_activities=8
    )
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(temporal_test_server()),
        runtime=_quiet_runtime(),
    )
    try:
        with ThreadPoolExecutor(max_workers=8) as executor:
            worker = create_worker(env.client, settings, recording_connectors(), executor=executor)
            async with worker:
                handle = await env.client.start_workflow(
                    run,
                    inp,
                    id=f"{id_prefix}-simulated-{uuid.uuid4().hex[:8]}",
                    task_queue=settings.temporal_task_queue,
                )
                elapsed = 0.0
                for day, name, payload in sorted(signals, key=lambda s: s[0]):
                    if day > elapsed:
                        await env.sleep(timedelta(days=day - elapsed))
                        elapsed = day
                    if payload is None:
                        await handle.signal(name)
                    else:
                        await handle.signal(name, payload)
                if until_complete:
                    await handle.result()
                else:
                    # Stop just before the next day starts so day N's steps are included.
                    await env.sleep(timedelta(days=days + 1 - elapsed) - timedelta(seconds=1))
                progress = await handle.query("progress")
                desc = await handle.describe()
                if desc.status is WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("simulation window ended")
    finally:
        await env.shutdown()
    actions = progress["actions"] if isinstance(progress, dict) else progress.actions
    out = []
    for a in actions:
        rec = ActionRecord.model_validate(a) if isinstance(a, dict) else a
        if rec.channel != "journey" and (until_complete or rec.day <= days):
            out.append(
                SimulatedAction(
                    day=rec.day,
                    channel=rec.channel,
                    template=rec.template,
                    summary=rec.summary,
                    step=rec.step,
                    outcome=rec.outcome,
                )
            )
    return out


async def simulate_onboarding(
    tier: Tier, days: int | None = None, plan: str | None = None
) -> list[SimulatedAction]:
    """Run one journey for ``days`` plan days (default: the whole plan)."""
    total_days = load_onboarding_plan(plan or tier.value).duration_days
    run_days = total_days if days is None else days
    return await simulate_timeline(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id="simulated", tier=tier, plan=plan),
        days=run_days,
        id_prefix="onboarding",
        until_complete=run_days >= total_days,
    )
