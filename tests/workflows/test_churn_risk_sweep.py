"""The churn-risk model in the health sweep, end to end on the dev server: every company
is scored next to its health (``cshub_churn_risk`` on the CRM company, the feature row in
the hub's risk history); while the history holds too few outcomes the model decides
nothing; once it holds enough, a high estimate starts the churn-prevention campaign
(the playbook's task for ``high_churn_risk``, the ChurnRisk search attribute), once per
episode."""

from __future__ import annotations

import asyncio
import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from domain import search_attributes as sa
from domain.churn_risk import RISK_PROPERTY
from runtime.risk_history import RiskHistory
from runtime.risk_model import train_from_csv
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox, running_worker
from tests.workflows.campaign_helpers import stop, task_subjects
from tests.workflows.test_risk_detectors_sweep import sweep
from wiring.connectors import build_connectors
from workflows.churn import ChurnPreventionWorkflow

CUSTOMER = "1006"
TASK = "High churn risk: act on its factors"


def model_on_prior_tickets(folder: Path) -> None:
    """A model whose only input is the hub's own ``tickets_prev_30d`` feature: customers
    with 15 or more tickets in the 30 days before last churned."""
    rng = random.Random(7)
    path = folder / "export.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tickets_prev_30d", "churned"])
        for _ in range(240):
            n = rng.randint(0, 20)
            w.writerow([n, "yes" if n >= 15 else "no"])
    train_from_csv(path, "churned", directory=folder)


async def test_a_high_churn_risk_starts_the_campaign_once_the_model_has_outcomes(
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = dev_server_env
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("CSHUB_RISK_MODELS_DIR", str(models))
    model_on_prior_tickets(models)
    history = RiskHistory(tmp_path / "risk.db")
    crm = build_connectors(hub_settings).crm
    # Many tickets, but steady (no support spike): only the model sees the risk.
    await asyncio.to_thread(
        crm.update_company,
        CUSTOMER,
        {"cshub_tickets_30d": "18", "cshub_tickets_prev_30d": "18"},
    )
    churn = env.client.get_workflow_handle(f"churn-{CUSTOMER}")
    await stop(churn)

    async def tasks() -> list[str]:
        box = await outbox(clean_sandbox)
        return [s for s in task_subjects(box, CUSTOMER) if s == TASK]

    try:
        async with running_worker(env, hub_settings, history=history) as worker:
            q = worker.task_queue
            # No outcomes recorded yet: scored and written, never acted on.
            learning = await sweep(env, q, "churn-risk-sweep-1")
            assert "churn_risk" not in learning.counts.risks
            company = (
                await asyncio.to_thread(crm.batch_read_companies, [CUSTOMER], [RISK_PROPERTY])
            )[0]
            assert float(company.properties[RISK_PROPERTY] or 0) >= 60
            rows = history.snapshots(CUSTOMER)
            assert len(rows) == 1
            assert rows[0].features["tickets_prev_30d"] == 18
            assert rows[0].churn_risk is not None and rows[0].churn_risk >= 60
            assert rows[0].model == "churn-v1"
            await asyncio.sleep(1)
            assert await tasks() == []

            # Enough outcomes: the model decides.
            at = datetime.now(UTC) - timedelta(days=1)
            for i in range(30):
                history.record_outcome(f"9{i:03d}", "churned", at, f"t/c{i}", "test")
                history.record_outcome(f"8{i:03d}", "renewed", at, f"t/r{i}", "test")
            deciding = await sweep(env, q, "churn-risk-sweep-2")
            assert deciding.counts.risks.get("churn_risk") == 1

            async def one_task() -> list[str]:
                found = await tasks()
                assert found
                return found

            assert len(await eventually(one_task)) == 1
            progress = await churn.query(ChurnPreventionWorkflow.progress)
            assert "high_churn_risk" in [f.value for f in progress.risk_factors]
            desc = await churn.describe()
            risk = desc.typed_search_attributes.get(sa.CHURN_RISK)
            assert risk is not None and risk >= 60

            # Still high at the next sweep: the same episode, not announced again.
            again = await sweep(env, q, "churn-risk-sweep-3")
            assert "churn_risk" not in again.counts.risks
            await asyncio.sleep(1)
            assert len(await tasks()) == 1
            assert len(history.snapshots(CUSTOMER)) == 3
    finally:
        await stop(churn)
        history.close()
        await asyncio.to_thread(
            crm.update_company, CUSTOMER, {"cshub_tickets_30d": "", "cshub_tickets_prev_30d": ""}
        )
