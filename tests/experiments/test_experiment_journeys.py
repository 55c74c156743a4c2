"""Experiments seen from one journey (time-skipping server): a stopped experiment sends a
new customer to its chosen arm; an invalid experiment file does not stop onboarding,
it is said where people look (the journey's record and an ops alert)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from cshub.experiments import render_text, simulate, write_chart
from domain.experiments import Experiment
from domain.onboarding import OnboardingInput
from domain.tiers import Tier
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import emails_for, outbox, running_worker
from tests.workflows.campaign_helpers import skip_to_local_hour
from workflows.onboarding import OnboardingWorkflow

STOPPED: dict[str, Any] = {
    "play": "onboarding",
    "arms": [
        {"name": "own", "weight": 50},
        {"name": "quick", "weight": 30, "plan": "quick"},
        {"name": "out", "weight": 20, "holdout": True},
    ],
    "eligibility": {"tiers": ["starter"]},
    "outcome": {"milestone": "first_workflow", "by_day": 3},
    "status": "stopped",
    "chosen_arm": "quick",
}


@pytest.fixture
def experiments(playbooks_with_test_plans: Path) -> Iterator[Path]:
    folder = playbooks_with_test_plans / "experiments"
    folder.mkdir(exist_ok=True)
    yield folder
    for path in folder.glob("*.yaml"):
        path.unlink()


def test_stopped_file_needs_its_milestone_in_the_tier_plan(
    experiments: Path, playbooks_with_test_plans: Path
) -> None:
    """The arm without a plan follows the starter plan, which has no first_workflow."""
    from playbooks.loader import PlaybookError, load_experiments

    (experiments / "stopped.yaml").write_text(
        Experiment.model_validate({**STOPPED, "name": "stopped"}).model_dump_json()
    )
    with pytest.raises(
        PlaybookError, match="'first_workflow' is not a milestone of plan 'starter'"
    ):
        load_experiments()


async def test_stopped_experiment_starts_new_customers_on_its_chosen_arm(
    time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    experiments: Path,
) -> None:
    data = {
        **STOPPED,
        "name": "stopped",
        "arms": [{**STOPPED["arms"][0], "plan": "quick"}, *STOPPED["arms"][1:]],
    }
    (experiments / "stopped.yaml").write_text(Experiment.model_validate(data).model_dump_json())
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await time_skipping_env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="1003", tier=Tier.STARTER),
            id=f"onboarding-stopped-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        await time_skipping_env.sleep(timedelta(hours=1))
        progress = await handle.query(OnboardingWorkflow.progress)
        desc = await handle.describe()
        await handle.terminate("test done")
    assert progress.experiment is not None
    assert (progress.experiment.arm, progress.experiment.how) == ("quick", "stopped")
    assert progress.plan == "quick"
    assert (
        desc.typed_search_attributes.get(
            __import__("domain.search_attributes", fromlist=["VARIANT"]).VARIANT
        )
        == "quick"
    )
    box = await outbox(clean_sandbox)
    assert [e["template"] for e in emails_for(box, "1003")] == ["welcome"]
    notes = [n["properties"]["hs_note_body"] for n in box["crm_notes"]]
    assert any("Experiment stopped: arm quick (plan quick; experiment stopped" in n for n in notes)


async def test_an_invalid_experiment_file_leaves_onboarding_running_and_says_so(
    time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    experiments: Path,
) -> None:
    (experiments / "broken.yaml").write_text(
        "name: broken\nplay: onboarding\narms: [{name: a, weight: 1}]\n", encoding="utf-8"
    )
    async with running_worker(time_skipping_env, hub_settings) as worker:
        handle = await time_skipping_env.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(customer_id="1004", tier=Tier.STARTER),
            id=f"onboarding-broken-exp-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue,
        )
        await time_skipping_env.sleep(timedelta(hours=1))
        progress = await handle.query(OnboardingWorkflow.progress)
        await handle.terminate("test done")
    assert progress.experiment is None
    (failed,) = [a for a in progress.actions if a.step == "experiment"]
    assert failed.outcome == "failed"
    assert "experiment assignment failed" in failed.summary and "broken.yaml" in failed.summary
    box = await outbox(clean_sandbox)
    assert [e["template"] for e in emails_for(box, "1004")] == ["welcome"]  # onboarding goes on
    ops = [m for m in box["slack_messages"] if "assign_experiment" in str(m)]
    assert len(ops) == 1, box["slack_messages"]  # ops told, once


def test_report_text_and_chart(tmp_path: Path) -> None:
    exp = Experiment.model_validate(
        {
            **STOPPED,
            "name": "chart",
            "status": "running",
            "arms": [{**STOPPED["arms"][0], "plan": "quick"}, *STOPPED["arms"][1:]],
        }
    )
    report = simulate(exp, customers=3000, effect=0.1, seed=5)
    text = render_text(report)
    assert "own (control)" in text and "out (hold-out)" in text and "verdict: " in text
    png = write_chart(report, tmp_path / "sub" / "chart.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


async def test_segment_eligibility_reads_the_crm_company(
    clean_sandbox: SandboxHandle, hub_settings: Settings, experiments: Path
) -> None:
    from datetime import UTC, datetime

    from temporalio.testing import ActivityEnvironment

    from activities.experiments import AssignExperimentRequest, ExperimentActivities
    from domain.experiments import PlayKind
    from wiring.connectors import build_connectors

    data = {
        **STOPPED,
        "name": "pilot",
        "status": "running",
        "arms": [{**STOPPED["arms"][0], "plan": "quick"}, *STOPPED["arms"][1:]],
        "eligibility": {"segments": ["pilot"]},
    }
    (experiments / "pilot.yaml").write_text(Experiment.model_validate(data).model_dump_json())
    crm = build_connectors(hub_settings).crm
    # The HubSpot SDK blocks: off the event loop the in-process sandbox answers on.
    await asyncio.to_thread(crm.update_company, "1006", {"cshub_segment": "pilot"})
    activity = ExperimentActivities(crm).assign_experiment
    now = datetime.now(UTC)

    def request(customer: str) -> AssignExperimentRequest:
        return AssignExperimentRequest(
            play=PlayKind.ONBOARDING, customer_id=customer, started_at=now, at=now
        )

    env = ActivityEnvironment()
    inside = await asyncio.to_thread(env.run, activity, request("1006"))
    outside = await asyncio.to_thread(env.run, activity, request("1005"))  # no segment
    assert inside is not None and inside.experiment == "pilot"
    assert outside is None


async def test_outcomes_are_measured_once_the_window_closes(
    module_time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    experiments: Path,
) -> None:
    """Two hold-out journeys on the quick plan (milestone first_workflow, window 3 days):
    pending while the window is open, then one success (product event on day 1) and one
    failure (none), as the report counts them."""
    from cshub.experiments import outcome_from_progress
    from domain.onboarding import ProductEvent
    from domain.tiers import ProductEventType

    env = module_time_skipping_env
    # At noon in 1004's zone: a journey's progress counts its day at its last wake-up, and
    # begun before about 10:00 there, no timer of 1004's wakes it after the window closes
    # by the time the test reads it (the clock is wherever earlier tests left it).
    await skip_to_local_hour(env, "1004", 12)
    data = {
        **STOPPED,
        "name": "window",
        "arms": [
            {"name": "own", "weight": 50, "plan": "quick"},
            {**STOPPED["arms"][2], "weight": 50},
        ],
        "chosen_arm": "out",  # stopped: everyone to the hold-out
    }
    exp = Experiment.model_validate(data)
    (experiments / "window.yaml").write_text(exp.model_dump_json())
    async with running_worker(env, hub_settings) as worker:
        handles = {
            c: await env.client.start_workflow(
                OnboardingWorkflow.run,
                OnboardingInput(customer_id=c, tier=Tier.STARTER),
                id=f"onboarding-window-{c}-{uuid.uuid4().hex[:6]}",
                task_queue=worker.task_queue,
            )
            for c in ("1003", "1004")
        }
        await env.sleep(timedelta(days=1, hours=2))
        await handles["1003"].signal(
            OnboardingWorkflow.product_event,
            ProductEvent(type=ProductEventType.WORKFLOW_CREATED, event_id="w1"),
        )
        await env.sleep(timedelta(hours=1))
        early = {c: await h.query(OnboardingWorkflow.progress) for c, h in handles.items()}
        await env.sleep(timedelta(days=3))
        late = {c: await h.query(OnboardingWorkflow.progress) for c, h in handles.items()}
        for h in handles.values():
            await h.terminate("test done")
    assert all(p.experiment is not None and p.experiment.holdout for p in late.values())
    pending = [outcome_from_progress(exp, "out", p) for p in early.values()]
    assert [o.measured for o in pending] == [False, False]
    done = {c: outcome_from_progress(exp, "out", p) for c, p in late.items()}
    assert done["1003"].measured and done["1003"].success
    assert done["1004"].measured and not done["1004"].success
    assert done["1004"].guardrails["milestone_missed"]
    box = await outbox(clean_sandbox)
    assert emails_for(box, "1003") == [] and emails_for(box, "1004") == []
