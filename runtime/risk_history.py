"""The churn-risk model's own history, in the hub's store (SQLite file ``CSHUB_RISK_DB``
by default, or the PostgreSQL database of ``CSHUB_DATABASE_URL``; see runtime/store.py):

* **snapshots**: the feature row of each company at each sweep, with the estimate the
  model gave then (one row per company and sweep: a retried page writes the same row);
* **outcomes**: what the hub saw happen to a customer: ``churned`` (dunning ended
  without payment, a renewal lost or cancelled) or ``renewed`` (a renewal won), one row
  per event key.

A snapshot is labelled by the first outcome within ``horizon_days`` after it (churned:
positive); snapshots with no outcome in their horizon are not training data. Until the
store holds ``min_outcomes`` of each kind (``playbooks/risk/detectors.yaml``) the model
stays out of decisions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from runtime.store import Database, open_database, parse_time, sortable_time

Outcome = Literal["churned", "renewed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS risk_snapshots (
    customer_id TEXT NOT NULL,
    scored_at   TEXT NOT NULL,
    features    TEXT NOT NULL,
    churn_risk  REAL,
    model       TEXT,
    PRIMARY KEY (customer_id, scored_at)
);
CREATE INDEX IF NOT EXISTS risk_snapshots_at ON risk_snapshots(scored_at);
CREATE TABLE IF NOT EXISTS risk_outcomes (
    key         TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    at          TEXT NOT NULL,
    source      TEXT
);
CREATE INDEX IF NOT EXISTS risk_outcomes_customer ON risk_outcomes(customer_id, at);
"""


_ts = sortable_time
_dt = parse_time


@dataclass(frozen=True)
class Snapshot:
    customer_id: str
    scored_at: datetime
    features: dict[str, Any]
    churn_risk: float | None = None
    model: str | None = None


@dataclass(frozen=True)
class OutcomeRow:
    customer_id: str
    outcome: Outcome
    at: datetime
    key: str
    source: str | None = None


class RiskHistory:
    """``where``: a SQLite file, a ``postgresql://`` URL, or an open database."""

    def __init__(self, where: Path | str | Database) -> None:
        self._db: Database = open_database(where, _SCHEMA, timeout=10)

    def close(self) -> None:
        self._db.close()

    def record_snapshots(self, rows: Iterable[Snapshot]) -> int:
        """Insert or replace (same company, same sweep) each row; how many."""
        sql = (
            "INSERT INTO risk_snapshots (customer_id, scored_at, features, churn_risk, model) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(customer_id, scored_at) DO UPDATE SET "
            "features = excluded.features, churn_risk = excluded.churn_risk, "
            "model = excluded.model"
        )
        n = 0
        with self._db.tx(write=True) as tx:
            for r in rows:
                tx.execute(
                    sql,
                    (
                        r.customer_id,
                        _ts(r.scored_at),
                        json.dumps(r.features, sort_keys=True, separators=(",", ":")),
                        r.churn_risk,
                        r.model,
                    ),
                )
                n += 1
        return n

    def record_outcome(
        self, customer_id: str, outcome: Outcome, at: datetime, key: str, source: str | None
    ) -> bool:
        """Once per ``key`` (a workflow's idempotency key): True when new."""
        with self._db.tx(write=True) as tx:
            res = tx.execute(
                "INSERT INTO risk_outcomes (key, customer_id, outcome, at, source) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
                (key, customer_id, outcome, _ts(at), source),
            )
        return res.rowcount == 1

    def outcome_counts(self) -> dict[str, int]:
        with self._db.tx() as tx:
            rows = tx.execute("SELECT outcome, COUNT(*) FROM risk_outcomes GROUP BY outcome").rows
        counts = {"churned": 0, "renewed": 0}
        counts.update({str(k): int(v) for k, v in rows})
        return counts

    def outcomes(self) -> list[OutcomeRow]:
        with self._db.tx() as tx:
            rows = tx.execute(
                "SELECT customer_id, outcome, at, key, source FROM risk_outcomes ORDER BY at"
            ).rows
        return [OutcomeRow(str(c), o, _dt(str(a)), str(k), s) for c, o, a, k, s in rows]

    def snapshots(self, customer_id: str | None = None) -> list[Snapshot]:
        sql = "SELECT customer_id, scored_at, features, churn_risk, model FROM risk_snapshots"
        args: Sequence[Any] = ()
        if customer_id is not None:
            sql += " WHERE customer_id = ?"
            args = (customer_id,)
        with self._db.tx() as tx:
            rows = tx.execute(sql + " ORDER BY customer_id, scored_at", args).rows
        return [
            Snapshot(str(c), _dt(str(t)), json.loads(f), None if r is None else float(r), m)
            for c, t, f, r, m in rows
        ]

    def labelled(self, horizon_days: int) -> list[tuple[Snapshot, bool, datetime]]:
        """Each snapshot followed by an outcome within ``horizon_days``: (snapshot,
        churned, when the outcome came)."""
        by_customer: dict[str, list[OutcomeRow]] = {}
        for o in self.outcomes():
            by_customer.setdefault(o.customer_id, []).append(o)
        horizon = timedelta(days=horizon_days)
        out: list[tuple[Snapshot, bool, datetime]] = []
        for s in self.snapshots():
            for o in by_customer.get(s.customer_id, []):
                if s.scored_at < o.at <= s.scored_at + horizon:
                    out.append((s, o.outcome == "churned", o.at))
                    break
        return out


def training_rows(history: RiskHistory, horizon_days: int) -> list[dict[str, Any]]:
    """The labelled snapshots as rows for :func:`runtime.risk_model.train_from_rows`: the
    hub's own features and ``churned`` (yes / no); the customer id is left out."""
    return [
        {**s.features, "churned": "yes" if churned else "no"}
        for s, churned, _ in history.labelled(horizon_days)
    ]


def open_risk_history(path: Path | str, database_url: str | None = None) -> RiskHistory:
    """The history at ``path`` (created if missing) or in ``database_url``'s database."""
    return RiskHistory(database_url or path)
