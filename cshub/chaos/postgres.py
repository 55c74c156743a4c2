"""A PostgreSQL server for a multi-replica chaos run: the ``pgserver`` wheel (a test
dependency) ships the server, so ``make chaos`` needs nothing installed on the machine."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def postgres_database(workdir: Path) -> Iterator[str]:
    """A server of its own with a ``cshub`` database; its URL. The server's log goes to
    ``workdir``. Its data folder is outside ``workdir``: run as root, pgserver starts the
    server as its own user, which must reach the folder."""
    data = Path(tempfile.mkdtemp(prefix="cshub-chaos-pg-"))
    with warnings.catch_warnings():  # platformdirs: XDG_RUNTIME_DIR unset in containers
        warnings.simplefilter("ignore")
        import pgserver

        server: Any = pgserver.get_server(data, cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        server.psql("CREATE DATABASE cshub;")
        base, _, query = str(server.get_uri()).partition("?")
        (workdir / "postgresql.url").write_text(f"{base.rsplit('/', 1)[0]}/cshub?{query}\n")
        yield f"{base.rsplit('/', 1)[0]}/cshub" + (f"?{query}" if query else "")
    finally:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)
