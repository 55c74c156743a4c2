"""The result files: ``--only NAME`` replaces that benchmark's figures and keeps the rest."""

from __future__ import annotations

import json
from pathlib import Path

from bench.__main__ import notes_sections
from bench.results import (
    Figure,
    Target,
    merged,
    read_results,
    read_sections,
    write_results,
)


def figure(benchmark: str, name: str, value: float, baseline: float | None = None) -> Figure:
    f = Figure(
        name=name,
        unit="s",
        runs=[value, value + 2, value - 1],
        baseline_runs=[baseline] if baseline is not None else None,
        target=Target(kind="at_most", factor=1.2, text="<= 1.2 x floor"),
        benchmark=benchmark,
        measured="2026-11-23 19:00 UTC",
    )
    return f


def test_a_benchmark_run_again_replaces_its_figures_and_keeps_the_others(tmp_path: Path) -> None:
    first = [
        figure("ingest", "ingest: p99", 20.0, 15.0).to_json(),
        figure("sweep", "sweep: wall time", 159.0, 40.0).to_json(),
        {"name": "from an older file", "value": 1.0},  # no benchmark: dropped
    ]
    write_results(
        merged([], first[:2]) + first[2:],
        {"Webhook ingest": "ingest notes of the first run\n\n| a | b |", "Portfolio sweep": "old"},
        tmp_path,
    )
    again = [figure("sweep", "sweep: wall time", 45.0, 40.0).to_json()]
    figures = merged(read_results(tmp_path), again)
    assert [(f["name"], f["value"]) for f in figures] == [
        ("ingest: p99", 20.0),
        ("sweep: wall time", 45.0),
    ]
    write_results(figures, notes_sections(figures, {"sweep"}, read_sections(tmp_path)), tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [f["meets_target"] for f in saved] == [False, True]  # 20 > 18; 45 <= 48
    md = (tmp_path / "results.md").read_text()
    assert "| sweep: wall time | 45 s (44 to 47) | 40 s | <= 1.2 x floor | yes |" in md
    assert "| ingest: p99 | 20 s (19 to 22) | 15 s | <= 1.2 x floor | **no** |" in md
    # The notes of the benchmark not run again are kept; the sweep's are its module's.
    assert "## Webhook ingest\n\ningest notes of the first run\n\n| a | b |\n" in md
    assert "## Portfolio sweep\n\nA health sweep" in md
    assert "## Customers in flight" not in md


def test_a_missing_or_foreign_results_file_reads_as_no_figures(tmp_path: Path) -> None:
    assert read_results(tmp_path) == []
    (tmp_path / "results.json").write_text('{"not": "a list"}')
    assert read_results(tmp_path) == []
    (tmp_path / "results.json").write_text("not json")
    assert read_results(tmp_path) == []
