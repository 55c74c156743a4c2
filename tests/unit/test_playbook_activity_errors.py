"""A playbook file that is missing or broken fails the activity that loads it at once
(non-retryable ``PlaybookError``, naming the file): retrying quickly would not fix it."""

from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.health import load_health_playbooks
from activities.models import LoadPlanRequest
from activities.playbooks import load_onboarding_plan_activity
from activities.year import load_year_plan_activity


@pytest.mark.parametrize("load", [load_onboarding_plan_activity, load_year_plan_activity])
def test_a_missing_plan_fails_the_attempt_for_good(load) -> None:
    with pytest.raises(ApplicationError) as raised:
        load(LoadPlanRequest(plan="no_such_plan"))
    assert raised.value.type == "PlaybookError"
    assert raised.value.non_retryable
    assert "no_such_plan.yaml" in str(raised.value) and "not found" in str(raised.value)


def test_broken_health_playbooks_fail_the_sweep_start_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    health = tmp_path / "health"
    health.mkdir()
    (health / "models.yaml").write_text("default: [not, a, mapping\n")
    monkeypatch.setenv("CSHUB_PLAYBOOKS_DIR", str(tmp_path))
    with pytest.raises(ApplicationError) as raised:
        load_health_playbooks()
    assert raised.value.type == "PlaybookError" and raised.value.non_retryable
    assert "models.yaml" in str(raised.value)


def test_a_good_plan_loads() -> None:
    assert load_year_plan_activity(LoadPlanRequest(plan="starter")).name == "starter"
