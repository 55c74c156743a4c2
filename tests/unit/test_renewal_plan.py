"""The renewal playbook, its calendar rules and the state it carries across
continue-as-new. Pure: no Temporal server, no network."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.journeys import ActionRecord
from domain.renewal import (
    NextTerm,
    ReminderState,
    RenewalCarryOver,
    RenewalInput,
    RenewalOutcome,
    RenewalState,
    SentReminder,
    TermRecord,
    add_months,
    escalate_at,
    outcome_deadline,
    plan_reminders,
    reminder_due,
)
from domain.renewal_plan import RenewalPlan
from playbooks.loader import PACKAGE_DIR, PlaybookError, load_playbook
from templates.renderer import email_template_names, slack_template_names

NY = "America/New_York"


@pytest.fixture(autouse=True)
def shipped_playbooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSHUB_PLAYBOOKS_DIR", str(PACKAGE_DIR))


def test_shipped_playbook_follows_the_seeds_and_its_templates_exist() -> None:
    plan = load_playbook("renewal", RenewalPlan)
    assert [r.days_before for r in plan.reminders] == [60, 30, 14, 7, 1]
    assert [r.days_before for r in plan.reminders if r.crm_task] == [60, 30]
    assert all(r.email == "renewal_reminder" for r in plan.reminders)
    assert plan.send_window.send_hour == 10
    assert (plan.send_window.quiet_start, plan.send_window.quiet_end) == (20, 8)
    assert plan.escalation.grace_days == 1 and plan.escalation.task_priority == "HIGH"
    assert plan.outcome_wait_days == 90
    used = plan.templates_used()
    assert used["email"] <= set(email_template_names())
    assert used["slack"] <= set(slack_template_names())


def test_an_empty_playbook_means_the_defaults() -> None:
    plan = RenewalPlan.model_validate({})
    assert [r.days_before for r in plan.reminders] == [60, 30, 14, 7, 1]
    assert [r.days_before for r in plan.reminders if r.crm_task] == [60, 30]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"reminders": [{"days_before": 7}, {"days_before": 30}]}, "strictly decreasing"),
        ({"reminders": [{"days_before": 7}, {"days_before": 7}]}, "strictly decreasing"),
        ({"reminders": []}, "at least 1"),
        ({"reminders": [{"days_before": 0}]}, "greater than or equal to 1"),
        (
            {"reminders": [{"days_before": 5, "email": None, "alert_csm": None}]},
            "e-mail, a CSM alert or a CRM task",
        ),
        ({"reminders": [{"days_before": 5, "sms": "x"}]}, "Extra inputs are not permitted"),
        ({"reminder": []}, "Extra inputs are not permitted"),
        ({"send_window": {"send_hour": 22}}, "quiet hours"),
        (
            {"escalation": {"grace_days": 30}, "outcome_wait_days": 30},
            "must be below outcome_wait_days",
        ),
        ({"escalation": {"account_executive": {"slack_user_id": "<!here>"}}}, "pattern"),
        ({"escalation": {"task_priority": "URGENT"}}, "LOW"),
        ({"history": {"max_events": 200, "headroom_events": 101}}, "at most half of max_events"),
        ({"history": {"max_events": 60_000}}, "less than or equal to 40000"),
    ],
)
def test_invalid_playbooks_are_rejected(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RenewalPlan.model_validate(raw)


def test_a_bad_file_names_the_file_and_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "renewal.yaml").write_text(
        "reminders:\n  - {days_before: 7}\n  - {days_before: 30, crm_task: maybe}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CSHUB_PLAYBOOKS_DIR", str(tmp_path))
    with pytest.raises(PlaybookError) as err:
        load_playbook("renewal", RenewalPlan)
    text = str(err.value)
    assert "renewal.yaml" in text
    assert "reminders[1].crm_task" in text


# ---------------------------------------------------------------- calendar


def test_reminders_fall_at_10_local_and_keep_it_across_dst() -> None:
    plan = RenewalPlan()
    # New York leaves EDT (UTC-4) for EST (UTC-5) on 1 November 2026.
    renewal = date(2026, 11, 5)
    assert reminder_due(plan, renewal, 14, NY) == datetime(2026, 10, 22, 14, tzinfo=UTC)
    assert reminder_due(plan, renewal, 1, NY) == datetime(2026, 11, 4, 15, tzinfo=UTC)
    assert escalate_at(plan, renewal, NY) == datetime(2026, 11, 6, 15, tzinfo=UTC)
    assert outcome_deadline(plan, renewal, NY) == datetime(2027, 2, 3, 15, tzinfo=UTC)


def test_plan_skips_what_has_passed() -> None:
    plan = RenewalPlan()
    now = datetime(2026, 10, 1, 12, tzinfo=UTC)
    reminders = plan_reminders(plan, date(2026, 10, 21), NY, now, [], why_past="late start")
    assert [(r.days_before, r.state) for r in reminders] == [
        (60, ReminderState.SKIPPED),
        (30, ReminderState.SKIPPED),
        (14, ReminderState.PENDING),
        (7, ReminderState.PENDING),
        (1, ReminderState.PENDING),
    ]
    assert reminders[0].note == "late start"


def test_a_moved_date_rearms_sent_reminders_only_for_a_real_move() -> None:
    plan = RenewalPlan()  # rearm_min_shift_days 7
    now = datetime(2026, 9, 10, 12, tzinfo=UTC)
    sent = [SentReminder(days_before=60, renewal_date=date(2026, 11, 1), at=now)]
    # Two days later: the 60-day reminder went out already, not again.
    small = plan_reminders(plan, date(2026, 11, 3), NY, now, sent, why_past="x")
    assert small[0].state is ReminderState.SENT
    assert small[0].note is not None and "2026-11-01" in small[0].note
    # Three months later: every reminder goes again, for the new date.
    big = plan_reminders(plan, date(2027, 2, 1), NY, now, sent, why_past="x")
    assert {r.state for r in big} == {ReminderState.PENDING}
    # Back to the first date: what was sent for it stays sent.
    back = plan_reminders(plan, date(2026, 11, 1), NY, now, sent, why_past="x")
    assert back[0].state is ReminderState.SENT and back[0].note is None


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 3, 1), 12, date(2028, 3, 1)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2027, 11, 15), 3, date(2028, 2, 15)),
        (date(2027, 12, 31), 24, date(2029, 12, 31)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


# ---------------------------------------------------------------- continue-as-new


def _through_temporal(inp: RenewalInput) -> RenewalInput:
    conv = pydantic_data_converter.payload_converter
    decoded: RenewalInput = conv.from_payloads(conv.to_payloads([inp]), [RenewalInput])[0]
    return decoded


def test_state_survives_continue_as_new() -> None:
    now = datetime(2026, 6, 1, 14, tzinfo=UTC)
    plan = load_playbook("renewal", RenewalPlan)
    state = RenewalState(
        plan=plan,
        started_at=now,
        term_started_at=now,
        term=2,
        renewal_date=date(2026, 9, 1),
        timezone=NY,
        reminders=plan_reminders(plan, date(2026, 9, 1), NY, now, [], why_past="x"),
        sent=[SentReminder(days_before=60, renewal_date=date(2026, 9, 1), at=now)],
        escalated_for=date(2026, 9, 1),
        previous_terms=[
            TermRecord(
                term=1, renewal_date=date(2025, 9, 1), outcome=RenewalOutcome.RENEWED, at=now
            )
        ],
        seen_event_ids=["evt_1"],
        actions=[ActionRecord(at=now, day=0, step="start", channel="journey", summary="s")],
    )
    carry = RenewalCarryOver(state=state).model_dump(mode="json")
    inp = _through_temporal(
        RenewalInput(customer_id="1003", renewal_date=date(2026, 9, 1), carry_over=carry)
    )
    assert inp.carry_over is not None
    assert RenewalCarryOver.model_validate(inp.carry_over).state == state

    nxt = RenewalCarryOver(
        next_term=NextTerm(term=3, started_at=now, previous_terms=state.previous_terms)
    ).model_dump(mode="json")
    inp = _through_temporal(
        RenewalInput(customer_id="1003", renewal_date=date(2027, 9, 1), carry_over=nxt)
    )
    assert inp.carry_over is not None
    restored = RenewalCarryOver.model_validate(inp.carry_over)
    assert restored.state is None and restored.next_term is not None
    assert restored.next_term.term == 3


def test_the_ui_input_is_small() -> None:
    inp = RenewalInput.model_validate({"customer_id": "1003", "renewal_date": "2027-03-01"})
    assert inp.term_months == 12 and inp.playbook == "renewal"
    with pytest.raises(ValidationError):
        RenewalInput.model_validate({"customer_id": "1003", "renewal_date": "2027-03-01", "x": 1})
    with pytest.raises(ValidationError):
        RenewalInput.model_validate(
            {"customer_id": "1003", "renewal_date": "2027-03-01", "playbook": "../etc"}
        )
