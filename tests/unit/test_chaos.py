"""make chaos's own logic: who the customers are, what is sent, and the verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cshub.chaos.portfolio import afternoon_zone, customers
from cshub.chaos.run import Figures, table
from cshub.chaos.senders import outcomes_of, portfolio_events


def figures(**overrides: object) -> Figures:
    values: dict[str, object] = {
        "customers": 4,
        "seconds": 100.0,
        "worker_sigkills": 2,
        "temporal_outages": 1,
        "slack_outage_s": 60.0,
        "emulator_faults": {"hubspot": {"429": 2, "timeout": 1}},
        "events_sent": 8,
        "deliveries": 16,
        "attempts": 20,
        "answers": {"200": 8, "202": 8, "503": 4},
        "events_acted_on": 8,
        "events_lost": 0,
        "emails_expected": 6,
        "emails_delivered": 6,
        "emails_duplicated": 0,
        "alerts_expected": 3,
        "alerts_delivered": 3,
        "alerts_duplicated": 0,
        "tasks_expected": 1,
        "tasks_delivered": 1,
        "tasks_duplicated": 0,
        "workflows_failed": 0,
        "ops_alerts": 0,
    }
    values.update(overrides)
    return Figures(**values)  # type: ignore[arg-type]


def test_a_clean_run_reads_zero_lost_duplicated_failed() -> None:
    f = figures()
    assert f.clean
    assert "RESULT: 0 lost, 0 duplicated, 0 failed" in table(f)
    assert "NOT CLEAN" not in table(f)


def test_every_kind_of_shortfall_spoils_the_verdict() -> None:
    for change, verdict in [
        ({"emails_delivered": 5}, "1 lost, 0 duplicated, 0 failed"),
        ({"events_lost": 1, "events_acted_on": 7}, "1 lost, 0 duplicated, 0 failed"),
        ({"alerts_duplicated": 2}, "0 lost, 2 duplicated, 0 failed"),
        ({"tasks_delivered": 0}, "1 lost, 0 duplicated, 0 failed"),
        ({"workflows_failed": 1}, "0 lost, 0 duplicated, 1 failed"),
        ({"ops_alerts": 1}, "0 lost, 0 duplicated, 1 failed"),
    ]:
        f = figures(**change)
        assert not f.clean, change
        assert f"RESULT: {verdict}   <-- NOT CLEAN" in table(f), change


def test_customers_are_in_early_afternoon_so_no_email_waits_for_morning() -> None:
    for hour in range(24):
        now = datetime(2026, 11, 23, hour, 17, tzinfo=UTC)
        local = now.astimezone(ZoneInfo(afternoon_zone(now)))
        assert 11 <= local.hour <= 14, (hour, local)


def test_every_event_keeps_its_id_across_deliveries_and_half_get_dunning() -> None:
    portfolio = customers(4)
    assert [c.dunning for c in portfolio] == [True, False, True, False]
    events = portfolio_events(portfolio, {"hubspot": "h", "stripe": "s"}, "http://api")
    assert len(events) == 4 + 2 * 2
    for event in events:
        first, again = event.sign(), event.sign()
        assert json.loads(first.body) == json.loads(again.body)  # a redelivery, not a new event
    workflows = sorted({e.workflow_id for e in events})
    assert workflows == sorted(
        [f"onboarding-{c.company_id}" for c in portfolio]
        + [f"dunning-{c.company_id}" for c in portfolio if c.dunning]
    )


def test_outcomes_are_read_from_single_and_batch_answers() -> None:
    assert outcomes_of({"outcome": "accepted"}) == ["accepted"]
    assert outcomes_of({"results": [{"outcome": "duplicate"}], "counts": {}}) == ["duplicate"]
    assert outcomes_of("not json") == ["-"]


def test_recovery_delay_is_measured_from_the_end_of_the_outage_and_judged() -> None:
    from cshub.chaos.run import recovery_delays, summarise_recovery

    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp()
    end = start + 60

    def at(seconds: float) -> str:
        when = datetime.fromtimestamp(start + seconds, UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    rows = [
        ("slack", "csm_alert", 4, at(10), at(75)),  # held up: 15 s after Slack came back
        ("slack", "csm_alert", 5, at(30), at(85)),  # 25 s
        ("slack", "csm_alert", 1, at(70), at(70)),  # first try after the outage: not held
        ("slack", "sla_breach", 9, at(20), at(60 + 690)),  # 11.5 minutes: late
        ("email", "welcome", 3, at(5), at(90)),  # no e-mail outage: not counted
    ]
    delays = recovery_delays(rows, {"slack": (start, end)})
    summary = summarise_recovery(delays)
    assert summary["slack:csm_alert"] == {"n": 2, "p50_s": 20.0, "max_s": 25.0}
    assert summary["slack:sla_breach"]["max_s"] == 690.0
    assert "email:welcome" not in summary
    late = ["slack:sla_breach delivered 690 s after its outage ended (limit 60 s)"]
    f = figures(recovery=summary, recovery_late=late, problems=late)
    assert not f.clean
    text = table(f)
    assert "after outage: slack:csm_alert" in text and "p50 20 s, max 25 s" in text
    assert "1 time-critical effects late after recovery" in text
    assert figures(recovery={"slack:csm_alert": summary["slack:csm_alert"]}).clean


def test_multi_replica_runs_fail_on_any_non_2xx_answer() -> None:
    ok = figures(replicas=2, api_sigkills=1, non_2xx_answers=0, answers={"200": 8, "202": 8})
    assert ok.clean
    text = table(ok)
    assert "2 APIs, 2 workers" in text and "API SIGKILLs 1" in text
    assert not figures(replicas=2, api_sigkills=1, non_2xx_answers=3).clean
    # One replica: a 503 while the store could not write is reported, not judged.
    assert figures(non_2xx_answers=3).clean
