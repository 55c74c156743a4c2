"""Benchmark: durable intake. How fast the API verifies, stores and answers signed webhooks
(its own store, not Temporal, decides the answer now), and how soon the embedded forwarder
hands them to Temporal, on SQLite (the embedded default) and on PostgreSQL.

The load is the ingest benchmark's (bench/ingest.py): HubSpot deal-won batches of one
(the forwarder looks the deal's company up in the HubSpot emulator, then starts
``onboarding-<company>``) and Stripe events (signal-with-start ``dunning-`` /
``renewal-<customer>``), every event new. No worker runs: forwarding ends when Temporal
accepted the start or signal.

Then a Temporal outage (SQLite store): the dev server stopped for ``outage_s`` (10 minutes
in the full run, seconds in the smoke run) while events keep coming at
``outage_rate``/s; then started again. ``intake.outage_non_2xx``: answers that were not
2xx "accepted" meanwhile; ``intake.outage_lost``: deliveries answered 2xx that did not
reach Temporal once the backlog drained.

CPU per delivery (``intake.cpu_ms_per_delivery``, ``intake.cpu_ms_forwarded``): process
CPU time (user + system, every thread) per delivery, which does not depend on how loaded
the machine is the way events/s and milliseconds do: the figure that says whether a change
made the hub cheaper. The first is the intake path alone (a second API on its own store,
no forwarder: verify, parse, store, answer, plus the loopback sender's work); the second
the whole process from a burst's first send to its backlog forwarded (sender, API, the
embedded forwarder's CRM look-ups and Temporal starts, and the emulators, which run in
this process too). Every figure notes the load average when it was measured.

Sizes can be changed for one run: ``python -m bench --only intake --set burst=400
--set repetitions=1 --set outage_s=30 --set backends=sqlite``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.hub import Hub, local_hub
from bench.ingest import HubSender, LoopbackHttp, Phase, burst, paced
from bench.results import Figure, Size, Target
from cshub.chaos.portfolio import customers, write_demo_data
from cshub.chaos.processes import HubProcess, sandbox_environment
from webhooks.app import create_app
from webhooks.ledger import DeliveryLedger
from webhooks.server import serve_api

TITLE = "Durable intake"
NOTES = ""
"""Set by :func:`run`."""

BACKENDS = ("sqlite", "postgresql")
PREFIX = {"sqlite": "intake", "postgresql": "intake_pg"}


@dataclass(frozen=True)
class Plan:
    repetitions: int
    rate: int
    paced_s: float
    burst: int
    concurrency: int
    warmup: int
    outage_s: float = 0.0
    outage_rate: int = 20
    alone: int = 1
    """1: also measure the intake path alone (:func:`intake_alone`); 0: not."""

    def events(self) -> int:
        outage = int(self.outage_s * self.outage_rate)
        return (
            self.repetitions * (int(self.rate * self.paced_s) + self.burst) + self.warmup + outage
        )


PLANS = {
    Size.FULL: Plan(3, 50, 10.0, burst=1000, concurrency=50, warmup=40, outage_s=600.0),
    Size.TINY: Plan(1, 50, 0.6, burst=40, concurrency=20, warmup=4, outage_s=2.0),
}


@contextlib.contextmanager
def postgres() -> Any:
    """A PostgreSQL server of its own (the pgserver wheel), with one database."""
    data = Path(tempfile.mkdtemp(prefix="cshub-bench-pg-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        server: Any = pgserver.get_server(data, cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        server.psql("CREATE DATABASE cshub_bench;")
        base, _, query = str(server.get_uri()).partition("?")
        yield f"{base.rsplit('/', 1)[0]}/cshub_bench" + (f"?{query}" if query else "")
    finally:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


@contextlib.asynccontextmanager
async def intake_api(
    hub: Hub, database_url: str | None, forwarder: str = "embedded"
) -> AsyncIterator[tuple[str, Any]]:
    """The API on the chosen store, its forwarder embedded or (``process``) a
    ``cshub forwarder`` process of its own; the API's URL and settings."""
    settings = hub.settings.model_copy(
        update={
            "cshub_database_url": database_url,
            "cshub_forwarder": "off" if forwarder == "process" else "embedded",
        }
    )

    async def connect() -> Any:
        return hub.client

    server = await serve_api(create_app(settings, connect=connect), port=0)
    process = None
    if forwarder == "process":
        env = sandbox_environment(
            hub.temporal.address,
            hub.sandbox,
            hub.workdir,
            CSHUB_API_DB=str(settings.cshub_api_db),
            **({"CSHUB_DATABASE_URL": database_url} if database_url else {}),
        )
        process = HubProcess("forwarder", ["forwarder"], env, hub.workdir)
        await process.start()
    try:
        yield server.url, settings
    finally:
        if process is not None:
            await process.stop()
        await server.stop()


