"""The delivery ledger: which event ids the hub has acted on, and the newest state it has
seen per ``order_key``. A SQLite file, so a redelivery is recognised after a restart.

An event is written here only once Temporal has accepted it (or it was decided to be
ignored), never before: a crash in between means the sender's retry is acted on again,
and the workflows themselves drop an event id they have already seen. The ledger makes
duplicates cheap and visible ("duplicate" answers); the workflows make them harmless.

With several API replicas, give each the same file on shared storage or accept that a
redelivery landing on another replica is answered "accepted" (and still acted on once).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cshub.sqlite_files import open_sqlite
from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    dedup_key   TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    customer_id TEXT,
    outcome     TEXT NOT NULL,
    workflow_id TEXT,
    detail      TEXT,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_received ON deliveries(received_at);
CREATE TABLE IF NOT EXISTS latest_state (
    order_key   TEXT PRIMARY KEY,
    occurred_at TEXT NOT NULL
);
"""


def _ts(when: datetime) -> str:
    """A sortable UTC text form, so SQLite can compare times as strings."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DeliveryLedger:
    def __init__(self, path: Path | str) -> None:
        self._db = open_sqlite(path, _SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def previous(self, event: CustomerEvent) -> DeliveryResult | None:
        """How this event id was handled before, or None if it is new."""
        with self._lock:
            row = self._db.execute(
                "SELECT outcome, workflow_id, detail FROM deliveries WHERE dedup_key = ?",
                (event.dedup_key,),
            ).fetchone()
        if row is None:
            return None
        return DeliveryResult(
            outcome=DeliveryOutcome(row[0]),
            event_id=event.event_id,
            type=event.type,
            customer_id=event.customer_id,
            workflow_id=row[1],
            detail=row[2],
        )

    def is_stale(self, event: CustomerEvent) -> bool:
        """True when a newer event about the same ``order_key`` was already accepted."""
        if event.order_key is None:
            return False
        with self._lock:
            row = self._db.execute(
                "SELECT occurred_at FROM latest_state WHERE order_key = ?", (event.order_key,)
            ).fetchone()
        return row is not None and str(row[0]) > _ts(event.occurred_at)

    def record(self, event: CustomerEvent, result: DeliveryResult) -> None:
        """Remember a final outcome (accepted, ignored, stale). Transient failures are not
        recorded, so the sender's retry is processed afresh."""
        now = _ts(datetime.now(UTC))
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    "INSERT OR IGNORE INTO deliveries VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        event.dedup_key,
                        event.source.value,
                        event.event_id,
                        event.type,
                        event.customer_id,
                        result.outcome.value,
                        result.workflow_id,
                        result.detail,
                        now,
                    ),
                )
                # Any genuine report of the state counts as the newest known, even one
                # no workflow acts on (a deal moved to closed-lost).
                if event.order_key is not None and result.outcome in (
                    DeliveryOutcome.ACCEPTED,
                    DeliveryOutcome.IGNORED,
                ):
                    self._db.execute(
                        "INSERT INTO latest_state VALUES (?, ?) ON CONFLICT(order_key) DO UPDATE "
                        "SET occurred_at = excluded.occurred_at "
                        "WHERE excluded.occurred_at > latest_state.occurred_at",
                        (event.order_key, _ts(event.occurred_at)),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def prune(self, older_than: timedelta) -> int:
        """Forget deliveries older than the senders' redelivery horizon."""
        cutoff = _ts(datetime.now(UTC) - older_than)
        with self._lock:
            cur = self._db.execute("DELETE FROM deliveries WHERE received_at < ?", (cutoff,))
        return cur.rowcount

    def count(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM deliveries").fetchone()
        return int(n)
