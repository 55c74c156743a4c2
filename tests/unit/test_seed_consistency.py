"""Where the seeds' cadences and thresholds meet in more than one playbook, they agree
(issue 24): each test here failed on the playbooks before the fix it names."""

from __future__ import annotations

import itertools

import pytest

from domain.churn import ChurnPlan
from domain.health_model import HealthCategory, HealthInputs
from domain.health_scoring import score_metric
from domain.onboarding_plan import OnboardingPlan
from domain.onboarding_schedule import StepKind, build_schedule
from domain.survey_plan import SurveysPlan
from domain.surveys import NpsCategory, nps_category
from domain.tiers import Tier
from playbooks.loader import PACKAGE_DIR, load_health_models, load_playbook, parse_plan_file

MODELS = load_health_models()
SURVEYS = load_playbook("surveys", SurveysPlan)


@pytest.mark.parametrize("model_name", sorted(MODELS.models))
@pytest.mark.parametrize("answer", range(11))
def test_nps_answer_means_the_same_in_health_score_and_nps_play(
    model_name: str, answer: int
) -> None:
    """An answer the NPS play treats as a detractor (1:1 call task) scores 0 in every
    health model that reads NPS; a passive or promoter never does. Before: seed 001's model
    scored 6 as "passive" (75) while the NPS play booked a detractor call."""
    metrics = [
        m for d in MODELS.models[model_name].dimensions for m in d.metrics if m.input == "nps"
    ]
    if not metrics:
        pytest.skip(f"{model_name} does not read NPS")
    category = nps_category(answer, SURVEYS.nps.detractor_max, SURVEYS.nps.promoter_min)
    for metric in metrics:
        value = score_metric(metric, HealthInputs(nps=answer)).score
        if category is NpsCategory.DETRACTOR:
            assert value == 0, f"{model_name}: NPS {answer} is a detractor, scored {value}"
        else:
            assert value is not None and value > 0, f"{model_name}: NPS {answer} scored 0"


# ------------------------------------------------------------------ onboarding cadences


def _plan(name: str) -> OnboardingPlan:
    return parse_plan_file(PACKAGE_DIR / "onboarding" / f"{name}.yaml")


@pytest.mark.parametrize("tier", ["professional", "enterprise"])
def test_professional_has_the_seed_touchpoints_of_all_four_tracks(tier: str) -> None:
    """Seed 001's Professional playbook has four touchpoint tracks; the plan had only the
    executive and technical ones (8 of 16). Week N → day 7*(N-1)+1."""
    titles = {(c.day, c.title) for c in _plan(tier).check_ins}
    expected = {
        # businessTransformation, weeks 2 / 4 / 6 / 8
        (8, "Business process analysis"),
        (22, "Workflow design and optimization"),
        (36, "Performance measurement setup"),
        (50, "Scaling and adoption planning"),
        # adoptionAndChangeManagement, weeks 1 / 3 / 5 / 10
        (1, "User training planning"),
        (15, "Change management workshop"),
        (29, "Community launch and engagement"),
        (64, "Adoption review and optimization"),
        # executiveEngagement, weeks 1 / 2 / 4 / 8; technicalEnablement 1 / 2 / 3 / 6
        (1, "Executive kickoff meeting"),
        (8, "Vision and roadmap alignment"),
        (22, "Progress and value demonstration"),
        (50, "ROI review and expansion planning"),
        (1, "Technical architecture workshop"),
        (8, "Integration planning session"),
        (15, "Development environment setup review"),
        (36, "Advanced features enablement"),
    }
    assert expected <= titles


@pytest.mark.parametrize("tier", ["starter", "professional", "enterprise"])
def test_paid_onboarding_mails_the_customer_every_week_until_day_90(tier: str) -> None:
    """Seed 001: weekly e-mails during onboarding. Before: nothing between day 21 and 90."""
    days = sorted({s.day for s in build_schedule(_plan(tier)) if s.kind in (StepKind.EMAIL,)})
    gaps = [(a, b) for a, b in itertools.pairwise(days) if b - a > 7]
    assert gaps == [] and days[-1] >= 84, days


def test_community_keeps_its_bi_weekly_cadence() -> None:
    """Seed 001's Community plan: bi-weekly engagement after week 1 (the choice is written in
    community.yaml); nothing weekly for the free tier."""
    plan = _plan("community")
    assert [(r.template, r.every_days) for r in plan.recurring_emails] == [("engagement", 14)]


def _comments(name: str) -> str:
    """The playbook's comment lines, joined (where the seeds' disagreements are decided)."""
    lines = (PACKAGE_DIR / "onboarding" / f"{name}.yaml").read_text().splitlines()
    return " ".join(line.split("#", 1)[1].strip() for line in lines if "#" in line)


