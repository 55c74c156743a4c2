"""``cshub risk train --from-history``: the hub learns from the rows its sweeps scored,
labelled by the outcomes it recorded since; refused, saying why, without a history."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from cshub.cli import app
from runtime.risk_history import RiskHistory, Snapshot

T0 = datetime(2026, 2, 2, 6, 0, tzinfo=UTC)


def test_train_from_history_learns_what_the_outcomes_say(tmp_path: Path) -> None:
    env = {
        "CSHUB_RISK_MODELS_DIR": str(tmp_path / "models"),
        "CSHUB_RISK_DB": str(tmp_path / "risk.db"),
    }
    runner = CliRunner()
    missing = runner.invoke(app, ["risk", "train", "--from-history"], env=env)
    assert missing.exit_code == 2 and "no risk history at" in missing.output
    neither = runner.invoke(app, ["risk", "train"], env=env)
    assert neither.exit_code == 2 and "--from-csv FILE --label COLUMN, or --from-history" in (
        neither.output
    )

    rng = random.Random(3)
    h = RiskHistory(tmp_path / "risk.db")
    for i in range(160):
        cid = str(2000 + i)
        score = rng.uniform(20, 95)
        churned = score < 50 if rng.random() > 0.1 else score >= 50
        h.record_snapshots(
            [Snapshot(cid, T0, {"health_score": round(score, 1), "tier": "starter"})]
        )
        at = T0 + timedelta(days=40)
        if churned:
            h.record_outcome(cid, "churned", at, f"k{i}", None)
        else:
            h.record_outcome(cid, "renewed", at, f"k{i}", None)
    h.close()
    r = runner.invoke(app, ["risk", "train", "--from-history", "--json"], env=env)
    assert r.exit_code == 0, r.output
    card = json.loads(r.output)
    assert card["source"] == "history" and card["rows"] == 160
    assert card["numeric"] == ["health_score"]
    assert card["auc"] > 0.8
