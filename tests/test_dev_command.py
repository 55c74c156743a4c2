"""``cshub dev``: the webhook API runs in its own process (a worker replaying a long
history cannot hold up webhook answers), and ``CSHUB_DEMO=false`` says no demo
customers are onboarding (issue 18)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cshub.dev import settings_environment
from runtime.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_settings_pass_to_another_process_unchanged(tmp_path: Path) -> None:
    settings = Settings(
        temporal_address="127.0.0.1:7999",
        cshub_api_db=tmp_path / "w.db",
        smtp_port=2525,
        cshub_api_metrics=False,
        hubspot_base_url="http://127.0.0.1:9/",
    )
    env = settings_environment(settings)
    rebuilt = subprocess.run(
        [
            sys.executable,
            "-c",
            "from runtime.settings import Settings; print(Settings().model_dump_json())",
        ],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CSHUB_")}, **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert rebuilt.stdout.strip() == settings.model_dump_json()


def test_dev_runs_the_api_in_its_own_process_and_no_demo_means_no_demo(tmp_path: Path) -> None:
    ports = {
        name: str(_free_port())
        for name in (
            "CSHUB_TEMPORAL_PORT",
            "CSHUB_UI_PORT",
            "CSHUB_SANDBOX_PORT",
            "CSHUB_SMTP_PORT",
            "CSHUB_API_PORT",
        )
    }
    env = {
        **os.environ,
        **ports,
        "CSHUB_DATA_DIR": str(tmp_path / "data"),
        "CSHUB_DEMO": "false",
        "CSHUB_WORKER_METRICS_ADDRESS": "",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cshub", "dev"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    out: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if line.startswith("Schedules:"):
                break
        text = "".join(out)
        assert "cshub is running" in text, text
        assert "are onboarding" not in text
        assert "No demo journeys (CSHUB_DEMO=false)" in text
        match = re.search(r"own process, pid (\d+)", text)
        assert match, text
        api_pid = int(match.group(1))
        assert api_pid != proc.pid
        url = f"http://127.0.0.1:{ports['CSHUB_API_PORT']}"
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # The API process went with it.
    try:
        os.kill(api_pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"the API process {api_pid} outlived cshub dev")
