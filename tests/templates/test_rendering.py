"""Every e-mail and Slack template renders, escapes hostile input and fails loudly.

Pure rendering, no I/O beyond reading the template files: the module runs in well
under a second.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from markupsafe import escape

from templates import renderer
from templates.renderer import (
    EMAIL_DEFAULTS,
    SLACK_DEFAULTS,
    RenderedEmail,
    RenderedSlack,
    TemplateNotFound,
    email_template_names,
    render_email,
    render_slack,
    slack_template_names,
)

TIERS = ("community", "starter", "professional", "enterprise")
HOSTILE_COMPANY = 'Acme "Best" <script>alert(1)</script> & <!channel> Co'

# The keys each template really needs. Everything else is either unused by it or one of
# the nullable keys the renderer defaults to None (EMAIL_DEFAULTS / SLACK_DEFAULTS).
# test_required_keys_are_exact proves both directions.
EMAIL_COMMON = frozenset(
    {"company_name", "csm_name", "csm_email", "tier", "sender_name", "unsubscribe_url", "app_url"}
)
EMAIL_REQUIRED: dict[str, frozenset[str]] = {
    "welcome": EMAIL_COMMON,
    "quick_win": EMAIL_COMMON,
    "tips": EMAIL_COMMON,
    "check_in": EMAIL_COMMON | {"day", "progress"},
    "success_story": EMAIL_COMMON,
    "upgrade_expand": EMAIL_COMMON,
    "progress_summary": EMAIL_COMMON | {"day", "progress"},
    "engagement": EMAIL_COMMON | {"progress"},
    "milestone_celebration": EMAIL_COMMON | {"day", "progress", "milestone_title"},
    "nudge": EMAIL_COMMON | {"nudge_message"},
    "onboarding_complete": EMAIL_COMMON | {"day", "progress"},
    # Dunning, churn prevention, win-back: the plan tier plays no part in what they say.
    "dunning_payment_failed": EMAIL_COMMON - {"tier"},
    "dunning_payment_received": EMAIL_COMMON - {"tier"},
    "churn_reengagement": EMAIL_COMMON - {"tier"},
    "winback_we_miss_you": EMAIL_COMMON - {"tier"},
    "winback_whats_new": EMAIL_COMMON - {"tier"},
    "winback_offer": EMAIL_COMMON - {"tier"},
    "winback_exit_survey": EMAIL_COMMON - {"tier"},
    "onboarding_survey": EMAIL_COMMON - {"tier"},
    "renewal_reminder": EMAIL_COMMON - {"tier"},
    # Surveys: CSAT after a solved ticket, quarterly NPS, the promoters' advocacy e-mail.
    "csat_survey": EMAIL_COMMON - {"tier"},
    "nps_survey": EMAIL_COMMON - {"tier"},
    "nps_advocacy": EMAIL_COMMON - {"tier"},
    # Health sweep (playbooks/health/outreach.yaml): the usage warning names the next plan.
    "usage_limit_warning": EMAIL_COMMON,
    "health_celebration": EMAIL_COMMON - {"tier"},
    # Post-onboarding plays (playbooks/year/): the quarterly ask to healthy promoters.
    "advocacy_ask": EMAIL_COMMON - {"tier"},
}
# tier is not here: Slack messages accept tier=None (SLACK_DEFAULTS), shown as "-".
SLACK_COMMON = frozenset({"company_name", "customer_id", "csm_name", "workflow_id"})
SLACK_REQUIRED: dict[str, frozenset[str]] = {
    "email_suppressed": SLACK_COMMON,
    "customer_replied": SLACK_COMMON,
    "alert_escalated": SLACK_COMMON,
    "milestone_missed": SLACK_COMMON | {"milestone_title", "deadline_day", "day"},
    "milestone_reached": SLACK_COMMON | {"milestone_title", "deadline_day", "day"},
    "onboarding_started": SLACK_COMMON,
    "onboarding_completed": SLACK_COMMON | {"day"},
    "onboarding_cancelled": SLACK_COMMON | {"day"},
    "usage_limit_nudge": SLACK_COMMON,
    "dunning_csm_alert": SLACK_COMMON | {"day"},
    "churn_executive_escalation": SLACK_COMMON,
    "churn_campaign_ended": SLACK_COMMON,
    "renewal_reminder": SLACK_COMMON,
    "renewal_overdue": SLACK_COMMON,
    "renewal_churned": SLACK_COMMON,
    "csat_low_score": SLACK_COMMON,
    "nps_detractor": SLACK_COMMON,
    "customer_text_alert": SLACK_COMMON,  # risk intelligence: a survey comment quoted
    "exit_would_return": SLACK_COMMON,  # the exit survey: would consider coming back
    "onboarding_survey_low": SLACK_COMMON | {"day"},
    "sla_warning": SLACK_COMMON | {"ticket_id"},
    "sla_breach": SLACK_COMMON | {"ticket_id"},
    "ticket_routing": SLACK_COMMON | {"ticket_id"},  # smart routing: the support lead
    # Health sweep alerts; ae_slack_id / ae_name are optional (SLACK_DEFAULTS).
    "health_decline": SLACK_COMMON,
    "usage_limit_alert": SLACK_COMMON,
    "health_celebration_alert": SLACK_COMMON,
    "upgrade_acceleration": SLACK_COMMON,  # post-onboarding plays, every two weeks
    "health_digest": frozenset({"csm_name", "workflow_id", "accounts", "owned_accounts"}),
    "ops_failure": frozenset(
        {"kind", "workflow_id", "run_id", "workflow_type", "customer_id", "activity"}
        | {"gave_up", "command", "error"}
    ),
}
# Messages not about one customer's card (a CSM's digest, an ops alert): no company_name,
# so the per-customer checks below skip them; tests/templates/test_health_digest.py and
# tests/workflows/test_ops_alerts.py cover them (SLACK_REQUIRED included).
SLACK_DIGESTS = frozenset({"health_digest", "ops_failure"})
CUSTOMER_SLACK_NAMES = [n for n in slack_template_names() if n not in SLACK_DIGESTS]

BLOCK_TYPES = {"header", "section", "context", "actions", "divider"}
LEFTOVER_SYNTAX = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")


def email_context(**overrides: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "company_name": "Acme Analytics",
        "contact_first_name": "Ann",
        "csm_name": "Dana Reyes",
        "csm_email": "dana@cshub.example",
        "tier": "starter",
        "day": 7,
        "phase_name": "Setup and first workflow",
        "next_step": "Connect your CRM so your first workflow has live data.",
        "sender_name": "cshub",
        "unsubscribe_url": "https://cshub.example/unsubscribe?c=1001&t=abc",
        "app_url": "https://app.cshub.example/",
        "progress": {"milestones_done": 1, "milestones_total": 4, "actions_taken": 6},
        "milestone_title": "First production workflow live",
        "nudge_message": "Try advanced workflow templates with 200+ options.",
        "survey_url": "https://survey.cshub.example/s/1001",
    }
    ctx.update(overrides)
    return ctx


def slack_context(**overrides: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "company_name": "Acme Analytics",
        "customer_id": "1001",
        "tier": "professional",
        "csm_name": "Dana Reyes",
        "csm_slack_id": "U024BE7LH",
        "milestone_title": "First production workflow live",
        "deadline_day": 7,
        "day": 9,
        "workflow_id": "onboarding-1001",
        "reason": "Customer cancelled the subscription",
        "summary": "2 of 4 milestones reached, 6 onboarding steps done.",
        "crm_url": "https://crm.example/contacts/1001",
        "next_step": "Book a 30-minute call to unblock the integration.",
        "ticket_id": "5001",
    }
    ctx.update(overrides)
    return ctx


def all_parts(email: RenderedEmail) -> str:
    return "\n".join((email.subject, email.text, email.html))


def strings(value: Any) -> list[str]:
    """Every string inside a JSON-like value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def mrkdwn_texts(message: RenderedSlack) -> list[str]:
    """Every mrkdwn string in the message, fallback text included."""
    texts = [message.text]
    for block in message.blocks:
        for obj in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(obj, dict) and obj.get("type") == "mrkdwn":
                texts.append(obj["text"])
    return texts


