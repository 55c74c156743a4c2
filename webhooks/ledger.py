"""The delivery ledger: which event ids the hub has acted on, and the newest state it has
seen per ``order_key``. A SQLite file, so a redelivery is recognised after a restart.

An event is written here only once Temporal has accepted it (or it was decided to be
ignored), never before: a crash in between means the sender's retry is acted on again,
and the workflows themselves drop an event id they have already seen. The ledger makes
duplicates cheap and visible ("duplicate" answers); the workflows make them harmless.

With several API replicas, give each the same file on shared storage or accept that a
redelivery landing on another replica is answered "accepted" (and still acted on once).

Dead letters: every delivery the hub did not act on (ignored, stale, invalid, customer not
found, parked) is also kept here with its outcome, the reason and the sender's payload
(AES-256-GCM encrypted with the hub's payload keys when ``CSHUB_ENCRYPTION_KEYS`` is set),
for ``cshub webhooks list`` and ``cshub webhooks replay``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cshub.encryption_keys import KeyRing
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
CREATE TABLE IF NOT EXISTS dead_letters (
    dedup_key      TEXT PRIMARY KEY,
    source         TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    type           TEXT,
    customer_id    TEXT,
    outcome        TEXT NOT NULL,
    detail         TEXT,
    kind           TEXT NOT NULL,
    key_id         TEXT,
    payload        BLOB NOT NULL,
    received_at    TEXT NOT NULL,
    deliveries     INTEGER NOT NULL DEFAULT 1,
    last_at        TEXT NOT NULL,
    resolved_at    TEXT,
    resolution     TEXT
);
CREATE INDEX IF NOT EXISTS dead_letters_last ON dead_letters(last_at);
"""

NOT_ACTED_ON = frozenset(
    {
        DeliveryOutcome.IGNORED,
        DeliveryOutcome.STALE,
        DeliveryOutcome.INVALID,
        DeliveryOutcome.NOT_FOUND,
        DeliveryOutcome.PARKED,
    }
)
"""Outcomes kept as dead letters."""
_AAD = b"cshub-dead-letter-v1:"


@dataclass(frozen=True)
class RawDelivery:
    """What the sender posted for one event, to replay it: ``kind`` names the parser
    (``hubspot`` one array entry, ``stripe``, ``zendesk``, ``zendesk_trigger``,
    ``product``), ``body`` the exact bytes (a trigger's event id is their digest)."""

    kind: str
    body: bytes


@dataclass(frozen=True)
class DeadLetter:
    dedup_key: str
    source: str
    event_id: str
    type: str | None
    customer_id: str | None
    outcome: str
    detail: str | None
    received_at: datetime
    deliveries: int
    last_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    raw: RawDelivery | None
    """None when the payload cannot be decrypted (its key is no longer configured)."""
    encrypted: bool


class PayloadKeyMissing(Exception):
    """A dead letter was encrypted with a key that is not configured any more."""


