"""Plain-text tables for reports, aligned in screen cells, not characters.

Padding by ``len()`` pushes every later column out of line after a CJK company name
(two cells per character) or a decomposed accent (zero cells for the combining mark).
``rich`` (installed with typer) measures what a terminal draws; its table is rendered
here without borders or colours, so the text is the same on a terminal, in a pipe and
in a file. Pure: renders into memory.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["table_lines"]

_WIDE = 100_000  # never wrap a row: a long name makes a wide table, not a broken one


def table_lines(rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    """``rows[0]`` is the header; ``right[i]`` right-aligns column ``i`` (numbers).
    Columns are two cells apart; trailing spaces are trimmed."""
    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 1), header_style="")
    for header, is_right in zip(rows[0], right, strict=True):
        table.add_column(Text(header), justify="right" if is_right else "left", no_wrap=True)
    for row in rows[1:]:
        table.add_row(*(Text(cell) for cell in row))  # Text: no [markup] in company names
    out = io.StringIO()
    Console(file=out, width=_WIDE, color_system=None, force_terminal=False, emoji=False).print(
        table
    )
    return [line.rstrip() for line in out.getvalue().splitlines()]
