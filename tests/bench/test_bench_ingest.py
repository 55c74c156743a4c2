"""``bench.ingest`` runs end to end at ``Size.TINY``; its figures come back complete.
No timing is judged here."""

from __future__ import annotations

import math

from bench import ingest
from bench.results import Size


async def test_ingest_tiny_run_returns_its_figures() -> None:
    figures = {f.name: f for f in await ingest.run(Size.TINY)}
    assert set(figures) == {
        "ingest.p50_ms@20/s",
        "ingest.p99_ms@20/s",
        "ingest.p50_ms@50/s",
        "ingest.p99_ms@50/s",
        "ingest.throughput_eps@burst",
        "ingest.p99_ms@burst",
    }
    for f in figures.values():
        assert f.unit == ("events/s" if "throughput" in f.name else "ms")
        assert f.runs and all(r > 0 and math.isfinite(r) for r in f.runs), f
        assert f.baseline_runs and all(r > 0 and math.isfinite(r) for r in f.baseline_runs), f
        assert f.notes == [], f.notes  # every event accepted, on both sides
    for name in ("ingest.p99_ms@20/s", "ingest.p99_ms@50/s"):
        target = figures[name].target
        assert target is not None and target.kind == "at_most" and target.factor == 1.5
    burst = figures["ingest.throughput_eps@burst"].target
    assert burst is not None and burst.kind == "at_least" and burst.factor == 0.9
    assert "hub / baseline" in ingest.NOTES
