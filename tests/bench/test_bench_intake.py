"""``bench.intake`` runs end to end at ``Size.TINY`` on both stores (with a Temporal outage
of two seconds on SQLite); its figures come back complete. No timing is judged here, but
nothing may be refused or lost while Temporal is down."""

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
        "intake.outage_non_2xx",
        "intake.outage_lost",
        "intake.outage_drain_s",
        "intake.cpu_ms_forwarded@burst",
        "intake.cpu_ms_per_delivery",
        "intake.alone_throughput_eps@burst",
        "intake_pg.cpu_ms_forwarded@burst",
        "intake_pg.cpu_ms_per_delivery",
        "intake_pg.alone_throughput_eps@burst",
    }
    outage = {name: figures.pop(name) for name in list(figures) if ".outage_" in name}
    assert outage["intake.outage_non_2xx"].runs == [0.0]
    assert outage["intake.outage_lost"].runs == [0.0]
    assert "40 events" in outage["intake.outage_lost"].description  # 2 s at 20/s
    for f in figures.values():
        assert f.runs and all(r > 0 and math.isfinite(r) for r in f.runs), f
        # every event stored and answered, on both stores: the only note is the load
        assert [n for n in f.notes if not n.startswith("load average")] == [], f.notes
    assert figures["intake.throughput_eps@burst"].target is not None
    assert figures["intake.throughput_eps@burst"].target.bound == 400
    assert figures["forward.lag_p99_ms@50/s"].target is not None
    assert "| intake_pg.p99_ms@50/s |" in intake.NOTES
    assert all(any(n.startswith("load average") for n in f.notes) for f in figures.values())


def test_bench_settings_reach_the_benchmarks_that_take_them() -> None:
    from bench.__main__ import parse_settings

    got = parse_settings(["customers=100000", "outage_s=30"], ["in_flight", "intake"])
    assert got == {"in_flight": {"customers": 100000}, "intake": {"outage_s": 30}}
    try:
        parse_settings(["nonsense=1"], ["intake"])
    except ValueError as err:
        assert "nonsense" in str(err)
    else:
        raise AssertionError("an unknown setting was accepted")