# ------------------------------------------------------------------------ inventory


def test_template_names() -> None:
    assert email_template_names() == sorted(EMAIL_REQUIRED)
    assert slack_template_names() == sorted(SLACK_REQUIRED)


@pytest.mark.parametrize("name", email_template_names())
def test_every_email_name_has_all_its_english_files(name: str) -> None:
    html = renderer.EMAIL_DIR / f"{name}.html.j2"
    text = renderer.EMAIL_DIR / f"{name}.txt.j2"
    assert html.is_file(), html
    assert text.is_file(), text
    assert name in renderer._subjects(), f"no subject for {name} in email/subjects/*.yaml"
    assert '{% extends "email/_layout.html.j2" %}' in html.read_text(encoding="utf-8")
    assert '{% extends "email/_layout.txt.j2" %}' in text.read_text(encoding="utf-8")


TRANSLATIONS = [
    (language, name)
    for language in renderer._translation_languages()
    for name in sorted(renderer._names_in(language))
]


@pytest.mark.parametrize(("language", "name"), TRANSLATIONS)
def test_every_translation_is_complete(language: str, name: str) -> None:
    """A translation is optional, but one that exists has all three parts (a partial one
    would silently send English) and translates an e-mail that exists in English."""
    folder = renderer.EMAIL_DIR / language
    html = folder / f"{name}.html.j2"
    text = folder / f"{name}.txt.j2"
    assert name in email_template_names(), f"{language}/{name} has no English version"
    assert html.is_file(), html
    assert text.is_file(), text
    assert name in renderer._subjects(language), (
        f"no subject for {name} in email/{language}/subjects/*.yaml"
    )
    assert '{% extends "email/_layout.html.j2" %}' in html.read_text(encoding="utf-8")
    assert '{% extends "email/_layout.txt.j2" %}' in text.read_text(encoding="utf-8")
    assert renderer.email_languages(name)[0] == "en"
    assert language in renderer.email_languages(name)


