"""The churn-risk model's history on both stores (SQLite, PostgreSQL): a sweep's rows
recorded once per company and sweep, outcomes once per key, and the labelled rows the
model learns from (an outcome within the horizon after the row)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runtime.risk_history import RiskHistory, Snapshot, training_rows

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def test_rows_and_outcomes_label_what_the_model_learns(store_url: str) -> None:
    h = RiskHistory(store_url)
    try:
        rows = [
            Snapshot("1001", T0, {"health_score": 40.0, "tier": "starter"}, 71.5, "churn-v1"),
            Snapshot("1002", T0, {"health_score": 90.0, "tier": "starter"}, 3.0, "churn-v1"),
            Snapshot("1003", T0, {"health_score": 60.0, "tier": None}),
        ]
        assert h.record_snapshots(rows) == 3
        # A retried page writes the same sweep's row again: still one row.
        h.record_snapshots([Snapshot("1001", T0, {"health_score": 41.0}, 72.0, "churn-v1")])
        h.record_snapshots([Snapshot("1001", T0 + timedelta(days=1), {"health_score": 38.0})])
        assert [s.features["health_score"] for s in h.snapshots("1001")] == [41.0, 38.0]
        assert h.snapshots("1001")[0].churn_risk == 72.0

        assert h.record_outcome(
            "1001", "churned", T0 + timedelta(days=30), "dunning-1001/r/final", "DunningWorkflow"
        )
        assert not h.record_outcome(
            "1001", "churned", T0 + timedelta(days=30), "dunning-1001/r/final", "DunningWorkflow"
        )
        assert h.record_outcome(
            "1002", "renewed", T0 + timedelta(days=20), "renewal-1002/r/term1:renewed", None
        )
        # 1003 renewed after the 90-day horizon: its row is not labelled.
        assert h.record_outcome(
            "1003", "renewed", T0 + timedelta(days=120), "renewal-1003/r/term1:renewed", None
        )
        assert h.outcome_counts() == {"churned": 1, "renewed": 2}

        labelled = training_rows(h, 90)
        assert sorted((r["health_score"], r["churned"]) for r in labelled) == [
            (38.0, "yes"),
            (41.0, "yes"),
            (90.0, "no"),
        ]
    finally:
        h.close()
