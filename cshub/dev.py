"""``cshub dev``: the whole hub on one machine.

Starts the Temporal dev server (SQLite file in the data folder, Web UI), the local
emulators of HubSpot/Zendesk/Slack with the SMTP sink and the sandbox inbox, the worker,
and the webhook API in a process of its own (``cshub api``), as production runs them: a
worker busy replaying a long history cannot hold up webhook answers. Then starts
onboarding for the demo customers (unless ``CSHUB_DEMO=false``). Ctrl-C stops
everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from google.protobuf.duration_pb2 import Duration
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import UpdateNamespaceRequest
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from activities.action_log import open_action_store
from cshub.binaries import temporal_cli
from cshub.demo_health import seed_demo_health, workflow_exists
from cshub.dev_encryption import prepare_dev_encryption
from cshub.schedules import apply_schedules
from cshub.search_attributes import ensure_search_attributes
from cshub.starters import start_onboarding
from domain.onboarding import MilestoneReached, OnboardingInput, ProductEvent
from domain.surveys import NpsInput, nps_workflow_id
from domain.ticket_sla import TicketSlaInput, ticket_sla_workflow_id
from domain.tiers import ProductEventType
from runtime.codec import data_converter
from runtime.dev_runtime import (
    DevRuntime,
    active_runtime,
    mark_stopped,
    runtime_path,
    settings_strings,
    write_runtime,
)
from runtime.metrics import HubRuntime, hub_runtime
from runtime.settings import WEBHOOK_SECRET_FIELDS, Settings
from runtime.stuck_workflows import alert_on_stuck_workflows
from sandbox.server import start_sandbox
from wiring.connectors import build_connectors
from worker import create_worker
from workflows.onboarding import OnboardingWorkflow


class DevSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    cshub_temporal_port: int = Field(default=7233, ge=1, le=65535)
    cshub_ui_port: int = Field(default=8233, ge=1, le=65535)
    cshub_sandbox_port: int = Field(default=8025, ge=1, le=65535)
    cshub_smtp_port: int = Field(default=1025, ge=1, le=65535)
    cshub_api_port: int = Field(default=8000, ge=1, le=65535)
    cshub_data_dir: Path = Path(".cshub")
    cshub_demo_day_seconds: int = Field(default=60, ge=1)
    cshub_demo: bool = True
    # CSHUB_DEV_ENCRYPTION=true: a dev key in the data dir (unless keys are set), the UI
    # wired to the codec endpoint. Off by default: every `cshub` command reading the dev
    # server would then need the key too.
    cshub_dev_encryption: bool = False


# 1008 is left for a person to onboard by webhook (cshub send-test-event hubspot deal-won).
DEMO_CUSTOMERS = ["1001", "1002", "1003", "1004", "1005", "1006", "1007"]
DEMO_TICKETS = ["5001", "5003"]  # 5002: the start example of docs/cs-ops/temporal-ui.md
DEV_RETENTION = timedelta(days=35)
DEMO_NPS_CUSTOMERS = ["1003", "1005", "1010"]  # two contacts each for 1003/1005; 1010 in Spanish


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_ports(dev: DevSettings) -> None:
    taken = [
        f"{name}={port}"
        for name, port in (
            ("CSHUB_TEMPORAL_PORT", dev.cshub_temporal_port),
            ("CSHUB_UI_PORT", dev.cshub_ui_port),
            ("CSHUB_SANDBOX_PORT", dev.cshub_sandbox_port),
            ("CSHUB_SMTP_PORT", dev.cshub_smtp_port),
            ("CSHUB_API_PORT", dev.cshub_api_port),
        )
        if not _port_free(port)
    ]
    if taken:
        raise SystemExit(
            f"cshub dev: port(s) already in use: {', '.join(taken)}. Stop the other process "
            f"or choose other ports with those variables."
        )


async def start_temporal_dev_server(
    dev: DevSettings, ui_codec_endpoint: str | None = None
) -> asyncio.subprocess.Process:
    dev.cshub_data_dir.mkdir(parents=True, exist_ok=True)
    log = (dev.cshub_data_dir / "temporal.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        str(temporal_cli()),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(dev.cshub_temporal_port),
        "--ui-port",
        str(dev.cshub_ui_port),
        "--db-filename",
        str(dev.cshub_data_dir / "temporal.db"),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--ui-disable-news-fetch",
        *(["--ui-codec-endpoint", ui_codec_endpoint] if ui_codec_endpoint else []),
        "--log-level",
        "warn",
        stdout=log,
        stderr=log,
        start_new_session=True,  # Ctrl-C reaches us; we stop the server in order
    )
    return proc


def dev_telemetry() -> HubRuntime:
    """Prometheus metrics for the dev worker on ``CSHUB_WORKER_METRICS_ADDRESS``
    (127.0.0.1:9464; the API process serves its own at ``/metrics``); without the
    exporter when that port is taken."""
    address = Settings().cshub_worker_metrics_address or None
    try:
        return hub_runtime(address)
    except (OSError, RuntimeError, ValueError) as exc:
        logging.getLogger("cshub.dev").warning("metrics off: %s is not usable (%s)", address, exc)
        return hub_runtime(None)


async def connect_when_ready(
    address: str,
    proc: asyncio.subprocess.Process,
    log: Path,
    converter: DataConverter = pydantic_data_converter,
    runtime: Runtime | None = None,
) -> Client:
    for _ in range(120):
        if proc.returncode is not None:
            raise SystemExit(f"cshub dev: the Temporal dev server exited; see {log}")
        try:
            return await Client.connect(address, data_converter=converter, runtime=runtime)
        except RuntimeError:
            await asyncio.sleep(0.5)
    raise SystemExit(f"cshub dev: Temporal did not come up on {address} within 60 s; see {log}")


async def seed_demo(client: Client, task_queue: str, day_seconds: int) -> None:
    """Start the demo customers' journeys (joins them on a restart) and play a few
    product events, so there is something to see at once."""
    fresh = set()  # journeys started now: a restart plays no event twice
    for customer_id in DEMO_CUSTOMERS:
        if not await workflow_exists(client, f"onboarding-{customer_id}"):
            fresh.add(customer_id)
        await start_onboarding(
            client,
            task_queue,
            OnboardingInput(customer_id=customer_id, day_length_seconds=day_seconds),
        )
    events = {
        "1001": [ProductEvent(type=ProductEventType.FIRST_LOGIN, event_id="demo-1001-login")],
        "1003": [
            ProductEvent(type=ProductEventType.WORKFLOW_CREATED, event_id="demo-1003-wf1"),
            ProductEvent(
                type=ProductEventType.USAGE_THRESHOLD, percent=87, event_id="demo-1003-usage"
            ),
        ],
    }
    for customer_id, evs in events.items():
        if customer_id not in fresh:
            continue
        handle = client.get_workflow_handle(f"onboarding-{customer_id}")
        for ev in evs:
            await handle.signal(OnboardingWorkflow.product_event, ev)
    if "1005" in fresh:
        await client.get_workflow_handle("onboarding-1005").signal(
            OnboardingWorkflow.milestone_reached,
            MilestoneReached(milestone="production_deployment", note="demo: reached early"),
        )
    # The demo Zendesk tickets get their SLA clocks (real time: SLAs are not compressed).
    # 5003 (urgent, unanswered for hours) escalates at once; 5001 was answered in time.
    for ticket_id in DEMO_TICKETS:
        await _start_demo(
            client,
            task_queue,
            "TicketSlaWorkflow",
            TicketSlaInput(ticket_id=ticket_id),
            ticket_sla_workflow_id(ticket_id),
            f"Ticket SLA · Zendesk ticket {ticket_id} (demo)",
        )
    # Quarterly NPS: this quarter's survey goes out at once (outside quiet hours); click a
    # score in the inbox to see the follow-up (detractor task and alert, advocacy e-mail).
    for customer_id in DEMO_NPS_CUSTOMERS:
        await _start_demo(
            client,
            task_queue,
            "NpsSurveyWorkflow",
            NpsInput(customer_id=customer_id),
            nps_workflow_id(customer_id),
            f"NPS · customer {customer_id} (demo)",
        )


async def _start_demo(
    client: Client, task_queue: str, workflow: str, arg: BaseModel, workflow_id: str, summary: str
) -> None:
    """Start one demo workflow unless it already ran (a failed run may start again)."""
    if await workflow_exists(client, workflow_id):
        return
    await client.start_workflow(
        workflow,
        arg,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        static_summary=summary,
    )


async def keep_closed_workflows(client: Client, retention: timedelta) -> None:
    """The dev server keeps closed workflows one day; `cshub report support --since 30d`
    needs them longer."""
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=client.namespace,
            config=NamespaceConfig(
                workflow_execution_retention_ttl=Duration(seconds=int(retention.total_seconds()))
            ),
        )
    )


def cli_command() -> str:
    """How to type ``cshub`` here: bare when it is on PATH (an activated venv), else the
    path this process was started with (``.venv/bin/cshub`` from ``make dev``)."""
    started = Path(sys.argv[0])
    on_path = shutil.which("cshub")
    if on_path and started.name == "cshub" and Path(on_path).resolve() == started.resolve():
        return "cshub"
    if started.name == "cshub":
        return str(started)
    return ".venv/bin/cshub"


API_CREDENTIAL_FILE_NAME = "api-token"
SANDBOX_STATE_FILE_NAME = "sandbox-state.pickle"


def dev_api_token(base: Settings, data_dir: Path) -> tuple[str, str]:
    """The bearer token for ``GET /customers/{id}/timeline`` and where it comes from:
    ``CSHUB_API_TOKENS`` when set, else one made once in ``<data dir>/api-token``
    (0600) and kept across restarts, so scripts written against it keep working."""
    if base.api_tokens:
        return base.api_tokens[0], "CSHUB_API_TOKENS"
    path = data_dir / API_CREDENTIAL_FILE_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_urlsafe(24) + "\n")
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < 16:
        raise SystemExit(f"cshub dev: {path} holds no usable token; delete it to get a new one")
    return token, str(path.resolve())


def refuse_second_dev(data_dir: Path) -> None:
    """Two ``cshub dev`` on one data folder would share one SQLite file and one sandbox
    state: say which process runs there instead."""
    running = active_runtime(data_dir)
    if running is not None and running.pid != os.getpid():
        raise SystemExit(
            f"cshub dev: already running on data folder {data_dir.resolve()} (pid "
            f"{running.pid}, since {running.started_at:%Y-%m-%d %H:%M:%S} UTC; see "
            f"{runtime_path(data_dir)}). Stop it, or choose another CSHUB_DATA_DIR."
        )


def webhook_help(settings: Settings, api_url: str) -> str:
    secrets = "\n".join(
        f"  {name.upper():<24}{getattr(settings, name).get_secret_value()}"
        for name in WEBHOOK_SECRET_FIELDS
    )
    return (
        "Sandbox webhook secrets (local only; production reads them from the environment):\n"
        f"{secrets}\n"
        "Send a signed test event:\n"
        f"  {cli_command()} send-test-event hubspot deal-won --customer 1008 --url {api_url}\n"
        f"  {cli_command()} send-test-event product workflow-created --customer 1008 "
        f"--url {api_url}"
    )


def dev_runtime(
    settings: Settings, overrides: dict[str, object], dev: DevSettings, inbox: str, api: str
) -> DevRuntime:
    """What other shells need from this run: its addresses, paths and sandbox secrets."""
    from datetime import UTC, datetime

    values = dict(overrides)
    for name in WEBHOOK_SECRET_FIELDS:
        values[name] = getattr(settings, name)
    return DevRuntime(
        pid=os.getpid(),
        started_at=datetime.now(UTC),
        urls={
            "ui": f"http://127.0.0.1:{dev.cshub_ui_port}",
            "inbox": f"{inbox}/",
            "outbox": f"{inbox}/api/outbox",
            "api": api,
            "temporal": settings.temporal_address,
            "smtp": f"{settings.smtp_host}:{settings.smtp_port}",
        },
        settings=settings_strings(values),
    )


def settings_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the environment variables that make ``Settings()`` equal to it in
    another process (secrets included: the child is ours, on this machine)."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, enum.Enum):
            text = str(value.value)
        elif isinstance(value, list | dict | tuple | set | frozenset):
            text = json.dumps(list(value) if isinstance(value, set | frozenset) else value)
        else:
            text = str(value)
        env[name.upper()] = text
    return env


async def start_api_process(settings: Settings) -> asyncio.subprocess.Process:
    """``cshub api`` in its own process, configured like this one; its output (webhook
    log lines) goes to the terminal."""
    env = {**os.environ, **settings_environment(settings)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cshub",
        "api",
        env=env,
        start_new_session=True,  # Ctrl-C reaches us; we stop the API in order
    )


async def wait_for_api(url: str, proc: asyncio.subprocess.Process, within_s: float = 60) -> None:
    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                return bool(resp.status < 500)
        except OSError:
            return False

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise SystemExit(f"cshub dev: the webhook API exited (code {proc.returncode})")
        if await asyncio.to_thread(ready):
            return
        await asyncio.sleep(0.3)
    raise SystemExit(f"cshub dev: the webhook API did not answer at {url} within {within_s:.0f} s")


async def stop_process(proc: asyncio.subprocess.Process, grace_s: float = 15) -> None:
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), timeout=grace_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def demo_line(dev: DevSettings) -> str:
    if dev.cshub_demo:
        return (
            f"Demo customers {DEMO_CUSTOMERS[0]}-{DEMO_CUSTOMERS[-1]} are onboarding; "
            f"one plan day lasts {dev.cshub_demo_day_seconds} s (CSHUB_DEMO_DAY_SECONDS). "
            "Ctrl-C stops everything."
        )
    return (
        "No demo journeys (CSHUB_DEMO=false): start one with `cshub onboarding start` or a "
        "webhook (below). Ctrl-C stops everything."
    )


async def run_dev(dev: DevSettings) -> None:
    refuse_second_dev(dev.cshub_data_dir)
    check_ports(dev)
    from runtime.logs import configure_logging

    configure_logging(Settings().cshub_log_format, logging.WARNING)  # CSHUB_LOG_FORMAT
    logging.getLogger("cshub.webhooks").setLevel(logging.INFO)
    address = f"127.0.0.1:{dev.cshub_temporal_port}"
    encryption = prepare_dev_encryption(
        Settings(),
        dev.cshub_data_dir,
        api_port=dev.cshub_api_port,
        ui_port=dev.cshub_ui_port,
        enabled=dev.cshub_dev_encryption,
    )
    proc = await start_temporal_dev_server(dev, encryption.ui_codec_endpoint)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sandbox = None
    api_proc: asyncio.subprocess.Process | None = None
    try:
        telemetry = dev_telemetry()
        client = await connect_when_ready(
            address,
            proc,
            dev.cshub_data_dir / "temporal.log",
            data_converter(Settings(**encryption.settings_overrides)),
            telemetry.runtime,
        )
        sandbox = await start_sandbox(
            http_port=dev.cshub_sandbox_port,
            smtp_port=dev.cshub_smtp_port,
            state_file=dev.cshub_data_dir / SANDBOX_STATE_FILE_NAME,
        )
        base = Settings()
        api_token, api_token_source = dev_api_token(base, dev.cshub_data_dir)
        overrides: dict[str, object] = {
            "temporal_address": address,
            "hubspot_base_url": sandbox.http_url,
            "zendesk_base_netloc": sandbox.http_url.removeprefix("http://"),
            "zendesk_scheme": "http",
            "slack_base_url": f"{sandbox.http_url}/api/",
            "stripe_base_url": sandbox.http_url,
            "smtp_host": sandbox.smtp_host,
            "smtp_port": sandbox.smtp_port,
            "cshub_api_port": dev.cshub_api_port,
            "cshub_data_dir": dev.cshub_data_dir,
            "cshub_api_db": dev.cshub_data_dir / "webhooks.db",
            "cshub_actions_db": dev.cshub_data_dir / "actions.db",
            # Survey links in e-mails point at this API, wherever its port is.
            "cshub_public_api_url": f"http://127.0.0.1:{dev.cshub_api_port}",
            "cshub_api_tokens": base.cshub_api_tokens or api_token,
            **encryption.settings_overrides,
        }
        settings = Settings(**overrides)  # type: ignore[arg-type]
        await keep_closed_workflows(client, DEV_RETENTION)
        await ensure_search_attributes(client)
        with ThreadPoolExecutor(
            max_workers=settings.worker_max_concurrent_activities,
            thread_name_prefix="cshub-activity",
        ) as pool:
            actions = open_action_store(
                settings.cshub_actions_db,
                settings.cshub_actions_retention_days,
                settings.cshub_database_url,
            )
            connectors = build_connectors(settings)
            worker = create_worker(client, settings, connectors, executor=pool, actions=actions)
            api_url = f"http://127.0.0.1:{dev.cshub_api_port}"
            api_proc = await start_api_process(settings)
            await wait_for_api(api_url, api_proc)
            with alert_on_stuck_workflows(connectors.chat, settings.slack_ops_channel):
                async with worker:
                    schedules = await apply_schedules(client, settings)
                    if dev.cshub_demo:
                        await seed_demo(
                            client, settings.temporal_task_queue, dev.cshub_demo_day_seconds
                        )
                        sweep_id = await seed_demo_health(
                            client, settings.temporal_task_queue, build_connectors(settings).crm
                        )
                        schedules.append(
                            f"started {sweep_id} (demo: scores the demo companies)"
                            if sweep_id
                            else "demo health sweep ran before (not repeated)"
                        )
                    print(
                        "\ncshub is running\n"
                        f"  Temporal Web UI   http://127.0.0.1:{dev.cshub_ui_port}\n"
                        f"  Sandbox inbox     {sandbox.http_url}/   (emails, Slack, CRM tasks)\n"
                        f"  Outbox JSON       {sandbox.http_url}/api/outbox\n"
                        f"  Temporal gRPC     {address}   (namespace default, "
                        f"task queue {settings.temporal_task_queue})\n"
                        + (
                            ""
                            if dev.cshub_temporal_port == 7233
                            else f"                    temporal CLI: --address {address} "
                            f"(or export TEMPORAL_ADDRESS={address})\n"
                        )
                        + f"  SMTP sink         {sandbox.smtp_host}:{sandbox.smtp_port}\n"
                        f"  Webhook API       {api_url}   (API docs {api_url}/docs; "
                        f"own process, pid {api_proc.pid})\n"
                        f"  Metrics           {telemetry.metrics_url or 'off'}   "
                        f"(worker; the API's at {api_url}/metrics)\n"
                        f"  Data folder       {dev.cshub_data_dir.resolve()}   (sandbox "
                        + (
                            "state restored from the last run; Reset sandbox in the inbox "
                            "starts over"
                            if sandbox.restored
                            else "seeded from the demo data"
                        )
                        + ")\n"
                        f"{demo_line(dev)}",
                        flush=True,
                    )
                    print(webhook_help(settings, api_url), flush=True)
                    print(
                        f"Timeline API token {api_token}   ({api_token_source})\n"
                        f'  curl -H "Authorization: Bearer {api_token}" '
                        f"{api_url}/customers/1003/timeline",
                        flush=True,
                    )
                    print(encryption.banner(), flush=True)
                    print(
                        "Schedules: "
                        + "; ".join(schedules)
                        + f"\n  then: {cli_command()} health explain 1005 · "
                        f"{cli_command()} report health",
                        flush=True,
                    )
                    runtime = write_runtime(
                        dev.cshub_data_dir,
                        dev_runtime(settings, overrides, dev, sandbox.http_url, api_url),
                    )
                    print(
                        f"Other shells: cshub commands find this stack through {runtime} "
                        f"(from another folder: export CSHUB_DATA_DIR="
                        f"{dev.cshub_data_dir.resolve()})",
                        flush=True,
                    )
                    await stop.wait()
                    print("\ncshub dev: stopping...", flush=True)
                    mark_stopped(dev.cshub_data_dir, os.getpid())
                    await stop_process(api_proc)
    finally:
        with contextlib.suppress(OSError):
            mark_stopped(dev.cshub_data_dir, os.getpid())
        if api_proc is not None:
            await stop_process(api_proc)
        if sandbox is not None:
            await sandbox.stop()
        await stop_process(proc)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
