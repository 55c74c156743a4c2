"""Money, counts and dates as the reader's locale writes them (Babel, CLDR), in every
e-mail and Slack message that shows one: minor units per currency (JPY and KRW have none,
KWD three), "1 day" / "2 days" / "1 día" / "2 días", "March 1, 2027" (en-US) /
"1 March 2027" (en-GB) / "1 de marzo de 2027" (es), from the contact's full language tag."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jinja2 import Environment, StrictUndefined

from templates import formatting
from templates.formatting import locale_for, money
from templates.renderer import render_email, render_slack
from tests.templates.test_rendering import email_context, mrkdwn_texts, slack_context

NBSP = "\u00a0"

# ----------------------------------------------------------------------------- money

# (amount in minor units, currency) -> how each reader sees it. A ¥1,000 payment used to
# read "10.00 JPY" (every amount was divided by 100).
AMOUNTS: dict[tuple[int, str], dict[str, str]] = {
    (1000, "jpy"): {"en-US": "¥1,000", "es-MX": f"JPY{NBSP}1,000", "es-ES": f"1.000{NBSP}JPY"},
    (50000, "krw"): {"en-US": "₩50,000", "es-MX": f"KRW{NBSP}50,000", "es-ES": f"50.000{NBSP}KRW"},
    (12345, "kwd"): {
        "en-US": f"KWD{NBSP}12.345",
        "es-MX": f"KWD{NBSP}12.345",
        "es-ES": f"12,345{NBSP}KWD",
    },
    (118800, "usd"): {
        "en-US": "$1,188.00",
        "es-MX": f"USD{NBSP}1,188.00",
        "es-ES": f"1.188,00{NBSP}US$",
    },
}
MONEY_CASES = [
    (amount, currency, tag, shown)
    for (amount, currency), by_tag in AMOUNTS.items()
    for tag, shown in by_tag.items()
]


@pytest.mark.parametrize(("amount", "currency", "tag", "shown"), MONEY_CASES)
def test_dunning_email_writes_the_amount_in_the_currency_and_the_readers_locale(
    amount: int, currency: str, tag: str, shown: str
) -> None:
    extra = {"attempt_day": 0, "amount_due_cents": amount, "currency": currency.upper()}
    email = render_email("dunning_payment_failed", email_context(extra=extra), language=tag)
    assert email.language == tag[:2]
    assert f"({shown})" in email.text and f"({shown})" in email.html
    assert f"{amount / 100:.2f}" not in email.text or currency == "usd"


@pytest.mark.parametrize(("amount", "currency", "tag", "shown"), MONEY_CASES)
def test_dunning_slack_alert_writes_the_amount_in_the_teams_locale(
    amount: int, currency: str, tag: str, shown: str
) -> None:
    extra = {"amount_due_cents": amount, "currency": currency, "final_failure_day": 21}
    message = render_slack("dunning_csm_alert", slack_context(day=7, extra=extra), locale=tag)
    assert f"*Amount due*\n{shown}" in mrkdwn_texts(message)


def test_money_follows_each_currencys_minor_unit() -> None:
    assert money(1000, "JPY", "en_US") == "¥1,000"  # not "¥10.00"
    assert money(1000, "KRW", "en_US") == "₩1,000"
    assert money(1234, "BHD", "en_US") == f"BHD{NBSP}1.234"  # three decimals
    assert money(1234, "usd", "en_US") == "$12.34"
    assert money(1234, "usd", "en_GB") == "US$12.34"


def test_an_amount_without_a_currency_is_not_guessed() -> None:
    email = render_email(
        "dunning_payment_failed", email_context(extra={"attempt_day": 0, "amount_due_cents": 900})
    )
    assert "cshub subscription. This happens" in email.text  # no amount rather than a wrong one
    alert = render_slack("dunning_csm_alert", slack_context(day=7, extra={"amount_due_cents": 900}))
    assert "*Amount due*\n900 (minor units, no currency given)" in mrkdwn_texts(alert)


# ---------------------------------------------------------------------------- counts

# (template, context overrides, {tag: text expected}); each template appears with a count
# of 1 and of 2 (or more) in both languages.
EMAIL_COUNTS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("check_in", {"day": 1}, {"en": "running with cshub for 1 day,", "es": "lleva 1 día usando"}),
    ("check_in", {"day": 2}, {"en": "running with cshub for 2 days,", "es": "lleva 2 días usando"}),
    ("onboarding_complete", {"day": 1}, {"en": "After 1 day,", "es": "Después de 1 día,"}),
    ("onboarding_complete", {"day": 90}, {"en": "After 90 days,", "es": "Después de 90 días,"}),
    (
        "onboarding_complete",
        {"progress": {"milestones_done": 1, "milestones_total": 4, "actions_taken": 1}},
        {"en": "1 onboarding step completed", "es": "1 paso de incorporación completado"},
    ),
    (
        "onboarding_complete",
        {"progress": {"milestones_done": 1, "milestones_total": 4, "actions_taken": 2}},
        {"en": "2 onboarding steps completed", "es": "2 pasos de incorporación completados"},
    ),
    ("progress_summary", {"day": 1}, {"en": "in 1 day with", "es": "en 1 día con"}),
    ("progress_summary", {"day": 7}, {"en": "in 7 days with", "es": "en 7 días con"}),
    (
        "progress_summary",
        {"progress": {"milestones_done": 0, "milestones_total": 4, "actions_taken": 1}},
        {"en": "1 onboarding step completed", "es": "1 paso de incorporación completado"},
    ),
    (
        "engagement",
        {"progress": {"milestones_done": 0, "milestones_total": 4, "actions_taken": 1}},
        {"en": "1 onboarding step completed so far", "es": "completados hasta ahora: 1."},
    ),
    (
        "engagement",
        {"progress": {"milestones_done": 0, "milestones_total": 4, "actions_taken": 1234}},
        {"en": "1,234 onboarding steps completed so far", "es": "completados hasta ahora: 1.234."},
    ),
    (
        "dunning_payment_failed",
        {"extra": {"attempt_day": 1, "final_notice": True}},
        {"en": "over the last 1 day,", "es": "durante los últimos 1 día,"},
    ),
    (
        "dunning_payment_failed",
        {"extra": {"attempt_day": 14}},
        {"en": "It has been 14 days since", "es": "Han pasado 14 días desde"},
    ),
    (
        "winback_offer",
        {"extra": {"trial_days": 1, "discount_percent": 20, "discount_months": 1}},
        {
            "en": "1 day free to try",
            "es": "1 día gratis para",
        },
    ),
    (
        "winback_offer",
        {"extra": {"trial_days": 1, "discount_percent": 20, "discount_months": 1}},
        {"en": "20% off for your first month when", "es": "durante el primer mes al"},
    ),
    (
        "winback_offer",
        {"extra": {"trial_days": 14, "discount_percent": 20, "discount_months": 3}},
        {
            "en": "14 days free to try",
            "es": "14 días gratis para",
        },
    ),
    (
        "winback_offer",
        {"extra": {"trial_days": 14, "discount_percent": 20, "discount_months": 3}},
        {"en": "for your first 3 months when", "es": "durante los primeros 3 meses al"},
    ),
    (
        "csat_survey",
        {"extra": {"ticket_id": "7", "valid_days": 1}, "csat_links": {5: "https://x/5"}},
        {"en": "These links work for 1 day;", "es": "funcionan durante 1 día;"},
    ),
    (
        "csat_survey",
        {"extra": {"ticket_id": "7", "valid_days": 30}, "csat_links": {5: "https://x/5"}},
        {"en": "These links work for 30 days;", "es": "funcionan durante 30 días;"},
    ),
    (
        "nps_survey",
        {"extra": {"valid_days": 1}, "nps_links": {10: "https://x/10"}},
        {"en": "The links work for 1 day;", "es": "funcionan durante 1 día;"},
    ),
    (
        "renewal_reminder",
        {"extra": {"days_left": 2, "renewal_date": "2027-03-01", "term_months": 1}},
        {"en": "renews in 2 days, on March 1, 2027", "es": "La suscripción de 1 mes de"},
    ),
    (
        "renewal_reminder",
        {"extra": {"days_left": 14, "renewal_date": "2027-03-01", "term_months": 12}},
        {"en": "renews in 14 days, on March 1, 2027", "es": "dentro de 14 días, el 1 de marzo"},
    ),
]


@pytest.mark.parametrize(
    ("name", "overrides", "tag", "expected"),
    [(name, o, tag, text) for name, o, by_tag in EMAIL_COUNTS for tag, text in by_tag.items()],
)
def test_counts_in_emails_follow_the_languages_plural_rules(
    name: str, overrides: dict[str, Any], tag: str, expected: str
) -> None:
    email = render_email(name, email_context(**overrides), language=tag)
    assert email.language == tag
    text = " ".join(email.text.split()).replace(NBSP, " ")
    assert expected in text
    for wrong in ("1 days", "1 días", "1 meses", "1 months", "1 steps", "1 pasos"):
        assert wrong not in text and wrong not in email.html and wrong not in email.subject


def _slack(name: str, locale: str = "en-US", **overrides: Any) -> str:
    message = render_slack(name, slack_context(**overrides), locale=locale)
    return " ".join([message.text, *mrkdwn_texts(message)])


@pytest.mark.parametrize(
    ("name", "overrides", "expected"),
    [
        ("dunning_csm_alert", {"day": 1}, "failed 1 day ago"),
        ("dunning_csm_alert", {"day": 7}, "failed 7 days ago"),
        ("milestone_reached", {"day": 6, "deadline_day": 7}, "1 day ahead of the day-7 target"),
        ("milestone_reached", {"day": 5, "deadline_day": 7}, "2 days ahead of the day-7 target"),
        ("renewal_reminder", {"extra": {"days_left": 1}}, "renewal in 1 day"),
        ("renewal_reminder", {"extra": {"days_left": 30}}, "renewal in 30 days"),
        ("renewal_overdue", {"extra": {"days_overdue": 1}}, "was due 1 day ago"),
        ("renewal_overdue", {"extra": {"days_overdue": 3}}, "was due 3 days ago"),
        ("nps_detractor", {"extra": {"responses": 1, "company_nps": -100}}, "(1 answer)"),
        ("nps_detractor", {"extra": {"responses": 3, "company_nps": 33}}, "(3 answers)"),
    ],
)
def test_counts_in_slack_messages_follow_cldr(
    name: str, overrides: dict[str, Any], expected: str
) -> None:
    text = _slack(name, **overrides)
    assert expected in text, text
    assert "1 days" not in text


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en-US", "due March 1, 2027, 2:30\u202fPM UTC."), ("en-GB", "due 1 March 2027, 14:30 UTC.")],
)
def test_sla_warning_writes_the_due_time_in_the_team_locale(locale: str, expected: str) -> None:
    extra = {"minutes_left": 20, "due_at": "2027-03-01T14:30:00+00:00", "target": "1 h"}
    text = _slack("sla_warning", locale, ticket_id="7", extra=extra)
    assert expected in text, text


@pytest.mark.parametrize(("owned", "expected"), [(1, "of 1 account"), (12, "of 12 accounts")])
def test_health_digest_counts_accounts(owned: int, expected: str) -> None:
    account = {
        "id": "1",
        "name": "Acme",
        "tier": "starter",
        "category": "Critical",
        "label": None,
        "score": 40,
        "delta": None,
        "low_confidence": False,
        "crm_url": None,
    }
    message = render_slack(
        "health_digest",
        {"csm_name": "Dana", "workflow_id": "w", "owned_accounts": owned, "accounts": [account]},
    )
    assert expected in message.text
    assert "1 accounts" not in message.text


# ----------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("tag", "expected", "language"),
    [
        ("en-US", "renews in 60 days, on March 1, 2027", "en"),
        ("en", "renews in 60 days, on March 1, 2027", "en"),
        (None, "renews in 60 days, on March 1, 2027", "en"),
        ("en-GB", "renews in 60 days, on 1 March 2027", "en"),
        ("es-MX", "dentro de 60 días, el 1 de marzo de 2027", "es"),
        ("es-ES", "dentro de 60 días, el 1 de marzo de 2027", "es"),
    ],
)
def test_renewal_email_writes_the_date_as_the_contacts_region_does(
    tag: str | None, expected: str, language: str
) -> None:
    extra = {"days_left": 60, "renewal_date": "2027-03-01", "term_months": 12}
    email = render_email("renewal_reminder", email_context(extra=extra), language=tag)
    assert email.language == language
    assert expected in " ".join(email.text.split())
    assert expected in " ".join(email.html.split())


@pytest.mark.parametrize(
    ("name", "locale", "expected"),
    [
        ("renewal_reminder", "en-US", "*Renewal date*\nMarch 1, 2027"),
        ("renewal_reminder", "en-GB", "*Renewal date*\n1 March 2027"),
        ("renewal_reminder", "es-ES", "*Renewal date*\n1 de marzo de 2027"),
        ("renewal_overdue", "en-US", "*Renewal date*\nMarch 1, 2027"),
        ("renewal_overdue", "en-GB", "*Renewal date*\n1 March 2027"),
        ("renewal_churned", "en-US", "*Renewal date*\nMarch 1, 2027"),
        ("renewal_churned", "es-ES", "*Renewal date*\n1 de marzo de 2027"),
    ],
)
def test_slack_dates_follow_the_team_locale(name: str, locale: str, expected: str) -> None:
    extra = {"days_left": 30, "days_overdue": 2, "renewal_date": "2027-03-01"}
    message = render_slack(name, slack_context(extra=extra), locale=locale)
    assert expected in mrkdwn_texts(message)
    assert "2027-03-01" not in json.dumps(message.blocks)


# --------------------------------------------------------------------- locale choice


@pytest.mark.parametrize(
    ("tag", "language", "expected"),
    [
        ("es-MX", "es", "es_MX"),
        ("es-mx", "es", "es_MX"),  # HubSpot's hs_language is lower-case
        (" en-us ", "en", "en_US"),
        ("es_419", "es", "es_419"),
        ("ES", "es", "es"),
        ("en-GB", "en", "en_GB"),
        ("en", "en", "en_US"),
        (None, "en", "en_US"),
        ("fr-CA", "en", "en_CA"),  # no French e-mails: English, Canadian formats
        ("de-DE", "en", "en_DE"),  # no German e-mails: English, German formats
        ("klingon", "en", "en_US"),
        ("../../etc", "en", "en_US"),
    ],
)
def test_locale_from_the_full_language_tag(tag: str | None, language: str, expected: str) -> None:
    assert locale_for(tag, language) == expected


def test_a_macro_file_imported_without_context_fails_loudly() -> None:
    env = Environment(undefined=StrictUndefined)
    formatting.install(env)
    template = env.from_string("{{ 3 | duration('day') }}")
    assert template.render(locale="es") == "3 días"
    with pytest.raises(ValueError, match="need `locale`"):
        template.render()
