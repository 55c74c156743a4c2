"""Risk detectors on tables of worked examples: the edges of every threshold, small
volumes, flapping around a threshold, retries and baselines (``domain/risk_detectors``,
``playbooks/risk/detectors.yaml``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from domain import risk_detectors as rd
from domain.churn import RiskFactor
from domain.risk_detectors import Detector, Reading
from playbooks.loader import PlaybookError, load_detector_rules

AT = datetime(2026, 12, 9, 6, 0, tzinfo=UTC)  # a Wednesday
RULES = load_detector_rules()


def weekly(current: float | None, baseline: list[float], at: datetime = AT) -> dict[str, float]:
    """This week's figure and the baseline weeks (4, 5, 6, 7 weeks ago)."""
    series = {rd.weeks_back(at, 4 + i): v for i, v in enumerate(baseline)}
    if current is not None:
        series[rd.weeks_back(at, 0)] = current
    return series


@pytest.mark.parametrize(
    ("current", "baseline", "reading", "words"),
    [
        (14, [20, 20, 20, 20], Reading.RAISE, "down 30 %"),  # exactly 30 %: raised
        (14.2, [20, 20, 20, 20], Reading.HOLD, "down 29 %"),  # just under: holds only
        (17, [20, 20, 20, 20], Reading.HOLD, "down 15 %"),  # the clear edge still holds
        (17.2, [20, 20, 20, 20], Reading.CLEAR, "down 14 %"),
        (25, [20, 20, 20, 20], Reading.CLEAR, "up 25 %"),
        (0, [4, 4, 4, 4], Reading.CLEAR, "under the minimum volume 5"),  # small account
        (0, [5, 5, 5, 5], Reading.RAISE, "down 100 %"),  # the minimum itself counts
        (7, [10, 10, 10], Reading.RAISE, "3 weeks"),  # 3 of 4 weeks recorded is enough
        (7, [10, 10], Reading.UNKNOWN, "2 of 4 baseline weeks"),
        (None, [20, 20, 20, 20], Reading.UNKNOWN, "no cshub_active_users figure"),
    ],
)
def test_usage_drop_against_the_customers_own_baseline(
    current: float | None, baseline: list[float], reading: Reading, words: str
) -> None:
    assert RULES.usage_drop is not None
    got, evidence = rd.usage_drop(weekly(current, baseline), AT, RULES.usage_drop)
    assert (got, words in evidence) == (reading, True), evidence


def test_the_recent_weeks_do_not_dilute_the_baseline() -> None:
    """A slow slide over the last 4 weeks is measured against the weeks before it."""
    assert RULES.usage_drop is not None
    series = weekly(13, [20, 20, 20, 20])
    series.update({rd.weeks_back(AT, n): v for n, v in ((1, 14), (2, 16), (3, 18))})
    got, evidence = rd.usage_drop(series, AT, RULES.usage_drop)
    assert got is Reading.RAISE and "baseline of 20" in evidence


@pytest.mark.parametrize(
    ("last", "prev", "reading"),
    [
        (6, 3, Reading.RAISE),  # 2x and 3+: the threshold itself
        (3, 0, Reading.RAISE),  # from nothing to 3
        (5, 3, Reading.HOLD),  # 1.67x: keeps a raised spike, never raises one
        (2, 0, Reading.HOLD),  # 2 tickets: too few to raise
        (2, 1, Reading.HOLD),
        (4, 3, Reading.CLEAR),  # 1.33x
        (1, 0, Reading.CLEAR),
        (0, 0, Reading.CLEAR),
        (40, 25, Reading.HOLD),  # a big account's busy month is not a spike
        (None, 3, Reading.UNKNOWN),
    ],
)
def test_support_spike_last_30_days_against_the_30_before(
    last: float | None, prev: float | None, reading: Reading
) -> None:
    assert RULES.support_spike is not None
    assert rd.support_spike(last, prev, RULES.support_spike)[0] is reading


def sentiment(*labels: str, days_ago: int = 1) -> str:
    """Texts one day apart, the last ``days_ago`` days before AT."""
    n = len(labels)
    return json.dumps(
        [
            {
                "at": (AT - timedelta(days=days_ago + n - 1 - i)).isoformat(),
                "label": label,
                "quote": f"text {i}",
            }
            for i, label in enumerate(labels)
        ]
    )


@pytest.mark.parametrize(
    ("raw", "reading"),
    [
        (sentiment("negative", "negative", "negative"), Reading.RAISE),
        (sentiment("positive", "negative", "negative", "negative"), Reading.RAISE),
        (sentiment("negative", "negative"), Reading.HOLD),  # a streak of 2 only holds
        (sentiment("negative", "negative", "positive"), Reading.CLEAR),
        (sentiment("negative", "negative", "negative", days_ago=61), Reading.CLEAR),  # old
        ("", Reading.CLEAR),
        ("not json", Reading.CLEAR),
    ],
)
def test_negative_sentiment_streak(raw: str, reading: Reading) -> None:
    assert RULES.negative_sentiment is not None
    entries = rd.parse_sentiment(raw)
    assert rd.sentiment_streak(entries, AT, RULES.negative_sentiment)[0] is reading


