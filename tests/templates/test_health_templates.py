"""What the health sweep's templates say (playbooks/health/outreach.yaml), beyond the checks
every template gets in test_rendering.py / test_languages.py: the usage warning's numbers
and advice, the celebration by kind, the decline alert's mentions and score history, and
that values from the CRM or the sweep stay inert in HTML and Slack."""

from __future__ import annotations

import json
from typing import Any

import pytest
from markupsafe import escape

from templates.renderer import RenderedSlack, render_email, render_slack
from tests.templates.test_rendering import LEFTOVER_SYNTAX, all_parts, mrkdwn_texts, strings

SEATS = {"limit_name": "licensed seats", "used": 87.0, "limit": 100.0, "percent": 87.0}
RUNS = {"limit_name": "workflow runs this month", "used": 8750.0, "limit": 10000.0, "percent": 87.5}
DECLINE = {
    "score": 64.25,
    "previous_score": 78.5,
    "delta": -14.25,
    "category": "at_risk",
    "category_label": "At risk",
    "model": "seed001 v1",
    "weakest": [
        {"label": "Engagement", "score": 32.5},
        {"label": "Product usage", "score": 41.0},
        {"label": "Technical health", "score": 58.75},
    ],
    "low_confidence": False,
}
HOSTILE = '<b>x</b> & "q" <!channel>'


def ctx(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "company_name": "Acme Analytics",
        "contact_first_name": "Ann",
        "csm_name": "Dana Reyes",
        "csm_email": "dana@cshub.example",
        "tier": "starter",
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
        "ae_name": "Sam Patel",
        "ae_slack_id": "U0SAM",
        "workflow_id": "health-outreach-1001-20260302T060000Z",
        "crm_url": "https://crm.example/company/1001",
        "extra": {},
    }
    base.update(overrides)
    return base


def dumped(message: RenderedSlack) -> str:
    return json.dumps(message.model_dump(), ensure_ascii=False)


# ---------------------------------------------------------------- usage_limit_warning


def test_usage_warning_names_the_limit_the_numbers_and_the_percent() -> None:
    email = render_email("usage_limit_warning", ctx(extra=RUNS))
    assert email.subject == "Heads-up: Acme Analytics is at 87.5% of a cshub usage limit"
    assert "Heads-up: you have used 87.5% of your workflow runs this month\n" in email.text
    assert "Current usage: 8,750 of 10,000 workflow runs this month (87.5%)" in email.text
    assert "8,750 of 10,000 workflow runs this month (87.5%)" in email.html
    assert "87.5% of your workflow runs this month</h1>" in email.html
    assert "Check how often your scheduled workflows run" in email.text  # run tips


def test_usage_warning_for_seats_gives_seat_tips() -> None:
    email = render_email("usage_limit_warning", ctx(extra=SEATS))
    assert email.subject == "Heads-up: Acme Analytics is at 87% of a cshub usage limit"
    assert "87 of 100 licensed seats (87%)" in email.text  # whole numbers without ".0"
    assert "free up the seats of people who have left" in email.text
    assert "scheduled workflows" not in email.text


@pytest.mark.parametrize(
    ("tier", "offer"),
    [
        ("community", "an upgrade to Professional, which comes with higher limits"),
        ("starter", "an upgrade to Professional, which comes with higher limits"),
        ("professional", "an upgrade to Enterprise, which comes with higher limits"),
        ("enterprise", "the options for more capacity on your plan"),
        (None, "the options for more capacity on your plan"),
    ],
)
def test_usage_warning_offers_an_upgrade_or_a_temporary_increase(
    tier: str | None, offer: str
) -> None:
    email = render_email("usage_limit_warning", ctx(tier=tier, extra=RUNS))
    assert f"Dana Reyes would be glad to walk you through {offer}." in email.text
    assert "ask about a temporary limit increase" in email.text
    assert "temporary limit increase" in email.html


