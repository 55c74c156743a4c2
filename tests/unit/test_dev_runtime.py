"""The settings every command reads: environment, .env, a running ``cshub dev``'s
runtime file, defaults derived from ``cshub dev``'s variables."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runtime import dev_runtime
from runtime.dev_runtime import DevRuntime, active_runtime, mark_stopped, write_runtime
from runtime.settings import Settings, SettingsError, load_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("CSHUB_", "TEMPORAL_", "HUBSPOT_", "SMTP_")) and not name.endswith(
            "PLAYBOOKS_DIR"
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("CSHUB_DATA_DIR", str(tmp_path / "data"))
    # This test process plays the running `cshub dev` (its command line says pytest).
    real = dev_runtime._cshub_process
    monkeypatch.setattr(dev_runtime, "_cshub_process", lambda pid: pid == os.getpid() or real(pid))
    return tmp_path / "data"


def running(data_dir: Path, **settings: str) -> DevRuntime:
    runtime = DevRuntime(pid=os.getpid(), started_at=datetime.now(UTC), settings=settings)
    write_runtime(data_dir, runtime)
    return runtime


def test_ports_and_data_folder_give_the_sandbox_addresses(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSHUB_TEMPORAL_PORT", "17233")
    monkeypatch.setenv("CSHUB_SANDBOX_PORT", "18025")
    monkeypatch.setenv("CSHUB_SMTP_PORT", "11025")
    monkeypatch.setenv("CSHUB_API_PORT", "18000")
    s = Settings()
    assert s.temporal_address == "127.0.0.1:17233"
    assert s.hubspot_url == "http://127.0.0.1:18025"
    assert s.slack_url == "http://127.0.0.1:18025/api/"
    assert s.zendesk_base_netloc == "127.0.0.1:18025"
    assert s.smtp_port == 11025
    assert s.cshub_public_api_url == "http://127.0.0.1:18000"
    assert s.cshub_actions_db == data_dir / "actions.db"
    assert s.cshub_api_db == data_dir / "webhooks.db"
    # An explicit variable still wins.
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
    assert Settings().temporal_address == "temporal.internal:7233"


def test_a_running_dev_is_read_after_the_environment(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running(
        data_dir,
        temporal_address="127.0.0.1:27233",
        hubspot_base_url="http://127.0.0.1:28025",
        cshub_api_tokens="dev-token-0123456789",
        stripe_webhook_secret="whsec_from_dev",
    )
    s = Settings()
    assert s.temporal_address == "127.0.0.1:27233"
    assert s.hubspot_url == "http://127.0.0.1:28025"
    assert s.api_tokens == ["dev-token-0123456789"]
    assert s.stripe_webhook_secret is not None
    assert s.stripe_webhook_secret.get_secret_value() == "whsec_from_dev"
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:7000")
    assert Settings().temporal_address == "127.0.0.1:7000"
    # Production never reads a sandbox's file.
    for name in ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "SMTP_HOST", "SMTP_SENDER"):
        monkeypatch.setenv(name, "x@acme.test")
    for name in ("HUBSPOT_ACCESS_TOKEN", "ZENDESK_TOKEN", "SLACK_BOT_TOKEN"):
        monkeypatch.setenv(name, "t")
    monkeypatch.setenv("CSHUB_ENV", "production")
    assert Settings().hubspot_url == "https://api.hubapi.com"


def test_a_stopped_or_dead_dev_is_ignored(data_dir: Path) -> None:
    running(data_dir, temporal_address="127.0.0.1:27233")
    assert active_runtime(data_dir) is not None
    mark_stopped(data_dir, os.getpid())
    assert active_runtime(data_dir) is None
    assert Settings().temporal_address == "127.0.0.1:7233"
    dead = DevRuntime(
        pid=2**22 + 12345,
        started_at=datetime.now(UTC),
        settings={"temporal_address": "127.0.0.1:27233"},
    )
    write_runtime(data_dir, dead)
    assert Settings().temporal_address == "127.0.0.1:7233"


def test_an_unreadable_runtime_file_is_an_error_naming_it(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "dev-runtime.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"dev-runtime.json.*CSHUB_DATA_DIR"):
        load_settings()


@pytest.mark.parametrize(
    ("args", "store", "variable"),
    [
        (["timeline", "1003"], "actions.db", "CSHUB_ACTIONS_DB"),
        (["webhooks", "list"], "webhooks.db", "CSHUB_API_DB"),
    ],
)
def test_reading_commands_never_create_an_empty_store(
    data_dir: Path, args: list[str], store: str, variable: str
) -> None:
    from typer.testing import CliRunner

    from cshub.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert str(data_dir / store) in result.output and variable in result.output
    assert not data_dir.exists()


def test_a_second_dev_on_a_data_folder_in_use_is_refused(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cshub.dev import refuse_second_dev

    other = DevRuntime(pid=4242, started_at=datetime.now(UTC))
    write_runtime(data_dir, other)
    monkeypatch.setattr(dev_runtime, "_cshub_process", lambda pid: pid == 4242)
    with pytest.raises(SystemExit, match=r"already running on data folder .*pid 4242"):
        refuse_second_dev(data_dir)
    monkeypatch.setattr(dev_runtime, "_cshub_process", lambda pid: False)  # it died
    refuse_second_dev(data_dir)
