"""Health model files: the shipped models, validation errors naming file and field, the
per-tier selection, and reading inputs from CRM properties."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.health_model import (
    INPUT_PROPERTIES,
    INPUTS,
    HealthInputs,
    InputKind,
    Rating,
    inputs_from_properties,
)
from domain.tiers import Tier
from playbooks.loader import (
    PACKAGE_DIR,
    PlaybookError,
    health_dir,
    load_health_model,
    load_health_models,
    validate_all,
)

HEALTH = PACKAGE_DIR / "health"


def test_shipped_models() -> None:
    models = load_health_models()
    s1, s3 = models.models["seed001"], models.models["seed003"]
    assert {d.name: d.weight for d in s1.dimensions} == {
        "product_usage": 0.30,
        "business_value": 0.25,
        "engagement": 0.20,
        "technical_health": 0.15,
        "growth_potential": 0.10,
    }
    assert [(b.label, b.at_least) for b in s1.bands] == [
        ("Healthy", 85),
        ("Good", 70),
        ("At risk", 50),
        ("Critical", 0),
    ]
    assert {d.name: d.weight for d in s3.dimensions} == {
        "usage": 0.40,
        "engagement": 0.30,
        "satisfaction": 0.20,
        "payment": 0.10,
    }
    assert [(b.label, b.at_least) for b in s3.bands] == [
        ("Healthy", 80),
        ("Neutral", 60),
        ("At risk", 40),
        ("Critical", 0),
    ]
    assert s1.version >= 1 and s3.version >= 1
    payment = s3.dimensions[-1].metrics[0]
    assert payment.boolean is not None and payment.inputs == ["payment_current"]


def test_model_per_tier() -> None:
    models = load_health_models()
    assert models.name_for(Tier.COMMUNITY) == "seed003"
    assert models.name_for("starter") == "seed003"
    assert models.for_tier(Tier.PROFESSIONAL).name == "seed001"
    assert models.for_tier("enterprise").name == "seed001"
    assert models.name_for(None) == models.config.default == "seed001"
    assert models.for_tier(Tier.AGENCY).name == "seed002"  # seed 002's plan, its own model
    assert models.name_for("gold") == "seed001"  # unknown tier → default


def test_input_properties_cover_every_input() -> None:
    assert list(INPUT_PROPERTIES) == list(HealthInputs.model_fields)
    hubspot_own = {"notes_last_contacted"}  # HubSpot keeps it: "Last contacted"
    assert all(p.startswith("cshub_") or p in hubspot_own for p in INPUT_PROPERTIES.values())
    assert len(set(INPUT_PROPERTIES.values())) == len(INPUT_PROPERTIES)
    assert INPUT_PROPERTIES["nps"] == "cshub_nps_last_score"  # 0-10, not the company NPS
    assert INPUT_PROPERTIES["payment_current"] == "cshub_payment_status"
    models = [load_health_model(name) for name in ("seed001", "seed003")]
    used = {n for model in models for n in model.inputs}
    used |= {  # read only when no threshold matches (seed 001's "planning expansion")
        m.otherwise_if.input
        for model in models
        for d in model.dimensions
        for m in d.metrics
        if m.otherwise_if is not None
    }
    assert used == set(INPUTS)  # every input feeds a shipped model


def test_inputs_from_properties() -> None:
    inputs = inputs_from_properties(
        {
            "cshub_active_users": "17",
            "cshub_licensed_seats": "20.0",
            "cshub_features_adopted": "",  # blank → missing
            "cshub_workflow_runs": "lots",  # unreadable → missing
            "cshub_nps_last_score": "11",  # out of range → missing
            "cshub_csat_percent": 92.5,  # numbers as numbers too
            "cshub_payment_status": "past_due",
            "cshub_health_integration": " Good ",
            "cshub_health_security": "meh",  # not a rating → missing
            "cshub_roi_percent": "nan",
            "unrelated": "x",
        }
    )
    assert inputs.active_users == 17 and inputs.licensed_seats == 20
    assert inputs.features_adopted is None and inputs.workflow_runs is None
    assert inputs.nps is None and inputs.roi_percent is None
    assert inputs.csat_percent == 92.5
    assert inputs.payment_current is False
    assert inputs.integration_rating is Rating.GOOD
    assert inputs.security_rating is None
    assert inputs_from_properties({"cshub_payment_status": "current"}).payment_current is True
    assert inputs_from_properties({"cshub_payment_status": "weird"}).payment_current is None
    assert inputs_from_properties({}) == HealthInputs()
    kinds = {spec.kind for spec in INPUTS.values()}
    assert kinds == set(InputKind)


# ------------------------------------------------------------------ validation errors
def _model(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((HEALTH / "seed003.yaml").read_text())
    raw.update(changes)
    return raw


def _health_dir(tmp_path: Path, **files: dict[str, Any]) -> Path:
    shutil.copytree(HEALTH, tmp_path / "health")
    for name, content in files.items():
        (tmp_path / "health" / f"{name}.yaml").write_text(yaml.safe_dump(content))
    return tmp_path


def _problems(tmp_path: Path, name: str, content: dict[str, Any]) -> list[tuple[str, str, str]]:
    root = _health_dir(tmp_path, **{name: content})
    with pytest.raises(PlaybookError) as exc:
        load_health_model(name, root)
    return [(p.file.name, p.field, p.message) for p in exc.value.problems]


def _dims(**metric0: Any) -> list[dict[str, Any]]:
    dims: list[dict[str, Any]] = _model()["dimensions"]
    dims[0]["metrics"][0] = {"name": "m", **metric0}
    return dims


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        (
            _model(
                dimensions=[
                    {**d, "weight": 0.35} if d["name"] == "usage" else d
                    for d in _model()["dimensions"]
                ]
            ),
            "dimensions",
            "weights must sum to 1; 0.35 + 0.3 + 0.2 + 0.1 = 0.95",
        ),
        (
            _model(
                bands=[
                    {**b, "at_least": 65} if b["category"] == "at_risk" else b
                    for b in _model()["bands"]
                ]
            ),
            "bands",
            "at_risk: lower bound 65 must be below good's 60",
        ),
        (
            _model(bands=_model()["bands"][:3]),
            "bands",
            "need exactly the bands healthy, good, at_risk, critical",
        ),
        (
            _model(
                bands=[
                    *_model()["bands"][:3],
                    {"category": "critical", "label": "C", "at_least": 5},
                ]
            ),
            "bands",
            "the last band (critical) must start at 0",
        ),
        (
            _model(dimensions=_dims(input="logins", thresholds=[{"at_least": 1, "score": 100}])),
            "dimensions[0].metrics[0].input",
            "unknown input 'logins'",
        ),
        (
            _model(
                dimensions=_dims(
                    input="login_days_last_30",
                    thresholds=[{"at_least": 1, "score": 50}, {"at_least": 4, "score": 100}],
                )
            ),
            "dimensions[0].metrics[0]",
            "thresholds[1]: >= 4 after >= 1; bounds must be strictly descending",
        ),
        (
            _model(
                dimensions=_dims(
                    input="login_days_last_30",
                    thresholds=[{"at_least": 4, "score": 100}, {"at_least": 4, "score": 50}],
                )
            ),
            "dimensions[0].metrics[0]",
            "thresholds[1]: >= 4 after >= 4",
        ),
        (
            _model(
                dimensions=_dims(
                    input="login_days_last_30",
                    thresholds=[{"at_least": 4, "score": 100}, {"at_most": 1, "score": 0}],
                )
            ),
            "dimensions[0].metrics[0]",
            "thresholds[1]: mixes at_least/above with at_most/below",
        ),
        (
            _model(
                dimensions=_dims(
                    input="login_days_last_30",
                    thresholds=[{"at_least": 4, "above": 3, "score": 100}],
                )
            ),
            "dimensions[0].metrics[0].thresholds[0]",
            "give exactly one of at_least, above, at_most, below",
        ),
        (
            _model(
                dimensions=_dims(input="payment_current", thresholds=[{"at_least": 1, "score": 1}])
            ),
            "dimensions[0].metrics[0]",
            "thresholds need a number input; 'payment_current' is a boolean",
        ),
        (
            _model(dimensions=_dims(input="nps", levels={"excellent": 100, "good": 75})),
            "dimensions[0].metrics[0].levels",
            "needs a score for every rating; missing fair, poor",
        ),
        (
            _model(dimensions=_dims(input="nps")),
            "dimensions[0].metrics[0]",
            "give exactly one rule: thresholds, boolean or levels",
        ),
        (
            _model(dimensions=_dims(input="nps", thresholds=[{"at_least": 9, "score": 120}])),
            "dimensions[0].metrics[0].thresholds[0].score",
            "less than or equal to 100",
        ),
        (_model(name="other"), "name", "is 'other'; must match the file name 'broken'"),
        (_model(version=0), "version", "greater than or equal to 1"),
    ],
)
def test_validation_errors_name_the_field(
    tmp_path: Path, content: dict[str, Any], field: str, message: str
) -> None:
    problems = _problems(tmp_path, "broken", {**content, "name": content.get("name", "broken")})
    assert any(f == field and message in m for _, f, m in problems), problems
    assert all(file == "broken.yaml" for file, _, _ in problems)


def test_weights_within_tolerance(tmp_path: Path) -> None:
    # 0.1 + 0.2 + 0.3 + 0.4 is 1.0000000000000002 in floats: accepted.
    dims = _model()["dimensions"]
    for d, w in zip(dims, (0.1, 0.2, 0.3, 0.4), strict=True):
        d["weight"] = w
    root = _health_dir(tmp_path, fine={**_model(dimensions=dims), "name": "fine"})
    assert load_health_model("fine", root).name == "fine"


def test_models_yaml_naming_a_missing_model(tmp_path: Path) -> None:
    root = _health_dir(
        tmp_path,
        models={"default": "seed001", "tiers": {"starter": "nope", "community": "nope"}},
    )
    with pytest.raises(PlaybookError) as exc:
        load_health_models(root)
    [problem] = exc.value.problems
    assert problem.file.name == "models.yaml"
    assert set(problem.field.split(", ")) == {"tiers.starter", "tiers.community"}
    assert "model 'nope' does not exist" in problem.message


def test_models_yaml_unknown_tier(tmp_path: Path) -> None:
    root = _health_dir(tmp_path, models={"default": "seed001", "tiers": {"gold": "seed003"}})
    with pytest.raises(PlaybookError) as exc:
        load_health_models(root)
    assert exc.value.problems[0].field == "tiers.gold.[key]"


def test_a_playbooks_folder_without_health_uses_the_shipped_models(tmp_path: Path) -> None:
    (tmp_path / "onboarding").mkdir()
    assert health_dir(tmp_path) == HEALTH
    assert load_health_models(tmp_path).for_tier("starter").name == "seed003"


def test_validate_all_checks_health_models(tmp_path: Path) -> None:
    files, problems = validate_all(PACKAGE_DIR)
    assert problems == []
    assert {HEALTH / "models.yaml", HEALTH / "seed001.yaml", HEALTH / "seed003.yaml"} <= set(files)

    shutil.copytree(
        PACKAGE_DIR, tmp_path / "pb", ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    root = tmp_path / "pb"
    raw = _model()
    raw["dimensions"][0]["weight"] = 0.5
    (root / "health" / "seed003.yaml").write_text(yaml.safe_dump(raw))
    spare = {**_model(bands=list(reversed(_model()["bands"]))), "name": "spare"}
    (root / "health" / "spare.yaml").write_text(yaml.safe_dump(spare))  # used by no tier
    _, problems = validate_all(root)
    found = {(p.file.name, p.field) for p in problems}
    assert ("seed003.yaml", "dimensions") in found
    assert ("spare.yaml", "bands") in found


def test_days_since_the_last_csm_touch_counts_to_the_sweep_time() -> None:
    as_of = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)

    def age(raw: str) -> float | None:
        return inputs_from_properties({"notes_last_contacted": raw}, as_of).days_since_csm_touch

    assert age("2026-10-24T09:30:00.000Z") == 29  # 29 days 20.5 hours: whole days
    assert age("2026-10-24") == 30
    assert age(str(int(datetime(2026, 8, 25, tzinfo=UTC).timestamp() * 1000))) == 90  # epoch ms
    assert age("2026-12-01T00:00:00Z") == 0  # a future date counts as today
    assert age("yesterday") is None
    assert (
        inputs_from_properties({"notes_last_contacted": "2026-10-24"}).days_since_csm_touch is None
    )