def test_usage_warning_in_spanish_translates_the_limit_and_groups_digits_safely() -> None:
    english = render_email("usage_limit_warning", ctx(extra=RUNS))
    spanish = render_email("usage_limit_warning", ctx(extra=RUNS), language="es-MX")
    assert spanish.language == "es"
    assert spanish.subject != english.subject
    assert spanish.subject == (
        "Aviso: Acme Analytics ha alcanzado el 87.5% de un límite de uso de cshub"
    )
    assert "ha utilizado el 87.5% de sus ejecuciones de flujos de trabajo de este mes" in (
        spanish.text
    )
    # Numbers as the contact's region writes them (Babel, CLDR): Mexico groups with a
    # comma and writes a decimal point; Spain groups with a point and
    # writes a decimal comma.
    assert "Uso actual: 8,750 de 10,000 ejecuciones de flujos de trabajo" in spanish.text
    spain = render_email("usage_limit_warning", ctx(extra=RUNS), language="es-ES")
    assert "Uso actual: 8.750 de 10.000 ejecuciones de flujos de trabajo" in spain.text
    assert "(87,5%)" in spain.text and "el 87,5% de un límite" in spain.subject
    assert "workflow runs" not in spanish.text
    seats = render_email("usage_limit_warning", ctx(extra=SEATS), language="es")
    assert "87 de 100 licencias de usuario (87%)" in seats.text
    assert "el cambio al plan Professional" in seats.text
    assert "aumento temporal del límite" in seats.text


def test_usage_warning_without_figures_stays_general() -> None:
    for language in ("en", "es"):
        email = render_email("usage_limit_warning", ctx(extra={}), language=language)
        parts = all_parts(email)
        assert "%" not in email.subject and "None" not in parts
        assert "Current usage" not in parts and "Uso actual" not in parts
    email = render_email("usage_limit_warning", ctx(extra={"limit_name": "licensed seats"}))
    assert email.subject == "Heads-up: Acme Analytics is close to a cshub usage limit"
    assert "Heads-up: you are getting close to your limit of licensed seats" in email.text


def test_usage_warning_escapes_the_limit_name_once_in_html() -> None:
    email = render_email("usage_limit_warning", ctx(extra={**RUNS, "limit_name": HOSTILE}))
    assert "<b>" not in email.html and "<!channel>" not in email.html
    assert str(escape(HOSTILE)) in email.html
    assert "&amp;lt;" not in email.html and "&amp;amp;" not in email.html  # not twice
    assert f"of your {HOSTILE}" in email.text  # plain text is not HTML
    assert "scheduled workflows" in email.text  # not a seat limit


def test_usage_warning_reads_numbers_given_as_strings_and_ignores_garbage() -> None:
    email = render_email(
        "usage_limit_warning",
        ctx(extra={"limit_name": "licensed seats", "used": "87", "limit": "100", "percent": "x"}),
    )
    assert "Current usage: 87 of 100 licensed seats\n" in email.text
    assert "close to a cshub usage limit" in email.subject


# ----------------------------------------------------------------- health_celebration


def test_celebration_of_a_recovery() -> None:
    extra = {"kind": "recovery", "score": 72.5, "category_label": "Good"}
    email = render_email("health_celebration", ctx(extra=extra))
    assert email.subject == "Acme Analytics is back on track with cshub"
    assert email.text.startswith("Hi Ann,\n\nAcme Analytics is back on track\n")
    assert "After a difficult period" in email.text
    assert "- Account health score: 72.5/100 (Good)\n" in email.text
    assert "Your road to the next milestone\n- Keep the routines that turned things around" in (
        email.text
    )
    assert "Account health score: 72.5/100 (Good)</li>" in email.html


def test_celebration_of_top_health_with_highlights_from_the_crm() -> None:
    extra = {"kind": "milestone", "score": 91.25, "category_label": "Healthy"}
    company = {"cshub_outcomes": "Dispatch 30% faster", "cshub_usage_summary": "12 workflows"}
    email = render_email("health_celebration", ctx(extra=extra, company=company))
    assert email.subject == "Congratulations, Acme Analytics: a milestone worth celebrating"
    assert "Congratulations, Acme Analytics!" in email.text
    for line in ("91.2/100 (Healthy)", "Results: Dispatch 30% faster", "Usage: 12 workflows"):
        assert line in email.text and line in email.html
    assert "Share what you achieved" in email.text
    assert "After a difficult period" not in email.text


def test_celebration_next_step_replaces_the_default_roadmap() -> None:
    extra = {"kind": "milestone", "score": 91.25, "category_label": "Healthy"}
    email = render_email(
        "health_celebration", ctx(extra=extra, next_step="Roll out to the EMEA team by June.")
    )
    assert "Your road to the next milestone\nRoll out to the EMEA team by June.\n" in email.text
    assert "Share what you achieved" not in email.text


