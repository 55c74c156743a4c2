"""``bench.history`` at Size.TINY: a figure per workflow type, named and sane."""

from __future__ import annotations

from bench import history
from bench.results import Size
from workflows.registry import WORKFLOWS


async def test_history_tiny_gives_a_figure_per_workflow_type() -> None:
    figures = {f.name: f for f in await history.run(Size.TINY)}
    names = [getattr(wf, "__temporal_workflow_definition").name for wf in WORKFLOWS]
    assert set(figures) == {f"history: {n}, most events in one run" for n in names}
    for f in figures.values():
        assert f.unit == "events" and f.value >= 0
        assert f.target is not None and f.target.bound is not None
        assert f.meets_target, f.name
    assert figures["history: RenewalWorkflow, most events in one run"].target.bound == 2000  # type: ignore[union-attr]
    # What the first twelve days hold: the journey, the renewal countdown, NPS, a ticket
    # and its survey, daily sweeps and usage snapshots, a digest.
    for name in (
        "OnboardingWorkflow",
        "RenewalWorkflow",
        "NpsSurveyWorkflow",
        "TicketSlaWorkflow",
        "CsatSurveyWorkflow",
        "HealthSweepWorkflow",
        "HealthSweepPageWorkflow",
        "HealthDigestWorkflow",
        "UsageSnapshotWorkflow",
    ):
        f = figures[f"history: {name}, most events in one run"]
        assert f.value > 5, name
    sweeps = figures["history: HealthSweepWorkflow, most events in one run"]
    assert f"runs in the year: {history.DAYS[Size.TINY]}" in sweeps.notes
