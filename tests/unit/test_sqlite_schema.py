"""The SQLite schema is read from the PostgreSQL migrations: the same tables, columns and
indexes on both databases, and older SQLite files get the columns later migrations add."""

import sqlite3

import pytest

from runtime.sqlite_schema import add_later_columns, sqlite_schema
from runtime.store import SqliteDatabase


def _columns(db: sqlite3.Connection, table: str) -> list[tuple[str, str, int]]:
    return [(r[1], r[2], r[3]) for r in db.execute(f"PRAGMA table_info({table})")]


def test_actions_get_every_column_and_index_the_migrations_give_them() -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(sqlite_schema("actions"))
    names = [c[0] for c in _columns(db, "actions")]
    assert names[0] == "key" and names[-1] == "contact_id"  # 0001, then 0002's column
    assert ("workflow_id", "TEXT", 1) in _columns(db, "actions")
    indexes = {r[1] for r in db.execute("PRAGMA index_list(actions)")}
    assert {"actions_customer", "actions_last", "actions_ref"} <= indexes  # 0003's index


def test_the_intake_queue_gets_sqlite_types() -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(sqlite_schema("intake", "dead_letters"))
    assert ("payload", "BLOB", 1) in _columns(db, "intake")
    assert "AUTOINCREMENT" in sqlite_schema("intake")
    db.execute(
        "INSERT INTO intake (dedup_key, source, event_id, type, grp, kind, payload, "
        "received_at, next_at) VALUES ('k', 's', 'e', 't', 'g', 'k', x'00', 'a', 'b')"
    )
    assert db.execute("SELECT seq, state, attempts FROM intake").fetchall() == [(1, "pending", 0)]


def test_a_store_made_before_a_column_was_added_gets_it(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE actions (key TEXT PRIMARY KEY, ref TEXT)")
    old.commit()
    old.close()
    db = SqliteDatabase(path, "")
    with db.tx(write=True) as tx:
        add_later_columns(tx, "actions")
        add_later_columns(tx, "actions")  # twice: nothing left to add
    db.close()
    assert [c[0] for c in _columns(sqlite3.connect(path), "actions")] == [
        "key",
        "ref",
        "contact_id",
    ]


def test_an_unknown_table_is_an_error() -> None:
    with pytest.raises(KeyError):
        sqlite_schema("no_such_table")
