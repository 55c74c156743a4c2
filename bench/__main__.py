"""``python -m bench [--only NAME ...] [--size full|tiny] [--out DIR]`` (``make bench``)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import time
from pathlib import Path

from bench.results import BENCH_DIR, Figure, Size, write_results

BENCHMARKS = ("ingest", "time_to_action", "in_flight", "sweep", "history")
"""Modules of this package, each with ``async def run(size) -> list[Figure]`` and an
optional ``NOTES`` string (its section in results.md)."""


async def run_all(names: list[str], size: Size) -> tuple[list[Figure], dict[str, str]]:
    figures: list[Figure] = []
    sections: dict[str, str] = {}
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        began = time.monotonic()
        print(f"[bench] {name} ({size.value}) ...", flush=True)
        found: list[Figure] = await module.run(size)
        print(f"[bench] {name}: {len(found)} figures in {time.monotonic() - began:.0f} s")
        for f in found:
            met = {True: "meets", False: "MISSES", None: "no"}[f.meets_target]
            print(f"    {f.name}: {f.value:,.3f} {f.unit} (baseline {f.baseline}) {met} target")
        figures += found
        notes = getattr(module, "NOTES", "")
        if notes:
            sections[getattr(module, "TITLE", name)] = notes
    return figures, sections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="repeatable")
    parser.add_argument("--size", choices=[s.value for s in Size], default=Size.FULL.value)
    parser.add_argument("--out", type=Path, default=BENCH_DIR)
    args = parser.parse_args(argv)
    figures, sections = asyncio.run(run_all(args.only or list(BENCHMARKS), Size(args.size)))
    write_results(figures, sections, args.out)
    print(f"[bench] wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
