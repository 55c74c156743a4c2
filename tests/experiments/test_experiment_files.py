"""Experiment files: what `cshub playbooks validate` refuses, and the shipped example."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cshub.cli import app
from domain.experiments import ExperimentStatus
from playbooks.loader import PACKAGE_DIR, PlaybookError, load_experiments, validate_all

GOOD: dict[str, object] = {
    "name": "trial",
    "play": "onboarding",
    "arms": [
        {"name": "a", "weight": 45, "plan": "professional"},
        {"name": "b", "weight": 45, "plan": "enterprise"},
        {"name": "out", "weight": 10, "holdout": True},
    ],
    "outcome": {"milestone": "production_deployment", "by_day": 14},
    "status": "running",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A playbooks folder: the shipped plans and playbooks, no experiments yet."""
    root = tmp_path / "playbooks"
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    shutil.rmtree(root / "experiments")
    (root / "experiments").mkdir()
    return root


def write(folder: Path, data: dict[str, object], name: str = "trial") -> Path:
    path = folder / "experiments" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def problems(folder: Path) -> list[str]:
    return [f"{p.field}: {p.message}" for p in validate_all(folder)[1]]


def test_a_good_experiment_validates(folder: Path) -> None:
    path = write(folder, GOOD)
    files, found = validate_all(folder)
    assert found == []
    assert path in files
    (exp,) = load_experiments(folder)
    assert exp.shares() == {"a": 0.45, "b": 0.45, "out": 0.1}
    assert exp.control_arm.name == "a"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {
                "arms": [
                    {"name": "a", "weight": 0.5, "plan": "professional"},
                    {"name": "b", "weight": 0.6, "plan": "enterprise"},
                ]
            },
            "arm weights sum to 1.1",
        ),
        (
            {
                "arms": [
                    {"name": "a", "weight": 0, "plan": "professional"},
                    {"name": "b", "weight": 1, "plan": "enterprise"},
                ]
            },
            "greater than 0",
        ),
        (
            {
                "arms": [
                    {"name": "a", "weight": 50, "plan": "professional"},
                    {"name": "a", "weight": 50, "plan": "enterprise"},
                ]
            },
            "duplicate arm names: a",
        ),
        ({"play": "renewal_campaign"}, "unknown play 'renewal_campaign'"),
        ({"status": "stopped"}, "a stopped experiment needs chosen_arm"),
        ({"status": "stopped", "chosen_arm": "c"}, "chosen_arm 'c' is not an arm"),
        ({"control": "z"}, "control 'z' is not an arm"),
        (
            {
                "arms": [
                    {"name": "a", "weight": 50, "plan": "professional"},
                    {"name": "b", "weight": 50, "plan": "no_such_plan"},
                ]
            },
            "unknown plan 'no_such_plan'",
        ),
        (
            {
                "arms": [
                    {"name": "a", "weight": 50, "plan": "professional"},
                    {"name": "b", "weight": 50, "plan": "starter"},
                ]
            },
            "'production_deployment' is not a milestone of plan 'starter'",
        ),
        (
            {
                "arms": [
                    {"name": "a", "weight": 50, "plan": "professional"},
                    {"name": "x", "weight": 25, "holdout": True},
                    {"name": "y", "weight": 25, "holdout": True},
                ]
            },
            "at most one hold-out arm",
        ),
        ({"name": "other"}, "must match the file name 'trial'"),
        ({"eligibility": {"start_from": "2026-12-01T00:00:00"}}, "needs a time zone"),
    ],
)
def test_bad_experiments_are_refused_with_the_reason(
    folder: Path, change: dict[str, object], expected: str
) -> None:
    write(folder, {**GOOD, **change})
    found = problems(folder)
    assert any(expected in p for p in found), found
    with pytest.raises(PlaybookError):
        load_experiments(folder)


def test_cli_validate_lists_the_experiment_error_with_its_file(folder: Path) -> None:
    write(
        folder,
        {
            **GOOD,
            "arms": [
                {"name": "a", "weight": 60, "plan": "professional"},
                {"name": "a", "weight": 60, "plan": "enterprise"},
            ],
        },
    )
    result = CliRunner().invoke(app, ["playbooks", "validate", str(folder)])
    assert result.exit_code == 1
    assert "experiments/trial.yaml" in result.output
    assert "duplicate arm names: a" in result.output
    assert "arm weights sum to 120" in result.output


def test_the_shipped_example_is_a_valid_draft_that_assigns_no_one() -> None:
    files, found = validate_all(PACKAGE_DIR)
    assert found == []
    assert PACKAGE_DIR / "experiments" / "professional_kickoff.yaml" in files
    (exp,) = load_experiments(PACKAGE_DIR)
    assert exp.status is ExperimentStatus.DRAFT
    assert [a.name for a in exp.arms] == ["standard", "sponsor", "holdout"]
    assert exp.arm("holdout") is not None and exp.arm("holdout").holdout  # type: ignore[union-attr]
