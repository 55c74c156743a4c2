"""Orchestrate one chaos run (see :mod:`cshub.chaos`) and judge it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cshub.chaos.portfolio import (
    Owed,
    afternoon_zone,
    customers,
    owed_at_start,
    write_demo_data,
)
from cshub.chaos.processes import HubProcess, sandbox_environment, wait_http_ok
from cshub.chaos.senders import DeliveryStats, Event, deliver, portfolio_events
from cshub.temporal_process import TemporalProcess, free_port
from runtime.settings import SANDBOX_WEBHOOK_SECRETS
from sandbox.server import SandboxHandle, start_sandbox

SYSTEMS = ("hubspot", "zendesk", "slack")
OPS_CHANNEL = "C0OPS"


@dataclass
class ChaosConfig:
    customers: int = 24
    seed: int = 7
    send_s: float = 75.0
    """Webhooks go out over this long (each event twice, in random order)."""
    settle_s: float = 720.0
    """After sending, how long the hub may take to catch up before what is missing counts
    as lost. Most runs catch up within a minute or two; the bound is above the longest
    retry interval of a side effect (10 minutes: an activity that kept failing through
    the outages backs off that far), so "late" is never mistaken for "lost"."""
    worker_kills: int = 4
    temporal_outage_s: float = 15.0
    slack_outage_s: float = 60.0
    error_rate: float = 0.08
    timeout_rate: float = 0.02
    keep: bool = False
    """Keep the run folder (logs, SQLite files) instead of deleting it."""
    replicas: int = 1
    """2 or more: that many API and worker processes on one PostgreSQL-backed hub store
    (a server from the pgserver wheel), the load spread over the APIs, one API SIGKILLed
    mid-load (and the worker kills spread over the workers)."""


@dataclass
class Figures:
    customers: int
    seconds: float
    worker_sigkills: int
    temporal_outages: int
    slack_outage_s: float
    emulator_faults: dict[str, dict[str, int]]
    events_sent: int
    deliveries: int
    attempts: int
    answers: dict[str, int]
    events_acted_on: int
    events_lost: int
    emails_expected: int
    emails_delivered: int
    emails_duplicated: int
    alerts_expected: int
    alerts_delivered: int
    alerts_duplicated: int
    tasks_expected: int
    tasks_delivered: int
    tasks_duplicated: int
    workflows_failed: int
    ops_alerts: int
    problems: list[str] = field(default_factory=list)
    replicas: int = 1
    api_sigkills: int = 0
    non_2xx_answers: int = 0
    """Answers other than 2xx the senders got (connection errors to a killed API aside:
    a load balancer would have sent those to the other replica)."""
    recovery: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per effect (``slack:<template>``, ``email:<template>``) held up by an outage: how
    long after the outage ended it was delivered (``p50_s``, ``max_s``, ``n``)."""
    recovery_late: list[str] = field(default_factory=list)
    """Time-critical effects delivered more than RECOVERY_LIMIT_S after their fault ended."""

    @property
    def lost(self) -> int:
        return (
            self.events_lost
            + (self.emails_expected - self.emails_delivered)
            + (self.alerts_expected - self.alerts_delivered)
            + (self.tasks_expected - self.tasks_delivered)
        )

    @property
    def duplicated(self) -> int:
        return self.emails_duplicated + self.alerts_duplicated + self.tasks_duplicated

    @property
    def failed(self) -> int:
        return self.workflows_failed + self.ops_alerts

    @property
    def clean(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.failed == 0
            and not self.recovery_late
            and (self.replicas == 1 or self.non_2xx_answers == 0)
        )


RECOVERY_LIMIT_S = 60.0
"""A time-critical effect (CSM and SLA alerts, ops alerts: every Slack message; the
welcome e-mail) must reach its system within this long after the system is back."""
TIME_CRITICAL_EMAILS = frozenset({"welcome"})


def is_time_critical(effect: str) -> bool:
    channel, _, template = effect.partition(":")
    return channel == "slack" or (channel == "email" and template in TIME_CRITICAL_EMAILS)


def recovery_delays(
    rows: Sequence[tuple[str, str | None, int, str, str]],
    outages: dict[str, tuple[float, float]],
) -> dict[str, list[float]]:
    """Per effect, the delays (s) from the end of the outage of its system to its delivery,
    for effects that were tried during the outage and delivered after it. ``rows``: the
    action store's (channel, template, attempts, first_at, last_at) of delivered effects;
    ``outages``: per channel, (start, end) in epoch seconds."""
    from datetime import datetime

    delays: dict[str, list[float]] = {}
    for channel, template, attempts, first_at, last_at in rows:
        window = outages.get(channel)
        if window is None or attempts < 2:
            continue
        first = datetime.fromisoformat(first_at.replace("Z", "+00:00")).timestamp()
        last = datetime.fromisoformat(last_at.replace("Z", "+00:00")).timestamp()
        _, end = window
        if first <= end <= last:
            delays.setdefault(f"{channel}:{template or '-'}", []).append(last - end)
    return delays


