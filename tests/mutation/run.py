"""``make mutation``: mutation testing of the pure domain core, and its scores.

Runs mutmut (configured in ``pyproject.toml``, ``[tool.mutmut]``: which modules are
mutated, which unit tests run) from a clean ``mutants/`` folder, with the machine's time
zone set to Tokyo (so a mutant that reads the machine's zone shows), then writes
``tests/mutation/scores.json`` with, per module: ``mutants``, ``killed`` (a test failed or
the mutant timed out), ``survived`` (no test failed, or no unit test calls the function),
``equivalent`` (survivors listed in ``equivalents.txt`` beside this file, each with a
reason) and ``score = killed / (mutants - equivalent)``. Prints the table and every
survivor that is not listed, and exits 1 when a module scores below the threshold or an
entry of ``equivalents.txt`` no longer matches a surviving mutant (stale after a code
change: look again and update it).

    python -m tests.mutation.run [--jobs 2] [--threshold 0.9] [--report-only]

``--report-only`` rereads an existing ``mutants/`` (after ``mutmut run NAME`` of a few
mutants, say) without running everything again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCORES = HERE / "scores.json"
EQUIVALENTS = HERE / "equivalents.txt"
LOG = ROOT / "mutants" / "mutmut.log"

MACHINE_ZONE = "Asia/Tokyo"
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


@dataclass
class Equivalent:
    name: str
    change: str
    reason: str
    line: int


@dataclass
class ModuleScore:
    mutants: int = 0
    killed: int = 0
    survived: int = 0
    equivalent: int = 0
    survivors: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        judged = self.mutants - self.equivalent
        return round(self.killed / judged, 4) if judged else 1.0


def read_equivalents(path: Path = EQUIVALENTS) -> dict[str, Equivalent]:
    """``mutant name | the mutated line(s) as mutmut shows them | reason``, one a line."""
    out: dict[str, Equivalent] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        parts = [p.strip() for p in text.split(" | ")]
        if len(parts) != 3 or not all(parts):
            raise SystemExit(f"{path.name}:{number}: want 'mutant | change | reason', got {raw!r}")
        name, change, reason = parts
        if name in out:
            raise SystemExit(f"{path.name}:{number}: {name} listed twice")
        out[name] = Equivalent(name, change, reason, number)
    return out


def changed_lines(diff: str) -> str:
    """The changed lines of a mutmut diff: each added line stripped (a removed line with
    nothing added in its place as ``-line``), joined with ' / '."""
    added, removed = [], []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            continue
        if line.startswith("+"):
            added.append(line[1:].strip())
        elif line.startswith("-"):
            removed.append("-" + line[1:].strip())
    return " / ".join(added or removed)


def run_mutmut(jobs: int) -> float:
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    (ROOT / "mutants").mkdir()
    started = time.monotonic()
    print(f"mutmut run --max-children {jobs} (log: {LOG.relative_to(ROOT)}) ...", flush=True)
    with LOG.open("w", encoding="utf-8") as log:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "mutmut"), "run", "--max-children", str(jobs)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            # A machine zone east of UTC: a mutant that reads the machine's zone where
            # the customer's or the calendar's belongs behaves like the original in UTC.
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TZ": MACHINE_ZONE},
            check=False,
        )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        tail = LOG.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"mutmut failed (exit {done.returncode}); the log ends:\n{tail}")
    return elapsed


def collect() -> tuple[dict[str, ModuleScore], dict[str, tuple[str, str]]]:
    """Per module path: the counts, and per survivor: (module, its mutated line)."""
    os.chdir(ROOT)  # mutmut reads its configuration and mutants/ from here
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    modules: dict[str, ModuleScore] = {}
    survivors: dict[str, tuple[str, str]] = {}
    for path in sorted(walk_mutatable_files()):
        data = SourceFileMutationData(path=path)
        data.load()
        if not data.exit_code_by_key:
            continue
        score = modules.setdefault(str(path), ModuleScore())
        for name, exit_code in sorted(data.exit_code_by_key.items()):
            status = status_by_exit_code[exit_code]
            if status == "not checked":
                raise SystemExit(f"{name} was not checked: the run did not finish")
            score.mutants += 1
            if status in KILLED:
                score.killed += 1
            else:
                score.survived += 1
                survivors[name] = (str(path), changed_lines(get_diff_for_mutant(name, path=path)))
    return modules, survivors


def report(threshold: float, elapsed: float | None) -> int:
    modules, survivors = collect()
    equivalents = read_equivalents()
    problems: list[str] = []
    for eq in equivalents.values():
        found = survivors.get(eq.name)
        if found is None:
            problems.append(
                f"equivalents.txt:{eq.line}: {eq.name} did not survive (killed, or gone): "
                "remove the entry"
            )
        elif found[1] != eq.change:
            problems.append(
                f"equivalents.txt:{eq.line}: {eq.name} now changes {found[1]!r}, "
                f"not {eq.change!r}: judge it again"
            )
        else:
            modules[found[0]].equivalent += 1
    for name, (module, change) in survivors.items():
        listed = equivalents.get(name)
        if listed is None or listed.change != change:
            modules[module].survivors.append(f"{name} | {change}")

    print()
    print(f"{'module':<32} {'mutants':>7} {'killed':>7} {'survived':>8} {'equiv.':>6} {'score':>6}")
    failed = False
    for module, s in modules.items():
        mark = "" if s.score >= threshold else f"  < {threshold:.2f}"
        failed |= s.score < threshold
        print(
            f"{module:<32} {s.mutants:>7} {s.killed:>7} {s.survived:>8} {s.equivalent:>6} "
            f"{s.score:>6.3f}{mark}"
        )
    total = ModuleScore(
        mutants=sum(s.mutants for s in modules.values()),
        killed=sum(s.killed for s in modules.values()),
        survived=sum(s.survived for s in modules.values()),
        equivalent=sum(s.equivalent for s in modules.values()),
    )
    print(
        f"{'total':<32} {total.mutants:>7} {total.killed:>7} {total.survived:>8} "
        f"{total.equivalent:>6} {total.score:>6.3f}"
    )
    unexplained = [line for s in modules.values() for line in s.survivors]
    if unexplained:
        print(f"\n{len(unexplained)} surviving mutants not listed in equivalents.txt:")
        for line in unexplained:
            print(f"  {line}")
    for problem in problems:
        print(problem)

    SCORES.write_text(
        json.dumps(
            {
                "tool": "mutmut " + _mutmut_version(),
                "threshold": threshold,
                "equivalents_file": EQUIVALENTS.name,
                "modules": {
                    module: {
                        "mutants": s.mutants,
                        "killed": s.killed,
                        "survived": s.survived,
                        "equivalent": s.equivalent,
                        "score": s.score,
                    }
                    for module, s in modules.items()
                },
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nwrote {SCORES.relative_to(ROOT)}", end="")
    print(f" (mutmut ran {elapsed / 60:.1f} min)" if elapsed is not None else "")
    if failed:
        print(f"FAILED: a module scores below {threshold:.2f}")
    return 1 if failed or problems else 0


def _mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument(
        "--report-only", action="store_true", help="score the existing mutants/ folder"
    )
    args = parser.parse_args(argv)
    elapsed = None if args.report_only else run_mutmut(args.jobs)
    return report(args.threshold, elapsed)


if __name__ == "__main__":
    sys.exit(main())
