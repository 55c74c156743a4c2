from __future__ import annotations

import pytest

from runtime.settings import Environment, Settings, SettingsError, load_settings


def test_defaults_point_at_the_local_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSHUB_ENV", raising=False)
    s = Settings(_env_file=None)
    assert s.cshub_env is Environment.SANDBOX
    assert s.hubspot_url == "http://127.0.0.1:8025"
    assert s.smtp_host == "127.0.0.1"
    assert s.temporal_address == "127.0.0.1:7233"


def test_production_names_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSHUB_ENV", "production")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-123")
    with pytest.raises(SettingsError) as err:
        load_settings()
    text = str(err.value)
    for name in ("ZENDESK_SUBDOMAIN", "SLACK_BOT_TOKEN", "SMTP_HOST", "SMTP_SENDER"):
        assert name in text
    assert "HUBSPOT_ACCESS_TOKEN" not in text
    assert "pat-123" not in text


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PORT", "not-a-port")
    with pytest.raises(SettingsError, match="SMTP_PORT"):
        load_settings()


def test_production_uses_real_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {
        "CSHUB_ENV": "production",
        "HUBSPOT_ACCESS_TOKEN": "t",
        "ZENDESK_SUBDOMAIN": "acme",
        "ZENDESK_EMAIL": "a@acme.test",
        "ZENDESK_TOKEN": "t",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SMTP_HOST": "smtp.acme.test",
        "SMTP_SENDER": "success@acme.test",
    }.items():
        monkeypatch.setenv(k, v)
    s = load_settings()
    assert s.hubspot_url == "https://api.hubapi.com"
    assert s.slack_url == "https://slack.com/api/"
    assert s.zendesk_base_netloc is None


def test_team_locale_is_checked_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSHUB_TEAM_LOCALE", "en-GB")
    assert load_settings().cshub_team_locale == "en-GB"
    monkeypatch.setenv("CSHUB_TEAM_LOCALE", "xx-nowhere")
    with pytest.raises(SettingsError, match="CSHUB_TEAM_LOCALE"):
        load_settings()


def test_survey_link_secrets_current_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SURVEY_LINK_SECRET", "new")
    monkeypatch.setenv("SURVEY_LINK_PREVIOUS_SECRETS", " old , older,")
    assert load_settings().survey_link_secrets == ["new", "old", "older"]
    monkeypatch.delenv("SURVEY_LINK_PREVIOUS_SECRETS")
    assert load_settings().survey_link_secrets == ["new"]
