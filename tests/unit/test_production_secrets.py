"""CSHUB_ENV=production refuses weak secrets: blank, whitespace-only, padded, the
sandbox's published defaults, HMAC keys under 32 bytes and bearer tokens under 16
characters. One case per variable and weakness; the message names the variable and
never echoes the value."""

from __future__ import annotations

import pytest

from runtime.settings import (
    COMMA_SEPARATED_FIELDS,
    CREDENTIAL_FIELDS,
    HMAC_KEY_FIELDS,
    SANDBOX_WEBHOOK_SECRETS,
    Settings,
    SettingsError,
    load_settings,
)

STRONG_KEY = "k" * 32
STRONG_TOKEN = "t" * 16
PRODUCTION = {
    "CSHUB_ENV": "production",
    "HUBSPOT_ACCESS_TOKEN": "pat-na1-0000-real",
    "ZENDESK_SUBDOMAIN": "acme",
    "ZENDESK_EMAIL": "a@acme.test",
    "ZENDESK_TOKEN": "zd-real-token",
    "SLACK_BOT_TOKEN": "xoxb-1-real",
    "SMTP_HOST": "smtp.acme.test",
    "SMTP_SENDER": "success@acme.test",
    **{name.upper(): STRONG_KEY for name in HMAC_KEY_FIELDS},
}


def _production(monkeypatch: pytest.MonkeyPatch, **override: str) -> None:
    for key, value in {**PRODUCTION, **override}.items():
        monkeypatch.setenv(key, value)


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for name in HMAC_KEY_FIELDS:
        var = name.upper()
        cases += [
            (var, "", "empty"),
            (var, "   ", "empty or whitespace"),
            (var, "k" * 31, "at least 32"),
            (var, SANDBOX_WEBHOOK_SECRETS[name], "sandbox"),
            (var, " " + "k" * 32, "whitespace"),
        ]
    for name in COMMA_SEPARATED_FIELDS:
        var = name.upper()
        cases += [
            (var, " ", "empty"),
            (var, "a", "at least 16"),
            (var, f"{STRONG_TOKEN},short", "at least 16"),
            (var, f"{STRONG_TOKEN},,", "empty"),
        ]
    for name in CREDENTIAL_FIELDS:
        var = name.upper()
        cases += [(var, "  ", "empty or whitespace")]
        if name in ("hubspot_access_token", "zendesk_token"):
            cases += [(var, "sandbox", "sandbox")]
    cases += [("SLACK_BOT_TOKEN", "xoxb-sandbox", "sandbox")]
    return cases


@pytest.mark.parametrize(("variable", "value", "why"), _cases())
def test_production_refuses_a_weak_secret_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, why: str
) -> None:
    _production(monkeypatch, **{variable: value})
    with pytest.raises(SettingsError) as err:
        load_settings()
    text = str(err.value)
    assert variable in text
    assert why in text
    if len(value.strip()) >= 8:  # a secret is never echoed (short ones are common words)
        assert value.strip() not in text.replace(variable, "")


def test_production_starts_with_strong_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(
        monkeypatch,
        CSHUB_API_TOKENS=f"{STRONG_TOKEN}a,{STRONG_TOKEN}b",
        SMTP_PASSWORD="smtp-password",
    )
    settings = load_settings()
    assert settings.weak_secrets() == []
    settings.require_webhook_secrets()


@pytest.mark.parametrize("variable", [n.upper() for n in HMAC_KEY_FIELDS])
def test_the_api_refuses_a_blank_webhook_secret_even_in_the_sandbox(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv("CSHUB_ENV", "sandbox")
    monkeypatch.setenv(variable, "  ")
    settings = Settings(_env_file=None)
    with pytest.raises(SettingsError, match=variable):
        settings.require_webhook_secrets()
