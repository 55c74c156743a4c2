"""``cshub risk backtest`` on a tiny generated portfolio (the full run is in make bench):
the JSON has the model's and the bands' figures, the model trained by the hub's own code
ranks churners above the bands, and the recorded-history replay refuses an empty store."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cshub.cli import app


def test_backtest_json_compares_the_model_with_the_health_bands(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app, ["risk", "backtest", "--json", "--customers", "70", "--weeks", "40", "--seed", "5"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["customers"] == 70 and out["churned"] > 5
    for signal in ("model", "health_bands"):
        assert 0.5 <= out[signal]["auc"] <= 1
        assert out[signal]["median_lead_days"] >= 0
    assert out["model"]["auc"] > out["health_bands"]["auc"]
    assert out["lead_gain_days"] == round(
        out["model"]["median_lead_days"] - out["health_bands"]["median_lead_days"], 1
    )

    none = CliRunner().invoke(
        app, ["risk", "backtest", "--history"], env={"CSHUB_RISK_DB": str(tmp_path / "r.db")}
    )
    assert none.exit_code == 2 and "no risk history at" in none.output
