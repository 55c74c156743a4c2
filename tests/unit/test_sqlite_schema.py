"""The SQLite stores take their tables from the PostgreSQL migrations
(runtime.sqlite_files.sqlite_schema): one definition for both."""

from __future__ import annotations

import sqlite3

import pytest

from runtime.sqlite_files import sqlite_schema
from webhooks.ledger import _SCHEMA as LEDGER_SCHEMA


def test_the_ledger_tables_are_the_migrations_with_sqlite_types() -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(LEDGER_SCHEMA)
    db.executescript(LEDGER_SCHEMA)  # idempotent: opened again on every start
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"deliveries", "latest_state", "dead_letters", "intake"} <= tables
    assert "actions" not in tables  # the action store's table is not the ledger's
    intake = {row[1]: (row[2], row[5]) for row in db.execute("PRAGMA table_info(intake)")}
    assert intake["seq"] == ("INTEGER", 1)  # the identity key, as SQLite's rowid
    assert intake["payload"][0] == "BLOB"
    assert "BYTEA" not in LEDGER_SCHEMA and "GENERATED" not in LEDGER_SCHEMA
    indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"deliveries_received", "dead_letters_last", "intake_pending", "intake_done"} <= indexes
    db.execute(
        "INSERT INTO intake (dedup_key, source, event_id, type, grp, kind, payload, "
        "received_at, next_at) VALUES ('k', 's', 'e', 't', 'g', 'k', x'00', 'r', 'n')"
    )
    assert db.execute("SELECT seq, state FROM intake").fetchone() == (1, "pending")


def test_an_unknown_table_is_refused() -> None:
    with pytest.raises(ValueError, match="creates none of"):
        sqlite_schema("0001.hub-state.sql", ("no_such_table",))


def test_the_action_store_has_every_column_and_index_of_the_migrations(tmp_path) -> None:
    from activities.action_log import SqlActionStore

    SqlActionStore(tmp_path / "actions.sqlite").close()
    SqlActionStore(tmp_path / "actions.sqlite").close()  # opened again: nothing to add
    db = sqlite3.connect(tmp_path / "actions.sqlite")
    columns = [row[1] for row in db.execute("PRAGMA table_info(actions)")]
    assert columns[0] == "key" and "ref" in columns and columns[-1] == "contact_id"  # 0002
    indexes = {row[1] for row in db.execute("PRAGMA index_list(actions)")}
    assert {"actions_customer", "actions_last", "actions_ref"} <= indexes  # 0001, 0003
