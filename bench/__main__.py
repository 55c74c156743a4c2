"""``python -m bench [--only NAME ...] [--size full|tiny] [--set KEY=VALUE ...] [--out DIR]``
(``make bench``). ``--set`` changes one number of a benchmark's plan for this run (e.g.
``--only in_flight --set customers=100000``, ``--only intake --set outage_s=30``): it is
passed to each selected benchmark whose ``run`` takes that keyword."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.results import (
    BENCH_DIR,
    Figure,
    Size,
    merged,
    read_results,
    read_sections,
    write_results,
)

BENCHMARKS = (
    "ingest",
    "intake",
    "time_to_action",
    "in_flight",
    "sweep",
    "history",
    "hot_customers",
    "sentiment",
    "churn_model",
    "risk_backtest",
)
"""Modules of this package, each with ``async def run(size) -> list[Figure]`` and an
optional ``NOTES`` string (its section in results.md)."""


def notes_sections(
    figures: list[dict[str, Any]], ran: set[str], previous: dict[str, str]
) -> dict[str, str]:
    """Each benchmark's notes, in the order of ``BENCHMARKS``: its module's ``NOTES``
    when it ran now (some are written by the run), else its section of the last file."""
    present = {f.get("benchmark") for f in figures}
    sections: dict[str, str] = {}
    for name in BENCHMARKS:
        if name not in present:
            continue
        module = importlib.import_module(f"bench.{name}")
        title = getattr(module, "TITLE", name)
        body = getattr(module, "NOTES", "") if name in ran else previous.get(title, "")
        if body:
            sections[title] = body
    return sections


def parse_settings(pairs: list[str], names: list[str]) -> dict[str, dict[str, Any]]:
    """``KEY=VALUE`` pairs -> the keywords each named benchmark's ``run`` takes. Numbers
    are read as numbers. Raises ValueError for a key no selected benchmark takes."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {pair!r}: expected KEY=VALUE")
        value: Any = text
        for kind in (int, float):
            try:
                value = kind(text)
                break
            except ValueError:
                continue
        values[key.strip()] = value
    per: dict[str, dict[str, Any]] = {name: {} for name in names}
    taken: set[str] = set()
    for name in names:
        params = inspect.signature(importlib.import_module(f"bench.{name}").run).parameters
        for key, value in values.items():
            if key in params and key != "size":
                per[name][key] = value
                taken.add(key)
    unknown = sorted(set(values) - taken)
    if unknown:
        raise ValueError(f"no selected benchmark takes {', '.join(unknown)}")
    return per


async def run_all(
    names: list[str],
    size: Size,
    out: Path,
    settings: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Run each benchmark; after each one, its figures replace its earlier ones in
    ``out`` (a benchmark that fails leaves the figures measured before it written)."""
    figures, previous = read_results(out), read_sections(out)
    ran: set[str] = set()
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        began = time.monotonic()
        print(f"[bench] {name} ({size.value}) ...", flush=True)
        found: list[Figure] = await module.run(size, **(settings or {}).get(name, {}))
        print(f"[bench] {name}: {len(found)} figures in {time.monotonic() - began:.0f} s")
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        for f in found:
            f.benchmark, f.measured = name, stamp
            met = {True: "meets", False: "MISSES", None: "no"}[f.meets_target]
            print(f"    {f.name}: {f.value:,.3f} {f.unit} (baseline {f.baseline}) {met} target")
        ran.add(name)
        figures = merged(figures, [f.to_json() for f in found])
        figures.sort(key=lambda f: _order(f.get("benchmark")))
        write_results(figures, notes_sections(figures, ran, previous), out)
        print(f"[bench] wrote {out / 'results.md'} and {out / 'results.json'}", flush=True)
    return figures


def _order(benchmark: object) -> int:
    return BENCHMARKS.index(benchmark) if benchmark in BENCHMARKS else len(BENCHMARKS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="repeatable")
    parser.add_argument("--size", choices=[s.value for s in Size], default=Size.FULL.value)
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH_DIR,
        help="folder of results.md / results.json (figures of benchmarks not run are kept)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one number of the selected benchmarks' plans (repeatable)",
    )
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    try:
        settings = parse_settings(args.set, names)
    except ValueError as err:
        parser.error(str(err))
    asyncio.run(run_all(names, Size(args.size), args.out, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
