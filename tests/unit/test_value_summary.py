"""domain.value_summary: the renewal reminder's facts from the hub's own data, and
nothing where the hub has no data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from domain.risk_detectors import weeks_back
from domain.value_summary import ActionFact, build_value_summary, usage_change

AT = datetime(2026, 6, 10, 12, tzinfo=UTC)


def fact(wid: str, days_ago: float, **kw: str) -> ActionFact:
    return ActionFact(workflow_id=wid, last_at=AT - timedelta(days=days_ago), **kw)


def test_nothing_known_is_empty() -> None:
    summary = build_value_summary({"cshub_usage_summary": "demo text"}, [], AT)
    assert summary.empty and summary.milestones == [] and summary.health_score is None


def test_usage_trend_is_the_last_four_weeks_against_the_four_before() -> None:
    series = {weeks_back(AT, i): (110.0 if i < 4 else 100.0) for i in range(8)}
    assert usage_change(json.dumps(series), AT) == 10.0
    recent_only = {weeks_back(AT, i): 5.0 for i in range(4)}
    assert usage_change(json.dumps(recent_only), AT) is None  # nothing to compare with
    assert usage_change("not json", AT) is None


def test_milestones_tickets_and_figures() -> None:
    rows = [
        fact("onboarding-1", 50, step="milestone:b", summary="milestone reached: B (signal)"),
        fact("onboarding-1", 60, step="milestone:a", summary="milestone reached (late): A (x)"),
        fact("onboarding-1", 55, step="milestone:c", summary="milestone met", outcome="failed"),
        fact("ticket-sla-1", 5, step="ack"),
        fact("ticket-sla-2", 5, kind="sla_breach"),
        fact("ticket-sla-3", 45, kind="sla_breach"),  # before the 30 days
    ]
    props = {
        "cshub_workflow_runs": "420",
        "cshub_workflow_limit": "",
        "cshub_nps_last_score": "11",  # not a 0-10 answer: left out
        "cshub_health_score": "0",
        "cshub_health_previous_score": "12",
    }
    s = build_value_summary(props, rows, AT)
    assert s.milestones == ["A", "B"]
    assert (s.tickets_tracked, s.tickets_within_sla) == (2, 1)
    assert (s.workflow_runs, s.workflow_limit) == (420, None)
    assert s.nps is None and s.csat_percent is None
    assert (s.health_score, s.health_previous) == (0.0, 12.0)
    assert not s.empty