def test_celebration_in_spanish() -> None:
    for kind in ("recovery", "milestone"):
        extra = {"kind": kind, "score": 88.0, "category_label": "Healthy"}
        english = render_email("health_celebration", ctx(extra=extra))
        spanish = render_email("health_celebration", ctx(extra=extra), language="es")
        assert spanish.language == "es"
        assert spanish.subject != english.subject
        assert "Puntuación de salud de la cuenta: 88/100 (Saludable)" in spanish.text
        assert "Healthy" not in spanish.text
    recovery = render_email("health_celebration", ctx(extra={"kind": "recovery"}), language="es")
    assert recovery.subject == "Acme Analytics vuelve a ir por buen camino con cshub"


def test_celebration_escapes_crm_values_in_html() -> None:
    extra = {"kind": "milestone", "score": 90, "category_label": HOSTILE}
    email = render_email(
        "health_celebration", ctx(extra=extra, company={"cshub_outcomes": HOSTILE})
    )
    assert "<b>" not in email.html and "<!channel>" not in email.html
    assert email.html.count(str(escape(HOSTILE))) == 2
    assert "&amp;lt;" not in email.html


# --------------------------------------------------------------------- Slack: decline


def test_decline_mentions_the_csm_and_the_account_executive() -> None:
    message = render_slack("health_decline", slack_ctx(extra=DECLINE))
    assert message.text == (
        ":chart_with_downwards_trend: Acme Analytics: health score dropped to 64.2 (At risk) "
        "from 78.5"
    )
    assert message.blocks[0]["text"]["text"] == (
        ":chart_with_downwards_trend: Acme Analytics: health dropped to At risk"
    )
    body = message.blocks[1]["text"]["text"]
    assert body.startswith(
        "<@U0DANA> <@U0SAM>: the health score of *Acme Analytics* (Professional) dropped "
        "from 78.5 to *64.2 (At risk)*, -14.3 since the last sweep."
    )
    assert "*Weakest dimensions:* Engagement 32.5 · Product usage 41 · Technical health 58.7" in (
        body
    )
    assert "Low confidence" not in body and "No account executive" not in body
    fields = [f["text"] for f in message.blocks[2]["fields"]]
    assert "*Previous*\n78.5" in fields and "*Change*\n-14.3" in fields
    assert "*Model*\nseed001 v1" in fields and "*Account executive*\nSam Patel" in fields
    todo = message.blocks[3]["text"]["text"]
    assert "check-in call within 24 hours (the task is in the CRM)" in todo
    assert "`cshub health explain 1001`" in todo
    assert "root cause and agree a remediation plan with <@U0SAM>" in todo
    assert message.blocks[4]["type"] == "actions"


def test_decline_of_a_first_score() -> None:
    extra = {**DECLINE, "previous_score": None, "delta": None, "category_label": "Critical"}
    message = render_slack("health_decline", slack_ctx(extra=extra))
    assert message.text == (
        ":chart_with_downwards_trend: Acme Analytics: first health score is 64.2 (Critical)"
    )
    assert "is *64.2 (Critical)*: its first score." in message.blocks[1]["text"]["text"]
    fields = [f["text"] for f in message.blocks[2]["fields"]]
    assert "*Previous*\nfirst score" in fields and "*Change*\n-" in fields


def test_decline_without_an_account_executive() -> None:
    message = render_slack("health_decline", slack_ctx(ae_name=None, ae_slack_id=None))
    body = message.blocks[1]["text"]["text"]
    assert body.startswith("<@U0DANA>: the health score")
    assert "No account executive is set for *Acme Analytics*" in body
    assert "*Account executive*\n_not set_" in [f["text"] for f in message.blocks[2]["fields"]]
    assert "<@U0SAM>" not in dumped(message)
    left_out = slack_ctx()
    del left_out["ae_name"], left_out["ae_slack_id"]
    assert render_slack("health_decline", left_out) == message
    by_name = render_slack("health_decline", slack_ctx(ae_slack_id=None, extra=DECLINE))
    assert by_name.blocks[1]["text"]["text"].startswith("<@U0DANA> Sam Patel: ")


