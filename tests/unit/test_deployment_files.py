"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine): check that
they stay consistent with the code instead."""

from __future__ import annotations

import re
import tomllib
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
            if source.startswith("./"):  # a folder or file of the repository
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)
    # The hub's state: its own database on the stack's PostgreSQL, shared by every replica.
    init = (ROOT / "docker/postgresql/10-cshub-database.sh").read_text()
    assert "CREATE DATABASE cshub" in init
    for name in ("worker", "api"):
        url = services[name]["environment"]["CSHUB_DATABASE_URL"]
        assert url.startswith("postgresql://cshub:") and url.endswith("@postgresql:5432/cshub")


def test_only_the_proxy_is_published_beyond_the_hosts_loopback() -> None:
    """Temporal's gRPC port and the Web UI have no authentication: loopback only. The API
    is reached through Caddy (slow-client timeouts, HTTPS), not published itself."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("temporal", "temporal-ui"):
        for port in services[name]["ports"]:
            assert str(port).startswith("127.0.0.1:"), (name, port)
    for name, svc in services.items():
        if name not in ("temporal", "temporal-ui", "proxy"):
            assert "ports" not in svc, name
    proxy = services["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert sorted(proxy["ports"]) == ["443:443", "80:80"]
    assert services["api"]["expose"] == ["8000"]


def test_the_image_installs_the_hash_locked_dependencies_without_the_sandbox() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes --no-deps -r requirements.lock" in text
    assert "pip install --no-deps --no-build-isolation ." in text
    assert "rm -rf /opt/cshub/lib/python3.11/site-packages/sandbox" in text
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {
        line.split("==")[0].lower()
        for line in lock.splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for requirement in pyproject["project"]["dependencies"]:
        name = re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower()
        assert name in pinned, f"{name} is not in requirements.lock: regenerate it"
    assert {"setuptools", "wheel"} <= pinned  # the build needs nothing from outside
    assert "aiosmtpd" not in pinned  # the SMTP sink is the sandbox's
    lines = lock.splitlines()
    for i, line in enumerate(lines):
        if "==" in line and not line.startswith((" ", "#")):
            assert line.endswith("\\") and "--hash=sha256:" in lines[i + 1], line


def test_dockerfile_copies_every_package() -> None:
    text = (ROOT / "Dockerfile").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    found = tomllib.loads(pyproject)["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = [p.removesuffix("*") for p in found]
    assert "cshub" in packages and "webhooks" in packages
    for package in packages:
        assert f"COPY {package} ./{package}" in text, package
    assert "COPY worker.py" in text
