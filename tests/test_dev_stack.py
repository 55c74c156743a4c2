"""``cshub dev`` as a new user runs it: on non-default ports and data folder, the commands
its banner suggests run from another process with only that environment, and a
restart on the same data folder repeats no e-mail, Slack alert or CRM task."""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.dev_runtime import read_runtime

pytestmark = pytest.mark.timeout(300)

CSHUB = [sys.executable, "-m", "cshub"]
READY = "Other shells:"  # the banner's last line: the runtime file is written


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def base_env(**extra: str) -> dict[str, str]:
    """Only what a fresh shell has, plus ``extra`` (no CSHUB_* or TEMPORAL_* of ours)."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "CSHUB_PLAYBOOKS_DIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return {**env, **extra}


class DevRun:
    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        self.out = log.open("ab")
        self.proc = subprocess.Popen(
            [*CSHUB, "dev"],
            env=env,
            cwd=cwd,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 150) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            if READY in text.rsplit("cshub is running", 1)[-1]:
                return text
            if self.proc.poll() is not None:
                pytest.fail(f"cshub dev exited {self.proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.5)
        pytest.fail(f"cshub dev not ready in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.out.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("devstack")
    temporal, ui, sandbox, smtp, api, metrics = free_ports(6)
    env = {
        "CSHUB_TEMPORAL_PORT": str(temporal),
        "CSHUB_UI_PORT": str(ui),
        "CSHUB_SANDBOX_PORT": str(sandbox),
        "CSHUB_SMTP_PORT": str(smtp),
        "CSHUB_API_PORT": str(api),
        "CSHUB_DATA_DIR": str(root / "data"),
    }
    dev_env = base_env(
        **env,
        CSHUB_WORKER_METRICS_ADDRESS=f"127.0.0.1:{metrics}",
        # Nothing on the plan's clock moves during the test: what a restart could
        # repeat is the start-up (journeys, demo events, the demo sweep, surveys).
        CSHUB_DEMO_DAY_SECONDS="86400",
        # The schedules' sweeps and digests stay out of the test, whatever the hour.
        HEALTH_SWEEP_CRON="0 6 1 1 *",
        HEALTH_DIGEST_CRON="0 8 1 1 *",
    )
    (root / "work").mkdir()
    runs: list[DevRun] = []
    info = {"root": root, "env": env, "dev_env": dev_env, "runs": runs}
    info["inbox"] = f"http://127.0.0.1:{sandbox}"
    info["api"] = f"http://127.0.0.1:{api}"
    yield info
    for run in runs:
        run.stop()


def start(stack: dict[str, Any], n: int) -> DevRun:
    run = DevRun(stack["dev_env"], stack["root"] / "work", stack["root"] / f"dev{n}.log")
    stack["runs"].append(run)
    return run


def cli(stack: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """A ``cshub`` command from another folder, with only the stack's environment."""
    other = stack["root"] / "elsewhere"
    other.mkdir(exist_ok=True)
    done = subprocess.run(
        [*CSHUB, *args],
        env=base_env(**(stack["env"] if env is None else env)),
        cwd=other,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def cli_all(
    stack: dict[str, Any], commands: dict[str, tuple[list[str], dict[str, str] | None]]
) -> dict[str, tuple[int, str]]:
    """Several ``cli`` calls at once (each a separate process, as from other shells)."""
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        futures = {
            k: pool.submit(cli, stack, *args, env=env) for k, (args, env) in commands.items()
        }
        return {k: f.result() for k, f in futures.items()}


def outbox(stack: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    resp = httpx.get(f"{stack['inbox']}/api/outbox", timeout=10)
    resp.raise_for_status()
    box: dict[str, list[dict[str, Any]]] = resp.json()
    return box


def keys(box: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """The idempotency key of every e-mail, Slack message and CRM task sent, without its
    times (``health-outreach-1003-20261207T171517/20261207T171517/usage:email`` ->
    ``health-outreach-1003-T/T/usage:email``): a second sweep's alert for the same thing
    has another sweep time in its key, and is still the same alert sent twice."""
    raw = {
        "emails": [e["idempotency_key"] for e in box["emails"]],
        "slack": [
            ((m.get("metadata") or {}).get("event_payload") or {}).get("idempotency_key") or ""
            for m in box["slack_messages"]
        ],
        "tasks": [t["properties"].get("cshub_idempotency_key") or "" for t in box["crm_tasks"]],
    }
    return {kind: [TIMES.sub("T", k) for k in ks] for kind, ks in raw.items()}


TIMES = re.compile(r"\d{8}T\d{6}")


def wait_for(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}")


def test_commands_from_another_shell_then_a_restart_repeats_nothing(
    stack: dict[str, Any],
) -> None:
    run1 = start(stack, 1)
    banner = run1.wait_ready()
    data = Path(stack["env"]["CSHUB_DATA_DIR"])
    runtime = read_runtime(data)
    assert runtime is not None and runtime.stopped_at is None
    assert runtime.settings["temporal_address"].endswith(stack["env"]["CSHUB_TEMPORAL_PORT"])
    assert oct((data / "dev-runtime.json").stat().st_mode & 0o777) == "0o600"
    # The demo sweep's outreach (1003 at 90 % of its seats) is in the inbox (the Slack
    # alert: the customer's e-mail may wait for the end of their quiet hours).
    wait_for(
        lambda: any(
            "Northwind Analytics: 90% of licensed seats" in m["text"]
            for m in outbox(stack)["slack_messages"]
        ),
        "the demo sweep's usage alert",
    )

    # The banner's commands, in another folder with only that environment.
    chart = stack["root"] / "health.png"
    empty = stack["root"] / "no-store"
    results = cli_all(
        stack,
        {
            "deal-won": (["send-test-event", "hubspot", "deal-won", "--customer", "1008"], None),
            "product": (
                ["send-test-event", "product", "workflow-created", "--customer", "1008",
                 "--url", stack["api"]],
                None,
            ),
            "explain": (["health", "explain", "1005"], None),
            "support": (["report", "support", "--json"], None),
            "health": (["report", "health", "--json", "--chart", str(chart)], None),
            "timeline-1003": (["timeline", "1003", "--json"], None),
            "timeline-1004": (["timeline", "1004", "--json"], None),
            # A folder with no store, and nothing running there.
            "no-store": (["timeline", "1003"], {"CSHUB_DATA_DIR": str(empty)}),
            "no-temporal": (
                ["onboarding", "progress", "1003"],
                {"CSHUB_DATA_DIR": str(empty), "TEMPORAL_ADDRESS": "127.0.0.1:1"},
            ),
        },
    )  # fmt: skip
    rc, out = results["deal-won"]
    assert rc == 0 and "HTTP 200" in out and '"accepted"' in out, out  # 1008's welcome below
    rc, out = results["product"]
    assert rc == 0 and "HTTP 202" in out, out
    rc, out = results["explain"]
    assert rc == 0 and "Helios Logistics (customer 1005)" in out, out
    rc, out = results["support"]
    assert rc == 0, out
    assert json.loads(out)["tickets_read"] == 2  # the demo tickets 5001 and 5003
    rc, out = results["health"]
    assert rc == 0 and chart.stat().st_size > 0, out
    assert json.loads(out)["total"] >= 8
    rc, out = results["timeline-1003"]
    assert rc == 0, out
    assert any(r["kind"] == "usage_limit_alert" for r in json.loads(out)), out
    # A folder with no store is an error naming the file, and stays empty.
    rc, out = results["no-store"]
    assert rc == 2 and str(empty / "actions.db") in out and "CSHUB_ACTIONS_DB" in out, out
    assert "Traceback" not in out and not empty.exists()
    # Nothing running there: the address tried and its variable, no traceback.
    rc, out = results["no-temporal"]
    assert rc == 1 and "127.0.0.1:1 (TEMPORAL_ADDRESS" in out and "Traceback" not in out, out

    # What people read: Slack's escapes stay in Slack, scores have one decimal at most,
    # alerts name the tier the CRM knows.
    rc, out = results["timeline-1004"]
    assert rc == 0, out
    summaries = [r["summary"] for r in json.loads(out)]
    assert ":rocket: Quill & Co started Starter onboarding" in summaries, summaries
    assert not [x for x in summaries if "&amp;" in x], summaries
    slack = outbox(stack)["slack_messages"]
    assert any(m["text"] == ":rocket: Quill &amp; Co started Starter onboarding" for m in slack)
    health = [m for m in slack if "health score" in m["text"]]
    assert any(re.search(r"first health score is \d+(\.\d)? \(", m["text"]) for m in health), [
        m["text"] for m in health
    ]
    assert not [m["text"] for m in health if re.search(r"\d\.\d\d", m["text"])], health
    tiers = [
        f["text"]
        for m in slack
        for b in m["blocks"]
        for f in b.get("fields") or []
        if f["text"].startswith("*Tier*")
    ]
    assert tiers and "*Tier*\n-" not in tiers, tiers
    # The token the banner prints opens the timeline API.
    token = banner.split("Timeline API token", 1)[1].split()[0]
    resp = httpx.get(
        f"{stack['api']}/customers/1003/timeline",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert resp.status_code == 200 and resp.json(), resp.text

    wait_for(
        lambda: any(
            e["template"] == "welcome" and "1008" in e["idempotency_key"]
            for e in outbox(stack)["emails"]
        ),
        "1008's welcome e-mail",
    )
    time.sleep(2)  # the sandbox saves within a second of a change
    before = keys(outbox(stack))
    run1.stop()
    stopped = read_runtime(data)
    assert stopped is not None and stopped.stopped_at is not None

    # The second run: same data folder, same ports.
    run2 = start(stack, 2)
    banner2 = run2.wait_ready()
    assert "state restored from the last run" in banner2
    assert "demo health sweep ran before (not repeated)" in banner2
    time.sleep(3)  # what a restart would repeat happens in its first seconds
    after = keys(outbox(stack))
    for kind, sent in after.items():
        assert set(before[kind]) <= set(sent), f"{kind} forgotten by the restart"
        repeated = [k for k, n in collections.Counter(sent).items() if n > 1]
        assert not repeated, f"{kind} sent twice: {repeated}"
    assert len(before["emails"]) >= 5 and len(before["tasks"]) >= 3 and before["slack"]


def test_the_documented_start_examples_are_not_the_demos_workflows() -> None:
    """Starting a documented example on `cshub dev` starts it, not "already running"."""
    from cshub.dev import DEMO_CUSTOMERS, DEMO_NPS_CUSTOMERS, DEMO_TICKETS
    from domain.health_sweep import HEALTH_SWEEP_WORKFLOW_ID
    from domain.surveys import nps_workflow_id
    from domain.ticket_sla import ticket_sla_workflow_id
    from tests.test_ui_examples import UI_PAGE, start_examples

    demo = {f"onboarding-{c}" for c in DEMO_CUSTOMERS}
    demo |= {ticket_sla_workflow_id(t) for t in DEMO_TICKETS}
    demo |= {nps_workflow_id(c) for c in DEMO_NPS_CUSTOMERS}
    demo |= {HEALTH_SWEEP_WORKFLOW_ID, "onboarding-1008"}  # 1008: the webhook walkthrough
    examples = {wf_id for _, wf_id, _ in start_examples()}
    assert len(examples) >= 11 and not examples & demo, examples & demo
    text = (UI_PAGE.parent / "onboarding.md").read_text(encoding="utf-8")
    onboarding = text[text.index("# Onboarding journeys") : text.index("## Dry runs")]
    started = set(re.findall(r"--workflow-id (\S+)|workflow id `(\S+)`", onboarding))
    assert started and not {a or b for a, b in started} & demo