async def drained(ledger: DeliveryLedger, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while ledger.backlog().pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{ledger.backlog().pending} deliveries not forwarded")
        await asyncio.sleep(0.1)


@dataclass
class Measured:
    paced: list[Phase]
    bursts: list[Phase]
    lags_ms: list[list[float]]
    outage: Outage | None = None
    forwarded_cpu_ms: list[float] = dataclasses.field(default_factory=list)
    """Per delivery: process CPU from a burst's first send to its backlog forwarded."""
    alone: list[Phase] = dataclasses.field(default_factory=list)
    """Bursts at an API with no forwarder (the intake path alone)."""
    alone_cpu_ms: list[float] = dataclasses.field(default_factory=list)
    loads: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    """Load average (1 min) when each kind of phase ended: paced, burst, alone, outage."""

    def load(self, kind: str) -> None:
        self.loads.setdefault(kind, []).append(os.getloadavg()[0])


def _cpu_s() -> float:
    """This process's CPU time so far (user + system, all threads)."""
    return time.process_time()


async def intake_alone(
    hub: Hub, database_url: str | None, plan: Plan, out: Measured, first: int
) -> None:
    """Bursts at a second API with no forwarder (once the first has stopped), on a SQLite
    file of its own or the same PostgreSQL database (its deliveries are never forwarded):
    the CPU and the rate of the intake path alone. ``first``: the number of the first
    event sent, after those the first API had (every event new)."""
    settings = hub.settings.model_copy(
        update={
            "cshub_database_url": database_url,
            "cshub_forwarder": "off",
            "cshub_api_db": hub.workdir / "intake-alone.db",
        }
    )

    async def connect() -> Any:
        return hub.client

    server = await serve_api(create_app(settings, connect=connect), port=0)
    http = LoopbackHttp(server.url)
    needed = plan.repetitions * plan.burst + plan.warmup
    sender = HubSender(
        dataclasses.replace(hub, api_url=server.url), http, customers(needed), first=first
    )
    try:
        await burst(sender.next, plan.warmup, min(plan.warmup, 8))
        for _ in range(plan.repetitions):
            began = _cpu_s()
            phase = await burst(sender.next, plan.burst, plan.concurrency)
            out.alone.append(phase)
            out.alone_cpu_ms.append(1000 * (_cpu_s() - began) / max(1, phase.count))
            out.load("alone")
    finally:
        await http.close()
        await server.stop()


@dataclass(frozen=True)
class Outage:
    seconds: float
    sent: int
    non_2xx: int
    lost: int
    drain_s: float
    """From Temporal back to the backlog forwarded."""


async def temporal_outage(
    hub: Hub, ledger: DeliveryLedger, send: Any, seconds: float, rate: int
) -> Outage:
    """Stop the dev server, send ``rate`` events a second for ``seconds``, start it again,
    wait for the backlog to drain; count the answers that were not 2xx and the stored
    deliveries that did not reach Temporal."""
    since = datetime.now(UTC)
    await hub.temporal.stop()
    try:
        phase = await paced(send, rate, seconds)
    finally:
        await hub.temporal.start()
    back = time.monotonic()
    await drained(ledger, timeout_s=max(600.0, seconds * 2))
    drain_s = time.monotonic() - back
    outcomes = ledger.outcomes_since(since)
    answered = phase.count - phase.failures
    return Outage(
        seconds=seconds,
        sent=phase.count,
        non_2xx=phase.failures,
        lost=max(0, answered - outcomes.get("accepted", 0)),
        drain_s=drain_s,
    )


async def measure(plan: Plan, backend: str, forwarder: str = "embedded") -> Measured:
    out = Measured([], [], [])
    needed = plan.events() // 2 + 2
    with tempfile.TemporaryDirectory(prefix="cshub-bench-intake-") as tmp:
        data = write_demo_data(Path(tmp) / "demo.yaml", customers(needed), "UTC")
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(postgres()) if backend == "postgresql" else None
            async with local_hub(worker=False, api=False, data_file=data, sqlite_wal=True) as hub:
                async with intake_api(hub, url, forwarder) as (api_url, settings):
                    hub.api_url = api_url
                    sender = await _phases(hub, api_url, settings, plan, backend, needed, out)
                if plan.alone:
                    await intake_alone(hub, url, plan, out, first=sender.sent)
    return out


async def _phases(
    hub: Hub, api_url: str, settings: Any, plan: Plan, backend: str, needed: int, out: Measured
) -> HubSender:
    """The paced and burst repetitions (and the outage) at the API with its forwarder."""
    ledger = DeliveryLedger.for_settings(settings)
    http = LoopbackHttp(api_url)
    sender = HubSender(hub, http, customers(needed))
    try:
        await burst(sender.next, plan.warmup, min(plan.warmup, 8))
        await drained(ledger)
        for _ in range(plan.repetitions):
            since = datetime.now(UTC)
            out.paced.append(await paced(sender.next, plan.rate, plan.paced_s))
            out.load("paced")
            await drained(ledger)
            out.lags_ms.append(ledger.forward_lags_ms(since))
            began = _cpu_s()
            out.bursts.append(await burst(sender.next, plan.burst, plan.concurrency))
            out.load("burst")
            await drained(ledger)
            out.forwarded_cpu_ms.append(1000 * (_cpu_s() - began) / max(1, out.bursts[-1].count))
        if plan.outage_s > 0 and backend == "sqlite":
            out.outage = await temporal_outage(
                hub, ledger, sender.next, plan.outage_s, plan.outage_rate
            )
            out.load("outage")
    finally:
        await http.close()
        ledger.close()
    return sender


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[98]


def _rate(name: str, phases: list[Phase], description: str, target: Target | None = None) -> Figure:
    return Figure(
        name=name,
        unit="events/s",
        runs=[p.throughput for p in phases],
        description=description,
        target=target,
    )


def figures_for(plan: Plan, backend: str, m: Measured) -> list[Figure]:
    prefix = PREFIX[backend]
    store = "SQLite" if backend == "sqlite" else "PostgreSQL (pgserver, unix socket)"
    found = [
        _rate(
            f"{prefix}.throughput_eps@burst",
            m.bursts,
            f"{plan.burst} signed webhooks at once, at most {plan.concurrency} in "
            f"flight, verified, stored ({store}) and answered 2xx: events / seconds from the "
            "first send to the last answer (the embedded forwarder works meanwhile)",
            Target(kind="at_least", bound=400, text=">= 400 events/s (3 x n8n here)"),
        ),
        Figure(
            name=f"{prefix}.p99_ms@{plan.rate}/s",
            unit="ms",
            runs=[p.pct(99) for p in m.paced],
            description=f"99th percentile request to 2xx (stored in {store}), "
            f"{int(plan.rate * plan.paced_s)} events at {plan.rate}/s open loop",
            target=Target(kind="at_most", bound=20, text="<= 20 ms"),
        ),
        Figure(
            name=f"{prefix}.p50_ms@{plan.rate}/s",
            unit="ms",
            runs=[p.pct(50) for p in m.paced],
            description=f"median request to 2xx (stored in {store}) at {plan.rate}/s",
        ),
    ]
    if backend == "sqlite":
        found.append(
            Figure(
                name=f"forward.lag_p99_ms@{plan.rate}/s",
                unit="ms",
                runs=[_p99(lags) for lags in m.lags_ms],
                description=f"99th percentile from stored to forwarded (CRM look-up done, "
                f"Temporal start or signal accepted) at {plan.rate}/s, embedded forwarder",
                target=Target(kind="at_most", bound=1000, text="<= 1,000 ms"),
            )
        )
    if m.forwarded_cpu_ms:
        found.append(
            Figure(
                name=f"{prefix}.cpu_ms_forwarded@burst",
                unit="ms CPU",
                runs=m.forwarded_cpu_ms,
                description=f"process CPU time (all threads) per delivery from a burst's first "
                f"send to its backlog forwarded ({store}): the loopback sender, the API, the "
                "embedded forwarder's HubSpot look-ups and Temporal starts, and the emulators, "
                "which run in the bench's process too",
            )
        )
    if m.alone:
        found += [
            Figure(
                name=f"{prefix}.cpu_ms_per_delivery",
                unit="ms CPU",
                runs=m.alone_cpu_ms,
                description=f"the intake path alone: process CPU time (all threads) per "
                f"delivery verified, stored ({store}) and answered, in bursts of {plan.burst} "
                "at an API with no forwarder (CSHUB_FORWARDER=off), the loopback sender's "
                "signing and HTTP included; does not depend on the machine's load as the rates do",
            ),
            _rate(
                f"{prefix}.alone_throughput_eps@burst",
                m.alone,
                f"{plan.burst} signed webhooks at once ({plan.concurrency} in flight) "
                f"verified, stored ({store}) and answered by an API whose deliveries a "
                "`cshub forwarder` process of its own would forward (none runs here)",
            ),
        ]
    if m.outage is not None:
        o = m.outage
        during = (
            f"a {o.seconds:g} s Temporal outage (dev server stopped) under "
            f"{o.sent / o.seconds:.0f} events/s ({o.sent} events)"
        )
        found += [
            Figure(
                name="intake.outage_non_2xx",
                unit="answers",
                runs=[float(o.non_2xx)],
                description=f"answers not 2xx 'accepted' during {during}",
                target=Target(kind="at_most", bound=0, text="0"),
            ),
            Figure(
                name="intake.outage_lost",
                unit="events",
                runs=[float(o.lost)],
                description=f"deliveries answered 2xx during {during} that had not reached "
                "Temporal once the backlog drained",
                target=Target(kind="at_most", bound=0, text="0"),
            ),
            Figure(
                name="intake.outage_drain_s",
                unit="s",
                runs=[o.drain_s],
                description=f"from Temporal back to the backlog of {during} forwarded",
            ),
        ]
    for f in found:
        f.notes.append(f"load average {_loads(m, _kind(f.name))} (2 cores)")
        if f.name.startswith("intake.outage"):
            continue
        phases = m.alone if _kind(f.name) == "alone" else m.bursts if "burst" in f.name else m.paced
        failed = sum(p.failures for p in phases)
        if failed:
            f.notes.append(f"not answered 2xx 'accepted': {failed}")
    return found


def _kind(name: str) -> str:
    """The phase a figure was measured in (:attr:`Measured.loads`)."""
    if ".outage" in name:
        return "outage"
    if "cpu_ms_per_delivery" in name or "alone" in name:
        return "alone"
    return "burst" if "burst" in name else "paced"


def _loads(m: Measured, kind: str) -> str:
    return " / ".join(f"{x:.1f}" for x in m.loads.get(kind, [])) or "-"


async def run(
    size: Size,
    backends: tuple[str, ...] | str = BACKENDS,
    *,
    repetitions: int | None = None,
    rate: int | None = None,
    paced_s: float | None = None,
    burst: int | None = None,
    concurrency: int | None = None,
    outage_s: float | None = None,
    outage_rate: int | None = None,
    forwarder: str = "embedded",
    alone: int | None = None,
) -> list[Figure]:
    """``size``'s plan, with any of its numbers changed (``python -m bench --set``);
    ``backends``: ``sqlite``, ``postgresql`` or both (a tuple, or comma-separated);
    ``forwarder``: ``embedded`` (in the API process, the default) or ``process`` (a
    ``cshub forwarder`` process of its own: the answers get the API process to
    themselves)."""
    if forwarder not in ("embedded", "process"):
        raise ValueError(f"forwarder={forwarder!r}: embedded or process")
    global NOTES
    if isinstance(backends, str):
        backends = tuple(b.strip() for b in backends.split(",") if b.strip())
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "repetitions": repetitions,
            "rate": rate,
            "paced_s": paced_s,
            "burst": burst,
            "concurrency": concurrency,
            "outage_s": outage_s,
            "outage_rate": outage_rate,
            "alone": alone,
        }.items()
        if v is not None
    }
    plan = dataclasses.replace(PLANS[size], **changes)
    figures: list[Figure] = []
    for backend in backends:
        figures += figures_for(plan, backend, await measure(plan, backend, forwarder))
    rows = [
        f"| {f.name} | {f.value:,.1f} {f.unit} | {f.target.text if f.target else '-'} | "
        f"{' / '.join(f'{r:,.2f}' for r in f.runs)} | {'; '.join(f.notes)} |"
        for f in figures
    ]
    NOTES = "\n".join(
        [
            "The API verifies each signed webhook, parses it, stores it with its dedup check "
            "in one transaction and answers 2xx; the embedded forwarder (same process, same "
            "two cores) does the HubSpot deal look-up and the Temporal start meanwhile. "
            "Load as in *Webhook ingest* (deal won and Stripe events in turn, all new). "
            f"{plan.repetitions} repetitions of: {int(plan.rate * plan.paced_s)} events at "
            f"{plan.rate}/s open loop, wait for the backlog to drain, {plan.burst} at once "
            f"with {plan.concurrency} in flight, drain. The forwarding lag ends when Temporal "
            "accepted the start or signal (no worker runs), not at the workflow's handler. "
            "The sender runs in the same process (LoopbackHttp). "
            f"Then {plan.repetitions} burst(s) of {plan.burst} at an API with no forwarder "
            "(the intake path alone). CPU figures: process CPU time per delivery, which the "
            "machine's load changes far less than the rates. "
            f"Load average when it ended: {os.getloadavg()[0]:.1f} (2 cores).",
            "",
            "| figure | value | target | runs | notes |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    return figures
