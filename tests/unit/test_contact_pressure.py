"""The contact-pressure policy (domain/contact_pressure.py) on the shipped playbook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.contact_pressure import ContactPressurePolicy, SentEmail, decide
from domain.tiers import Tier
from playbooks.loader import PACKAGE_DIR, load_playbook

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def policy() -> ContactPressurePolicy:
    return load_playbook("contact_pressure", ContactPressurePolicy, PACKAGE_DIR)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def test_welcome_first_then_caps_by_priority(policy: ContactPressurePolicy) -> None:
    start = ago(0.1)
    # Before the welcome: a celebration waits (sent later), even with no cap reached.
    early = decide(
        policy,
        template="milestone_celebration",
        tier=Tier.STARTER,
        now=NOW,
        sent=[],
        onboarding_started=start,
    )
    assert early.action == "later" and "waits for the welcome" in (early.reason or "")
    assert early.until is not None and early.until > NOW
    # The welcome itself always goes.
    assert (
        decide(
            policy,
            template="welcome",
            tier=Tier.STARTER,
            now=NOW,
            sent=[],
            onboarding_started=start,
        ).action
        == "send"
    )
    welcomed = [SentEmail(at=ago(0.05), template="welcome")]
    # After it: a nudge may not take the day's last e-mail (starter: 2 a day, 1 kept).
    nudge = decide(
        policy,
        template="nudge",
        tier=Tier.STARTER,
        now=NOW,
        sent=welcomed,
        onboarding_started=start,
    )
    assert nudge.action == "drop" and "cap 1 for nudge e-mails, starter tier" in (
        nudge.reason or ""
    )
    # A lifecycle e-mail takes it; the next one waits until the window frees.
    assert (
        decide(
            policy,
            template="usage_limit_warning",
            tier=Tier.STARTER,
            now=NOW,
            sent=welcomed,
            onboarding_started=start,
        ).action
        == "send"
    )
    two = [*welcomed, SentEmail(at=ago(0.01), template="usage_limit_warning")]
    held = decide(
        policy, template="quick_win", tier=Tier.STARTER, now=NOW, sent=two, onboarding_started=start
    )
    assert held.action == "later" and held.until == ago(0.05) + timedelta(days=1, minutes=1)
    # Transactional mail is never held.
    assert (
        decide(
            policy,
            template="dunning_payment_failed",
            tier=Tier.STARTER,
            now=NOW,
            sent=two,
            onboarding_started=start,
        ).action
        == "send"
    )


def test_no_survey_in_the_first_30_days_of_onboarding(policy: ContactPressurePolicy) -> None:
    welcomed = [SentEmail(at=ago(24 * 29), template="welcome")]
    day29 = decide(
        policy,
        template="nps_survey",
        tier=Tier.PROFESSIONAL,
        now=NOW,
        sent=welcomed,
        onboarding_started=ago(24 * 29),
    )
    assert day29.action == "drop"
    assert day29.reason == "no surveys in the first 30 days of onboarding (day 29)"
    day31 = decide(
        policy,
        template="nps_survey",
        tier=Tier.PROFESSIONAL,
        now=NOW,
        sent=welcomed,
        onboarding_started=ago(24 * 31),
    )
    assert day31.action == "send"


def test_a_first_survey_waits_once_for_a_starting_onboarding(
    policy: ContactPressurePolicy,
) -> None:
    first = decide(
        policy, template="nps_survey", tier=None, now=NOW, sent=[], onboarding_started=None
    )
    assert first.action == "later" and first.until == NOW + timedelta(minutes=10)
    again = decide(
        policy,
        template="nps_survey",
        tier=None,
        now=NOW + timedelta(minutes=10),
        sent=[],
        onboarding_started=None,
        held_since=NOW,
    )
    assert again.action == "send"


def test_weekly_cap_and_long_holds(policy: ContactPressurePolicy) -> None:
    week = [SentEmail(at=ago(30 + 24 * i), template="tips") for i in range(6)]
    held = decide(
        policy, template="check_in", tier=Tier.STARTER, now=NOW, sent=week, onboarding_started=None
    )
    assert held.action == "later" and "6 e-mails in the last 7 days" in (held.reason or "")
    dropped = decide(
        policy,
        template="check_in",
        tier=Tier.STARTER,
        now=NOW,
        sent=week,
        onboarding_started=None,
        held_since=NOW - timedelta(days=7),
    )
    assert dropped.action == "drop" and "held 7 days already" in (dropped.reason or "")


def test_a_demo_day_scales_the_windows(policy: ContactPressurePolicy) -> None:
    minute = timedelta(minutes=1)
    sent = [SentEmail(at=NOW - timedelta(seconds=90), template="welcome")]
    ok = decide(
        policy,
        template="quick_win",
        tier=Tier.COMMUNITY,
        now=NOW,
        sent=sent,
        onboarding_started=NOW - timedelta(seconds=100),
        day=minute,
    )
    assert ok.action == "send"  # the welcome was a (demo) day and a half ago


def test_the_policy_file_is_checked() -> None:
    with pytest.raises(ValueError, match="is in both"):
        ContactPressurePolicy.model_validate(
            {
                "caps": {},
                "default_caps": {"per_day": 1, "per_week": 2},
                "classes": [
                    {"name": "lifecycle", "when_capped": "later", "templates": ["tips"]},
                    {"name": "nudge", "when_capped": "drop", "templates": ["tips"]},
                ],
            }
        )
    with pytest.raises(ValueError, match="per_week must be at least per_day"):
        ContactPressurePolicy.model_validate(
            {
                "caps": {},
                "default_caps": {"per_day": 3, "per_week": 2},
                "classes": [{"name": "lifecycle", "when_capped": "later"}],
            }
        )


def test_caps_count_per_contact(policy: ContactPressurePolicy) -> None:
    """The quarterly NPS goes to every contact: the survey to the second contact is not
    held back by the e-mails the first one received today."""
    to_first = [
        SentEmail(at=ago(3), template="renewal_reminder", counts=False),
        SentEmail(at=ago(2), template="nps_survey", counts=False),
    ]
    second = decide(
        policy,
        template="nps_survey",
        tier=Tier.STARTER,
        now=NOW,
        sent=to_first,
        onboarding_started=None,
    )
    assert second.action == "send", second
    first_again = decide(
        policy,
        template="nps_survey",
        tier=Tier.STARTER,
        now=NOW,
        sent=[SentEmail(at=s.at, template=s.template) for s in to_first],
        onboarding_started=None,
    )
    assert first_again.action == "drop"


def test_the_welcome_is_waited_for_by_other_workflows_only_and_one_day_at_most(
    policy: ContactPressurePolicy,
) -> None:
    # The journey's own e-mails: it orders them itself (a plan may have no welcome).
    own = decide(
        policy,
        template="quick_win",
        tier=Tier.STARTER,
        now=NOW,
        sent=[],
        onboarding_started=ago(1),
        from_onboarding=True,
    )
    assert own.action == "send"
    # Another workflow's e-mail waits for the welcome on day 0, not after.
    waits = decide(
        policy, template="renewal_reminder", tier=None, now=NOW, sent=[], onboarding_started=ago(1)
    )
    assert waits.action == "later"
    late = decide(
        policy, template="renewal_reminder", tier=None, now=NOW, sent=[], onboarding_started=ago(25)
    )
    assert late.action == "send"