def test_decline_with_low_confidence_and_no_weak_dimensions() -> None:
    extra = {**DECLINE, "weakest": [], "low_confidence": True}
    body = render_slack("health_decline", slack_ctx(extra=extra)).blocks[1]["text"]["text"]
    assert "Weakest dimensions" not in body
    assert ":warning: *Low confidence:*" in body


def test_decline_values_stay_inert_and_valid_json() -> None:
    nasty = 'x" \\ \n <!here> & <@U0BOSS>'
    extra = {
        **DECLINE,
        "category_label": nasty,
        "model": nasty,
        "weakest": [{"label": nasty, "score": 1}, "not a dimension", {"score": None}],
    }
    message = render_slack(
        "health_decline",
        slack_ctx(company_name=nasty, ae_name=nasty, ae_slack_id="U1> <!channel", extra=extra),
    )
    for text in mrkdwn_texts(message):
        assert "<!here>" not in text and "<@U0BOSS>" not in text and "<!channel" not in text
    assert "&lt;!here&gt;" in message.blocks[1]["text"]["text"]
    assert "· ? -" in message.blocks[1]["text"]["text"]  # a dimension without label or score
    for text in strings(message.model_dump()):
        assert "None" not in text and not LEFTOVER_SYNTAX.search(text)


# ------------------------------------------------------------ Slack: usage, celebration


def test_usage_alert_gives_the_numbers_and_what_to_do() -> None:
    message = render_slack("usage_limit_alert", slack_ctx(extra=RUNS))
    assert message.text == (
        ":chart_with_upwards_trend: Acme Analytics: 87.5% of workflow runs this month used "
        "(8,750 of 10,000)"
    )
    body = message.blocks[1]["text"]["text"]
    assert body.startswith(
        "<@U0DANA>: *Acme Analytics* (Professional) has used *87.5%* of its "
        "*workflow runs this month* (8,750 of 10,000)."
    )
    assert "<@U0SAM>" not in dumped(message)  # the AE is named, not pinged
    todo = message.blocks[3]["text"]["text"]
    assert "• Schedule an upgrade discussion call: Enterprise may fit better (bring in Sam " in todo
    assert "usage optimisation" in todo and "workflows that run more often" in todo
    assert "consider a temporary limit increase" in todo
    seats = render_slack("usage_limit_alert", slack_ctx(tier="starter", extra=SEATS))
    assert "Professional has higher limits" in dumped(seats)
    assert "unused seats" in dumped(seats)


def test_usage_alert_escapes_the_limit_name() -> None:
    message = render_slack("usage_limit_alert", slack_ctx(extra={**RUNS, "limit_name": HOSTILE}))
    assert HOSTILE in message.blocks[0]["text"]["text"]  # plain_text header: shown as is
    for text in mrkdwn_texts(message):
        assert "<!channel>" not in text and "<b>" not in text
    assert '*&lt;b&gt;x&lt;/b&gt; &amp; "q" &lt;!channel&gt;*' in message.blocks[1]["text"]["text"]


@pytest.mark.parametrize(
    ("kind", "headline", "said"),
    [
        ("recovery", ":tada: Acme Analytics is back on track", "recovered to *72.5 (Good)*"),
        ("milestone", ":trophy: Acme Analytics reached top health", "band: *72.5 (Good)*"),
    ],
)
def test_celebration_alert_by_kind(kind: str, headline: str, said: str) -> None:
    extra = {"kind": kind, "score": 72.5, "category_label": "Good"}
    message = render_slack("health_celebration_alert", slack_ctx(tier="enterprise", extra=extra))
    assert message.blocks[0]["text"]["text"] == headline
    assert said in message.blocks[1]["text"]["text"]
    todo = message.blocks[3]["text"]["text"]
    assert "recognition call with their executive team (and their executive sponsor)" in todo
    assert "Ask for a success story" in todo
    assert ("what turned the account around" in todo) == (kind == "recovery")


def test_celebration_alert_escapes_the_label() -> None:
    extra = {"kind": "milestone", "score": 90, "category_label": HOSTILE}
    message = render_slack("health_celebration_alert", slack_ctx(extra=extra))
    for text in mrkdwn_texts(message):
        assert "<!channel>" not in text and "<b>" not in text
    assert "*90 (&lt;b&gt;" in message.blocks[1]["text"]["text"]
