"""``cshub risk explain`` against the HubSpot emulator: the model's columns read from the
CRM company, the probability and the factor that drives it, in words."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from cshub.cli import app
from runtime.risk_history import RiskHistory
from runtime.risk_model import train_from_csv
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.unit.test_risk_model import export
from wiring.connectors import build_connectors


async def test_risk_explain_reads_the_company_and_names_its_top_factor(
    clean_sandbox: SandboxHandle, hub_settings: Settings, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    await asyncio.to_thread(
        train_from_csv, export(tmp_path / "e.csv"), "churned", id_column="customer",
        directory=models,
    )  # fmt: skip
    crm = build_connectors(hub_settings).crm
    props = {"tenure_months": "2", "plan": "basic", "tickets_90d": "6", "region": "north"}
    await asyncio.to_thread(crm.update_company, "1007", props)
    env = {
        "CSHUB_ENV": "sandbox",
        "HUBSPOT_BASE_URL": clean_sandbox.http_url,
        "CSHUB_RISK_MODELS_DIR": str(models),
        "CSHUB_RISK_DB": str(tmp_path / "risk.db"),
    }

    def run(*args: str) -> tuple[int, str]:
        r = CliRunner().invoke(app, ["risk", "explain", *args], env=env)
        return r.exit_code, r.output

    code, out = await asyncio.to_thread(run, "1007")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "Atlas Manufacturing (customer 1007) · model churn-v1"
    assert lines[1].startswith("churn probability: ")
    assert lines[2].startswith("  tenure_months = 2 (typical: ")
    assert "raises the risk by" in lines[2]
    assert "(no value on the CRM company for: noise; typical used)" in out
    # No outcomes recorded by the hub yet: it says so, and that it decides nothing.
    assert lines[-1] == (
        "learning: the hub has recorded 0 churned and 0 renewed outcomes and needs 30 of "
        "each before this estimate decides anything; until then it is shown, never acted on"
    )
    code, out = await asyncio.to_thread(run, "1007", "--json")
    assert code == 0 and json.loads(out)["probability"] > 0.5
    assert json.loads(out)["deciding"] is False
    history = RiskHistory(tmp_path / "risk.db")
    at = datetime(2026, 1, 5, tzinfo=UTC)
    for i in range(30):
        history.record_outcome(f"9{i:03d}", "churned", at, f"c{i}", None)
        history.record_outcome(f"8{i:03d}", "renewed", at, f"r{i}", None)
    history.close()
    code, out = await asyncio.to_thread(run, "1007")
    assert code == 0 and "learning:" not in out
    code, out = await asyncio.to_thread(run, "1007", "--json")
    assert json.loads(out)["deciding"] is True
    assert json.loads(out)["outcomes"] == {"churned": 30, "renewed": 30}
    code, out = await asyncio.to_thread(run, "9999")
    assert code == 2 and "no CRM company with id 9999" in out