def test_subject_files_are_yaml_per_family() -> None:
    """Subjects live in email/subjects/<family>.yaml (and <lang>/subjects/); a stray
    .yml or the old single subjects.yaml would be ignored, so it must not exist."""
    assert not (renderer.EMAIL_DIR / "subjects.yaml").exists()
    for language in ["en", *renderer._translation_languages()]:
        folder = renderer.subjects_dir(language)
        assert (folder / "onboarding.yaml").is_file(), folder
        assert not list(folder.glob("*.yml")), folder


@pytest.mark.parametrize("name", slack_template_names())
def test_every_slack_name_has_its_file(name: str) -> None:
    assert (renderer.SLACK_DIR / f"{name}.json.j2").is_file()


def test_a_missing_part_is_template_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "email"
    shutil.copytree(renderer.EMAIL_DIR, folder)
    (folder / "nudge.txt.j2").unlink()
    monkeypatch.setattr(renderer, "EMAIL_DIR", folder)
    with pytest.raises(TemplateNotFound, match=r"'nudge'.*nudge\.txt\.j2") as err:
        render_email("nudge", email_context())
    assert str(folder) in str(err.value)


# ------------------------------------------------------------------------- e-mails


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("name", email_template_names())
def test_email_renders_for_every_tier(name: str, tier: str) -> None:
    ctx = email_context(tier=tier)
    email = render_email(name, ctx)

    assert email.subject.strip()
    assert "\n" not in email.subject
    for part in (email.subject, email.text, email.html):
        assert not LEFTOVER_SYNTAX.search(part), part
        assert "None" not in part
    assert email.html.startswith("<!DOCTYPE html>")
    assert str(escape(ctx["unsubscribe_url"])) in email.html
    assert ctx["unsubscribe_url"] in email.text
    assert ctx["company_name"] in email.html
    assert email.text.startswith("Hi Ann,\n")
    assert ctx["csm_name"] in email.text and ctx["csm_name"] in email.html
    assert ctx["sender_name"] in email.html
    assert email.text.endswith("\n") and "\n\n\n" not in email.text


