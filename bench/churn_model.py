"""The churn-risk model (``cshub risk train``) on a public customer-churn dataset: hold-out
AUC against a logistic regression on the same split, the Brier score, training time.

Dataset: IBM's *Telco Customer Churn* sample (``WA_Fn-UseC_-Telco-Customer-Churn.csv``,
7,043 customers, 21 columns, label ``Churn`` Yes/No, id ``customerID``), published by IBM
as a Cognos Analytics sample and copied in many public repositories (the copy used here:
aiplanethub/Datasets, commit 9684febc). It is read from ``$CSHUB_CHURN_EVAL_CSV``,
``bench/data/churn/telco.csv`` or ``shared/data/churn/telco.csv`` next to the repository;
without it a generated export (``tests/unit/test_risk_model.py``'s mechanism) is used and
the figure says so. Split: 30 % held out, stratified, seed 23.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.results import BENCH_DIR, Figure, Size, Target

TITLE = "Churn-risk model"
NOTES = __doc__ or ""


def telco_csv() -> Path | None:
    env = os.environ.get("CSHUB_CHURN_EVAL_CSV")
    repo = BENCH_DIR.parent
    for p in [
        *([Path(env)] if env else []),
        BENCH_DIR / "data" / "churn" / "telco.csv",
        repo.parent / "shared" / "data" / "churn" / "telco.csv",
        repo.parent.parent / "shared" / "data" / "churn" / "telco.csv",
    ]:
        if p.is_file():
            return p
    return None


async def run(size: Size) -> list[Figure]:
    from runtime.risk_model import train_from_csv

    with tempfile.TemporaryDirectory() as tmp:
        source = telco_csv() if size is Size.FULL else None
        if source is not None:
            label, id_column, note = "Churn", "customerID", "IBM Telco Customer Churn (7,043 rows)"
        else:
            from tests.unit.test_risk_model import export

            source = export(Path(tmp) / "generated.csv", rows=400)
            label, id_column, note = "churned", "customer", "generated export (no Telco CSV found)"
        began = time.perf_counter()
        card = train_from_csv(
            source, label, id_column=id_column, holdout=0.3, seed=23, directory=Path(tmp)
        )
        seconds = time.perf_counter() - began
    return [
        Figure(
            name="churn model: hold-out AUC",
            unit="",
            runs=[card.auc],
            baseline_runs=[card.baseline_auc],
            description="ROC AUC on the 30 % held out; baseline: logistic regression, same split",
            target=Target("at_least", factor=1.0, text=">= the logistic regression's"),
            notes=[note],
        ),
        Figure(
            name="churn model: hold-out Brier score",
            unit="",
            runs=[card.brier],
            description="mean squared error of the calibrated probabilities (lower is better)",
            notes=[note],
        ),
        Figure(
            name="churn model: training time",
            unit="s",
            runs=[seconds],
            description="risk train: evaluation fit, baseline, final fit on every row, save",
            notes=[note],
        ),
    ]
