"""``cshub risk train --from-csv`` on a generated export whose churn mechanism is known
(short tenure, the basic plan and many tickets raise it; the id and the noise column do
not), the per-customer explanation, and refusals of bad input naming the column."""

from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cshub.cli import app
from runtime.risk_model import TrainingError, load_current, train_from_csv

COLUMNS = ["customer", "tenure_months", "plan", "tickets_90d", "noise", "region", "churned"]


def export(path: Path, rows: int = 400, seed: int = 7) -> Path:
    """Churn with probability sigmoid(1.5 - 0.12 tenure + 1.4 [basic] + 0.35 tickets - 2)."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for i in range(rows):
            tenure = rng.randint(1, 48)
            plan = rng.choice(["basic", "pro", "enterprise"])
            tickets = rng.randint(0, 8)
            z = 1.5 - 0.12 * tenure + 1.4 * (plan == "basic") + 0.35 * tickets - 2
            churned = "yes" if rng.random() < 1 / (1 + math.exp(-z)) else "no"
            missing = rng.random() < 0.05  # some exports have holes
            w.writerow(
                [
                    f"c-{i}",
                    "" if missing else tenure,
                    plan,
                    tickets,
                    rng.random(),
                    rng.choice(["north", "south"]),
                    churned,
                ]
            )
    return path


def test_train_learns_the_relation_and_explains_a_customer_by_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSHUB_RISK_MODELS_DIR", str(tmp_path / "models"))
    data = export(tmp_path / "export.csv")
    result = CliRunner().invoke(
        app,
        ["risk", "train", "--from-csv", str(data), "--label", "churned", "--id", "customer",
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    card = json.loads(result.output)
    assert card["model"] == "churn-v1" and card["rows"] == 400
    assert 100 < card["positives"] < 300
    assert card["auc"] >= 0.75, card
    assert card["auc"] >= card["baseline_auc"] - 0.03  # no worse than a plain regression
    assert card["numeric"] == ["tenure_months", "tickets_90d", "noise"]
    assert card["categorical"] == ["plan", "region"]
    assert (tmp_path / "models" / "churn-v1.json").is_file()

    loaded = load_current(tmp_path / "models")
    assert loaded is not None
    risky = {"tenure_months": "2", "plan": "basic", "tickets_90d": "3", "noise": "0.5",
             "region": "north"}  # fmt: skip
    why = loaded.explain(risky)
    assert why.probability > 0.5
    top = why.factors[0]
    assert top.column == "tenure_months" and top.points > 0
    assert "tenure_months = 2 (typical: " in top.words and "raises the risk by" in top.words
    safe = loaded.explain({**risky, "tenure_months": "45", "plan": "enterprise"})
    assert safe.probability < why.probability
    assert safe.factors[0].column == "tenure_months" and safe.factors[0].points < 0
    assert "lowers the risk" in safe.factors[0].words


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": "cancelled"}, "no label column 'cancelled'"),
        ({"one_class": True}, "column 'churned' has one class only ('no')"),
        ({"text_in": "tickets_90d"}, "column 'tickets_90d' is numeric but line 8 has 'many'"),
        ({"positive": "maybe"}, "column 'churned' has no value 'maybe'"),
    ],
)
def test_bad_input_is_refused_naming_the_column(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    data = export(tmp_path / "export.csv", rows=120)
    rows = list(csv.reader(data.open(encoding="utf-8")))
    if change.get("one_class"):
        rows = [rows[0]] + [[*r[:-1], "no"] for r in rows[1:]]
    if change.get("text_in"):
        col = rows[0].index(str(change["text_in"]))
        rows[7][col] = "many"
    with data.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(TrainingError) as err:
        train_from_csv(
            data,
            str(change.get("label", "churned")),
            positive=change.get("positive"),
            id_column="customer",
            directory=tmp_path / "models",
        )
    assert message in str(err.value)


def test_the_cli_says_no_model_yet_and_names_a_bad_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSHUB_RISK_MODELS_DIR", str(tmp_path / "none"))
    out = CliRunner().invoke(app, ["risk", "explain", "1001"])
    assert out.exit_code == 3 and "no churn-risk model yet" in out.output
    data = export(tmp_path / "export.csv", rows=60)
    bad = CliRunner().invoke(app, ["risk", "train", "--from-csv", str(data), "--label", "Churn"])
    assert bad.exit_code == 2 and "cannot train: no label column 'Churn'" in bad.output


def test_a_page_scored_the_fast_way_gets_the_probabilities_of_the_fitted_pipeline(
    tmp_path: Path,
) -> None:
    train_from_csv(export(tmp_path / "export.csv"), "churned", id_column="customer",
                   directory=tmp_path / "models")  # fmt: skip
    loaded = load_current(tmp_path / "models")
    assert loaded is not None
    rng = random.Random(3)
    rows = [
        {
            "tenure_months": "" if i % 7 == 0 else str(rng.randint(1, 48)),  # missing
            "plan": ["basic", "pro", "enterprise", "", "legacy"][i % 5],  # blank, unseen
            "tickets_90d": str(rng.randint(0, 8)),
            "noise": "n/a" if i % 11 == 0 else str(rng.random()),  # unreadable: missing
            "region": rng.choice(["north", "south"]),
        }
        for i in range(60)
    ]
    fast = loaded.predict(rows)
    assert loaded._fast_scorer is not None  # the fast way was taken
    slow = loaded.model.predict_proba(loaded.frames([loaded._readable(r) for r in rows]))
    assert fast == pytest.approx(list(slow[:, 1]), abs=1e-12)
    assert len(set(fast)) > 5
