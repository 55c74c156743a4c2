"""``bench.intake`` runs end to end at ``Size.TINY`` on both stores; its figures come
back complete. No timing is judged here."""

from __future__ import annotations

import math

from bench import intake
from bench.results import Size


async def test_intake_tiny_run_returns_its_figures() -> None:
    figures = {f.name: f for f in await intake.run(Size.TINY)}
    assert set(figures) == {
        "intake.throughput_eps@burst",
        "intake.p99_ms@50/s",
        "intake.p50_ms@50/s",
        "forward.lag_p99_ms@50/s",
        "intake_pg.throughput_eps@burst",
        "intake_pg.p99_ms@50/s",
        "intake_pg.p50_ms@50/s",
    }
    for f in figures.values():
        assert f.runs and all(r > 0 and math.isfinite(r) for r in f.runs), f
        assert f.notes == [], f.notes  # every event stored and answered, on both stores
    assert figures["intake.throughput_eps@burst"].target is not None
    assert figures["intake.throughput_eps@burst"].target.bound == 400
    assert figures["forward.lag_p99_ms@50/s"].target is not None
    assert "| intake_pg.p99_ms@50/s |" in intake.NOTES