@pytest.mark.parametrize("name", email_template_names())
def test_email_without_first_name_greets_hi_there(name: str) -> None:
    omitted = email_context()
    del omitted["contact_first_name"]
    for ctx in (
        email_context(contact_first_name=None),
        email_context(contact_first_name=""),
        omitted,
    ):
        email = render_email(name, ctx)
        assert email.text.startswith("Hi there,\n")
        assert "Hi there," in email.html


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("name", email_template_names())
def test_email_with_every_nullable_key_none(name: str, tier: str) -> None:
    nulls = dict.fromkeys(EMAIL_DEFAULTS)
    email = render_email(name, email_context(tier=tier, **nulls))
    assert "None" not in all_parts(email)
    assert "https://survey" not in all_parts(email)


@pytest.mark.parametrize("name", ["check_in", "progress_summary", "onboarding_complete"])
def test_survey_link_appears_when_set(name: str) -> None:
    email = render_email(name, email_context())
    assert "https://survey.cshub.example/s/1001" in email.html
    assert "https://survey.cshub.example/s/1001" in email.text


@pytest.mark.parametrize("hostile", [HOSTILE_COMPANY, "Evil <img src=x onerror=alert(1)> Co"])
@pytest.mark.parametrize("name", email_template_names())
def test_hostile_company_name_is_escaped_in_html(name: str, hostile: str) -> None:
    email = render_email(name, email_context(company_name=hostile, tier="community"))
    assert "<script>" not in email.html and "<img" not in email.html
    assert str(escape(hostile)) in email.html
    assert hostile in email.text  # plain text is not HTML: no entities there


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("tier", ["starter", "professional", "enterprise"])
@pytest.mark.parametrize("name", email_template_names())
def test_hostile_csm_name_is_escaped_in_html(name: str, tier: str, language: str) -> None:
    """The CSM's name comes from the CRM; the tier's support paragraph (a macro of the
    non-escaped copy file) carries it into the HTML part too."""
    email = render_email(
        name, email_context(csm_name=HOSTILE_COMPANY, tier=tier), language=language
    )
    assert "<script>" not in email.html
    if HOSTILE_COMPANY in email.text:
        assert str(escape(HOSTILE_COMPANY)) in email.html


def test_subject_is_plain_text_on_one_line() -> None:
    email = render_email("welcome", email_context(company_name='Acme "<b>"\r\nBcc: x@evil'))
    assert email.subject == 'Welcome to cshub, Acme "<b>" Bcc: x@evil: here is your first step'


def test_content_follows_the_tier() -> None:
    def text(name: str, tier: str) -> str:
        return render_email(name, email_context(tier=tier)).text

    assert "community forum" in text("welcome", "community")
    assert "community forum" not in text("welcome", "enterprise")
    assert "dedicated Customer Success Manager" in text("welcome", "enterprise")
    assert "executive sponsor" in text("welcome", "enterprise")
    assert "Professional plan adds" in text("upgrade_expand", "community")
    assert "Enterprise plan adds" in text("upgrade_expand", "professional")
    assert "Upgrade to Professional" in text("nudge", "community")
    assert "Upgrade to Professional" not in text("nudge", "starter")
    subjects = {t: render_email("upgrade_expand", email_context(tier=t)).subject for t in TIERS}
    assert subjects["community"] == "Ready for more? What Professional adds for Acme Analytics"
    assert subjects["enterprise"] == "Where Acme Analytics can take cshub next"


def test_personalisation() -> None:
    email = render_email(
        "milestone_celebration",
        email_context(next_step="Put three workflows into production by day 30."),
    )
    assert email.subject == "Milestone reached: First production workflow live"
    assert "Put three workflows into production by day 30." in email.text
    assert "1 of 4 onboarding milestones complete (25%)" in email.text
    assert 'width="25%"' in email.html
    assert "Try advanced workflow templates" in render_email("nudge", email_context()).html


@pytest.mark.parametrize("name", email_template_names())
def test_optional_dict_keys_may_be_left_out_or_none(name: str) -> None:
    """extra, company and exit_survey_links are optional for every e-mail; None for the
    dict-valued ones means {}."""
    assert {"extra", "company", "exit_survey_links"} <= set(EMAIL_DEFAULTS)
    omitted = render_email(name, email_context())
    nulls = render_email(name, email_context(extra=None, company=None, exit_survey_links=None))
    assert omitted == nulls


