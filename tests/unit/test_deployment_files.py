"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine): check that
they stay consistent with the code instead."""

from __future__ import annotations

from pathlib import Path

import yaml

from cshub.cli import app

ROOT = Path(__file__).parents[2]


def test_compose_runs_the_worker_and_api_with_real_commands() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgresql", "temporal", "temporal-ui", "worker", "api"} <= set(services)
    commands = {
        c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands
    }
    for name in ("worker", "api"):
        svc = services[name]
        assert svc["build"] == "."
        assert svc["command"][0] == "cshub" and svc["command"][1] in commands
        assert svc["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):  # a folder of the repository
                assert (ROOT / source).is_dir(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)
    # The hub's state: its own database on the stack's PostgreSQL, shared by every replica.
    init = (ROOT / "docker/postgresql/10-cshub-database.sh").read_text()
    assert "CREATE DATABASE cshub" in init
    for name in ("worker", "api"):
        url = services[name]["environment"]["CSHUB_DATABASE_URL"]
        assert url.startswith("postgresql://cshub:") and url.endswith("@postgresql:5432/cshub")


def test_dockerfile_copies_every_package() -> None:
    text = (ROOT / "Dockerfile").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    packages = yaml.safe_load("[" + pyproject.split("packages = [", 1)[1].split("]", 1)[0] + "]")
    for package in packages:
        assert f"COPY {package} ./{package}" in text, package
    assert "COPY worker.py" in text
