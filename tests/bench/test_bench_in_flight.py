"""``bench.in_flight`` at Size.TINY: the figures come back, named and sane (no timing)."""

from __future__ import annotations

from bench import in_flight
from bench.results import Size


async def test_in_flight_tiny_gives_its_figures() -> None:
    figures = {f.name: f for f in await in_flight.run(Size.TINY)}
    assert set(figures) == {
        "in flight: worker RSS, customers open",
        "in flight: Temporal server RSS",
        "in flight: database size",
        "in flight: time to start them all",
        "in flight: time until the worker is idle",
        "in flight: health sweep wall time",
        "in flight: worker RSS during the health sweep",
    }
    for name in (
        "in flight: worker RSS, customers open",
        "in flight: worker RSS during the health sweep",
    ):
        f = figures[name]
        assert f.unit == "MB" and 20 < f.value < 10_000, (name, f.value)
        assert f.target is not None and f.target.bound == 300
    assert figures["in flight: Temporal server RSS"].value > 10
    assert figures["in flight: database size"].unit == "MB"
    assert figures["in flight: database size"].value > 0
    starts, idle = (
        figures[f"in flight: time {n}"].value
        for n in ("to start them all", "until the worker is idle")
    )
    assert 0 < starts <= idle
    assert figures["in flight: health sweep wall time"].value > 0
    (note,) = figures["in flight: health sweep wall time"].notes
    assert f"{in_flight.CUSTOMERS[Size.TINY] + 10} companies scored" in note
    opened = figures["in flight: worker RSS, customers open"].notes[0]
    count = int(opened.split()[0].replace(",", ""))
    assert count >= 2 * in_flight.CUSTOMERS[Size.TINY], opened  # journeys and renewals
