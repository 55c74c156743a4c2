"""Report tables aligned in screen cells (CJK names take two cells a character, a
combining accent none), and progress for the long commands: drawn by rich on a terminal,
absent with --json (and in a pipe)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from cshub import terminal
from cshub.cli import app
from domain.health_model import HealthCategory
from domain.health_report import AccountHealth, build_portfolio_health, render_text
from domain.text_table import table_lines
from sandbox.server import SandboxHandle
from tests.test_health_report_cli import env_for

NAMES = {
    "1": "東京ロジスティクス株式会社",  # CJK: 2 cells a character
    "2": "Crème Brûlée SARL",  # precomposed accents: 1 cell
    "3": "Cre\u0300me Bru\u0302le\u0301e",  # combining accents: 0 cells for the marks
    "4": "Plain Co",
}


def _starts(lines: list[str], marker: str) -> set[int]:
    """The screen column at which ``marker`` starts on each line that has it."""
    return {cell_len(line[: line.index(marker)]) for line in lines if marker in line}


def test_a_table_aligns_wide_and_combining_characters() -> None:
    rows = [("company", "score", "CSM")]
    rows += [(name, "42", f"csm-{i}") for i, name in NAMES.items()]
    lines = table_lines(rows, (False, True, False))
    assert len({cell_len(line) for line in lines[1:]}) == 1  # every row as wide on screen
    assert len(_starts(lines, "csm-")) == 1  # the last column starts at one screen column
    assert len({cell_len(line[: line.index("42") + 2]) for line in lines[1:]}) == 1
    # len() would have disagreed: the CJK row is shorter in characters than on screen.
    assert len(lines[1]) != cell_len(lines[1])


def test_health_report_at_risk_list_stays_in_line_with_cjk_names() -> None:
    accounts = [
        AccountHealth(
            id=i,
            name=name,
            tier="starter",
            owner_id="501",
            category=HealthCategory.CRITICAL,
            score=40.0 + int(i),
        )
        for i, name in NAMES.items()
    ]
    text = render_text(build_portfolio_health(accounts, {"501": "Dana Reyes"}))
    lines = text.splitlines()
    start = lines.index("at risk or critical: 4 (worst first)")
    table = lines[start + 1 : start + 6]
    assert all(name in text for name in NAMES.values())
    assert len(_starts(table[1:], "Dana Reyes (501)")) == 1, table
    header_csm = cell_len(table[0][: table[0].index("CSM")])
    assert _starts(table[1:], "Dana Reyes (501)") == {header_csm}


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Standard error as a terminal (rich's force_terminal), captured."""
    buffer = io.StringIO()

    def console() -> Console:
        return Console(file=buffer, force_terminal=True, width=100)

    monkeypatch.setattr(terminal, "stderr_console", console)
    return buffer


def test_progress_is_drawn_on_a_terminal_only(tty: io.StringIO) -> None:
    with terminal.progress() as show:
        show("CRM company pages read", 3, None)
        show("CSM names read", 2, 5)
    drawn = tty.getvalue()
    assert "CRM company pages read" in drawn and "2/5" in drawn
    assert "\x1b[" in drawn  # drawn with terminal control sequences

    tty.seek(0)
    tty.truncate()
    with terminal.progress(enabled=False) as show:  # --json
        show("CRM company pages read", 3, None)
    assert tty.getvalue() == ""


def test_no_progress_when_standard_error_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(terminal, "stderr_console", lambda: Console(file=buffer))
    with terminal.progress() as show:
        show("CRM company pages read", 3, None)
    assert buffer.getvalue() == ""


async def test_report_health_shows_progress_on_a_terminal_not_with_json(
    sandbox: SandboxHandle, tty: io.StringIO, tmp_path: Path
) -> None:
    async def run(*args: str) -> str:
        result = await asyncio.to_thread(
            CliRunner().invoke,
            app,
            ["report", "health", "--chart", str(tmp_path / "h.png"), *args],
            env=env_for(sandbox),
        )
        assert result.exit_code == 0, result.output
        return result.stdout

    out = await run()
    assert "CRM company pages read" in tty.getvalue()
    assert "\x1b[" not in out  # the report itself stays plain text
    assert out.startswith("Portfolio health:")

    tty.seek(0)
    tty.truncate()
    out = await run("--json")
    assert tty.getvalue() == ""
    assert json.loads(out)["total"] > 0


async def test_health_sweep_shows_its_progress_query_while_waiting(tty: io.StringIO) -> None:
    """`cshub health sweep` waits on the workflow's result and asks its progress query
    every second meanwhile (a query failing during a continue-as-new is skipped)."""
    from cshub.cli import _with_sweep_progress
    from domain.health_sweep import SweepCounts, SweepProgress

    class Handle:
        queries = 0

        async def result(self) -> SweepProgress:
            await asyncio.sleep(1.5)
            return SweepProgress(pages_done=3, done=True, counts=SweepCounts(scored=150))

        async def query(self, name: str, result_type: type[SweepProgress]) -> SweepProgress:
            assert name == "progress"
            self.queries += 1
            if self.queries == 1:
                raise RuntimeError("no answer during continue-as-new")
            return SweepProgress(pages_done=2, counts=SweepCounts(scored=100))

    handle = Handle()
    result = await _with_sweep_progress(handle)  # type: ignore[arg-type]
    assert result.counts.scored == 150
    assert handle.queries >= 2
    assert "companies scored (2 pages)" in tty.getvalue()


async def test_support_report_tells_the_runs_read() -> None:
    from cshub.report import TICKETS, _read_all

    class Reader:
        async def read(self, source: object, execution: object) -> object:
            return execution

    calls: list[tuple[str, int, int | None]] = []
    read = await _read_all(
        Reader(),  # type: ignore[arg-type]
        TICKETS,
        ["a", "b", "c"],  # type: ignore[list-item]
        lambda what, done, total: calls.append((what, done, total)),
    )
    assert read == ["a", "b", "c"]
    assert calls[0] == ("TicketSlaWorkflow runs read", 0, 3)
    assert calls[-1] == ("TicketSlaWorkflow runs read", 3, 3)
