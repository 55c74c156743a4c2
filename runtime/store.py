"""Where the hub keeps its own state (the webhook intake queue and delivery ledger, dead
letters, the action store): one small interface over two databases.

* SQLite, the embedded default: one file per store (``CSHUB_API_DB``,
  ``CSHUB_ACTIONS_DB``), WAL, one connection shared by threads under a lock. The schema is
  an idempotent script run at open.
* PostgreSQL (``CSHUB_DATABASE_URL=postgresql://…``): every store in one database, shared
  by several API replicas, forwarders and workers on several hosts; a connection pool
  (psycopg 3, psycopg-pool); the schema is migrated with yoyo-migrations
  (``runtime/migrations/``) when a store opens it.

The stores write SQL both understand (``?`` placeholders, ``ON CONFLICT``, ``RETURNING``,
timestamps as sortable UTC text) and ask :meth:`Database.dialect` where they must differ
(row locks for claims: ``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from runtime.sqlite_files import open_sqlite

Dialect = Literal["sqlite", "postgresql"]
MIGRATIONS = Path(__file__).parent / "migrations"


class StoreError(Exception):
    """The hub's store cannot be read or written (the database is down, the disk full)."""


@dataclass
class Result:
    rows: list[tuple[Any, ...]]
    rowcount: int

    def one(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None


class Tx(Protocol):
    def execute(self, sql: str, args: Sequence[Any] = ()) -> Result: ...


class Database(Protocol):
    dialect: Dialect

    def tx(self, *, write: bool = False) -> AbstractContextManager[Tx]:
        """A transaction (context manager yielding a :class:`Tx`): committed when the block
        ends, rolled back when it raises. ``write``: SQLite takes its write lock at once."""
        ...

    def close(self) -> None: ...


class _SqliteTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Result:
        cur = self._db.execute(sql, tuple(args))
        rows = cur.fetchall() if cur.description else []
        return Result(rows, cur.rowcount)


class SqliteDatabase:
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path | str, schema: str, *, timeout: float = 5.0) -> None:
        try:
            self._db = open_sqlite(path, schema, timeout=timeout)
        except sqlite3.Error as err:
            raise StoreError(f"{path}: {err}") from err
        self._lock = threading.Lock()

    @contextmanager
    def tx(self, *, write: bool = False) -> Iterator[Tx]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield _SqliteTx(self._db)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as err:
                raise StoreError(str(err)) from err

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _PgTx:
    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Result:
        self._cur.execute(sql.replace("?", "%s"), tuple(args))
        rows = self._cur.fetchall() if self._cur.description else []
        return Result([tuple(r) for r in rows], self._cur.rowcount)


class PostgresDatabase:
    dialect: Dialect = "postgresql"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        from psycopg_pool import ConnectionPool

        self.url = url
        migrate(url)
        self._pool = ConnectionPool(
            url, min_size=min_size, max_size=max_size, open=True, timeout=10, name="cshub"
        )

    @contextmanager
    def tx(self, *, write: bool = False) -> Iterator[Tx]:
        import psycopg

        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield _PgTx(cur)
        except psycopg.Error as err:
            raise StoreError(str(err)) from err
        except TimeoutError as err:  # the pool had no connection to give
            raise StoreError(f"no database connection: {err}") from err

    def close(self) -> None:
        self._pool.close()


_migrated: set[str] = set()
_migrate_lock = threading.Lock()


def migrate(url: str) -> None:
    """Bring the PostgreSQL schema up to date (yoyo-migrations; once per process and URL;
    yoyo's own lock keeps several processes starting at once from colliding)."""
    from yoyo import get_backend, read_migrations  # type: ignore[import-untyped]

    with _migrate_lock:
        if url in _migrated:
            return
        backend = get_backend(_yoyo_uri(url))
        try:
            with backend.lock():
                backend.apply_migrations(
                    backend.to_apply(read_migrations(str(MIGRATIONS / "postgresql")))
                )
        finally:
            backend.connection.close()
        _migrated.add(url)


def _yoyo_uri(url: str) -> str:
    """yoyo names its psycopg 3 backend ``postgresql+psycopg``."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg{sep}{rest}"
    return url


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).split("://", 1)[0] in (
        "postgresql",
        "postgres",
        "postgresql+psycopg",
    )
