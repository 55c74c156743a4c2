"""An onboarding experiment end to end on the dev server: two plans and a hold-out,
customers started by signed product webhooks, each journey tagged with its arm
(search attributes), recorded in the timeline and the CRM, the hold-out sent nothing,
and `cshub report experiment`'s reader finding every customer in its arm."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities.action_log import SqliteActionStore
from cshub.experiments import experiment_report, outcome_from_progress, render_text
from domain import search_attributes as sa
from domain.experiments import Experiment, assign
from domain.onboarding import OnboardingProgress
from sandbox.server import SandboxHandle
from tests.conftest import emails_for, eventually, forget_workflows, outbox, running_worker
from tests.webhooks.conftest import Api
from webhooks import sample_events as samples

CUSTOMERS = [str(i) for i in range(1001, 1011)]  # the sandbox's ten companies, all tiers
OPTED_OUT = "1009"  # its primary contact unsubscribed: the e-mail guardrail's case


def experiment_data(name: str, salt: str) -> dict[str, Any]:
    return {
        "name": name,
        "play": "onboarding",
        "salt": salt,
        "arms": [
            {"name": "a", "weight": 40, "plan": "community"},
            {"name": "b", "weight": 40, "plan": "quick"},
            {"name": "out", "weight": 20, "holdout": True},
        ],
        "outcome": {"milestone": "first_workflow", "by_day": 3},
        "guardrails": [{"metric": "unsubscribed"}, {"metric": "cancelled"}],
        "status": "running",
    }


def pick_salt(name: str) -> tuple[Experiment, dict[str, str]]:
    """A salt under which the ten customers fill every arm (at least two each)."""
    now = datetime.now(UTC)
    for k in range(500):
        exp = Experiment.model_validate(experiment_data(name, f"s{k}"))
        arms = {c: assign(exp, c, now).arm for c in CUSTOMERS}
        if all(list(arms.values()).count(n) >= 2 for n in ("a", "b", "out")):
            return exp, arms
    raise AssertionError("no salt fills every arm")


async def test_onboarding_experiment_end_to_end(
    api: Api,
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    playbooks_with_test_plans: Path,
    tmp_path: Path,
) -> None:
    client = dev_server_env.client
    name = f"e2e_{uuid.uuid4().hex[:8]}"
    exp, arms = pick_salt(name)
    folder = playbooks_with_test_plans / "experiments"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(exp.model_dump_json(), encoding="utf-8")  # JSON is YAML
    store = SqliteActionStore(tmp_path / "actions.db")
    await forget_workflows(client, *(f"onboarding-{c}" for c in CUSTOMERS))
    try:
        async with running_worker(
            dev_server_env, api.settings, task_queue=api.settings.temporal_task_queue, actions=store
        ):
            secret = api.secret("product_webhook_secret")
            for c in CUSTOMERS:
                event = samples.product_event(customer_id=c, type="workflow_created")
                resp = await api.post(samples.signed_product(event, secret=secret))
                assert resp.status_code == 202, resp.text
                assert resp.json()["outcome"] == "accepted"

            # Every journey carries its arm, as ops see it in the UI's search box.
            async def tagged() -> dict[str, str | None]:
                found = [ex async for ex in client.list_workflows(f"Experiment = '{name}'")]
                got = {
                    ex.id.removeprefix("onboarding-"): ex.typed_search_attributes.get(sa.VARIANT)
                    for ex in found
                }
                assert len(got) == len(CUSTOMERS), got
                return got

            assert await eventually(tagged, within_s=60) == arms

            holdouts = [c for c, a in arms.items() if a == "out"]
            treated = [c for c, a in arms.items() if a != "out"]

            async def welcomed() -> dict[str, Any]:
                box = await outbox(clean_sandbox)
                for c in treated:
                    if c == OPTED_OUT:
                        continue
                    assert "welcome" in [e["template"] for e in emails_for(box, c)], c
                notes = [n["properties"].get("hs_note_body", "") for n in box["crm_notes"]]
                assert sum(f"Experiment {name}:" in n for n in notes) == len(CUSTOMERS)
                return box

            box = await eventually(welcomed, within_s=60)
            await asyncio.sleep(1)
            box = await outbox(clean_sandbox)
            for c in holdouts:  # nothing from the play: no e-mail, no alert, no task
                assert emails_for(box, c) == [], c
            # Recorded once per customer, hold-outs too, where CSMs look.
            for c in CUSTOMERS:
                rows = [r for r in store.for_customer(c) if r.summary.startswith("Experiment ")]
                assert len(rows) == 1, rows
                assert rows[0].summary.startswith(f"Experiment {name}: arm {arms[c]} (")
            held = store.for_customer(holdouts[0])
            assert [r.channel for r in held] == ["crm_note"]  # the assignment note only

            # The journey's own record: its arm, and what the hold-out did not get.
            progress = await client.get_workflow_handle(f"onboarding-{holdouts[0]}").query(
                "progress", result_type=OnboardingProgress
            )
            assert progress.experiment is not None and progress.experiment.holdout
            assert progress.plan == "community"  # the control's plan, silently
            assert any(a.summary.startswith(f"held out ({name}/out)") for a in progress.actions)
            assert "first_workflow" in progress.milestones_done  # measured all the same
            b_customer = next(c for c in treated if arms[c] == "b")
            b_progress = await client.get_workflow_handle(f"onboarding-{b_customer}").query(
                "progress", result_type=OnboardingProgress
            )
            assert b_progress.plan == "quick"

            # The report reads it back: everyone in their arm, windows still open, the
            # opted-out customer's suppressed welcome in its arm's guardrail.
            async def read_back() -> Any:
                report = await experiment_report(client, exp)
                unsubscribed = {
                    a.arm: g.customers
                    for a in report.arms
                    for g in a.guardrails
                    if g.metric == "unsubscribed"
                }
                expected = {n: 0 for n in ("a", "b", "out")}
                if arms[OPTED_OUT] != "out":
                    expected[arms[OPTED_OUT]] = 1
                assert unsubscribed == expected
                return report

            report = await eventually(read_back, within_s=30)
            assert {a.arm: a.customers for a in report.arms} == {
                n: list(arms.values()).count(n) for n in ("a", "b", "out")
            }
            assert report.customers == len(CUSTOMERS)
            assert report.pending == len(CUSTOMERS) and report.measured == 0
            assert report.srm_p_value is not None
            assert report.verdict.startswith("not enough customers yet"), report.verdict
            assert report.warnings == []
            assert f"Experiment {name}" in render_text(report)
            # The command ops run, in its own process, with the chart.
            chart = tmp_path / "experiment.png"
            cli = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "cshub"),
                *("report", "experiment", name, "--json", "--png", str(chart)),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={
                    **os.environ,
                    "TEMPORAL_ADDRESS": client.service_client.config.target_host,
                    "CSHUB_PLAYBOOKS_DIR": str(playbooks_with_test_plans),
                },
            )
            out, err = await asyncio.wait_for(cli.communicate(), timeout=120)
            assert cli.returncode == 0, err.decode()
            printed = json.loads(out)
            assert {a["arm"]: a["customers"] for a in printed["arms"]} == {
                a.arm: a.customers for a in report.arms
            }
            assert printed["verdict"] == report.verdict
            assert printed["chart"] == str(chart)
            assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            # Once the window has closed the same record counts as a success on day 0.
            later = progress.model_copy(update={"day": 4})
            counted = outcome_from_progress(exp, "out", later)
            assert counted.measured and counted.success
    finally:
        path.unlink(missing_ok=True)
        store.close()
        for c in CUSTOMERS:
            with contextlib.suppress(Exception):
                await client.get_workflow_handle(f"onboarding-{c}").terminate("test over")
