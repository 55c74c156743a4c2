"""What a running ``cshub dev`` tells every other ``cshub`` command.

``cshub dev`` writes ``<data folder>/dev-runtime.json`` (mode 0600) when its stack is up:
its process id, its addresses and ports, and the sandbox secrets it uses (webhook
secrets, the timeline API token, the payload-key file), as hub settings by field name.
Every ``cshub`` command reads it as one more settings source, after the environment and
``.env`` (so an explicit variable always wins), when ``CSHUB_ENV=sandbox`` and the file
names a ``cshub dev`` process that is still running. On Ctrl-C the file is marked
stopped; a file left by a killed run names a dead process and is ignored.

The data folder is ``CSHUB_DATA_DIR`` (default ``.cshub``), so a second shell with the
same ``CSHUB_DATA_DIR`` (or the same working folder) finds the running stack, whatever
its ports.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

RUNTIME_FILE_NAME = "dev-runtime.json"


class DevRuntime(BaseModel):
    """The content of ``dev-runtime.json``."""

    pid: int
    started_at: datetime
    stopped_at: datetime | None = None
    urls: dict[str, str] = {}
    """What the banner shows: ui, inbox, outbox, api, temporal, smtp."""
    settings: dict[str, str] = {}
    """Hub settings (``runtime.settings.Settings`` field names) as strings."""


class RuntimeFileError(Exception):
    """The runtime file exists but cannot be read; the message names it."""


def runtime_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / RUNTIME_FILE_NAME


def _cshub_process(pid: int) -> bool:
    """``pid`` is a live process that looks like a ``cshub`` one (Linux: its command
    line says so; elsewhere: it exists)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: alive
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"cshub" in cmdline


def write_runtime(data_dir: Path, runtime: DevRuntime) -> Path:
    """Write the file atomically, readable by its owner only (it holds secrets)."""
    path = runtime_path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(runtime.model_dump_json(indent=2) + "\n")
    os.replace(tmp, path)
    return path


def read_runtime(data_dir: Path | str) -> DevRuntime | None:
    """The file's content; None when there is none. Unreadable: RuntimeFileError."""
    path = runtime_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RuntimeFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return DevRuntime.model_validate_json(text)
    except ValidationError as exc:
        raise RuntimeFileError(
            f"{path} is not a cshub dev runtime file ({exc.error_count()} error(s): "
            f"{exc.errors()[0]['msg']}); delete it, `cshub dev` writes it again"
        ) from None


def active_runtime(data_dir: Path | str) -> DevRuntime | None:
    """The runtime of a ``cshub dev`` running on this data folder, or None."""
    runtime = read_runtime(data_dir)
    if runtime is None or runtime.stopped_at is not None:
        return None
    return runtime if _cshub_process(runtime.pid) else None


def mark_stopped(data_dir: Path, pid: int) -> None:
    """Mark this process's runtime file stopped (never another process's)."""
    try:
        runtime = read_runtime(data_dir)
    except RuntimeFileError:
        return
    if runtime is not None and runtime.pid == pid and runtime.stopped_at is None:
        write_runtime(data_dir, runtime.model_copy(update={"stopped_at": datetime.now(UTC)}))


def settings_strings(values: dict[str, Any]) -> dict[str, str]:
    """Settings overrides as the strings the environment would give (secrets revealed)."""
    out: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        elif isinstance(value, Path):
            value = str(value.resolve())
        elif isinstance(value, bool):
            value = json.dumps(value)
        out[name] = str(value)
    return out
