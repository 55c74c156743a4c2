"""``bench.hot_customers`` at Size.TINY: every figure present, sane, and the correctness
figures (nothing lost, the held welcome once, no refused continue-as-new, histories
under Temporal's warning) met; timings are reported, not asserted."""

from __future__ import annotations

from bench import hot_customers
from bench.results import Size


async def test_hot_customers_tiny_gives_every_figure() -> None:
    figures = {f.name: f for f in await hot_customers.run(Size.TINY)}
    assert set(figures) == {
        "hot.simulated_day.largest_history",
        "hot.simulated_day.refused_continue_as_new",
        "hot.simulated_day.events_lost",
        "hot.simulated_day.journeys_without_one_welcome",
        "hot.real_time.api_p99_ms",
        "hot.real_time.api_max_ms",
        "hot.real_time.slowest_workflow_task_s",
        "hot.real_time.refused_continue_as_new",
        "hot.real_time.largest_history",
        "hot.real_time.cpu_per_event_trend_pct",
    }
    for name in (
        "hot.simulated_day.largest_history",
        "hot.simulated_day.events_lost",
        "hot.simulated_day.journeys_without_one_welcome",
        "hot.real_time.largest_history",
    ):
        assert figures[name].meets_target, (name, figures[name].value, figures[name].notes)
    # 324,000 events per customer in 9 simulated hours reach each journey as a few dozen
    # signals, and the journeys hold them all (with what the ingress still counts).
    notes = figures["hot.simulated_day.largest_history"].notes[0]
    assert "(= sent: True)" in notes, notes
    assert figures["hot.simulated_day.largest_history"].value < 1_000
    assert figures["hot.real_time.api_p99_ms"].value > 0
    assert "0 not 2xx" in figures["hot.real_time.api_p99_ms"].notes[0]