@pytest.mark.parametrize(
    ("status", "reading"),
    [("past_due", Reading.RAISE), ("failed", Reading.RAISE), ("current", Reading.CLEAR)],
)
def test_payment_trouble(status: str, reading: Reading) -> None:
    assert RULES.payment_trouble is not None
    assert rd.payment_trouble(status, RULES.payment_trouble)[0] is reading
    assert rd.payment_trouble("", RULES.payment_trouble)[0] is Reading.UNKNOWN


def sweeps(
    props: dict[str, str | None], changes: list[dict[str, str]], every: timedelta
) -> list[list[rd.RiskRaise]]:
    """Run the detectors sweep after sweep, writing back what each sweep writes."""
    out: list[list[rd.RiskRaise]] = []
    for n, change in enumerate(changes):
        props.update(change)
        verdict = rd.evaluate(props, RULES, AT + n * every)
        props.update(verdict.properties)
        out.append(verdict.raised)
    return out


def test_a_spike_flapping_around_its_threshold_is_announced_once_per_episode() -> None:
    counts = [(6, 3), (5, 3), (6, 3), (7, 3), (4, 3), (6, 2), (6, 2)]
    raised = sweeps(
        {},
        [{rd.TICKETS_30D: str(a), rd.TICKETS_PREV_30D: str(b)} for a, b in counts],
        timedelta(days=1),
    )
    assert [len(r) for r in raised] == [1, 0, 0, 0, 0, 1, 0]
    first, second = raised[0][0], raised[5][0]
    assert first.factor is RiskFactor.SUPPORT_SPIKE
    assert "6 tickets in the last 30 days against 3" in first.evidence
    assert first.event_id != second.event_id  # a new episode: announced anew


def test_usage_drop_flapping_week_by_week_is_announced_once_per_episode() -> None:
    """The sweep records the figure week by week; a baseline of 20, then 13 (raised),
    15 and 13 again (the same episode), 18 (cleared), 12 (a new episode: against a
    baseline of 18.25, the first low week now part of it)."""
    figures = [20, 20, 20, 20, 13, 15, 13, 18, 12]
    start = AT - timedelta(weeks=4)
    series = {rd.weeks_back(start, 1 + i): 20.0 for i in range(8)}
    props: dict[str, str | None] = {rd.USAGE_WEEKLY: json.dumps(series)}
    announced = []
    for n, figure in enumerate(figures):
        at = start + timedelta(weeks=n)
        props["cshub_active_users"] = str(figure)
        verdict = rd.evaluate(props, RULES, at)
        props.update(verdict.properties)
        announced.append([r.detector for r in verdict.raised])
    assert announced == [[], [], [], [], [Detector.USAGE_DROP], [], [], [], [Detector.USAGE_DROP]]
    kept = json.loads(props[rd.USAGE_WEEKLY] or "{}")
    assert len(kept) == 9  # this week and 8 more: older weeks are dropped


def test_a_retried_sweep_announces_the_same_episode_again_and_a_baseline_none() -> None:
    props: dict[str, str | None] = {rd.PAYMENT_STATUS: "past_due"}
    first = rd.evaluate(props, RULES, AT)
    props.update(first.properties)
    retry = rd.evaluate(props, RULES, AT)  # the same sweep, after it wrote
    assert [r.event_id for r in retry.raised] == [r.event_id for r in first.raised]
    assert len(first.raised) == 1
    assert rd.evaluate(props, RULES, AT + timedelta(days=1)).raised == []
    quiet = rd.evaluate({rd.PAYMENT_STATUS: "failed"}, RULES, AT, quiet=True)
    assert quiet.raised == [] and quiet.properties[rd.since_property(Detector.PAYMENT_TROUBLE)]
    assert quiet.properties[rd.ACTIVE_SIGNS] == "payment_trouble"


def test_missing_data_keeps_an_episode_as_it_is() -> None:
    props: dict[str, str | None] = {rd.TICKETS_30D: "9", rd.TICKETS_PREV_30D: "1"}
    raised = sweeps(props, [{}, {rd.TICKETS_30D: ""}, {rd.TICKETS_30D: "9"}], timedelta(days=1))
    assert [len(r) for r in raised] == [1, 0, 0]


def test_a_champion_change_is_raised_once_and_lapses_after_its_window() -> None:
    props: dict[str, str | None] = {rd.CHAMPION_ID: "c-1"}
    raised = sweeps(
        props,
        [{}, {rd.CHAMPION_ID: "c-2"}, {}, {}],
        timedelta(days=30),
    )
    assert [len(r) for r in raised] == [0, 1, 0, 0]  # day 30 changed; day 90: lapsed
    assert props[rd.since_property(Detector.CHAMPION_CHANGE)] == ""
    assert "now contact c-2" in raised[1][0].evidence
    bounced = rd.evaluate({rd.CHAMPION_ID: "c-2", rd.CHAMPION_STATUS: "bouncing"}, RULES, AT)
    assert [r.factor for r in bounced.raised] == [RiskFactor.CHAMPION_CHANGE]


def test_bad_thresholds_are_refused_naming_the_field(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "risk").mkdir()
    (root / "risk" / "detectors.yaml").write_text(
        "name: detectors\nversion: 1\nusage_drop: {raise_at_drop: 0.1, clear_below_drop: 0.2}\n"
        "support_spike: {raise_ratio: 0.5}\n"
    )
    with pytest.raises(PlaybookError) as err:
        load_detector_rules(root)
    text = str(err.value)
    assert "usage_drop" in text and "clear_below_drop must not be above" in text
    assert "support_spike.raise_ratio" in text
