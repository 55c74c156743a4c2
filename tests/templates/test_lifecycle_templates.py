"""What the dunning, churn-prevention and win-back templates say, beyond the checks every
template gets in test_rendering.py: the dunning tone by attempt day, one exit-survey
link per exit reason, the offer terms from the playbook, the Slack alerts' wording."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.survey_links import exit_survey_links
from domain.winback import ExitReason
from templates.renderer import render_email, render_slack

LINKS = exit_survey_links(
    "https://hub.example", "secret", "1001", campaign="c1", expires=4_000_000_000
)


def ctx(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "company_name": "Acme Analytics",
        "contact_first_name": "Ann",
        "csm_name": "Dana Reyes",
        "csm_email": "dana@cshub.example",
        "tier": "starter",
        "day": 7,
        "sender_name": "cshub",
        "unsubscribe_url": "https://cshub.example/unsubscribe?c=1001",
        "app_url": "https://app.cshub.example/",
        "extra": {},
    }
    base.update(overrides)
    return base


def slack_ctx(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "company_name": "Acme Analytics",
        "customer_id": "1001",
        "tier": "professional",
        "csm_name": "Dana Reyes",
        "csm_slack_id": "U0DANA",
        "workflow_id": "churn-1001",
        "day": 9,
        "extra": {},
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("extra", "subject", "headline"),
    [
        ({"attempt_day": 0}, "Your cshub payment did not go through", "did not go through"),
        ({"attempt_day": 3}, "Reminder: your cshub payment is still open", "quick reminder"),
        (
            {"attempt_day": 7},
            "Action needed: update Acme Analytics's payment details",
            "Action needed",
        ),
        (
            {"attempt_day": 14, "final_notice": True},
            "Final reminder: Acme Analytics's payment is still outstanding",
            "last reminder",
        ),
    ],
)
def test_dunning_tone_follows_the_attempt_day(
    extra: dict[str, Any], subject: str, headline: str
) -> None:
    email = render_email("dunning_payment_failed", ctx(extra=extra))
    assert email.subject == subject
    assert headline in email.text
    assert "https://app.cshub.example/settings/billing" in email.text


def test_dunning_shows_the_amount_when_known() -> None:
    extra = {"attempt_day": 0, "amount_due_cents": 118800, "currency": "EUR"}
    email = render_email("dunning_payment_failed", ctx(extra=extra))
    assert "(€1,188.00)" in email.text and "(€1,188.00)" in email.html
    unknown = render_email("dunning_payment_failed", ctx(extra={"attempt_day": 0}))
    assert "cshub subscription. This happens" in unknown.text


def test_exit_survey_has_one_link_per_reason() -> None:
    email = render_email("winback_exit_survey", ctx(exit_survey_links=LINKS))
    assert set(LINKS) == {r.value for r in ExitReason}
    for url in LINKS.values():
        assert url in email.text
        assert url.replace("&", "&amp;") in email.html
    assert email.html.count('class="btn"') == len(ExitReason)


@pytest.mark.parametrize("links", [None, {}])
def test_exit_survey_without_links_asks_for_a_reply(links: dict[str, str] | None) -> None:
    email = render_email("winback_exit_survey", ctx(exit_survey_links=links))
    assert "reply to this e-mail with the main reason" in email.text
    assert "It was too expensive" in email.text
    assert "/survey/exit" not in email.html


def test_offer_terms_come_from_the_playbook() -> None:
    extra = {"discount_percent": 20, "discount_months": 3, "trial_days": 30}
    email = render_email("winback_offer", ctx(extra=extra))
    assert "20% off for your first 3 months" in email.text
    assert "30 days free" in email.text
    plain = render_email("winback_offer", ctx())
    assert "put together an offer" in plain.text


def test_reengagement_changes_after_the_first_one() -> None:
    first = render_email("churn_reengagement", ctx(extra={"times_sent": 0}))
    later = render_email("churn_reengagement", ctx(extra={"times_sent": 2}))
    assert first.subject != later.subject
    assert "Still here to help" in later.text


def test_dunning_alert_names_amount_and_final_day() -> None:
    extra = {"amount_due_cents": 9900, "currency": "USD", "final_failure_day": 21}
    message = render_slack("dunning_csm_alert", slack_ctx(day=7, extra=extra))
    dumped = json.dumps(message.blocks)
    assert "$99.00" in dumped and "by day 21" in dumped
    assert message.text.endswith("payment still failing on day 7 of dunning")


def test_escalation_lists_factors_and_score() -> None:
    extra = {"risk_factors": ["usage_drop", "low_health"], "health_score": 45.0}
    message = render_slack(
        "churn_executive_escalation", slack_ctx(extra=extra, reason="health score 45")
    )
    dumped = json.dumps(message.blocks)
    assert "usage drop, low health" in dumped and "*Health score*\\n45" in dumped
    assert message.text == ":rotating_light: Executive escalation: Acme Analytics (health score 45)"


@pytest.mark.parametrize(
    ("outcome", "words"),
    [
        ("recovered", "customer recovered"),
        ("churned", "customer churned"),
        ("expired", "maximum duration reached"),
        ("cancelled", "cancelled"),
    ],
)
def test_campaign_ended_says_the_outcome(outcome: str, words: str) -> None:
    message = render_slack("churn_campaign_ended", slack_ctx(extra={"outcome": outcome}))
    assert message.text.endswith(words)
    assert words in message.blocks[0]["text"]["text"]