def summarise_recovery(delays: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    import statistics

    return {
        effect: {
            "n": len(values),
            "p50_s": round(statistics.median(values), 1),
            "max_s": round(max(values), 1),
        }
        for effect, values in sorted(delays.items())
    }


def say(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


class ChaosRun:
    def __init__(self, config: ChaosConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.rng = random.Random(config.seed)
        self.portfolio = customers(config.customers)
        self.stats = DeliveryStats()
        self.temporal = TemporalProcess(workdir / "temporal.db")
        self.temporal_outages = 0
        self.sandbox: SandboxHandle | None = None
        self.api_ports = [free_port() for _ in range(max(1, config.replicas))]
        self.api_urls = [f"http://127.0.0.1:{port}" for port in self.api_ports]
        self.api_url = self.api_urls[0]
        """What senders sign for (the load balancer's public URL in front of the APIs)."""
        self.database_url: str | None = None
        self.api_kills = 0
        self._stack = contextlib.ExitStack()
        self._stop_faults = asyncio.Event()
        self.outages: dict[str, tuple[float, float]] = {}
        """Per channel, when its system was down (epoch seconds)."""

    # -- set-up ---------------------------------------------------------------------

    def _env(self, sandbox: SandboxHandle, replica: int = 0) -> dict[str, str]:
        shared = {"CSHUB_DATABASE_URL": self.database_url} if self.database_url else {}
        return sandbox_environment(
            self.temporal.address,
            sandbox,
            self.workdir,
            CSHUB_API_HOST="127.0.0.1",
            CSHUB_API_PORT=str(self.api_ports[replica]),
            CSHUB_PUBLIC_API_URL=self.api_url,
            HUBSPOT_WEBHOOK_URL=f"{self.api_url}/webhooks/hubspot",
            **shared,
        )

    async def run(self) -> Figures:
        cfg = self.config
        say(f"working out what {cfg.customers} customers are owed (real playbooks, simulated)")
        owed = await owed_at_start()
        zone = afternoon_zone()
        data = write_demo_data(self.workdir / "demo_data.yaml", self.portfolio, zone)
        began = time.monotonic()
        self.sandbox = sandbox = await start_sandbox(http_port=0, smtp_port=0, data_file=data)
        await self.temporal.start()
        n = max(1, cfg.replicas)
        if n > 1:
            from cshub.chaos.postgres import postgres_database

            self.database_url = self._stack.enter_context(postgres_database(self.workdir))
            say(f"{n} APIs and {n} workers on one PostgreSQL hub store")
        names = [f"-{i + 1}" if n > 1 else "" for i in range(n)]
        workers = [
            HubProcess(f"worker{names[i]}", ["worker"], self._env(sandbox, i), self.workdir)
            for i in range(n)
        ]
        apis = [
            HubProcess(f"api{names[i]}", ["api"], self._env(sandbox, i), self.workdir)
            for i in range(n)
        ]
        for process in workers + apis:
            await process.start()
        try:
            for url in self.api_urls:
                await wait_http_ok(f"{url}/healthz")
            say(
                f"hub up: Temporal {self.temporal.address}, API {self.api_url}, "
                f"emulators {sandbox.http_url}, customers in {zone}; run folder {self.workdir}"
            )
            events = portfolio_events(
                self.portfolio,
                {
                    "hubspot": SANDBOX_WEBHOOK_SECRETS["hubspot_client_secret"],
                    "stripe": SANDBOX_WEBHOOK_SECRETS["stripe_webhook_secret"],
                },
                self.api_url,
            )
            await self._chaos_on()
            faults = asyncio.gather(
                self._kill_worker_repeatedly(workers),
                self._temporal_outage(),
                self._slack_outage(),
                *([self._kill_api_once(apis[-1])] if n > 1 else []),
            )
            await self._send_all(events)
            self._stop_faults.set()
            await faults
            await self._chaos_off()
            for process in workers + apis:
                if not process.running:
                    await process.start()
            say("sending done, faults over: waiting for the hub to catch up")
            figures = await self._settle(events, owed, began)
        finally:
            for process in apis + workers:
                await process.stop()
            await self.temporal.stop()
            await sandbox.stop()
            self._stack.close()
        return figures

    # -- faults ---------------------------------------------------------------------

    async def _control(self, method: str, path: str, body: Any = None) -> Any:
        assert self.sandbox is not None
        async with httpx.AsyncClient(timeout=10) as http:
            resp = await http.request(method, self.sandbox.http_url + path, json=body)
            resp.raise_for_status()
            return resp.json()

    async def _chaos_on(self) -> None:
        for n, system in enumerate(SYSTEMS):
            await self._control(
                "POST",
                "/_sandbox/chaos",
                {
                    "system": system,
                    "error_rate": self.config.error_rate,
                    "timeout_rate": self.config.timeout_rate,
                    "seed": self.config.seed + n,
                },
            )

    async def _chaos_off(self) -> None:
        self.emulator_faults = (await self._control("GET", "/_sandbox/chaos"))["served"]
        await self._control("DELETE", "/_sandbox/chaos")

    async def _kill_worker_repeatedly(self, workers: list[HubProcess]) -> None:
        window = self.config.send_s + 20
        moments = sorted(self.rng.uniform(8, window) for _ in range(self.config.worker_kills))
        started = time.monotonic()
        for n, moment in enumerate(moments):
            worker = workers[n % len(workers)]
            await asyncio.sleep(max(0.0, moment - (time.monotonic() - started)))
            await worker.sigkill()
            say(f"SIGKILL {worker.name} ({n + 1} of {self.config.worker_kills})")
            await asyncio.sleep(self.rng.uniform(1, 4))
            await worker.start()

    async def _kill_api_once(self, api: HubProcess) -> None:
        """Mid-load: one API replica SIGKILLed (its in-flight requests are cut off; the
        senders' retries reach the other), restarted a few seconds later."""
        await asyncio.sleep(self.config.send_s * 0.45)
        await api.sigkill()
        self.api_kills += 1
        say(f"SIGKILL {api.name}")
        await asyncio.sleep(self.rng.uniform(3, 6))
        await api.start()

    async def _temporal_outage(self) -> None:
        await asyncio.sleep(self.config.send_s * 0.35)
        say(f"stopping the Temporal server for {self.config.temporal_outage_s:.0f} s")
        await self.temporal.stop()
        self.temporal_outages += 1
        await asyncio.sleep(self.config.temporal_outage_s)
        await self.temporal.start()
        say("Temporal server back (same SQLite file)")

    async def _slack_outage(self) -> None:
        await asyncio.sleep(self.config.send_s * 0.55)
        say(f"Slack down for {self.config.slack_outage_s:.0f} s")
        started = time.time()
        await self._control(
            "POST",
            "/_sandbox/faults",
            {"system": "slack", "status": 503, "count": 10**9, "retry_after": 5},
        )
        await asyncio.sleep(self.config.slack_outage_s)
        await self._control("DELETE", "/_sandbox/faults")
        self.outages["slack"] = (started, time.time())
        say("Slack back")

    # -- load -----------------------------------------------------------------------

    async def _send_all(self, events: list[Event]) -> None:
        """Every event twice, each copy at a random moment: out of order on purpose."""
        cfg = self.config
        copies = [(self.rng.uniform(0, cfg.send_s), e) for e in events]
        copies += [(at + self.rng.uniform(0.5, 20), e) for at, e in copies]
        copies.sort(key=lambda c: c[0])
        deadline = asyncio.get_running_loop().time() + cfg.send_s + cfg.settle_s
        say(f"sending {len(events)} events, each twice, over {cfg.send_s:.0f} s")
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=15) as http:

            async def one(at: float, event: Event) -> None:
                await asyncio.sleep(max(0.0, at - (time.monotonic() - started)))
                await deliver(
                    http, self.api_urls, event, self.stats, deadline=deadline, rng=self.rng
                )

            await asyncio.gather(*(one(at, e) for at, e in copies))

    # -- verdict --------------------------------------------------------------------

    async def _settle(self, events: list[Event], owed: dict[str, Owed], began: float) -> Figures:
        deadline = time.monotonic() + self.config.settle_s
        last_said = 0.0
        while True:
            figures = await self._figures(events, owed, began)
            if figures.lost == 0 or time.monotonic() > deadline:
                break
            if time.monotonic() - last_said > 30:
                last_said = time.monotonic()
                say(f"still owed: {'; '.join(figures.problems[:5])}")
            await asyncio.sleep(3)
        # Nothing more may arrive: a late duplicate would show now.
        await asyncio.sleep(10)
        return await self._figures(events, owed, began)

    async def _figures(self, events: list[Event], owed: dict[str, Owed], began: float) -> Figures:
        assert self.sandbox is not None
        async with httpx.AsyncClient(timeout=10) as http:
            box = (await http.get(f"{self.sandbox.http_url}/api/outbox")).json()
        client = await Client.connect(self.temporal.address, data_converter=pydantic_data_converter)
        existing = {wf.id async for wf in client.list_workflows()}
        failed = [wf.id async for wf in client.list_workflows("ExecutionStatus = 'Failed'")]
        by_id = {c.company_id: c for c in self.portfolio}

        expected_emails: Counter[tuple[str, str]] = Counter()
        expected_slack: Counter[str] = Counter()
        expected_tasks: Counter[str] = Counter()
        for c in self.portfolio:
            for kind in [f"onboarding:{c.tier.value}"] + (["dunning"] if c.dunning else []):
                o = owed[kind]
                workflow = kind.split(":")[0]
                for template in o.emails:
                    expected_emails[(c.company_id, template)] += 1
                expected_slack[f"{workflow}-{c.company_id}/"] += o.slack
                expected_tasks[f"{workflow}-{c.company_id}/"] += o.tasks

        emails = [e for e in box["emails"] if e["headers"].get("X-Cshub-Customer-Id") in by_id]
        got_emails = Counter((e["headers"]["X-Cshub-Customer-Id"], e["template"]) for e in emails)
        slack_keys = Counter(
            str(((m.get("metadata") or {}).get("event_payload") or {}).get("idempotency_key"))
            for m in box["slack_messages"]
            if m["channel"] != OPS_CHANNEL
        )
        task_keys = Counter(
            str(t["properties"].get("cshub_idempotency_key")) for t in box["crm_tasks"]
        )

        missing: list[str] = [
            f"e-mail {template} to customer {cid}"
            for (cid, template), n in expected_emails.items()
            if got_emails[(cid, template)] < n
        ]

        def delivered(what: str, expected: Counter[str], keys: Counter[str]) -> tuple[int, int]:
            got = dup = 0
            for prefix, want in expected.items():
                matching = {k: n for k, n in keys.items() if k.startswith(prefix)}
                got += min(want, len(matching))
                dup += sum(n - 1 for n in matching.values())
                if len(matching) < want:
                    missing.append(f"{what} of {prefix.rstrip('/')}")
            return got, dup

        alerts_got, alerts_dup = delivered("Slack alert", expected_slack, slack_keys)
        tasks_got, tasks_dup = delivered("CRM task", expected_tasks, task_keys)
        acted = [e for e in events if e.accepted and e.workflow_id in existing]
        recovery = summarise_recovery(recovery_delays(self._delivered_effects(), self.outages))
        late = [
            f"{effect} delivered {r['max_s']:.0f} s after its outage ended "
            f"(limit {RECOVERY_LIMIT_S:.0f} s)"
            for effect, r in recovery.items()
            if is_time_critical(effect) and r["max_s"] > RECOVERY_LIMIT_S
        ]
        answers = Counter(str(status or "no answer") for status in self.stats.statuses.elements())
        non_2xx = sum(n for status, n in self.stats.statuses.items() if status and status >= 300)
        return Figures(
            customers=len(self.portfolio),
            seconds=round(time.monotonic() - began, 1),
            worker_sigkills=self.config.worker_kills,
            temporal_outages=self.temporal_outages,
            slack_outage_s=self.config.slack_outage_s,
            emulator_faults=getattr(self, "emulator_faults", {}),
            events_sent=len(events),
            deliveries=self.stats.deliveries,
            attempts=self.stats.attempts,
            answers=dict(sorted(answers.items())),
            events_acted_on=len(acted),
            events_lost=len(events) - len(acted),
            emails_expected=sum(expected_emails.values()),
            emails_delivered=sum(min(n, got_emails[k]) for k, n in expected_emails.items()),
            emails_duplicated=sum(1 for e in emails if e.get("duplicate"))
            + sum(max(0, got_emails[k] - n) for k, n in expected_emails.items()),
            alerts_expected=sum(expected_slack.values()),
            alerts_delivered=alerts_got,
            alerts_duplicated=alerts_dup,
            tasks_expected=sum(expected_tasks.values()),
            tasks_delivered=tasks_got,
            tasks_duplicated=tasks_dup,
            workflows_failed=len(failed),
            ops_alerts=sum(1 for m in box["slack_messages"] if m["channel"] == OPS_CHANNEL),
            recovery=recovery,
            recovery_late=late,
            replicas=max(1, self.config.replicas),
            api_sigkills=self.api_kills,
            non_2xx_answers=non_2xx,
            problems=late
            + [f"not delivered: {m}" for m in missing]
            + [f"failed workflow {w}" for w in failed]
            + [
                f"event not acted on: {e.name} (answers {e.answers})"
                for e in events
                if e not in acted
            ],
        )

    def _delivered_effects(self) -> list[tuple[str, str | None, int, str, str]]:
        """The worker's action store: every effect delivered, with its first and last try."""
        import sqlite3

        path = self.workdir / "actions.db"
        if not path.exists():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT channel, kind, attempts, first_at, last_at FROM actions "
                "WHERE outcome IN ('done', 'already_done')"
            ).fetchall()
        finally:
            db.close()
        return [(str(c), k, int(a), str(f), str(last)) for c, k, a, f, last in rows]


def table(f: Figures) -> str:
    faults = ", ".join(
        f"{system} {sum(kinds.values())} ({', '.join(f'{k}: {n}' for k, n in kinds.items())})"
        for system, kinds in f.emulator_faults.items()
    )
    total_faults = sum(sum(kinds.values()) for kinds in f.emulator_faults.values())
    rows = [
        ("customers", f"{f.customers}", ""),
        ("run time", f"{f.seconds:.0f} s", ""),
        ("worker SIGKILLs", f"{f.worker_sigkills}", "restarted each time"),
        *(
            [
                (
                    "replicas",
                    f"{f.replicas} APIs, {f.replicas} workers",
                    f"one PostgreSQL hub store; API SIGKILLs {f.api_sigkills}",
                ),
                ("non-2xx answers", f"{f.non_2xx_answers}", "to the senders (must be 0)"),
            ]
            if f.replicas > 1
            else []
        ),
        ("Temporal server outages", f"{f.temporal_outages}", "stopped and restarted (SQLite)"),
        ("Slack down", f"{f.slack_outage_s:.0f} s", "every Slack call answered 503"),
        ("emulator faults", f"{total_faults}", faults or "429 / 500 / 503 / late answers"),
        (
            "events sent",
            f"{f.events_sent}",
            f"{f.deliveries} deliveries (each twice), {f.attempts} attempts",
        ),
        (
            "API answers",
            ", ".join(f"{k}: {n}" for k, n in f.answers.items()),
            "2xx while Temporal was down: stored, forwarded when it was back",
        ),
        ("events acted on", f"{f.events_acted_on} / {f.events_sent}", f"lost {f.events_lost}"),
        (
            "e-mails",
            f"{f.emails_delivered} / {f.emails_expected}",
            f"duplicated {f.emails_duplicated}",
        ),
        (
            "Slack alerts",
            f"{f.alerts_delivered} / {f.alerts_expected}",
            f"duplicated {f.alerts_duplicated}",
        ),
        (
            "CRM tasks",
            f"{f.tasks_delivered} / {f.tasks_expected}",
            f"duplicated {f.tasks_duplicated}",
        ),
        ("workflows failed", f"{f.workflows_failed}", f"ops alerts {f.ops_alerts}"),
    ]
    for effect, r in f.recovery.items():
        critical = "time-critical, limit 60 s" if is_time_critical(effect) else "not time-critical"
        rows.append(
            (
                f"after outage: {effect}",
                f"p50 {r['p50_s']:.0f} s, max {r['max_s']:.0f} s",
                f"{r['n']:.0f} held up; {critical}",
            )
        )
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    lines = [
        f"  {name:<{width}}  {value:<{value_width}}  {note}".rstrip() for name, value, note in rows
    ]
    verdict = f"{f.lost} lost, {f.duplicated} duplicated, {f.failed} failed"
    if f.recovery_late:
        verdict += f", {len(f.recovery_late)} time-critical effects late after recovery"
    lines.append("")
    lines.append(f"  RESULT: {verdict}" + ("" if f.clean else "   <-- NOT CLEAN"))
    lines += [f"  - {p}" for p in f.problems[:20]]
    return "\n".join(lines)


async def run_chaos(config: ChaosConfig) -> Figures:
    workdir = Path(tempfile.mkdtemp(prefix="cshub-chaos-"))
    try:
        figures = await ChaosRun(config, workdir).run()
        (workdir / "figures.json").write_text(json.dumps(asdict(figures), indent=2))
        return figures
    finally:
        if config.keep:
            say(f"run folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
