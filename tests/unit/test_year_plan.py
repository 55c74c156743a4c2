"""The post-onboarding playbooks (playbooks/year/) as data: validated by ``cshub
playbooks validate``, and the pure rules the plays decide with."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from domain.health_model import HealthCategory
from domain.tiers import Tier
from domain.year_plan import (
    AccountSignals,
    commission_minor,
    is_promoter,
    upgrade_reasons,
    upgraded,
)
from playbooks.loader import PACKAGE_DIR, PlaybookError, load_year_plan, validate_all


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE_DIR, tmp_path, dirs_exist_ok=True)
    return tmp_path


def edit(root: Path, tier: str, old: str, new: str) -> None:
    path = root / "year" / f"{tier}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def problems(root: Path) -> list[str]:
    return [str(p) for p in validate_all(root)[1]]


def test_every_tier_has_a_valid_year_playbook() -> None:
    files, found = validate_all()
    assert found == []
    assert {f.name for f in files if f.parent.name == "year"} == {f"{t.value}.yaml" for t in Tier}
    for tier in Tier:
        assert load_year_plan(tier.value).tier is tier


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("until_day: 300", "until_day: 400", "outside days 91-365"),
        ("from_day: 120, until_day: 300", "from_day: 60, until_day: 300", "outside days 91-365"),
        ("template: advocacy_ask", "template: advocacy_asks", "'advocacy_asks' does not exist"),
        ("alert_template: upgrade_acceleration", "alert_template: upgrade", "'upgrade' does not"),
        ("nps_at_least: 9", "nps_at_least: 11", "less than or equal to 10"),
        ("commission_percent: 30", "commission_percent: 0", "greater than 0"),
        ("{days: [150, 180", "{every_days: 30, days: [150, 180", "not both"),
        ("asks: [review, case_study, reference]", "asks: [tweet]", "asks"),
    ],
)
def test_a_bad_year_playbook_is_refused_with_the_field(
    playbooks: Path, old: str, new: str, words: str
) -> None:
    edit(playbooks, "starter", old, new)
    found = problems(playbooks)
    assert len(found) == 1 and "year/starter.yaml" in found[0], found
    assert words in found[0]
    with pytest.raises(PlaybookError):
        load_year_plan("starter", playbooks)


def test_a_playbook_in_the_wrong_tier_file_is_refused(playbooks: Path) -> None:
    edit(playbooks, "agency", "tier: agency", "tier: starter")
    assert any("year/agency.yaml: tier: is starter" in p for p in problems(playbooks))


def test_upgrade_candidate_needs_health_and_a_limit_or_the_rating() -> None:
    spec = load_year_plan("starter").upgrade_acceleration
    assert spec is not None
    near = AccountSignals(
        health_category=HealthCategory.HEALTHY, usage_name="licensed seats", usage_percent=90
    )
    assert upgrade_reasons(near, spec) == ["licensed seats at 90 %"]
    ready = AccountSignals(health_category=HealthCategory.HEALTHY, upgrade_readiness="Good")
    assert upgrade_reasons(ready, spec) == ["rated upgrade-ready (good)"]
    fair = AccountSignals(health_category=HealthCategory.HEALTHY, upgrade_readiness="fair")
    assert upgrade_reasons(fair, spec) == []  # "open to discussions" is not intent
    at_risk = near.model_copy(update={"health_category": HealthCategory.AT_RISK})
    assert upgrade_reasons(at_risk, spec) == []
    assert upgraded(Tier.STARTER, Tier.PROFESSIONAL) and not upgraded(Tier.STARTER, Tier.STARTER)
    assert not upgraded(Tier.ENTERPRISE, None)


def test_a_promoter_is_healthy_with_nps_9_or_10() -> None:
    spec = load_year_plan("professional").advocacy
    assert spec is not None
    healthy = HealthCategory.HEALTHY
    assert is_promoter(AccountSignals(health_category=healthy, nps=9), spec)
    assert not is_promoter(AccountSignals(health_category=healthy, nps=8), spec)
    assert not is_promoter(AccountSignals(health_category=healthy), spec)
    assert not is_promoter(AccountSignals(health_category=HealthCategory.GOOD, nps=10), spec)


def test_commission_is_seed_002s_30_percent_to_the_cent() -> None:
    assert load_year_plan("agency").referrals is not None
    assert commission_minor(120_000, 30) == 36_000
    assert commission_minor(99_995, 30) == 29_999  # 29,998.5 rounds half up
    assert commission_minor(0, 30) == 0
