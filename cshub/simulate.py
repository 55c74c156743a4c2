"""Dry runs: the real workflow code on the time-skipping test server, with recording
connectors instead of HubSpot/Slack/SMTP, so ops can see what a playbook will do."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from pydantic import BaseModel
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
from domain.onboarding import OnboardingInput, OnboardingProgress
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


async def simulate_onboarding(
    tier: Tier, days: int | None = None, plan: str | None = None
) -> list[SimulatedAction]:
    """Run one journey for ``days`` plan days (default: the whole plan) and return every
    action it took, in order."""
    total_days = load_onboarding_plan(plan or tier.value).duration_days
    run_days = total_days if days is None else days
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
                    OnboardingWorkflow.run,
                    OnboardingInput(customer_id="simulated", tier=tier, plan=plan),
                    id=f"onboarding-simulated-{uuid.uuid4().hex[:8]}",
                    task_queue=settings.temporal_task_queue,
                )
                if run_days >= total_days:
                    await handle.result()
                else:
                    # Stop just before the next day starts so day N's steps are included.
                    await env.sleep(timedelta(days=run_days + 1) - timedelta(seconds=1))
                progress: OnboardingProgress = await handle.query(OnboardingWorkflow.progress)
                if run_days < total_days:
                    await handle.terminate("simulation window ended")
    finally:
        await env.shutdown()
    return [
        SimulatedAction(
            day=a.day,
            channel=a.channel,
            template=a.template,
            summary=a.summary,
            step=a.step,
            outcome=a.outcome,
        )
        for a in progress.actions
        if a.channel != "journey" and a.day <= run_days
    ]
