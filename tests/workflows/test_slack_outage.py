"""Slack down for a whole (simulated) hour: the CSM's alert waits and arrives once, within a
minute of Slack coming back; the customer's e-mail does not wait for Slack."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from temporalio.testing import WorkflowEnvironment

from domain.onboarding import OnboardingInput
from domain.tiers import Tier
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from workflows.onboarding import OnboardingWorkflow


async def test_an_hour_of_slack_outage_delays_the_alert_and_sends_it_once(
    time_skipping_env: WorkflowEnvironment, clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    base = clean_sandbox.http_url
    async with httpx.AsyncClient() as http:
        down = {"system": "slack", "status": 503, "count": 10**9}  # no Retry-After: back-off
        (await http.post(f"{base}/_sandbox/faults", json=down)).raise_for_status()
        async with running_worker(time_skipping_env, hub_settings) as worker:
            handle = await time_skipping_env.client.start_workflow(
                OnboardingWorkflow.run,
                OnboardingInput(customer_id="1005", tier=Tier.PROFESSIONAL),
                id=f"onboarding-1005-{uuid.uuid4().hex[:6]}",
                task_queue=worker.task_queue,
            )
            # About an hour, ending just after a try (on the old 10-minute back-off the next
            # would have come 10 minutes later).
            await time_skipping_env.sleep(timedelta(seconds=3040))
            during = await outbox(clean_sandbox)
            (await http.delete(f"{base}/_sandbox/faults")).raise_for_status()
            # Time-critical: tried at most 30 s apart, so within a minute of Slack's return
            # (it was up to 10 minutes with the back-off the other effects keep).
            await time_skipping_env.sleep(timedelta(minutes=1))
            after = await outbox(clean_sandbox)
            await handle.terminate("test done")
        refused = [
            r
            for r in (await http.get(f"{base}/api/requests")).json()
            if r["system"] == "slack" and r["status"] == 503
        ]

    assert [e["template"] for e in during["emails"]] == ["welcome"]  # did not wait for Slack
    assert during["slack_messages"] == []
    assert len(refused) >= 8, "the alert was retried all through the hour"
    alerts = [m for m in after["slack_messages"] if m["channel"] != "C0OPS"]
    assert len(alerts) == 1 and "started Professional onboarding" in alerts[0]["text"]
    assert [m for m in after["slack_messages"] if m["channel"] == "C0OPS"] == []
    assert [e["template"] for e in after["emails"]] == ["welcome"]
