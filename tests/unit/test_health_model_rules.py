"""Health model rules a model file can get wrong, on models built here: threshold steps
in both directions (strict before inclusive bounds), the messages that name the mistake,
band lookups, the model chosen per tier, and CRM values read as inputs (dates, epoch
milliseconds, ratings). Pure: no files, no server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from domain.health_model import (
    HealthCategory,
    HealthModel,
    HealthModels,
    HealthModelsConfig,
    Metric,
    Step,
    inputs_from_properties,
)
from domain.health_scoring import score_metric

BANDS: list[dict[str, Any]] = [
    {"category": "healthy", "label": "Healthy", "at_least": 80},
    {"category": "good", "label": "Good", "at_least": 60},
    {"category": "at_risk", "label": "At risk", "at_least": 40},
    {"category": "critical", "label": "Critical", "at_least": 0},
]


def metric(steps: list[dict[str, float]], input_: str = "critical_tickets_open") -> Metric:
    return Metric.model_validate({"name": "m", "input": input_, "thresholds": steps})


# ------------------------------------------------------------------ threshold steps
@pytest.mark.parametrize(
    "steps",
    [
        [{"above": 80, "score": 100}, {"at_least": 80, "score": 90}, {"above": 50, "score": 50}],
        [{"at_least": 80, "score": 100}, {"above": 79, "score": 90}],
        [{"below": 1, "score": 100}, {"at_most": 1, "score": 80}, {"below": 3, "score": 40}],
        [{"at_most": 0, "score": 100}, {"below": 2, "score": 60}, {"at_most": 2, "score": 30}],
    ],
    ids=["> 80 then >= 80", ">= 80 then > 79", "< 1 then <= 1", "<= 0, < 2, <= 2"],
)
def test_strict_bounds_come_before_inclusive_ones(steps: list[dict[str, float]]) -> None:
    assert len(metric(steps).thresholds or []) == len(steps)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "Value error, thresholds: give at least one step \\["),
        ([{"at_least": 80, "score": 100}, {"above": 80, "score": 90}],
         "thresholds\\[1\\]: > 80 after >= 80; bounds must be strictly descending"),
        ([{"at_least": 50, "score": 100}, {"at_least": 80, "score": 90}],
         "thresholds\\[1\\]: >= 80 after >= 50; bounds must be strictly descending"),
        ([{"at_most": 1, "score": 100}, {"below": 1, "score": 80}],
         "thresholds\\[1\\]: < 1 after <= 1; bounds must be strictly ascending"),
        ([{"at_most": 2, "score": 100}, {"at_most": 2, "score": 80}],
         "thresholds\\[1\\]: <= 2 after <= 2; bounds must be strictly ascending"),
        ([{"below": 5, "score": 100}, {"below": 3, "score": 80}],
         "thresholds\\[1\\]: < 3 after < 5; bounds must be strictly ascending"),
        ([{"at_most": 1, "score": 100}, {"at_least": 3, "score": 0}],
         "thresholds\\[1\\]: mixes at_least/above with at_most/below; one direction per metric"),
    ],
)  # fmt: skip
def test_badly_ordered_steps_are_refused_with_what_is_wrong(
    steps: list[dict[str, float]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        metric(steps)


@pytest.mark.parametrize(
    ("step", "key", "text", "matches"),
    [
        ({"at_least": 5, "score": 1}, (5, 0), ">= 5", (False, True, True)),
        ({"above": 5, "score": 1}, (5, 1), "> 5", (False, False, True)),
        ({"at_most": 5, "score": 1}, (5, 1), "<= 5", (True, True, False)),
        ({"below": 5, "score": 1}, (5, 0), "< 5", (True, False, False)),
    ],
)
def test_step_keys_texts_and_matches(
    step: dict[str, float], key: tuple[float, int], text: str, matches: tuple[bool, ...]
) -> None:
    s = Step.model_validate(step)
    assert s.order_key() == key
    assert s.text() == text
    assert (s.matches(4.99), s.matches(5), s.matches(5.01)) == matches


def test_lower_is_better_rules_read_in_explain() -> None:
    m = metric([{"at_most": 0, "score": 100}, {"below": 3, "score": 50}])
    inputs = inputs_from_properties({"cshub_critical_tickets_open": "2"})
    assert score_metric(m, inputs).rule == "< 3 → 50"
    inputs = inputs_from_properties({"cshub_critical_tickets_open": "0"})
    assert score_metric(m, inputs).rule == "<= 0 → 100"


# ------------------------------------------------------------------ bands and models
def model(**changes: Any) -> HealthModel:
    raw: dict[str, Any] = {
        "name": "m",
        "version": 1,
        "dimensions": [
            {
                "name": "d",
                "weight": 1,
                "metrics": [
                    {"name": "x", "input": "nps", "thresholds": [{"at_least": 9, "score": 100}]}
                ],
            }
        ],
        "bands": BANDS,
    }
    return HealthModel.model_validate({**raw, **changes})


def test_band_lookup() -> None:
    m = model()
    for band in BANDS:
        found = m.band(HealthCategory(band["category"]))
        assert found is not None and found.label == band["label"]
    assert m.band(HealthCategory.UNKNOWN) is None


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ([], "need exactly the bands healthy, good, at_risk, critical, best first; got none"),
        ([BANDS[1], BANDS[0], *BANDS[2:]],
         "need exactly the bands healthy, good, at_risk, critical, best first; "
         "got good, healthy, at_risk, critical"),
    ],
)  # fmt: skip
def test_bands_out_of_order_are_listed(bands: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        model(bands=bands)


DIMENSION: dict[str, Any] = {
    "name": "d",
    "weight": 0.5,
    "metrics": [{"name": "x", "input": "nps", "thresholds": [{"at_least": 9, "score": 100}]}],
}


@pytest.mark.parametrize(
    ("dimensions", "message"),
    [
        ([DIMENSION, {**DIMENSION, "weight": 0.25}, {**DIMENSION, "name": "e", "weight": 0.25}],
         "dimension names repeat: d"),
        ([{**DIMENSION, "name": n, "weight": 0.25} for n in ("b", "a", "b", "a")],
         "dimension names repeat: a, b"),
        ([{**DIMENSION, "weight": 1, "metrics": [*DIMENSION["metrics"], *DIMENSION["metrics"]]}],
         "metric names repeat: x"),
    ],
)  # fmt: skip
def test_a_name_given_twice_is_refused_naming_it(
    dimensions: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        model(dimensions=dimensions)
    assert [e["msg"] for e in refused.value.errors()] == [f"Value error, {message}"]


def test_distinct_names_pass() -> None:
    dimensions = [DIMENSION, {**DIMENSION, "name": "e"}]
    assert [d.name for d in model(dimensions=dimensions).dimensions] == ["d", "e"]


def test_the_model_per_tier() -> None:
    models = HealthModels(
        config=HealthModelsConfig(default="m", tiers={"enterprise": "e"}),
        models={"m": model(), "e": model(name="e")},
    )
    assert models.name_for("enterprise") == "e"
    assert models.name_for("starter") == "m"  # a tier not listed: the default
    assert models.name_for("gold") == "m"  # not a tier at all
    assert models.name_for(None) == "m"
    assert models.for_tier("enterprise").name == "e"
    assert models.for_tier("community").name == "m"


# ------------------------------------------------------------------ CRM values
AS_OF = datetime(2027, 1, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "days"),
    [
        ("2027-01-01T12:00:00Z", 9),
        ("2027-01-01T12:00:01Z", 8),  # not yet nine whole days
        ("2027-01-01T21:00:00+09:00", 9),  # 12:00 UTC
        ("2027-01-01", 9),  # a date: midnight UTC
        (str(int(datetime(2027, 1, 1, 12, tzinfo=UTC).timestamp() * 1000)), 9),
        (str(int(datetime(2027, 1, 1, 12, 0, 1, tzinfo=UTC).timestamp() * 1000)), 8),
        ("2027-02-01T00:00:00Z", 0),  # in the future: today
        ("yesterday", None),
        ("99999999999999999999", None),  # epoch milliseconds out of range
    ],
)
def test_days_since_the_last_touch(raw: str, days: float | None) -> None:
    inputs = inputs_from_properties({"notes_last_contacted": raw}, as_of=AS_OF)
    assert inputs.days_since_csm_touch == days


def test_unknown_ratings_and_bad_numbers_are_missing() -> None:
    inputs = inputs_from_properties(
        {
            "cshub_health_engagement": "superb",
            "cshub_health_feedback": "POOR",
            "cshub_login_days_30d": "40",  # more than 31 days: out of range
            "cshub_active_users": "12",
        }
    )
    assert inputs.engagement_rating is None
    assert inputs.feedback_rating == "poor"
    assert inputs.login_days_last_30 is None
    assert inputs.active_users == 12
