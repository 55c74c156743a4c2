"""The dunning, churn and win-back playbooks, their calendar rules and the state the
workflows carry across continue-as-new. Pure: no Temporal, no network."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.campaigns import campaign_day, step_time
from domain.churn import ChurnPlan, ChurnPreventionInput, ChurnState, RiskFactor
from domain.dunning import DunningInput, DunningPlan, DunningState
from domain.journeys import ActionRecord
from domain.send_window import SendWindow
from domain.winback import (
    ExitAnswer,
    ExitReason,
    StepPurpose,
    WinBackInput,
    WinBackPlan,
    WinBackState,
)
from playbooks.loader import PACKAGE_DIR, load_playbook
from templates.renderer import email_template_names, slack_template_names

PLAYBOOKS: list[tuple[str, type[DunningPlan] | type[ChurnPlan] | type[WinBackPlan]]] = [
    ("dunning", DunningPlan),
    ("churn", ChurnPlan),
    ("winback", WinBackPlan),
]


@pytest.fixture(autouse=True)
def shipped_playbooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSHUB_PLAYBOOKS_DIR", str(PACKAGE_DIR))


@pytest.mark.parametrize(("kind", "model"), PLAYBOOKS)
def test_shipped_playbook_is_valid_and_its_templates_exist(kind: str, model: Any) -> None:
    plan = load_playbook(kind, model)
    used = plan.templates_used()
    assert used["email"] <= set(email_template_names())
    assert used["slack"] <= set(slack_template_names())


def test_shipped_plans_follow_the_seeds() -> None:
    dunning = load_playbook("dunning", DunningPlan)
    assert [s.day for s in dunning.steps if s.email] == [0, 3, 7, 14]
    assert [s.day for s in dunning.steps if s.alert_csm] == [7]
    assert dunning.final_failure.company_properties["cshub_risk_status"] == "at_risk"

    churn = load_playbook("churn", ChurnPlan)
    assert churn.check_every_days == 7 and churn.escalate_below == 50
    assert set(churn.outreach) == set(RiskFactor)

    winback = load_playbook("winback", WinBackPlan)
    assert [s.day for s in winback.steps] == [1, 7, 14, 30, 60]
    assert [s.purpose for s in winback.steps][-2:] == [StepPurpose.OFFER, StepPurpose.SURVEY]


def _dunning(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "steps": [{"day": 0, "email": "dunning_payment_failed"}, {"day": 7, "alert_csm": "x"}],
        "final_failure": {"day": 10},
    }
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    ("model", "raw", "message"),
    [
        (
            DunningPlan,
            _dunning(steps=[{"day": 3, "email": "a"}, {"day": 1, "email": "b"}]),
            "increasing",
        ),
        (DunningPlan, _dunning(final_failure={"day": 5}), "before the last step"),
        (DunningPlan, _dunning(steps=[{"day": 0}]), "e-mail, a CSM alert"),
        (ChurnPlan, {"outreach": {"usage_drop": {"action": "email"}}}, "needs a template"),
        (ChurnPlan, {"outreach": {}, "escalate_below": 80}, "must not exceed"),
        (
            WinBackPlan,
            {"steps": [{"day": 5, "kind": "task", "subject": "s"}]},
            "subject and a body",
        ),
        (WinBackPlan, {"steps": []}, "at least 1"),
    ],
)
def test_invalid_plans_are_rejected(
    model: type[BaseModel], raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        model.model_validate(raw)


@pytest.mark.parametrize(
    "raw",
    [
        {"at_risk_below": 60, "escalate_below": 80},
        {"by_tier": {"enterprise": {"at_risk_below": 60, "escalate_below": 80,
                                    "recovered_at_least": 70}}},
    ],
    ids=["plan-wide", "a tier's bands"],
)  # fmt: skip
def test_an_escalation_above_the_risk_threshold_is_refused_naming_both(
    raw: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError) as refused:
        ChurnPlan.model_validate({"outreach": {}, **raw})
    assert [e["msg"] for e in refused.value.errors()] == [
        "Value error, escalate_below (80.0) must not exceed at_risk_below (60.0)"
    ]


def test_an_escalation_at_the_risk_threshold_is_allowed() -> None:
    bands = {"at_risk_below": 60, "escalate_below": 60, "recovered_at_least": 70}
    plan = ChurnPlan.model_validate(
        {"outreach": {}, "escalate_below": 70, "by_tier": {"enterprise": bands}}
    )
    assert (plan.bands(None).escalate_below, plan.bands("enterprise").escalate_below) == (70, 60)


# ---------------------------------------------------------------- calendar


def test_steps_fall_at_the_local_send_hour_across_a_dst_change() -> None:
    window = SendWindow(send_hour=10)
    start = datetime(2026, 3, 25, 15, 30, tzinfo=UTC)  # Berlin switches to CEST on 29 March
    assert step_time(start, 0, "Europe/Berlin", window) == start
    assert step_time(start, 3, "Europe/Berlin", window) == datetime(2026, 3, 28, 9, tzinfo=UTC)
    assert step_time(start, 7, "Europe/Berlin", window) == datetime(2026, 4, 1, 8, tzinfo=UTC)
    assert campaign_day(start, datetime(2026, 4, 1, 8, tzinfo=UTC), "Europe/Berlin") == 7


def test_campaign_days_count_local_calendar_days() -> None:
    start = datetime(2026, 5, 1, 3, tzinfo=UTC)  # 30 April, 23:00 in New York
    assert campaign_day(start, datetime(2026, 5, 1, 14, tzinfo=UTC), "America/New_York") == 1
    assert campaign_day(start, datetime(2026, 5, 1, 14, tzinfo=UTC), "UTC") == 0


# ---------------------------------------------------------------- continue-as-new


def _through_temporal(inp: BaseModel) -> Any:
    """What continue-as-new does to the input: encode and decode it."""
    payloads = pydantic_data_converter.payload_converter.to_payloads([inp])
    return pydantic_data_converter.payload_converter.from_payloads(payloads, [type(inp)])[0]


def _action(at: datetime) -> ActionRecord:
    return ActionRecord(at=at, day=3, step="day3:email", channel="email", summary="sent")


def test_states_survive_continue_as_new() -> None:
    now = datetime(2026, 6, 1, 8, tzinfo=UTC)
    churn = ChurnState(
        plan=load_playbook("churn", ChurnPlan),
        started_at=now,
        timezone="Europe/Paris",
        risk_factors=[RiskFactor.USAGE_DROP, RiskFactor.LOW_HEALTH],
        outreach_counts={RiskFactor.USAGE_DROP: 2},
        last_outreach_at={RiskFactor.USAGE_DROP: now},
        health_score=48.5,
        escalated=True,
        actions=[_action(now)],
    )
    inp = _through_temporal(
        ChurnPreventionInput(customer_id="1005", carry_over=churn.model_dump(mode="json"))
    )
    assert ChurnState.model_validate(inp.carry_over) == churn

    dunning = DunningState(
        plan=load_playbook("dunning", DunningPlan),
        started_at=now,
        failed_invoices=["in_1"],
        open_invoices=["in_1"],
        payment_failures=1,
        done_steps=["day0", "day3"],
        actions=[_action(now)],
    )
    inp = _through_temporal(
        DunningInput(customer_id="1003", carry_over=dunning.model_dump(mode="json"))
    )
    assert DunningState.model_validate(inp.carry_over) == dunning

    winback = WinBackState(
        plan=load_playbook("winback", WinBackPlan),
        started_at=now,
        anchor=now,
        answers=[ExitAnswer(reason=ExitReason.TOO_EXPENSIVE, comment="budget", at=now)],
    )
    inp = _through_temporal(
        WinBackInput(customer_id="1001", carry_over=winback.model_dump(mode="json"))
    )
    assert WinBackState.model_validate(inp.carry_over) == winback
