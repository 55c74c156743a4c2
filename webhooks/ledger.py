"""The delivery ledger and the intake queue: which event ids the hub has acted on, the
newest state it has seen per ``order_key``, and the deliveries stored by the API and not
yet forwarded (docs/durable-intake.md). In the hub's own store: a SQLite file
(``CSHUB_API_DB``) or the shared PostgreSQL database (``CSHUB_DATABASE_URL``), so a
redelivery is recognised after a restart and on every replica.

The API stores each delivery (with its dedup check) in the intake queue and answers once
that is committed (group commits, :meth:`DeliveryLedger.store`); a forwarder records the
final outcome here once Temporal accepted it (or it was decided to be ignored). A crash in
between means the delivery is forwarded again, and the workflows themselves drop an event
id they have already seen. The ledger makes duplicates cheap and visible ("duplicate"
answers); the workflows make them harmless.

Dead letters: every delivery the hub did not act on (ignored, stale, invalid, customer not
found, parked) is also kept here with its outcome, the reason and the sender's payload
(AES-256-GCM encrypted with the hub's payload keys when ``CSHUB_ENCRYPTION_KEYS`` is set),
for ``cshub webhooks list`` and ``cshub webhooks replay``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.events import CustomerEvent, DeliveryOutcome, DeliveryResult
from runtime.encryption_keys import KeyRing
from runtime.settings import Settings
from runtime.sqlite_files import sqlite_schema
from runtime.store import Database, SqliteDatabase, Tx, open_database

_SCHEMA = sqlite_schema(
    "0001.hub-state.sql", ("deliveries", "latest_state", "dead_letters", "intake")
)
"""The ledger's tables in SQLite: those the PostgreSQL migration creates, so both stores
keep one definition."""

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
T = TypeVar("T")


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
    """``path``: a SQLite file, or a ``postgresql://`` URL (``CSHUB_DATABASE_URL``); or an
    open :class:`~runtime.store.Database`. Every method raises
    :class:`~runtime.store.StoreError` when the database cannot be read or written."""

    def __init__(
        self,
        path: Path | str | Database,
        keyring: KeyRing | None = None,
        *,
        sync: str = "full",
    ) -> None:
        self._db: Database = open_database(path, _SCHEMA)
        self._keyring = keyring
        self.sync = sync
        """SQLite: ``synchronous`` of the intake's group commits (``CSHUB_INTAKE_SYNC``)."""
        path_of = getattr(self._db, "path", None) if self._db.dialect == "sqlite" else None
        self.sqlite_path = None if str(path_of) == ":memory:" else path_of
        self._writer: _GroupCommit | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> DeliveryLedger:
        """The ledger the settings name: on PostgreSQL when ``CSHUB_DATABASE_URL`` is set,
        else the SQLite file ``CSHUB_API_DB``."""
        where = settings.cshub_database_url or settings.cshub_api_db
        return cls(where, settings.encryption_keyring(), sync=settings.cshub_intake_sync)

    @property
    def dialect(self) -> str:
        return self._db.dialect

    @property
    def database(self) -> Database:
        """The store it writes to (shared with the product totals, webhooks/aggregate.py)."""
        return self._db

    async def io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call one of these methods from async code. On PostgreSQL in a worker thread, so
        the event loop serves other requests while the database commits (and concurrent
        commits share their WAL flush). SQLite's writes are quick and local: called inline,
        unless the intake's synced commits (``CSHUB_INTAKE_SYNC=full``) may hold the write
        lock through a disk sync: then in a worker thread too, so a forwarder waiting for
        that lock never stalls the event loop (and the answers with it)."""
        if self._db.dialect == "postgresql" or (self._writer is not None and self.sync == "full"):
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._db.close()

    def previous(self, event: CustomerEvent) -> DeliveryResult | None:
        """How this event id was handled before, or None if it is new."""
        with self._db.tx() as tx:
            row = tx.execute(
                "SELECT outcome, workflow_id, detail FROM deliveries WHERE dedup_key = ?",
                (event.dedup_key,),
            ).one()
        return None if row is None else _previous(event, row)

    def seen(self, event: CustomerEvent) -> tuple[DeliveryResult | None, bool]:
        """:meth:`previous` and :meth:`is_stale` in one read (the forwarder's hot path)."""
        with self._db.tx() as tx:
            row = tx.execute(
                "SELECT outcome, workflow_id, detail FROM deliveries WHERE dedup_key = ?",
                (event.dedup_key,),
            ).one()
            newest = (
                tx.execute(
                    "SELECT occurred_at FROM latest_state WHERE order_key = ?", (event.order_key,)
                ).one()
                if event.order_key is not None
                else None
            )
        previous = _previous(event, row) if row is not None else None
        return previous, newest is not None and str(newest[0]) > _ts(event.occurred_at)

    def is_stale(self, event: CustomerEvent) -> bool:
        """True when a newer event about the same ``order_key`` was already accepted."""
        if event.order_key is None:
            return False
        with self._db.tx() as tx:
            row = tx.execute(
                "SELECT occurred_at FROM latest_state WHERE order_key = ?", (event.order_key,)
            ).one()
        return row is not None and str(row[0]) > _ts(event.occurred_at)

    def record(
        self, event: CustomerEvent, result: DeliveryResult, *, replace: bool = False
    ) -> None:
        """Remember a final outcome (accepted, ignored, stale, parked). Transient failures
        are not recorded, so the sender's retry is processed afresh. ``replace``: a replay
        overwrites the outcome it re-decided."""
        now = _ts(datetime.now(UTC))
        on_conflict = (
            "ON CONFLICT(dedup_key) DO UPDATE SET source = excluded.source, "
            "event_id = excluded.event_id, type = excluded.type, "
            "customer_id = excluded.customer_id, outcome = excluded.outcome, "
            "workflow_id = excluded.workflow_id, detail = excluded.detail, "
            "received_at = excluded.received_at"
            if replace
            else "ON CONFLICT(dedup_key) DO NOTHING"
        )
        with self._db.tx(write=True) as tx:
            tx.execute(
                "INSERT INTO deliveries (dedup_key, source, event_id, type, customer_id, "
                f"outcome, workflow_id, detail, received_at) VALUES (?,?,?,?,?,?,?,?,?) "
                f"{on_conflict}",
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
            if result.outcome in (DeliveryOutcome.ACCEPTED, DeliveryOutcome.PARKED):
                # A kept delivery acted on since (replayed, or sent again by the sender):
                # its dead letter is resolved in the same transaction.
                tx.execute(
                    "UPDATE dead_letters SET resolved_at = ?, resolution = ? "
                    "WHERE dedup_key = ? AND resolved_at IS NULL",
                    (now, _resolution(result), event.dedup_key),
                )
            # Any genuine report of the state counts as the newest known, even one
            # no workflow acts on (a deal moved to closed-lost).
            if event.order_key is not None and result.outcome in (
                DeliveryOutcome.ACCEPTED,
                DeliveryOutcome.IGNORED,
            ):
                tx.execute(
                    "INSERT INTO latest_state (order_key, occurred_at) VALUES (?, ?) "
                    "ON CONFLICT(order_key) DO UPDATE SET occurred_at = excluded.occurred_at "
                    "WHERE excluded.occurred_at > latest_state.occurred_at",
                    (event.order_key, _ts(event.occurred_at)),
                )

    def prune(self, older_than: timedelta) -> int:
        """Forget deliveries (and dead letters) older than the senders' redelivery horizon."""
        cutoff = _ts(datetime.now(UTC) - older_than)
        with self._db.tx(write=True) as tx:
            cur = tx.execute("DELETE FROM deliveries WHERE received_at < ?", (cutoff,))
            tx.execute("DELETE FROM dead_letters WHERE last_at < ?", (cutoff,))
            tx.execute("DELETE FROM intake WHERE state = 'done' AND done_at < ?", (cutoff,))
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
        with self._db.tx(write=True) as tx:
            tx.execute(
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
        with self._db.tx() as tx:
            kept = tx.execute(
                "SELECT 1 FROM dead_letters WHERE dedup_key = ? AND resolved_at IS NULL",
                (dedup_key,),
            ).one()
        if kept is None:  # the usual case: a read, not a write, on the hot path
            return
        with self._db.tx(write=True) as tx:
            tx.execute(
                "UPDATE dead_letters SET resolved_at = ?, resolution = ? "
                "WHERE dedup_key = ? AND resolved_at IS NULL",
                (_ts(datetime.now(UTC)), _resolution(result), dedup_key),
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
        with self._db.tx() as tx:
            rows = tx.execute(
                "SELECT dedup_key, source, event_id, type, customer_id, outcome, detail, kind, "
                "key_id, payload, received_at, deliveries, last_at, resolved_at, resolution "
                f"FROM dead_letters WHERE {' AND '.join(where)} "
                "ORDER BY last_at DESC LIMIT ?",
                (*args, limit),
            ).rows
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
        with self._db.tx() as tx:
            row = tx.execute("SELECT COUNT(*) FROM deliveries").one()
        return int(row[0]) if row else 0

    # -- durable intake: the queue between the API and the forwarders ----------------------
    #
    # The API writes each verified delivery here (with its dedup check) in one transaction
    # and answers 2xx once it is committed; forwarders (webhooks/forwarder.py) claim the
    # oldest pending delivery of each group (a workflow id, or the object an event names
    # when its workflow needs a look-up first) under a lease, act on it (CRM look-ups,
    # Temporal) and mark it done. A claim whose forwarder died is taken over after its
    # lease; a delivery that could not be forwarded yet (Temporal or the CRM unreachable)
    # waits its back-off and holds the deliveries behind it in its group, so each group is
    # forwarded in arrival order.

    def enqueue(self, event: CustomerEvent, raw: RawDelivery, group: str) -> Enqueued:
        """Store a delivery for the forwarders, unless it is a duplicate: one with a final
        outcome in the ledger, or one still waiting to be forwarded. A delivery whose
        outcome was not final (customer not found, refused by Temporal) is stored again."""
        return self.enqueue_many([(event, raw, group)], self._db)[0]

    def enqueue_many(
        self, items: list[tuple[CustomerEvent, RawDelivery, str]], db: Database | None = None
    ) -> list[Enqueued]:
        """:meth:`enqueue` for several deliveries in one transaction (one commit, one sync
        to the disk): what :meth:`store` does for concurrent requests."""
        sealed = [self._seal(event.dedup_key, raw.body) for event, raw, _ in items]
        now = _ts(datetime.now(UTC))
        with (db or self._db).tx(write=True) as tx:
            return [
                _enqueue_in(tx, event, raw, group, key_id, payload, now)
                for (event, raw, group), (key_id, payload) in zip(items, sealed, strict=True)
            ]

    async def store(self, event: CustomerEvent, raw: RawDelivery, group: str) -> Enqueued:
        """:meth:`enqueue` from the event loop, in a group commit: a writer thread stores
        the deliveries of all the requests waiting at that moment in one transaction
        (SQLite: on a connection of its own, ``CSHUB_INTAKE_SYNC``), and each request
        resumes once its transaction is committed. Raises StoreError like the others."""
        if self._writer is None:
            self._writer = _GroupCommit(self)
        return await self._writer.submit(event, raw, group)

    def claim(self, owner: str, limit: int, lease: timedelta) -> list[Claimed]:
        """Lease the oldest pending delivery of up to ``limit`` groups whose turn it is
        (not waiting out a back-off, not leased by a live forwarder)."""
        now = datetime.now(UTC)
        # PostgreSQL: row locks, so forwarders claiming at the same moment skip each other's
        # rows instead of waiting (and never take the same one); SQLite: the write lock.
        lock = " FOR UPDATE OF q SKIP LOCKED" if self._db.dialect == "postgresql" else ""
        with self._db.tx(write=True) as tx:
            rows = tx.execute(
                "SELECT q.seq, q.dedup_key, q.grp, q.kind, q.key_id, q.payload, "
                "q.received_at, q.attempts FROM "
                "(SELECT MIN(seq) AS seq FROM intake WHERE state = 'pending' GROUP BY grp) h "
                "JOIN intake q ON q.seq = h.seq WHERE q.state = 'pending' AND q.next_at <= ? "
                "AND (q.lease_until IS NULL OR q.lease_until < ?) ORDER BY q.seq LIMIT ?" + lock,
                (_ts(now), _ts(now), limit),
            ).rows
            if rows:
                marks = ",".join("?" * len(rows))
                tx.execute(
                    f"UPDATE intake SET lease_owner = ?, lease_until = ? WHERE seq IN ({marks})",
                    (owner, _ts(now + lease), *(r[0] for r in rows)),
                )
        claimed = []
        for seq, key, group, kind, key_id, payload, received, attempts in rows:
            try:
                body = self._open(str(key), str(key_id) if key_id else None, bytes(payload))
                raw: RawDelivery | None = RawDelivery(str(kind), body)
            except PayloadKeyMissing:
                raw = None
            claimed.append(
                Claimed(
                    seq=int(seq),
                    dedup_key=str(key),
                    group=str(group),
                    raw=raw,
                    received_at=_parse_ts(str(received)) or now,
                    attempts=int(attempts),
                )
            )
        return claimed

    def finish(self, seq: int, owner: str, result: DeliveryResult) -> bool:
        """Mark a claimed delivery done with its outcome. False: the lease was lost (taken
        over by another forwarder after it expired), nothing changed."""
        with self._db.tx(write=True) as tx:
            cur = tx.execute(
                "UPDATE intake SET state = 'done', outcome = ?, workflow_id = ?, detail = ?, "
                "done_at = ?, lease_owner = NULL, lease_until = NULL "
                "WHERE seq = ? AND state = 'pending' AND lease_owner = ?",
                (
                    result.outcome.value,
                    result.workflow_id,
                    result.detail,
                    _ts(datetime.now(UTC)),
                    seq,
                    owner,
                ),
            )
        return cur.rowcount == 1

    def retry_later(self, seq: int, owner: str, error: str, delay: timedelta) -> bool:
        """Give a claimed delivery back, to be tried again after ``delay``."""
        with self._db.tx(write=True) as tx:
            cur = tx.execute(
                "UPDATE intake SET attempts = attempts + 1, next_at = ?, last_error = ?, "
                "lease_owner = NULL, lease_until = NULL "
                "WHERE seq = ? AND state = 'pending' AND lease_owner = ?",
                (_ts(datetime.now(UTC) + delay), error[:500], seq, owner),
            )
        return cur.rowcount == 1

    def backlog(self) -> Backlog:
        """How many deliveries wait to be forwarded, and since when."""
        with self._db.tx() as tx:
            row = tx.execute(
                "SELECT COUNT(*), MIN(received_at), "
                "COALESCE(SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), 0) "
                "FROM intake WHERE state = 'pending'"
            ).one()
        pending, oldest, retrying = row or (0, None, 0)
        return Backlog(int(pending), _parse_ts(oldest), int(retrying))

    def pending(self, limit: int = 1000) -> list[PendingDelivery]:
        """The deliveries waiting to be forwarded, oldest first."""
        with self._db.tx() as tx:
            rows = tx.execute(
                "SELECT dedup_key, source, event_id, type, customer_id, received_at, attempts, "
                "next_at, last_error FROM intake WHERE state = 'pending' ORDER BY seq LIMIT ?",
                (limit,),
            ).rows
        return [
            PendingDelivery(
                dedup_key=str(r[0]),
                source=str(r[1]),
                event_id=str(r[2]),
                type=str(r[3]),
                customer_id=str(r[4]) if r[4] else None,
                received_at=_parse_ts(str(r[5])) or datetime.now(UTC),
                attempts=int(r[6]),
                next_at=_parse_ts(str(r[7])) or datetime.now(UTC),
                last_error=str(r[8]) if r[8] else None,
            )
            for r in rows
        ]

    def forwarded(self, dedup_key: str) -> DeliveryResult | None:
        """The outcome a forwarder recorded for a stored delivery; None while pending."""
        with self._db.tx() as tx:
            row = tx.execute(
                "SELECT state, outcome, workflow_id, detail, event_id, type, customer_id "
                "FROM intake WHERE dedup_key = ?",
                (dedup_key,),
            ).one()
        if row is None or row[0] == PENDING:
            return None
        return DeliveryResult(
            outcome=DeliveryOutcome(row[1]),
            workflow_id=row[2],
            detail=row[3],
            event_id=row[4],
            type=row[5],
            customer_id=row[6],
        )

    def outcomes_since(self, since: datetime) -> dict[str, int]:
        """How the deliveries stored since ``since`` were forwarded (``pending`` while
        they wait): outcome -> count (``make bench``)."""
        with self._db.tx() as tx:
            rows = tx.execute(
                "SELECT COALESCE(outcome, 'pending'), COUNT(*) FROM intake "
                "WHERE received_at >= ? GROUP BY COALESCE(outcome, 'pending')",
                (_ts(since),),
            ).rows
        return {str(r[0]): int(r[1]) for r in rows}

    def forward_lags_ms(self, since: datetime) -> list[float]:
        """From stored to forwarded (outcome decided), in ms, of the deliveries stored since
        ``since`` and forwarded (``make bench``)."""
        with self._db.tx() as tx:
            rows = tx.execute(
                "SELECT received_at, done_at FROM intake WHERE state = 'done' AND received_at >= ?",
                (_ts(since),),
            ).rows
        lags = []
        for received, done_at in rows:
            start, end = _parse_ts(str(received)), _parse_ts(str(done_at))
            if start is not None and end is not None:
                lags.append((end - start).total_seconds() * 1000)
        return lags


PENDING = "pending"
PENDING_NOTE = "stored, waiting to be forwarded"


@dataclass(frozen=True)
class Enqueued:
    """``seq``: the stored delivery's place in arrival order; None for a duplicate, whose
    ``previous`` says how it was handled (or that it still waits to be forwarded)."""

    seq: int | None
    previous: DeliveryResult | None


@dataclass(frozen=True)
class Claimed:
    seq: int
    dedup_key: str
    group: str
    raw: RawDelivery | None
    """None when the payload cannot be decrypted (its key is no longer configured)."""
    received_at: datetime
    attempts: int


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_received_at: datetime | None
    retrying: int
    """Of the pending, those tried at least once (waiting out a back-off)."""

    def oldest_age_s(self, now: datetime | None = None) -> float:
        if self.oldest_received_at is None:
            return 0.0
        return max(0.0, ((now or datetime.now(UTC)) - self.oldest_received_at).total_seconds())


@dataclass(frozen=True)
class PendingDelivery:
    dedup_key: str
    source: str
    event_id: str
    type: str
    customer_id: str | None
    received_at: datetime
    attempts: int
    next_at: datetime
    last_error: str | None


def _enqueue_in(
    tx: Tx,
    event: CustomerEvent,
    raw: RawDelivery,
    group: str,
    key_id: str | None,
    payload: bytes,
    now: str,
) -> Enqueued:
    pending = _previous(event, (DeliveryOutcome.ACCEPTED.value, None, PENDING_NOTE))
    row = tx.execute(
        "SELECT outcome, workflow_id, detail FROM deliveries WHERE dedup_key = ?",
        (event.dedup_key,),
    ).one()
    if row is not None:
        return Enqueued(None, _previous(event, row))
    queued = tx.execute("SELECT state FROM intake WHERE dedup_key = ?", (event.dedup_key,)).one()
    if queued is not None and queued[0] == PENDING:
        return Enqueued(None, pending)
    if queued is not None:
        tx.execute(
            "DELETE FROM intake WHERE dedup_key = ? AND state <> 'pending'", (event.dedup_key,)
        )
    # Another replica storing the same event at this moment: one insert wins, the other
    # is a duplicate.
    inserted = tx.execute(
        "INSERT INTO intake (dedup_key, source, event_id, type, customer_id, grp, "
        "kind, key_id, payload, received_at, next_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(dedup_key) DO NOTHING RETURNING seq",
        (
            event.dedup_key,
            event.source.value,
            event.event_id,
            event.type,
            event.customer_id,
            group,
            raw.kind,
            key_id,
            payload,
            now,
            now,
        ),
    ).one()
    if inserted is None:
        return Enqueued(None, pending)
    return Enqueued(int(inserted[0]), None)


GROUP_COMMIT_MAX = 256
"""Deliveries stored in one transaction at most."""


class _GroupCommit:
    """Group commit of the intake: the deliveries of every request waiting at that moment
    go in one transaction, and each request resumes once it is committed. One flush runs
    at a time; requests arriving meanwhile wait for the next one (so the busier the API,
    the larger the batches). The transaction runs on the event loop when it is quick
    (SQLite with ``CSHUB_INTAKE_SYNC=normal``: no disk sync), else in a worker thread
    (a synced SQLite commit, a PostgreSQL round trip), on a SQLite connection of its own,
    so the loop keeps serving requests (and the forwarder) while the disk syncs.

    That thread is the group commit's own, not one of the loop's default executor: the
    embedded forwarder's CRM look-ups and store calls fill those (a burst claims up to
    ``CSHUB_FORWARD_BATCH`` groups at once), and a commit queued behind them held every
    waiting answer (``make bench``: bursts answered at 150-250/s on two cores)."""

    def __init__(self, ledger: DeliveryLedger) -> None:
        self._ledger = ledger
        self._db: Database = ledger.database
        self._inline = False
        where = ledger.sqlite_path
        if where is not None:
            self._db = SqliteDatabase(where, _SCHEMA, timeout=30, synchronous=ledger.sync)
            self._inline = ledger.sync != "full"
        self._waiting: list[_Pending] = []
        self._flushing = False
        self._task: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="cshub-intake-commit")

    async def submit(self, event: CustomerEvent, raw: RawDelivery, group: str) -> Enqueued:
        future: asyncio.Future[Enqueued] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Pending((event, raw, group), future))
        if not self._flushing:
            # The flush starts at the loop's next turn: the requests that arrive meanwhile
            # join this batch. Held here: the loop keeps only a weak reference to a task.
            self._flushing = True
            self._task = asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:GROUP_COMMIT_MAX]
                del self._waiting[:GROUP_COMMIT_MAX]
                items = [p.item for p in batch]
                try:
                    if self._inline:
                        results = self._ledger.enqueue_many(items, self._db)
                    else:
                        results = await asyncio.get_running_loop().run_in_executor(
                            self._thread, self._ledger.enqueue_many, items, self._db
                        )
                except Exception as err:  # StoreError (or a bug): each request hears it
                    for p in batch:
                        if not p.future.done():
                            p.future.set_exception(err)
                    continue
                for p, result in zip(batch, results, strict=True):
                    if not p.future.done():  # the request may be gone (client hung up)
                        p.future.set_result(result)
        finally:
            self._flushing = False

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        if self._db is not self._ledger.database:
            self._db.close()


@dataclass(frozen=True)
class _Pending:
    item: tuple[CustomerEvent, RawDelivery, str]
    future: asyncio.Future[Enqueued]


def _resolution(result: DeliveryResult) -> str:
    return f"{result.outcome.value}: {result.detail or ''}".strip(": ")


def _previous(event: CustomerEvent, row: tuple[Any, ...]) -> DeliveryResult:
    return DeliveryResult(
        outcome=DeliveryOutcome(row[0]),
        event_id=event.event_id,
        type=event.type,
        customer_id=event.customer_id,
        workflow_id=row[1],
        detail=row[2],
    )
