"""Progress for the long commands (``report health``, ``report support``, ``health
sweep``, ``simulate``), drawn by ``rich`` on standard error while a person watches.

Shown only on a terminal and never with ``--json``: in a pipe, a file or CI the output
stays what it always was, and standard output (the report, the JSON) never carries a
progress line. The bar is transient: it disappears when the command is done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["ProgressFn", "progress", "stderr_console"]

ProgressFn = Callable[[str, int, "int | None"], None]
"""``(what, done, total or None)``: one line per ``what``, updated in place."""


def stderr_console() -> Console:
    """Where progress goes (tests replace it with a forced terminal)."""
    return Console(stderr=True)


def _nothing(_what: str, _done: int, _total: int | None) -> None:
    return None


@contextlib.contextmanager
def progress(*, enabled: bool = True) -> Iterator[ProgressFn]:
    """A ``ProgressFn`` that draws bars on a terminal; one that does nothing when
    ``enabled`` is false (``--json``) or standard error is not a terminal."""
    console = stderr_console() if enabled else None
    if console is None or not console.is_terminal:
        yield _nothing
        return
    bars = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(what: str, done: int, total: int | None) -> None:
        if what not in tasks:
            tasks[what] = bars.add_task(what, total=total)
        bars.update(tasks[what], completed=done, total=total)

    with bars:
        yield update
