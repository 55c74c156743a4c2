"""The hub's small SQLite files (the webhook delivery ledger, the action store): opened
the same way, shared by threads, WAL so readers never wait for the writer; their tables
as the PostgreSQL migrations define them (:func:`sqlite_schema`)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path


def open_sqlite(
    path: Path | str, schema: str, *, timeout: float = 5.0, synchronous: str = "NORMAL"
) -> sqlite3.Connection:
    """Open (creating the folder and the tables) a SQLite file for use under a lock.
    ``synchronous``: NORMAL (in WAL mode a commit survives the process crashing, not the
    machine losing power: the last commits before it may be lost) or FULL (every commit
    is synced to the disk before it returns)."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=timeout)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={'FULL' if synchronous.upper() == 'FULL' else 'NORMAL'}")
    db.executescript(schema)
    return db


_MIGRATIONS = Path(__file__).parent / "migrations" / "postgresql"
_SQLITE_TYPES = (
    ("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    ("BYTEA", "BLOB"),
    ("DOUBLE PRECISION", "REAL"),
)
_NAMED = re.compile(r"^CREATE (TABLE|INDEX)(?: IF NOT EXISTS)? (\w+)(?: ON (\w+))?", re.IGNORECASE)


def sqlite_schema(migration: str, tables: tuple[str, ...]) -> str:
    """The SQLite schema of ``tables`` as the PostgreSQL ``migration`` (a file name in
    runtime/migrations/postgresql) creates them, so the two stores keep one definition:
    each ``CREATE TABLE`` / ``CREATE INDEX`` of those tables, made idempotent (``IF NOT
    EXISTS``), with SQLite's types for PostgreSQL's (identity key, BYTEA, DOUBLE)."""
    text = (_MIGRATIONS / migration).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    statements = []
    for statement in "\n".join(lines).split(";"):
        sql = statement.strip()
        named = _NAMED.match(sql)
        if named is None or (named.group(3) or named.group(2)) not in tables:
            continue
        kind, name = named.group(1).upper(), named.group(2)
        sql = f"CREATE {kind} IF NOT EXISTS {name}{sql[named.end(2) :]}"
        for postgres, sqlite in _SQLITE_TYPES:
            sql = sql.replace(postgres, sqlite)
        statements.append(sql + ";")
    if not statements:
        raise ValueError(f"{migration} creates none of {', '.join(tables)}")
    return "\n".join(statements) + "\n"
