"""``bench.time_to_action`` runs end to end at ``Size.TINY``: every webhook led to its
e-mail / Slack message and the figures come back complete. No timing is judged here."""

from __future__ import annotations

import math

from bench import time_to_action
from bench.results import Size


async def test_time_to_action_tiny_run_returns_its_figures() -> None:
    figures = {f.name: f for f in await time_to_action.run(Size.TINY)}
    assert set(figures) == {
        "time_to_action.deal_won_to_email.p50_ms",
        "time_to_action.deal_won_to_email.p99_ms",
        "time_to_action.critical_ticket_to_slack.p50_ms",
        "time_to_action.critical_ticket_to_slack.p99_ms",
    }
    for f in figures.values():
        assert f.unit == "ms"
        assert f.runs and all(r > 0 and math.isfinite(r) for r in f.runs), f
        assert f.baseline_runs is None
    for name in (
        "time_to_action.deal_won_to_email.p50_ms",
        "time_to_action.critical_ticket_to_slack.p50_ms",
    ):
        target = figures[name].target
        assert target is not None and target.kind == "at_most" and target.bound == 1000
    assert "welcome e-mail" in time_to_action.NOTES
