"""The churn-risk model against the health-score bands on a generated portfolio
(``cshub risk backtest``; the churn mechanism is documented in cshub/risk_backtest.py and
not given to the model): AUC of each over the held-out customers' weekly rows (churned
within 90 days or not), and the median days between the first warning and the churn.
Full: 1,000 customers over 104 weeks (seed 23); tiny: 120 over 60."""

from __future__ import annotations

import asyncio
import time

from bench.results import Figure, Size, Target

TITLE = "Churn-risk backtest"
NOTES = __doc__ or ""


async def run(size: Size) -> list[Figure]:
    from cshub.risk_backtest import generated

    customers, weeks = (1000, 104) if size is Size.FULL else (120, 60)
    began = time.perf_counter()
    r = await asyncio.to_thread(generated, customers, weeks, 23)
    seconds = time.perf_counter() - began
    note = r.source
    rows = [
        (
            "risk backtest: model AUC",
            "",
            r.model.auc,
            r.health_bands.auc,
            "ROC AUC (churned within 90 days) on the held-out half; baseline: the "
            "health-score bands as an ordinal risk",
            Target("at_least", factor=1.0, text="> the health-score bands'"),
        ),
        (
            "risk backtest: median lead time",
            "days",
            r.model.median_lead_days,
            r.health_bands.median_lead_days,
            "days from the first warning (model >= high_risk; bands At risk or Critical) "
            "to the churn, median over churned held-out customers (0 if never warned)",
            Target(
                "at_least", bound=r.health_bands.median_lead_days + 30, text=">= bands + 30 days"
            ),
        ),
        (
            "risk backtest: run time",
            "s",
            seconds,
            None,
            "simulate through the hub's scoring code, train, evaluate",
            None,
        ),
    ]
    return [
        Figure(
            name=name,
            unit=unit,
            runs=[value],
            baseline_runs=None if base is None else [base],
            description=text,
            target=target,
            notes=[note],
        )
        for name, unit, value, base, text, target in rows
    ]
