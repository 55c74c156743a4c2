"""Text people read outside Slack and in alerts: scores with one decimal at most (cut,
never across a band threshold), Slack mrkdwn turned back into plain text."""

from __future__ import annotations

import pytest

from domain.score_text import delta_text, score_text
from templates.renderer import mrkdwn_plain, render_slack, slack_escape


@pytest.mark.parametrize(
    ("value", "text"),
    [(5.77, "5.7"), (55.45, "55.4"), (69.96, "69.9"), (90.0, "90"), (0, "0"), (100, "100")],
)
def test_a_score_has_one_decimal_at_most_and_never_rounds_up_into_a_band(
    value: float, text: str
) -> None:
    assert score_text(value) == text


def test_no_score_is_no_text_and_a_change_has_its_sign() -> None:
    assert score_text(None) == "" and score_text(float("nan")) == ""
    assert [delta_text(v) for v in (-14.25, 3, 0, 0.04, 2.5)] == ["-14.3", "+3", "±0", "±0", "+2.5"]


def test_mrkdwn_comes_back_as_the_text_people_read() -> None:
    assert mrkdwn_plain(":rocket: Quill &amp; Co started") == ":rocket: Quill & Co started"
    assert mrkdwn_plain("<@U0DANA>: see <https://crm.example/c/1?a=1&amp;b=2|the card>") == (
        "@U0DANA: see the card"
    )
    assert mrkdwn_plain("<!here> <https://x.example>") == "@here https://x.example"
    # An escaped "<" in a name is text, never a link or a mention.
    hostile = slack_escape("<https://evil.example|click> & <!channel>")
    assert mrkdwn_plain(hostile) == "<https://evil.example|click> & <!channel>"


def test_a_slack_alert_is_escaped_for_slack_and_plain_for_the_record() -> None:
    message = render_slack(
        "onboarding_started",
        {
            "company_name": "Quill & Co",
            "customer_id": "1004",
            "tier": "starter",
            "csm_name": "Dana Reyes",
            "workflow_id": "onboarding-1004",
        },
    )
    assert "Quill &amp; Co" in message.text
    assert mrkdwn_plain(message.text) == ":rocket: Quill & Co started Starter onboarding"
