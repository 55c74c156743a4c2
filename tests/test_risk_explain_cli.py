"""``cshub risk explain`` against the HubSpot emulator: the model's columns read from the
CRM company, the probability and the factor that drives it, in words."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from cshub.cli import app
from cshub.risk_model import train_from_csv
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
    code, out = await asyncio.to_thread(run, "1007", "--json")
    assert code == 0 and json.loads(out)["probability"] > 0.5
    code, out = await asyncio.to_thread(run, "9999")
    assert code == 2 and "no CRM company with id 9999" in out