def _ts(when: datetime) -> str:
    """A sortable UTC text form, so SQLite can compare times as strings."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class DeliveryLedger:
    def __init__(self, path: Path | str, keyring: KeyRing | None = None) -> None:
        self._db = open_sqlite(path, _SCHEMA)
        self._lock = threading.Lock()
        self._keyring = keyring

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

    def record(
        self, event: CustomerEvent, result: DeliveryResult, *, replace: bool = False
    ) -> None:
        """Remember a final outcome (accepted, ignored, stale, parked). Transient failures
        are not recorded, so the sender's retry is processed afresh. ``replace``: a replay
        overwrites the outcome it re-decided."""
        now = _ts(datetime.now(UTC))
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    f"{verb} INTO deliveries VALUES (?,?,?,?,?,?,?,?,?)",
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
        """Forget deliveries (and dead letters) older than the senders' redelivery horizon."""
        cutoff = _ts(datetime.now(UTC) - older_than)
        with self._lock:
            cur = self._db.execute("DELETE FROM deliveries WHERE received_at < ?", (cutoff,))
            self._db.execute("DELETE FROM dead_letters WHERE last_at < ?", (cutoff,))
        return cur.rowcount

    # -- dead letters ----------------------------------------------------------------------

    def keep(
        self,
        *,
        dedup_key: str,
        source: str,
        event_id: str,
        type: str | None,
        customer_id: str | None,
        outcome: DeliveryOutcome,
        detail: str | None,
        raw: RawDelivery,
    ) -> None:
        """Keep (or, on a redelivery, update) a delivery that was not acted on."""
        key_id, payload = self._seal(dedup_key, raw.body)
        now = _ts(datetime.now(UTC))
        with self._lock:
            self._db.execute(
                "INSERT INTO dead_letters (dedup_key, source, event_id, type, customer_id, "
                "outcome, detail, kind, key_id, payload, received_at, last_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(dedup_key) DO UPDATE SET "
                "outcome = excluded.outcome, detail = excluded.detail, type = excluded.type, "
                "customer_id = excluded.customer_id, kind = excluded.kind, "
                "key_id = excluded.key_id, payload = excluded.payload, "
                "deliveries = dead_letters.deliveries + 1, last_at = excluded.last_at, "
                "resolved_at = NULL, resolution = NULL",
                (
                    dedup_key,
                    source,
                    event_id,
                    type,
                    customer_id,
                    outcome.value,
                    detail,
                    raw.kind,
                    key_id,
                    payload,
                    now,
                    now,
                ),
            )

    def resolve(self, dedup_key: str, result: DeliveryResult) -> None:
        """A kept delivery was acted on since (replayed, or sent again by the sender)."""
        with self._lock:
            kept = self._db.execute(
                "SELECT 1 FROM dead_letters WHERE dedup_key = ? AND resolved_at IS NULL",
                (dedup_key,),
            ).fetchone()
            if kept is None:  # the usual case: a read, not a write, on the hot path
                return
            self._db.execute(
                "UPDATE dead_letters SET resolved_at = ?, resolution = ? "
                "WHERE dedup_key = ? AND resolved_at IS NULL",
                (
                    _ts(datetime.now(UTC)),
                    f"{result.outcome.value}: {result.detail or ''}".strip(": "),
                    dedup_key,
                ),
            )

    def dead_letters(
        self,
        *,
        outcome: str | None = None,
        since: datetime | None = None,
        event_id: str | None = None,
        include_resolved: bool = True,
        limit: int = 1000,
    ) -> list[DeadLetter]:
        """Kept deliveries, newest first (by their last delivery)."""
        where, args = ["1=1"], []
        if outcome:
            where.append("outcome = ?")
            args.append(outcome)
        if since:
            where.append("last_at >= ?")
            args.append(_ts(since))
        if event_id:
            where.append("(event_id = ? OR dedup_key = ?)")
            args += [event_id, event_id]
        if not include_resolved:
            where.append("resolved_at IS NULL")
        with self._lock:
            rows = self._db.execute(
                "SELECT dedup_key, source, event_id, type, customer_id, outcome, detail, kind, "
                "key_id, payload, received_at, deliveries, last_at, resolved_at, resolution "
                f"FROM dead_letters WHERE {' AND '.join(where)} "
                "ORDER BY last_at DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [self._letter(row) for row in rows]

    def _letter(self, row: tuple[Any, ...]) -> DeadLetter:
        (key, source, event_id, kind_type, customer, outcome, detail, kind, key_id, payload,
         received, deliveries, last, resolved, resolution) = row  # fmt: skip
        try:
            body = self._open(str(key), str(key_id) if key_id else None, bytes(payload))
            raw: RawDelivery | None = RawDelivery(str(kind), body)
        except PayloadKeyMissing:
            raw = None
        return DeadLetter(
            dedup_key=str(key),
            source=str(source),
            event_id=str(event_id),
            type=str(kind_type) if kind_type else None,
            customer_id=str(customer) if customer else None,
            outcome=str(outcome),
            detail=str(detail) if detail else None,
            received_at=_parse_ts(str(received)) or datetime.now(UTC),
            deliveries=int(deliveries),
            last_at=_parse_ts(str(last)) or datetime.now(UTC),
            resolved_at=_parse_ts(str(resolved)) if resolved else None,
            resolution=str(resolution) if resolution else None,
            raw=raw,
            encrypted=key_id is not None,
        )

    def _seal(self, dedup_key: str, body: bytes) -> tuple[str | None, bytes]:
        if self._keyring is None:
            return None, body
        kid = self._keyring.active_key_id
        nonce = os.urandom(12)
        sealed = AESGCM(self._keyring.active_key).encrypt(
            nonce, body, _AAD + kid.encode() + b":" + dedup_key.encode()
        )
        return kid, nonce + sealed

    def _open(self, dedup_key: str, key_id: str | None, payload: bytes) -> bytes:
        if not key_id:
            return payload
        key = self._keyring.keys.get(key_id) if self._keyring else None
        if key is None:
            raise PayloadKeyMissing(f"payload encrypted with key {key_id!r}, not configured")
        try:
            return AESGCM(key).decrypt(
                payload[:12], payload[12:], _AAD + key_id.encode() + b":" + dedup_key.encode()
            )
        except InvalidTag:
            raise PayloadKeyMissing(f"payload does not decrypt with key {key_id!r}") from None

    def count(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM deliveries").fetchone()
        return int(n)