def test_defaults_are_not_shared_between_renders() -> None:
    first = renderer._with_defaults(EMAIL_DEFAULTS, {})
    first["extra"]["leak"] = True
    first["company"]["leak"] = True
    second = renderer._with_defaults(EMAIL_DEFAULTS, {"extra": None})
    assert second["extra"] == {} and second["company"] == {}
    assert EMAIL_DEFAULTS["extra"] == {} and EMAIL_DEFAULTS["company"] == {}
    assert renderer._with_defaults(SLACK_DEFAULTS, {})["extra"] == {}


# ---------------------------------------------------------------------------- Slack


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("name", CUSTOMER_SLACK_NAMES)
def test_slack_template_gives_valid_blocks(name: str, tier: str) -> None:
    message = render_slack(name, slack_context(tier=tier))
    assert message.text.strip()
    assert message.blocks and message.blocks[0]["type"] == "header"
    for block in message.blocks:
        assert block["type"] in BLOCK_TYPES
    header = message.blocks[0]["text"]
    assert header["type"] == "plain_text" and len(header["text"]) <= 150
    assert "Acme Analytics" in header["text"]
    dumped = json.dumps(message.model_dump())
    assert "<@U024BE7LH>" in dumped
    assert "https://crm.example/contacts/1001" in dumped
    assert "onboarding-1001" in dumped
    for text in strings(message.model_dump()):
        assert "None" not in text
        assert not LEFTOVER_SYNTAX.search(text), text


@pytest.mark.parametrize("name", CUSTOMER_SLACK_NAMES)
def test_slack_without_optional_values(name: str) -> None:
    ctx = slack_context(**dict.fromkeys(SLACK_DEFAULTS))
    message = render_slack(name, ctx)
    dumped = json.dumps(message.model_dump())
    assert "<@" not in dumped  # no mention without a Slack id: the CSM's name instead
    assert "Dana Reyes" in dumped
    # No CRM link without a CRM URL (the steering buttons need only the workflow id).
    assert not any(
        block["type"] == "actions" and block.get("block_id") != "cshub_steer"
        for block in message.blocks
    )
    assert "None" not in dumped


@pytest.mark.parametrize("name", CUSTOMER_SLACK_NAMES)
def test_hostile_company_name_stays_valid_and_inert_in_slack(name: str) -> None:
    message = render_slack(name, slack_context(company_name=HOSTILE_COMPANY))
    assert HOSTILE_COMPANY in message.blocks[0]["text"]["text"]  # plain_text: shown as is
    texts = mrkdwn_texts(message)
    assert any("&lt;script&gt;" in t for t in texts)
    for text in texts:
        assert "<!channel>" not in text and "<script>" not in text


def test_invalid_slack_id_is_not_turned_into_a_mention() -> None:
    message = render_slack("milestone_missed", slack_context(csm_slack_id="U1> <!here"))
    assert "<!here" not in json.dumps(message.model_dump())


def test_milestone_missed_wording() -> None:
    message = render_slack("milestone_missed", slack_context(company_name="Acme"))
    assert message.text == (
        ":warning: Acme missed milestone First production workflow live (deadline day 7)"
    )
    assert "What to do" in json.dumps(message.blocks)


@pytest.mark.parametrize("name", CUSTOMER_SLACK_NAMES)
def test_slack_without_tier(name: str) -> None:
    ctx = slack_context(tier=None)
    message = render_slack(name, ctx)
    assert "None" not in json.dumps(message.model_dump())
    del ctx["tier"]
    assert render_slack(name, ctx) == message


