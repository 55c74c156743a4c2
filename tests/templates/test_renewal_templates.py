"""What the renewal templates say, beyond the checks every template gets in
test_rendering.py / test_languages.py: the tone by days left, the value summary from the
CRM company and its fallback, the overdue escalation's mentions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from templates.renderer import render_email, render_slack

COMPANY = {
    "cshub_health_score": "82",
    "cshub_usage_summary": "12 workflows in production",
    "cshub_outcomes": "Dispatch 30% faster",
}


def ctx(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "company_name": "Acme Analytics",
        "contact_first_name": "Ann",
        "csm_name": "Dana Reyes",
        "csm_email": "dana@cshub.example",
        "sender_name": "cshub",
        "unsubscribe_url": "https://cshub.example/unsubscribe?c=1001",
        "app_url": "https://app.cshub.example/",
    }
    base.update(overrides)
    return base


def reminder(days_left: int, **kw: Any) -> dict[str, Any]:
    extra = {"days_left": days_left, "renewal_date": "2027-03-01", "term_months": 12}
    return ctx(extra=extra, **kw)


@pytest.mark.parametrize("language", ["en", "es"])
def test_each_reminder_has_its_own_subject_and_headline(language: str) -> None:
    emails = [
        render_email("renewal_reminder", reminder(d), language=language) for d in (60, 30, 14, 7, 1)
    ]
    assert len({e.subject for e in emails}) == 5
    assert len({e.text.splitlines()[2] for e in emails}) == 5  # the headline
    assert all(e.language == language for e in emails)


def test_dates_and_days_left_read_naturally() -> None:
    sixty = render_email("renewal_reminder", reminder(60)).text
    assert "12-month cshub subscription renews in 60 days, on March 1, 2027" in sixty
    assert "renews tomorrow (March 1, 2027)" in render_email("renewal_reminder", reminder(1)).text
    british = render_email("renewal_reminder", reminder(60), language="en-GB").text
    assert "renews in 60 days, on 1 March 2027" in british
    spanish = render_email("renewal_reminder", reminder(60), language="es").text
    assert "dentro de 60 días, el 1 de marzo de 2027" in spanish


def test_value_summary_from_the_crm_company_and_its_fallback() -> None:
    full = render_email("renewal_reminder", reminder(60, company=COMPANY))
    for value in ("Dispatch 30% faster", "12 workflows in production", "82/100"):
        assert value in full.text and value in full.html
    assert "full review" not in full.text
    partial = render_email("renewal_reminder", reminder(60, company={"cshub_outcomes": "x"}))
    assert "Results: x" in partial.text and "health score" not in partial.text
    bare = render_email("renewal_reminder", reminder(60))
    assert "Dana Reyes will bring a full review of your usage and results" in bare.text


def test_the_last_reminders_point_to_billing() -> None:
    assert "/settings/billing" in render_email("renewal_reminder", reminder(7)).text
    assert "/settings/billing" not in render_email("renewal_reminder", reminder(60)).text


def slack_ctx(**extra: Any) -> dict[str, Any]:
    return {
        "company_name": "Acme Analytics",
        "customer_id": "1001",
        "tier": "starter",
        "csm_name": "Dana Reyes",
        "csm_slack_id": "U0DANA",
        "workflow_id": "renewal-1001",
        "extra": {"renewal_date": "2027-03-01", **extra},
    }


def test_overdue_escalation_mentions_the_csm_and_the_account_executive() -> None:
    message = render_slack(
        "renewal_overdue",
        slack_ctx(days_overdue=1, account_executive_slack_id="U0SAM", account_executive_name="Sam"),
    )
    body = message.blocks[1]["text"]["text"]
    assert body.startswith("<@U0DANA> <@U0SAM>: the renewal of *Acme Analytics* was due on")
    assert "1 day ago" in body
    assert "`churned`" in json.dumps(message.blocks)
    no_id = render_slack("renewal_overdue", slack_ctx(account_executive_name="Sam Patel"))
    assert "<@U0DANA> Sam Patel:" in no_id.blocks[1]["text"]["text"]


@pytest.mark.parametrize(
    ("days_left", "todo"),
    [(60, "value review"), (30, "renewal conversation"), (7, "billing details"), (1, "tomorrow")],
)
def test_reminder_alert_says_what_to_do_by_days_left(days_left: int, todo: str) -> None:
    message = render_slack("renewal_reminder", slack_ctx(days_left=days_left))
    assert message.text.startswith(":calendar: Acme Analytics: renewal in")
    assert todo in message.blocks[3]["text"]["text"]


HUB_VALUE: dict[str, Any] = {  # domain.value_summary.ValueSummary, as the activity passes it
    "milestones": ["First workflow live"],
    "workflow_runs": 420,
    "workflow_limit": 1000,
    "active_users": 8,
    "licensed_seats": None,
    "usage_change_pct": -12.5,
    "tickets_tracked": 1,
    "tickets_within_sla": 1,
    "csat_percent": None,
    "nps": None,
    "onboarding_survey": None,
    "health_score": 70.0,
    "health_previous": 70.0,
    "empty": False,
}


def test_the_hubs_value_summary_in_spanish_says_only_what_is_known() -> None:
    es = render_email("renewal_reminder", reminder(60, value=HUB_VALUE), language="es").text
    for fact in (
        "- Hitos de incorporación alcanzados: First workflow live",
        "- Ejecuciones de flujos este mes de facturación: 420 de 1000 incluidas",
        "- Usuarios activos en los últimos 30 días: 8\n",
        "- Uso en las últimas cuatro semanas: un 12.5 % menos que en las cuatro anteriores",
        "- Soporte: 1 ticket en los últimos 30 días, 1 dentro de su SLA",
        "- Puntuación de salud de la cuenta: 70/100\n",  # unchanged: no trend said
    ):
        assert fact in es, es
    assert "Satisfacción" not in es and "recomendaría" not in es  # not known: not said
    assert "repaso completo" not in es  # no filler


def test_nothing_known_brings_the_csms_review_not_invented_figures() -> None:
    empty = dict.fromkeys(HUB_VALUE, None) | {"milestones": [], "empty": True}
    bare = render_email("renewal_reminder", reminder(60, value=empty))
    assert "Dana Reyes will bring a full review of your usage and results" in bare.text
    assert "Account health score" not in bare.text and "Usage" not in bare.text
