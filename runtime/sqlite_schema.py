"""The SQLite schema of the hub's own tables, read from the PostgreSQL migrations
(``runtime/migrations/postgresql/``) so that each table's columns are written once.

A store that runs on either database names its tables; :func:`sqlite_schema` gives the
script that creates them on SQLite as the migrations leave them on PostgreSQL, and
:func:`add_later_columns` brings a SQLite file made before a migration's ``ALTER TABLE ...
ADD COLUMN`` up to date. Only the statements the migrations use are read: ``CREATE TABLE``,
``CREATE INDEX`` and ``ALTER TABLE ... ADD COLUMN``; PostgreSQL's types become SQLite's
(``BYTEA`` is ``BLOB``, an identity key is an ``AUTOINCREMENT`` one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from runtime.store import Tx

POSTGRESQL_MIGRATIONS = Path(__file__).parent / "migrations" / "postgresql"

_TO_SQLITE = (
    ("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    ("BYTEA", "BLOB"),
)
_CREATE_TABLE = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+) \((.*)\)\Z", re.S)
_CREATE_INDEX = re.compile(r"CREATE INDEX (?:IF NOT EXISTS )?(\w+) ON (\w+)\s*(\(.*\))\Z", re.S)
_ADD_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+) (.+)\Z", re.S)


@dataclass
class _Table:
    columns: list[str] = field(default_factory=list)
    """Column definitions as written (``name TYPE constraints``), in order."""
    added: list[tuple[str, str]] = field(default_factory=list)
    """(name, definition) of the columns later migrations added."""
    indexes: list[str] = field(default_factory=list)


def _statements(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _to_sqlite(sql: str) -> str:
    for pg, lite in _TO_SQLITE:
        sql = sql.replace(pg, lite)
    return sql


@cache
def _tables() -> dict[str, _Table]:
    tables: dict[str, _Table] = {}
    for path in sorted(POSTGRESQL_MIGRATIONS.glob("*.sql")):
        for statement in _statements(path.read_text(encoding="utf-8")):
            if found := _CREATE_TABLE.match(statement):
                body = _to_sqlite(found[2])
                tables[found[1]] = _Table(columns=[c.strip() for c in _split_columns(body)])
            elif found := _CREATE_INDEX.match(statement):
                name, table, on = found[1], found[2], found[3]
                tables[table].indexes.append(f"CREATE INDEX IF NOT EXISTS {name} ON {table}{on}")
            elif found := _ADD_COLUMN.match(" ".join(statement.split())):
                table, column, definition = found[1], found[2], _to_sqlite(found[3])
                tables[table].columns.append(f"{column} {definition}")
                tables[table].added.append((column, definition))
            else:
                raise ValueError(f"{path.name}: a statement SQLite cannot follow: {statement}")
    return tables


def _split_columns(body: str) -> list[str]:
    """The comma-separated parts of a table body, commas inside parentheses kept."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return [p for p in parts if p.strip()]


def sqlite_schema(*tables: str) -> str:
    """The script that creates ``tables`` (and their indexes) on SQLite when missing, with
    every column the PostgreSQL migrations give them."""
    known = _tables()
    out = []
    for name in tables:
        table = known[name]
        columns = ",\n    ".join(table.columns)
        out.append(f"CREATE TABLE IF NOT EXISTS {name} (\n    {columns}\n);")
        out += [f"{index};" for index in table.indexes]
    return "\n".join(out) + "\n"


def add_later_columns(tx: Tx, table: str) -> None:
    """Add to a SQLite ``table`` made before them the columns later migrations added
    (PostgreSQL gets them by those migrations)."""
    present = {r[1] for r in tx.execute(f"PRAGMA table_info({table})").rows}
    for column, definition in _tables()[table].added:
        if column not in present:
            tx.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
