"""Date arithmetic of the plans: the onboarding schedule's steps, renewal reminders,
campaign days and step times, in zones east and west of UTC and across DST. Plans are
built here, not read from playbooks/. Pure: no server, no network."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.campaigns import MAX_IDS_KEPT, campaign_day, iso_date, remember, step_time
from domain.onboarding_plan import OnboardingPlan
from domain.onboarding_schedule import StepKind, build_schedule
from domain.renewal import (
    ReminderState,
    SentReminder,
    add_months,
    plan_reminders,
    reminder_due,
)
from domain.renewal_plan import RenewalPlan, RenewalReminder
from domain.send_window import SendWindow

TOKYO, LA, NY = "Asia/Tokyo", "America/Los_Angeles", "America/New_York"
WINDOW = SendWindow()  # 10:00, quiet 20-8


def at(tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).astimezone(UTC)


# ------------------------------------------------------------------ onboarding schedule
PLAN = OnboardingPlan.model_validate(
    {
        "name": "sched",
        "tier": "starter",
        "version": 1,
        "duration_days": 30,
        "phases": [
            {"key": "setup", "name": "Set up", "start_day": 0, "end_day": 9},
            {"key": "adopt", "name": "Adopt", "start_day": 10, "end_day": 30},
        ],
        "emails": [
            {"day": 0, "template": "welcome", "purpose": "Say hello"},
            {"day": 10, "template": "tips"},
        ],
        "recurring_emails": [
            {"template": "weekly", "every_days": 7, "from_day": 7, "until_day": 21},
        ],
        "check_ins": [
            {"day": 10, "title": "Kick-off call", "kind": "kickoff"},
            {"day": 10, "title": "Second call"},
        ],
        "milestones": [{"key": "first_flow", "title": "First workflow", "deadline_day": 10}],
        "completion_template": "done",
    }
)


def test_schedule_orders_steps_by_day_then_kind_then_key() -> None:
    steps = build_schedule(PLAN)
    assert [(s.day, s.kind, s.key, s.ref, s.title) for s in steps] == [
        (0, StepKind.PHASE_START, "phase:setup", "setup", "Set up"),
        (0, StepKind.EMAIL, "email:welcome:d0", "welcome", "Say hello"),
        (7, StepKind.EMAIL, "email:weekly:d7", "weekly", "weekly"),
        (7, StepKind.SURVEY, "survey:d7", "onboarding_survey", "Onboarding survey (day 7)"),
        (10, StepKind.PHASE_START, "phase:adopt", "adopt", "Adopt"),
        (10, StepKind.EMAIL, "email:tips:d10", "tips", "tips"),  # no purpose: the template
        (10, StepKind.CHECK_IN, "check_in:d10:1", "check_in", "Second call"),
        (10, StepKind.CHECK_IN, "kickoff:d10:0", "kickoff", "Kick-off call"),
        (10, StepKind.MILESTONE_DEADLINE, "milestone:first_flow:deadline", "first_flow",
         "First workflow"),
        (14, StepKind.EMAIL, "email:weekly:d14", "weekly", "weekly"),
        (21, StepKind.EMAIL, "email:weekly:d21", "weekly", "weekly"),
        (30, StepKind.COMPLETE, "complete", "done", "Onboarding complete"),
        (30, StepKind.SURVEY, "survey:d30", "onboarding_survey", "Onboarding survey (day 30)"),
    ]  # fmt: skip


def test_recurring_email_with_a_purpose_is_titled_by_it() -> None:
    plan = PLAN.model_copy(
        update={
            "recurring_emails": [
                PLAN.recurring_emails[0].model_copy(update={"purpose": "Weekly digest"})
            ]
        }
    )
    weekly = [s for s in build_schedule(plan) if s.ref == "weekly"]
    assert [s.title for s in weekly] == ["Weekly digest"] * 3


def test_steps_that_share_a_key_are_refused_by_name() -> None:
    plan = PLAN.model_copy(
        update={
            "emails": [*PLAN.emails, PLAN.emails[0], PLAN.emails[1]],  # welcome and tips twice
        }
    )
    with pytest.raises(
        ValueError, match=r"^plan sched: steps share a key: email:tips:d10, email:welcome:d0$"
    ):
        build_schedule(plan)


# ------------------------------------------------------------------ renewal
@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 2, 15), 11, date(2028, 1, 15)),  # month index 12: the next year
        (date(2027, 12, 1), 1, date(2028, 1, 1)),
        (date(2027, 1, 1), 11, date(2027, 12, 1)),
        (date(2027, 8, 31), 1, date(2027, 9, 30)),
        (date(2027, 1, 31), 13, date(2028, 2, 29)),  # a leap February
    ],
)
def test_add_months_across_the_year(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_renewal_reminders_at_the_customers_send_hour_east_and_west() -> None:
    plan = RenewalPlan()
    renewal = date(2027, 3, 21)
    # 10:00 Tokyo is 01:00 UTC the same day; 10:00 Los Angeles is 18:00 UTC (PST) or 17:00
    # (PDT, from 14 March 2027).
    assert reminder_due(plan, renewal, 7, TOKYO) == datetime(2027, 3, 14, 1, tzinfo=UTC)
    assert reminder_due(plan, renewal, 7, LA) == datetime(2027, 3, 14, 17, tzinfo=UTC)
    assert reminder_due(plan, renewal, 14, LA) == datetime(2027, 3, 7, 18, tzinfo=UTC)
    assert reminder_due(plan, renewal, 1, "Not/A_Zone") == datetime(2027, 3, 20, 10, tzinfo=UTC)


def test_plan_reminders_states_due_times_and_done_times() -> None:
    plan = RenewalPlan(reminders=[RenewalReminder(days_before=30), RenewalReminder(days_before=7)])
    renewal = date(2027, 3, 15)
    sent_at = datetime(2027, 2, 13, 1, tzinfo=UTC)
    sent = [SentReminder(days_before=30, renewal_date=renewal, at=sent_at)]
    now = reminder_due(plan, renewal, 7, TOKYO)  # exactly due: still to send, not skipped
    out = plan_reminders(plan, renewal, TOKYO, now, sent, why_past="late")
    assert [(r.days_before, r.state, r.due_at, r.done_at, r.note) for r in out] == [
        (30, ReminderState.SENT, datetime(2027, 2, 13, 1, tzinfo=UTC), sent_at, None),
        (7, ReminderState.PENDING, datetime(2027, 3, 8, 1, tzinfo=UTC), None, None),
    ]
    later = now + timedelta(seconds=1)
    out = plan_reminders(plan, renewal, TOKYO, later, sent, why_past="late")
    assert (out[1].state, out[1].done_at, out[1].note) == (ReminderState.SKIPPED, later, "late")
    assert {r.renewal_date for r in out} == {renewal}


@pytest.mark.parametrize(
    ("moved_days", "state"),
    [(6, ReminderState.SENT), (-6, ReminderState.SENT), (7, ReminderState.PENDING),
     (-7, ReminderState.PENDING)],
)  # fmt: skip
def test_a_date_moved_by_the_rearm_shift_sends_again(moved_days: int, state: ReminderState) -> None:
    plan = RenewalPlan(reminders=[RenewalReminder(days_before=30)])  # rearm after 7 days
    first = date(2027, 6, 1)
    sent_at = datetime(2027, 5, 2, 14, tzinfo=UTC)
    sent = [SentReminder(days_before=30, renewal_date=first, at=sent_at)]
    now = datetime(2027, 4, 1, tzinfo=UTC)
    moved = first + timedelta(days=moved_days)
    (r,) = plan_reminders(plan, moved, NY, now, sent, why_past="late")
    assert r.state is state
    if state is ReminderState.SENT:
        assert r.done_at == sent_at
        assert r.note == "sent for 2027-06-01 (the date moved less than 7 days)"
    else:
        assert r.done_at is None and r.note is None


def test_renewal_plan_lookups() -> None:
    plan = RenewalPlan()
    reminder = plan.reminder(30)
    assert reminder is not None and reminder.days_before == 30 and reminder.crm_task
    assert plan.reminder(29) is None
    assert plan.templates_used() == {
        "email": {"renewal_reminder"},
        "slack": {"renewal_reminder", "renewal_overdue"},
    }
    quiet = RenewalPlan(reminders=[RenewalReminder(days_before=5, alert_csm=None)])
    assert quiet.templates_used()["slack"] == {"renewal_overdue"}


# ------------------------------------------------------------------ campaigns
@pytest.mark.parametrize(
    ("anchor", "when", "tz", "day"),
    [
        # 23:00 and 01:00 Tokyo: the next local day although the same UTC day.
        (at(TOKYO, 2027, 1, 5, 23), at(TOKYO, 2027, 1, 6, 1), TOKYO, 1),
        (at(TOKYO, 2027, 1, 5, 23), at(TOKYO, 2027, 1, 6, 1), "UTC", 0),
        # 15:00 and 17:00 Los Angeles: the same local day although the next UTC day.
        (at(LA, 2027, 1, 5, 15), at(LA, 2027, 1, 5, 17), LA, 0),
        (at(LA, 2027, 1, 5, 15), at(LA, 2027, 1, 5, 17), None, 1),
        (at(LA, 2027, 3, 13, 12), at(LA, 2027, 3, 15, 12), LA, 2),  # across spring forward
        (at(LA, 2027, 1, 6), at(LA, 2027, 1, 5), LA, 0),  # before the anchor: day 0
    ],
)
def test_campaign_day_counts_local_days(
    anchor: datetime, when: datetime, tz: str | None, day: int
) -> None:
    assert campaign_day(anchor, when, tz) == day


@pytest.mark.parametrize(
    ("anchor", "day", "tz", "expected"),
    [
        (at(TOKYO, 2027, 1, 6, 1), 0, TOKYO, at(TOKYO, 2027, 1, 6, 1)),  # day 0: at once
        (at(TOKYO, 2027, 1, 6, 1), -1, TOKYO, at(TOKYO, 2027, 1, 6, 1)),
        (at(TOKYO, 2027, 1, 6, 1), 1, TOKYO, at(TOKYO, 2027, 1, 7, 10)),  # Jan 5 in UTC
        (at(LA, 2027, 1, 5, 23), 1, LA, at(LA, 2027, 1, 6, 10)),  # Jan 6 in UTC
        (at(LA, 2027, 3, 13, 9), 1, LA, datetime(2027, 3, 14, 17, tzinfo=UTC)),  # PDT
        (at(LA, 2027, 3, 13, 9), 7, "Bad/Zone", datetime(2027, 3, 20, 10, tzinfo=UTC)),
    ],
)
def test_step_time_at_the_local_send_hour(
    anchor: datetime, day: int, tz: str, expected: datetime
) -> None:
    assert step_time(anchor, day, tz, WINDOW) == expected


def test_iso_date_and_dedup_memory() -> None:
    assert iso_date(datetime(2027, 1, 5, 23, 59, tzinfo=UTC)) == "2027-01-05"
    assert iso_date(date(2027, 1, 5)) == "2027-01-05"
    ids = [f"e{i}" for i in range(MAX_IDS_KEPT + 100)]
    kept = remember(ids, "new")
    assert len(kept) == MAX_IDS_KEPT
    assert kept[0] == f"e{100 + 1}" and kept[-2:] == [f"e{MAX_IDS_KEPT + 99}", "new"]
    assert remember(["a"], "b") == ["a", "b"]


def test_onboarding_surveys_default_to_the_seed_days_within_the_plan() -> None:
    assert PLAN.survey_days is None and PLAN.surveys() == [7, 30]  # a 30-day plan: no day 90
    data = PLAN.model_dump()
    assert OnboardingPlan.model_validate({**data, "survey_days": [14]}).surveys() == [14]
    with pytest.raises(ValueError, match=r"survey_days\[0\] is on day 45, after the plan ends"):
        OnboardingPlan.model_validate({**data, "survey_days": [45]})
    with pytest.raises(ValueError, match=r"survey_days\[1\] \(7\) must be a day >= 1, listed"):
        OnboardingPlan.model_validate({**data, "survey_days": [7, 7]})
