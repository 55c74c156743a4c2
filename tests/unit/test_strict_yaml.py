"""Every YAML the hub reads refuses a key given twice, naming the file, the line and the
key: a second `critical:` block in playbooks/sla.yaml used to load and validate, and the
critical first-response target went from 15 minutes to 10 hours."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.playbooks import LoadPlaybookRequest, load_playbook_activity
from domain.sla_policy import SlaPolicy
from domain.strict_yaml import DuplicateKeyError, load_yaml_file, load_yaml_text
from playbooks.loader import (
    PACKAGE_DIR,
    PlaybookError,
    load_experiment,
    load_health_model,
    load_health_models,
    load_outreach_plan,
    load_playbook,
    parse_plan_file,
    validate_all,
)
from sandbox.demo_data import DEFAULT_DATA_FILE, load_demo_data

# The real mistake: a second `critical:` block pasted under severities.
SECOND_CRITICAL = (
    "  critical: {first_response: 15, resolution: 240, status_update_every: 30}",
    "  critical: {first_response: 15, resolution: 240, status_update_every: 30}\n"
    "  critical: {first_response: 600, resolution: 2400, status_update_every: 120}",
)


def _playbooks_copy(tmp_path: Path) -> Path:
    root = tmp_path / "playbooks"
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def _line_of(path: Path, text: str, occurrence: int = 2) -> int:
    hits = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return hits[occurrence - 1]


def _duplicate_line(path: Path, key: str, anchor: str) -> int:
    """Append ``key`` again right after the line containing ``anchor`` (same indent)."""
    lines = path.read_text().splitlines()
    at = next(n for n, line in enumerate(lines) if anchor in line)
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines.insert(at + 1, f"{indent}{key}")
    path.write_text("\n".join(lines) + "\n")
    return at + 2


def test_the_loader_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\nb:\n  c: 2\n  c: 3\n")
    with pytest.raises(DuplicateKeyError) as err:
        load_yaml_file(path)
    assert str(err.value).startswith(f"{path}, line 4: key 'c' given twice (lines 3 and 4)")
    assert (err.value.line, err.value.key) == (4, "c")
    assert load_yaml_text("a: 1\nb: [1, 2]\n") == {"a": 1, "b": [1, 2]}
    # A merge key is no duplicate: keys after it override the merged ones on purpose.
    merged = load_yaml_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n")
    assert merged["other"] == {"x": 1, "y": 3}


def test_a_second_critical_block_in_the_sla_playbook_is_refused(tmp_path: Path) -> None:
    root = _playbooks_copy(tmp_path)
    sla = root / "sla.yaml"
    sla.write_text(sla.read_text().replace(*SECOND_CRITICAL))
    line = _line_of(sla, "  critical:")
    with pytest.raises(PlaybookError) as err:
        load_playbook("sla", SlaPolicy, root)
    (problem,) = err.value.problems
    assert (problem.file, problem.field) == (sla, f"line {line}")
    assert "key 'critical' given twice" in problem.message
    # What a workflow loads at its start (the load_playbook activity) refuses it too.
    with pytest.raises(ApplicationError, match=rf"line {line}: key 'critical' given twice"):
        _load_in(root, "sla")


def _load_in(root: Path, kind: str) -> Any:
    """What the load_playbook activity returns a workflow, from the playbooks in ``root``."""
    before = os.environ.get("CSHUB_PLAYBOOKS_DIR")
    os.environ["CSHUB_PLAYBOOKS_DIR"] = str(root)
    try:
        return ActivityEnvironment().run(load_playbook_activity, LoadPlaybookRequest(kind=kind))
    finally:
        if before is None:
            del os.environ["CSHUB_PLAYBOOKS_DIR"]
        else:
            os.environ["CSHUB_PLAYBOOKS_DIR"] = before


def test_an_onboarding_plan_with_a_key_twice_is_refused(tmp_path: Path) -> None:
    root = _playbooks_copy(tmp_path)
    plan = root / "onboarding" / "starter.yaml"
    line = _duplicate_line(plan, "tier: enterprise", "tier: starter")
    with pytest.raises(PlaybookError, match=rf"line {line}: key 'tier' given twice"):
        parse_plan_file(plan)


def test_health_models_and_outreach_with_a_key_twice_are_refused(tmp_path: Path) -> None:
    root = _playbooks_copy(tmp_path)
    model = root / "health" / "seed001.yaml"
    line = _duplicate_line(model, "name: seed001", "name: seed001")
    with pytest.raises(PlaybookError, match=rf"line {line}: key 'name' given twice"):
        load_health_model("seed001", root)
    with pytest.raises(PlaybookError, match=rf"seed001.yaml: line {line}"):
        load_health_models(root)

    models = root / "health" / "models.yaml"
    line = _duplicate_line(models, "default: seed003", "default:")
    with pytest.raises(PlaybookError, match=rf"models.yaml: line {line}: key 'default'"):
        load_health_models(root)

    outreach = root / "health" / "outreach.yaml"
    first_key = next(
        ln.split(":")[0] for ln in outreach.read_text().splitlines() if ln and ln[0].isalpha()
    )
    line = _duplicate_line(outreach, f"{first_key}: 1", f"{first_key}:")
    with pytest.raises(PlaybookError, match=rf"outreach.yaml: line {line}: key '{first_key}'"):
        load_outreach_plan(root)


def test_an_experiment_with_a_key_twice_is_refused(tmp_path: Path) -> None:
    root = _playbooks_copy(tmp_path)
    experiment = root / "experiments" / "professional_kickoff.yaml"
    line = _duplicate_line(experiment, "status: running", "status: draft")
    with pytest.raises(PlaybookError, match=rf"line {line}: key 'status' given twice"):
        load_experiment("professional_kickoff", root)
    _, problems = validate_all(root)
    assert [(p.file.name, p.field) for p in problems] == [
        ("professional_kickoff.yaml", f"line {line}")
    ]


def test_demo_data_with_a_key_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    text = DEFAULT_DATA_FILE.read_text().rstrip("\n") + "\ncompanies: []\n"
    path.write_text(text)
    line = len(text.splitlines())
    with pytest.raises(DuplicateKeyError, match=rf"demo.yaml, line {line}: key 'companies'"):
        load_demo_data(path)


def test_playbooks_validate_reports_the_duplicate_and_fails(tmp_path: Path) -> None:
    root = _playbooks_copy(tmp_path)
    sla = root / "sla.yaml"
    sla.write_text(sla.read_text().replace(*SECOND_CRITICAL))
    line = _line_of(sla, "  critical:")
    _, problems = validate_all(root)
    assert [str(p) for p in problems] == [
        f"{sla}: line {line}: key 'critical' given twice (lines {line - 1} and {line}): "
        "YAML would silently keep only the last; remove or merge one"
    ]
    result = subprocess.run(
        [sys.executable, "-m", "cshub", "playbooks", "validate", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert f"sla.yaml: line {line}: key 'critical' given twice" in result.stderr
