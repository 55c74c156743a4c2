"""Playbook validation: the shipped plans are valid; broken files are rejected with the
file and field named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from domain.onboarding_schedule import StepKind, build_schedule
from domain.tiers import Tier
from playbooks.loader import (
    CAMPAIGN_PLAYBOOKS,
    PACKAGE_DIR,
    PlaybookError,
    parse_plan_file,
    validate_all,
)

GOOD = (PACKAGE_DIR / "onboarding" / "starter.yaml").read_text()


def write(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "onboarding"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def test_shipped_plans_are_valid_and_cover_every_tier() -> None:
    files, problems = validate_all(PACKAGE_DIR)
    assert problems == []
    assert {f.stem for f in files} >= {t.value for t in Tier}


def test_starter_plan_matches_the_seed() -> None:
    plan = parse_plan_file(PACKAGE_DIR / "onboarding" / "starter.yaml")
    assert [(p.start_day, p.end_day) for p in plan.phases] == [(1, 7), (8, 30), (31, 90)]
    assert [m.deadline_day for m in plan.milestones] == [7, 30, 60, 90]
    meetings = [c.day for c in plan.check_ins if c.kind != "business_review"]
    assert meetings == [1, 3, 5, 7, 10, 14, 17, 21, 28]
    # seed 001 phase 3 (days 31-90): monthly business reviews after day 28's month 1
    assert [c.day for c in plan.check_ins if c.kind == "business_review"] == [58, 88]
    assert [(e.day, e.template) for e in plan.emails] == [
        (0, "welcome"), (1, "quick_win"), (3, "tips"), (7, "check_in"),
        (14, "success_story"), (21, "upgrade_expand"),
    ]  # fmt: skip
    steps = build_schedule(plan)
    assert steps[-2].kind is StepKind.COMPLETE and steps[-2].day == 90
    # seed 001: onboarding surveys at 7, 30 and 90 days (the last after the completion)
    assert [s.day for s in steps if s.kind is StepKind.SURVEY] == [7, 30, 90]
    assert steps[-1].key == "survey:d90"
    assert [s.day for s in steps] == sorted(s.day for s in steps)


def test_professional_milestones_are_weeks_2_6_12() -> None:
    plan = parse_plan_file(PACKAGE_DIR / "onboarding" / "professional.yaml")
    assert [m.deadline_day for m in plan.milestones] == [14, 42, 84]
    touchpoints = [c.day for c in plan.check_ins if c.kind == "executive_touchpoint"]
    assert touchpoints == [1, 8, 22, 50]  # weeks 1, 2, 4, 8


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (("deadline_day: 7", "deadline_day: -1"), "milestones[0].deadline_day", "greater than"),
        (("tier: starter", "tier: gold"), "tier", "community"),
        (("day: 3, template: tips", "day: 300, template: tips"), "(file)", "after the plan ends"),
        (("template: tips", "template: no_such_email"), "email template", "no_such_email"),
        (
            ("{day: 1, title: Welcome call", "{day: 1, titel: Welcome call"),
            "check_ins[0].titel",
            "Extra",
        ),
    ],
)
def test_bad_plans_are_rejected_with_file_and_field(
    tmp_path: Path, change: tuple[str, str], field: str, words: str
) -> None:
    from playbooks.loader import known_templates

    assert change[0] in GOOD
    path = write(tmp_path, "starter", GOOD.replace(change[0], change[1], 1))
    with pytest.raises(PlaybookError) as err:
        parse_plan_file(path, known_templates())
    text = str(err.value)
    assert str(path) in text
    assert field in text or field == "(file)"
    assert words.lower() in text.lower()


def test_invalid_yaml_and_wrong_name_are_reported(tmp_path: Path) -> None:
    bad = write(tmp_path, "starter", "name: [unclosed")
    with pytest.raises(PlaybookError, match="not valid YAML"):
        parse_plan_file(bad)
    renamed = write(tmp_path, "other", GOOD)
    with pytest.raises(PlaybookError, match="must match the file name"):
        parse_plan_file(renamed)


def test_validate_command_lists_every_error_and_fails(tmp_path: Path) -> None:
    write(tmp_path, "starter", GOOD.replace("deadline_day: 7", "deadline_day: 0"))
    write(tmp_path, "community", "name: community\ntier: community\n")
    result = subprocess.run(
        [sys.executable, "-m", "cshub", "playbooks", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "starter.yaml: milestones[0].deadline_day" in result.stderr
    assert "community.yaml: version" in result.stderr
    assert "professional.yaml" in result.stderr  # missing tier file
    ok = subprocess.run(
        [sys.executable, "-m", "cshub", "playbooks", "validate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "valid" in ok.stdout


def test_campaign_playbooks_are_validated_with_their_templates(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(PACKAGE_DIR / "onboarding", tmp_path / "onboarding")
    for kind in CAMPAIGN_PLAYBOOKS:  # renewal, dunning, churn, winback, sla, surveys …
        shutil.copy(PACKAGE_DIR / f"{kind}.yaml", tmp_path / f"{kind}.yaml")
    files, problems = validate_all(tmp_path)
    assert problems == [] and {f.name for f in files} >= {"renewal.yaml", "winback.yaml"}

    dunning = tmp_path / "dunning.yaml"
    dunning.write_text(dunning.read_text().replace("dunning_csm_alert", "dunning_csm_alrt", 1))
    (tmp_path / "churn.yaml").write_text("check_every_days: 0\n")
    (tmp_path / "winback.yaml").unlink()
    _, problems = validate_all(tmp_path)
    found = {(p.file.name, p.field) for p in problems}
    assert ("dunning.yaml", "slack template") in found
    assert any("'dunning_csm_alrt' does not exist" in str(p) for p in problems)
    assert ("churn.yaml", "check_every_days") in found
    assert ("winback.yaml", "(file)") in found
    assert not any(p.file.name == "renewal.yaml" for p in problems)


def test_a_plan_is_parsed_once_and_read_afresh_when_edited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from playbooks import loader

    folder = tmp_path / "onboarding"
    folder.mkdir()
    plan_file = folder / "starter.yaml"
    plan_file.write_text((loader.PACKAGE_DIR / "onboarding" / "starter.yaml").read_text())
    monkeypatch.setattr(loader, "playbooks_dir", lambda: tmp_path)

    first = loader.load_onboarding_plan("starter")
    assert loader.load_onboarding_plan("starter") is first  # parsed once

    plan_file.write_text(
        plan_file.read_text().replace("description: ", "description: Edited plan. ", 1)
    )
    stat = plan_file.stat()
    os.utime(plan_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert loader.load_onboarding_plan("starter").description.startswith("Edited plan.")