def test_starter_week_1_follows_the_dated_list_and_says_why() -> None:
    """Seed 001's Starter phase summary says "daily check-ins" for days 1-7; its week-1
    plan dates four calls, days 1/3/5/7. The plan follows the list and its comments say
    so. Before: the list, with no word of the disagreement."""
    week_1 = sorted(c.day for c in _plan("starter").check_ins if c.day <= 7)
    assert week_1 == [1, 3, 5, 7]
    said = _comments("starter")
    assert "Daily check-ins" in said and "1/3/5/7" in said


def test_community_says_why_its_bi_weekly_mails_end_on_day_77() -> None:
    """The next bi-weekly date, day 91, is past onboarding; day 90's completion e-mail and
    survey close the last fortnight (the journey table checks those days)."""
    (mails,) = _plan("community").recurring_emails
    assert (mails.from_day, mails.every_days, mails.until_day) == (35, 14, 77)
    assert "Day 77 is the last bi-weekly date" in _comments("community")


# ------------------------------------------------------------------ churn thresholds
@pytest.mark.parametrize("tier", list(Tier))
def test_churn_thresholds_are_the_tiers_health_model_bands(tier: Tier) -> None:
    """The churn campaign calls a customer at risk, escalates and sees recovery at its own
    health model's band edges. Before: 70/50 (seed 001) for every tier, so a Starter account
    at 65, "Neutral - monitor" under seed 003, got an at-risk check-in task."""
    plan = load_playbook("churn", ChurnPlan)
    model = MODELS.for_tier(tier)
    edge = {b.category: b.at_least for b in model.bands}
    bands = plan.bands(tier)
    assert bands.at_risk_below == edge[HealthCategory.GOOD]
    assert bands.recovered_at_least == edge[HealthCategory.GOOD]
    assert bands.escalate_below == edge[HealthCategory.AT_RISK]


def test_unknown_tier_uses_the_plan_wide_thresholds() -> None:
    plan = load_playbook("churn", ChurnPlan)
    assert plan.bands("gold") == plan.bands(None)
    assert (plan.bands(None).at_risk_below, plan.bands(None).escalate_below) == (70, 50)


# ------------------------------------------------------------------ expansion velocity
@pytest.mark.parametrize(
    ("use_cases", "planned", "expected"),
    [(2, None, 100), (1, None, 75), (0, True, 50), (0, False, 0), (0, None, 0), (1, True, 75)],
)
def test_planning_expansion_is_fair_in_seed_001(
    use_cases: int, planned: bool | None, expected: float
) -> None:
    """Seed 001 expansion velocity: 2+ use cases excellent, 1 good, "planning expansion to
    additional use cases" fair, no plans poor. Before: planning scored 0 like no plans."""
    metric = next(
        m
        for d in MODELS.models["seed001"].dimensions
        for m in d.metrics
        if m.name == "expansion_velocity"
    )
    inputs = HealthInputs(use_cases_expanded_90d=use_cases, expansion_planned=planned)
    assert score_metric(metric, inputs).score == expected


# ------------------------------------------------------------------ seed 002 and Agency
def test_seed_002_model_weights_and_agency_plan() -> None:
    """Seed 002's health score (usage 30 %, adoption 25 %, performance 25 %, satisfaction
    20 %, target 80+) scores its Agency plan, which has an onboarding plan and an SLA.
    Before: no seed 002 model and no Agency tier."""
    model = MODELS.for_tier(Tier.AGENCY)
    assert model.name == "seed002"
    assert [(d.name, d.weight) for d in model.dimensions] == [
        ("usage", 0.30),
        ("adoption", 0.25),
        ("performance", 0.25),
        ("satisfaction", 0.20),
    ]
    assert model.band(HealthCategory.HEALTHY) is not None
    assert model.band(HealthCategory.HEALTHY).at_least == 80  # type: ignore[union-attr]
    assert _plan("agency").tier is Tier.AGENCY


def test_seed_002_worked_example() -> None:
    # usage: 10 login days → 100, 15/20 seats = 75 % → 75: 87.5; adoption 12/20 = 60 % → 75;
    # performance: ROI 150 % → 75, 20 days → 100: 87.5; satisfaction NPS 8 → 50
    # 0.30 x 87.5 + 0.25 x 75 + 0.25 x 87.5 + 0.20 x 50 = 26.25 + 18.75 + 21.875 + 10
    #   = 76.875 → 76.88 Good
    from domain.health_scoring import score

    result = score(
        MODELS.models["seed002"],
        HealthInputs(
            login_days_last_30=10,
            active_users=15,
            licensed_seats=20,
            features_adopted=12,
            features_available=20,
            roi_percent=150,
            days_to_first_value=20,
            nps=8,
        ),
    )
    assert (result.score, result.category) == (76.88, HealthCategory.GOOD)
