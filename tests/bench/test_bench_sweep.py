"""``bench.sweep`` at Size.TINY: the figures come back, named and sane (no timing)."""

from __future__ import annotations

from bench import sweep
from bench.results import Size


async def test_sweep_tiny_gives_its_figures() -> None:
    figures = {f.name: f for f in await sweep.run(Size.TINY)}
    assert set(figures) == {
        "sweep: wall time against the rate-limit floor",
        "sweep: 429s left unhandled",
        "sweep: companies per second",
        "sweep: churn-risk scoring per page",
    }
    wall = figures["sweep: wall time against the rate-limit floor"]
    assert wall.unit == "s" and wall.value > 0
    # 310 companies: 4 pages, a list call and a batch update each, at 10 calls/s.
    assert wall.baseline == 0.8
    assert wall.target is not None and wall.target.factor == 1.2
    unhandled = figures["sweep: 429s left unhandled"]
    assert unhandled.value == 0 and unhandled.meets_target
    assert "310 scored" in unhandled.notes[0]
    assert figures["sweep: companies per second"].value > 0
    scoring = figures["sweep: churn-risk scoring per page"]
    # 4 pages over a 0.8 s floor: 200 ms per page, scoring may take 10 % of it
    assert scoring.unit == "ms" and scoring.value > 0 and scoring.baseline == 200
    assert scoring.target is not None and scoring.target.factor == 0.1
    assert "% of the floor's 200 ms per page" in scoring.notes[0]
