"""The hub's small SQLite files (the webhook delivery ledger, the action store): opened
the same way, shared by threads, WAL so readers never wait for the writer."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_sqlite(path: Path | str, schema: str, *, timeout: float = 5.0) -> sqlite3.Connection:
    """Open (creating the folder and the tables) a SQLite file for use under a lock."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=timeout)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db
