"""The hub's own record of every side effect: one row per idempotency key.

It serves two purposes:

* the per-customer audit trail (``cshub timeline``, ``GET /customers/{id}/timeline``):
  what was done for a customer, when, by which workflow and step, with what outcome,
  across all workflows, open or closed, kept ``CSHUB_ACTIONS_RETENTION_DAYS`` (longer
  than Temporal keeps closed workflows' histories);
* a fast idempotency check in front of the connectors (see :mod:`activities.audit`):
  a key already done is not sent again, even through SMTP, which has no idempotency.

:class:`ActionStore` is the interface; :class:`SqlActionStore` the implementation, on a
SQLite file (WAL, safe across the worker's threads and shared by the API process on the
same host) or, with ``CSHUB_DATABASE_URL``, on the hub's PostgreSQL database, shared by
every worker and API host (runtime/store.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel

from runtime.sqlite_files import sqlite_schema
from runtime.store import Database, open_database, parse_time, sortable_time

Outcome = Literal["done", "already_done", "suppressed", "retrying", "failed", "deferred", "dropped"]
"""``deferred`` / ``dropped``: an e-mail held back by contact pressure (the summary says
why): sent later (the row then says ``done``), or not at all."""
FINAL_OUTCOMES: frozenset[str] = frozenset({"done", "already_done", "suppressed", "dropped"})
"""A key with one of these outcomes is not acted on again."""


class ActionRow(BaseModel):
    """One automated action (one idempotency key)."""

    key: str
    customer_id: str | None = None
    workflow_id: str = ""
    workflow_type: str = ""
    activity: str = ""
    step: str = ""
    channel: str = ""
    kind: str | None = None
    """The e-mail or Slack template, when there is one."""
    summary: str = ""
    outcome: Outcome
    attempts: int = 1
    first_at: datetime
    last_at: datetime
    ref: str | None = None
    error: str | None = None
    contact_id: str | None = None
    """E-mails: the CRM contact it went to (contact pressure counts per contact)."""


class ActionStore(Protocol):
    def get(self, key: str) -> ActionRow | None: ...

    def upsert(self, row: ActionRow) -> None:
        """Insert, or update everything but ``first_at`` of the key's row."""
        ...

    def for_customer(
        self, customer_id: str, *, since: datetime | None = None, limit: int = 1000
    ) -> list[ActionRow]:
        """The customer's actions, newest first (by ``last_at``)."""
        ...

    def purge(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Delete rows last touched before ``now - older_than``; returns how many."""
        ...

    def close(self) -> None: ...


_ts = sortable_time
_dt = parse_time


_COLUMNS = (
    "key",
    "customer_id",
    "workflow_id",
    "workflow_type",
    "activity",
    "step",
    "channel",
    "kind",
    "summary",
    "outcome",
    "attempts",
    "first_at",
    "last_at",
    "ref",
    "error",
    "contact_id",
)

_SCHEMA = sqlite_schema("0001.hub-state.sql", ("actions",)) + sqlite_schema(
    "0003.actions-ref.sql", ("actions",)
)
"""The action store's table as the PostgreSQL migrations make it (0002's contact_id is
added when missing, below, as for stores made before it)."""


class SqlActionStore:
    """``where``: a SQLite file, a ``postgresql://`` URL, or an open database."""

    def __init__(self, where: Path | str | Database) -> None:
        self._db: Database = open_database(where, _SCHEMA, timeout=10)
        if self._db.dialect == "sqlite":
            # New files and stores from before the contact_id column get it (empty for
            # their rows); PostgreSQL gets it by migration 0002.
            with self._db.tx(write=True) as tx:
                columns = {r[1] for r in tx.execute("PRAGMA table_info(actions)").rows}
                if "contact_id" not in columns:
                    tx.execute("ALTER TABLE actions ADD COLUMN contact_id TEXT")

    def close(self) -> None:
        self._db.close()

    def _row(self, values: Sequence[object]) -> ActionRow:
        data = dict(zip(_COLUMNS, values, strict=True))
        data["first_at"] = _dt(str(data["first_at"]))
        data["last_at"] = _dt(str(data["last_at"]))
        return ActionRow.model_validate(data)

    def get(self, key: str) -> ActionRow | None:
        with self._db.tx() as tx:
            found = tx.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM actions WHERE key = ?", (key,)
            ).one()
        return None if found is None else self._row(found)

    def upsert(self, row: ActionRow) -> None:
        values = row.model_dump()
        values["first_at"] = _ts(row.first_at)
        values["last_at"] = _ts(row.last_at)
        updated = [c for c in _COLUMNS if c not in ("key", "first_at")]
        sql = (
            f"INSERT INTO actions ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _COLUMNS)}) "
            f"ON CONFLICT(key) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in updated)}"
        )
        with self._db.tx(write=True) as tx:
            tx.execute(sql, [values[c] for c in _COLUMNS])

    def for_customer(
        self, customer_id: str, *, since: datetime | None = None, limit: int = 1000
    ) -> list[ActionRow]:
        sql = f"SELECT {', '.join(_COLUMNS)} FROM actions WHERE customer_id = ?"
        args: list[object] = [customer_id]
        if since is not None:
            sql += " AND last_at >= ?"
            args.append(_ts(since))
        sql += " ORDER BY last_at DESC, key DESC LIMIT ?"
        args.append(limit)
        with self._db.tx() as tx:
            rows = tx.execute(sql, args).rows
        return [self._row(r) for r in rows]

    def by_ref(self, ref: str) -> ActionRow | None:
        """The action whose reference is ``ref`` (an e-mail's Message-ID: what a reply's
        In-Reply-To names), the latest when several are."""
        with self._db.tx() as tx:
            found = tx.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM actions WHERE ref = ? "
                "ORDER BY last_at DESC LIMIT 1",
                (ref,),
            ).one()
        return None if found is None else self._row(found)

    def purge(self, older_than: timedelta, now: datetime | None = None) -> int:
        cutoff = (now or datetime.now(UTC)) - older_than
        with self._db.tx(write=True) as tx:
            cur = tx.execute("DELETE FROM actions WHERE last_at < ?", (_ts(cutoff),))
        return cur.rowcount


SqliteActionStore = SqlActionStore
"""Its former name."""


def open_action_store(
    path: Path | str, retention_days: int, database_url: str | None = None
) -> SqlActionStore:
    """The store at ``path`` (created if missing), or in the PostgreSQL database
    ``database_url`` when given; rows older than the retention removed."""
    store = SqlActionStore(database_url or path)
    store.purge(timedelta(days=retention_days))
    return store
