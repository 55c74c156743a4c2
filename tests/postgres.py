"""A real PostgreSQL server for the store tests: the ``pgserver`` wheel ships the server
binaries, so a fresh machine needs nothing else. One server a test session (started on
first use, about 2 s), one new database a test."""

from __future__ import annotations

import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    # Not under pytest's tmp dir: run as root, pgserver starts the server as its own
    # user, which must reach the data directory (pytest's base dir is private to root).
    data = Path(tempfile.mkdtemp(prefix="cshub-pg-"))
    with warnings.catch_warnings():  # platformdirs: XDG_RUNTIME_DIR unset in CI containers
        warnings.simplefilter("ignore")
        import pgserver

        server: Any = pgserver.get_server(data, cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


def new_database(server_url: str) -> str:
    """A database of its own on the session's server; its URL."""
    import psycopg

    name = f"cshub_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = server_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    return new_database(postgres_server)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives: a SQLite file, or a PostgreSQL database (both backends run the
    same test)."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return new_database(request.getfixturevalue("postgres_server"))