@pytest.mark.parametrize(
    ("reason", "advice"),
    [
        ("unsubscribed", "opted out of our e-mails"),
        ("on the suppression list", "suppression list (a bounce, a complaint"),
    ],
)
def test_email_suppressed_says_what_was_not_sent_and_why(reason: str, advice: str) -> None:
    extra = {"template": "renewal_reminder", "reason": reason}
    message = render_slack("email_suppressed", slack_context(extra=extra))
    assert message.text == (f":no_bell: Acme Analytics: `renewal_reminder` was not sent ({reason})")
    body = message.blocks[1]["text"]["text"]
    assert body.startswith("<@U024BE7LH>: the hub did *not* send `renewal_reminder`")
    assert advice in body
    dumped = json.dumps(message.blocks)
    assert "What to do instead" in dumped and "reach out personally" in dumped


def test_email_suppressed_without_details() -> None:
    message = render_slack("email_suppressed", slack_context(extra={}))
    assert message.text == ":no_bell: Acme Analytics: a customer e-mail was not sent"
    weird = render_slack("email_suppressed", slack_context(extra={"template": "a`<!here>"}))
    assert "<!here>" not in json.dumps(weird.model_dump())


def test_onboarding_cancelled_without_reason() -> None:
    message = render_slack("onboarding_cancelled", slack_context(reason=None))
    assert "_none given_" in message.blocks[1]["text"]["text"]


def test_long_values_are_clipped_to_slack_limits() -> None:
    message = render_slack("onboarding_started", slack_context(company_name="A" * 500))
    assert len(message.blocks[0]["text"]["text"]) == 150
    assert message.blocks[0]["text"]["text"].endswith("…")


def test_invalid_slack_payload_is_rejected() -> None:
    with pytest.raises(ValueError, match="blocks"):
        renderer._validate_slack("slack/x.json.j2", {"text": "x", "blocks": [{"no": "type"}]})
    with pytest.raises(ValueError, match="text"):
        renderer._validate_slack("slack/x.json.j2", {"blocks": [{"type": "divider"}]})


# --------------------------------------------------------------------------- errors


def test_missing_variable_is_an_error_naming_it() -> None:
    ctx = email_context()
    del ctx["csm_email"]
    with pytest.raises(UndefinedError, match="csm_email"):
        render_email("welcome", ctx)
    ctx = slack_context()
    del ctx["workflow_id"]
    with pytest.raises(UndefinedError, match="workflow_id") as err:
        render_slack("milestone_missed", ctx)
    assert "slack/milestone_missed.json.j2" in str(err.value)


def test_missing_progress_field_is_an_error() -> None:
    ctx = email_context(progress={"milestones_done": 1})
    with pytest.raises(UndefinedError, match="milestones_total"):
        render_email("progress_summary", ctx)


@pytest.mark.parametrize("name", email_template_names())
def test_email_required_keys_are_exact(name: str) -> None:
    required = EMAIL_REQUIRED[name]
    for tier in TIERS:
        render_email(name, {k: v for k, v in email_context(tier=tier).items() if k in required})
    for key in sorted(required):
        ctx = {k: v for k, v in email_context().items() if k in required and k != key}
        with pytest.raises(UndefinedError, match=key):
            render_email(name, ctx)


@pytest.mark.parametrize("name", CUSTOMER_SLACK_NAMES)
def test_slack_required_keys_are_exact(name: str) -> None:
    required = SLACK_REQUIRED[name]
    for tier in TIERS:
        render_slack(name, {k: v for k, v in slack_context(tier=tier).items() if k in required})
    for key in sorted(required):
        ctx = {k: v for k, v in slack_context().items() if k in required and k != key}
        with pytest.raises(UndefinedError, match=key):
            render_slack(name, ctx)


@pytest.mark.parametrize(
    ("render", "folder"),
    [(render_email, renderer.EMAIL_DIR), (render_slack, renderer.SLACK_DIR)],
)
@pytest.mark.parametrize("name", ["no_such_template", "../renderer", "_layout", "subjects"])
def test_unknown_template_is_template_not_found(render: Any, folder: Path, name: str) -> None:
    with pytest.raises(TemplateNotFound) as err:
        render(name, {})
    assert isinstance(err.value, LookupError)
    assert repr(name) in str(err.value)
    assert str(folder) in str(err.value)


def test_percent() -> None:
    assert renderer.percent(1, 4) == 25
    assert renderer.percent(0, 0) == 0
    assert renderer.percent(5, 4) == 100
