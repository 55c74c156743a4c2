"""Customers in flight: N customers each with an onboarding journey and a renewal countdown
open at once on one worker process, then a health sweep over their companies."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]

from bench.hub import Hub, local_hub, wait_idle, worker_process
from bench.results import Figure, Size, Target
from domain.health_sweep import HealthSweepInput, SweepProgress
from domain.onboarding import OnboardingInput
from domain.renewal import RenewalInput
from domain.tiers import Tier
from runtime.settings import Settings
from workflows.health_sweep import HealthSweepWorkflow
from workflows.onboarding import OnboardingWorkflow
from workflows.renewal import RenewalWorkflow

TITLE = "Customers in flight"

CUSTOMERS = {Size.TINY: 50, Size.FULL: 10_000}
FIRST_ID = 700_001
START_CONCURRENCY = 64
"""``start_workflow`` calls in flight at once."""
BACK_DATED_DAYS = 10
RENEWAL_IN_DAYS = 200
RSS_TARGET_MB = 300.0
CACHED_WORKFLOWS = Settings(_env_file=None).worker_max_cached_workflows
"""The production default the worker runs with (``WORKER_MAX_CACHED_WORKFLOWS``)."""
MB = 1024 * 1024

NOTES = f"""
One worker (`python -m cshub worker`, a separate process with the production settings:
50 concurrent activities, {CACHED_WORKFLOWS:,} cached workflows) against the Temporal dev
server (SQLite file) and the emulators. {CUSTOMERS[Size.FULL]:,} bulk HubSpot companies
(`"vary": true`, so their health inputs differ), and for each an `OnboardingWorkflow` and
a `RenewalWorkflow` started with the client (`start_workflow`, {START_CONCURRENCY} starts
in flight at once): {2 * CUSTOMERS[Size.FULL]:,} workflows open together.

The worker's memory grows with its *cache* of workflows (`WORKER_MAX_CACHED_WORKFLOWS`),
not with the workflows open: about 300 KB per cached workflow here (the figure's notes
give this run's estimate and the cache size that fits {RSS_TARGET_MB:.0f} MB). An
evicted workflow is replayed from its history at its next timer or signal, cheap for
workflows that wake a few times a month.

**Before / after** (2026-11-23, same machine):

| customers (workflows) | `WORKER_MAX_CACHED_WORKFLOWS` | worker RSS, open | during the sweep | start all | sweep |
|---|---|---|---|---|---|
| 1,000 (2,000) | 5,000 (the default before) | 596 MB | 646 MB | 24 s | 117 s, with outreach |
| 1,000 (2,000) | 500 | 282 MB | 290 MB | 26 s | 127 s, with outreach |
| 10,000 (20,000), first attempt | 5,000 | 1,050 MB after 12 min, stopped | - | - | - |
| 10,000 (20,000) | 500 | 290 MB | 290 MB | 170 s | 6.4 s, baseline |
| 10,000 (20,000), second machine (AMD EPYC, 2026-12-07) | 500 | 296 MB | 298 MB | 220 s | 8.3 s, baseline |
| 10,000 (20,000), the same machine | 400 (the default now) | 274 MB | 272 MB | 201 s | 9.7 s, baseline |

With a cache of 5,000 a worker exceeded {RSS_TARGET_MB:.0f} MB once about 1,000
workflows had run on it; the first 10,000 attempt (then also compiling the workflow
modules from source for every new run, and on the dev server's default journal) was
stopped with 16,000 workflow tasks still queued. A cache of 500 kept the worker under
{RSS_TARGET_MB:.0f} MB on the first machine but within 1 % of it on the second (the
worker idles at about 142 MB there and a cached workflow costs 315 to 340 KB). The
default is now 400 (`runtime/settings.py`): one worker stays about 10 % under
{RSS_TARGET_MB:.0f} MB whatever the number of customers, for a few per cent more time on a
sweep (more replays).

What they were doing: each journey is a community-tier journey back-dated
{BACK_DATED_DAYS} days (`start_date`), so its start only loads the plan and reads the
customer's profile (one HubSpot call), records the day 0-7 steps as skipped (a
back-dated journey never sends a burst of old e-mails) and sleeps until its day-14
e-mail; the community plan has no start alert. Each renewal's date is
{RENEWAL_IN_DAYS} days away, so it loads its playbook and sleeps until the 60-day
reminder. So the figures are what *waiting* workflows cost, which is what a portfolio
mostly is.

*worker RSS* is the peak of the worker process's resident memory (psutil, sampled every
0.25 s) from the first start until the worker is idle again (CPU under 5 % for 3 s).
*Temporal server RSS* is the dev server's at that point, *database* the SQLite file plus
its write-ahead log. Then a **baseline** health sweep (`HealthSweepWorkflow`
`{{"baseline": true}}`) scores every company and writes its score back while all those
workflows stay open; a baseline fires no trigger. A sweep signals only churn-prevention
campaigns (`health_updated`) and starts outreach: onboarding and renewal workflows take
no health signal, they read the customer from HubSpot when they act. So with these
{2 * CUSTOMERS[Size.FULL]:,} open the sweep's work is the {CUSTOMERS[Size.FULL]:,} scores it
writes, and what it costs the worker is its RSS during the sweep. The emulator has no
rate limit here (the sweep's pacing is benchmark *Portfolio sweep*'s subject), so the
sweep runs with `max_calls_per_10s` 50,000. Its wall time is from start to its result;
the worker's RSS is the peak while it ran. The runs at 1,000 customers (table above)
swept with outreach instead (610 outreach workflows, 122 churn campaigns started): at
10,000 customers that is about 7,000 new workflows, more than an hour of the SQLite dev
server's time on this machine, for a figure (RSS while workflows start) the starts
above already give.

The dev server's SQLite runs in write-ahead-log mode here (`--sqlite-pragma
journal_mode=wal --sqlite-pragma synchronous=normal`, `bench/hub.py` `SQLITE_WAL`; the
other benchmarks keep the dev server's defaults): with its default rollback journal the
server dispatched about 9 workflow tasks a second with 13,000 queued and would have
needed about an hour to settle 20,000 new workflows, with WAL about 19 a second. The
server, not the worker, bounds that rate (server ~100 % of a core, worker ~40 %).

The worker runs with bytecode caching on (`PYTHONPYCACHEPREFIX` in the run folder), as
an installed worker has it: with `PYTHONDONTWRITEBYTECODE=1` the sandbox compiled the
workflow modules from source for every new run (15 % of the worker's time in a
profile).
"""


@dataclass
class RssSampler:
    """Peak resident memory of one process, sampled in the background."""

    pid: int
    interval_s: float = 0.25
    peak: int = 0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def sample(self) -> int:
        try:
            rss = int(psutil.Process(self.pid).memory_info().rss)
        except psutil.Error:
            return self.peak
        self.peak = max(self.peak, rss)
        return rss

    async def _loop(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval_s)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RssSampler]:
        self.peak = 0
        self._task = asyncio.create_task(self._loop())
        try:
            yield self
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self.sample()


def process_tree_rss(pid: int) -> int:
    """Resident memory of a process and its children (bytes)."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += int(p.memory_info().rss)
    return total


def database_bytes(db_file: Path) -> int:
    """The SQLite file plus its write-ahead log."""
    return sum(
        p.stat().st_size
        for p in (db_file, *(db_file.with_name(db_file.name + s) for s in ("-wal", "-journal")))
        if p.exists()
    )


async def bounded(jobs: list[Callable[[], Awaitable[Any]]], concurrency: int) -> None:
    queue = iter(jobs)

    async def lane() -> None:
        for job in queue:
            await job()

    await asyncio.gather(*(lane() for _ in range(concurrency)))


async def bulk_companies(hub: Hub, count: int, id_start: int) -> None:
    async with httpx.AsyncClient(timeout=300) as http:
        resp = await http.post(
            f"{hub.sandbox.http_url}/_sandbox/hubspot/companies/bulk",
            json={"count": count, "id_start": id_start, "vary": True},
        )
        resp.raise_for_status()


async def start_customers(hub: Hub, ids: list[str], concurrency: int) -> None:
    now = datetime.now(UTC)
    renewal = (now + timedelta(days=RENEWAL_IN_DAYS)).date()
    queue = hub.settings.temporal_task_queue

    def onboarding(cid: str) -> Callable[[], Awaitable[Any]]:
        return lambda: hub.client.start_workflow(
            OnboardingWorkflow.run,
            OnboardingInput(
                customer_id=cid,
                tier=Tier.COMMUNITY,
                start_date=now - timedelta(days=BACK_DATED_DAYS),
            ),
            id=f"onboarding-{cid}",
            task_queue=queue,
        )

    def renewal_of(cid: str) -> Callable[[], Awaitable[Any]]:
        return lambda: hub.client.start_workflow(
            RenewalWorkflow.run,
            RenewalInput(customer_id=cid, renewal_date=renewal),
            id=f"renewal-{cid}",
            task_queue=queue,
        )

    jobs = [make(cid) for cid in ids for make in (onboarding, renewal_of)]
    await bounded(jobs, concurrency)


async def run(size: Size, *, cached_workflows: int | None = None) -> list[Figure]:
    """``cached_workflows``: the worker's ``WORKER_MAX_CACHED_WORKFLOWS`` (default: the
    production default)."""
    n = CUSTOMERS[size]
    cache = CACHED_WORKFLOWS if cached_workflows is None else cached_workflows
    ids = [str(FIRST_ID + i) for i in range(n)]
    async with local_hub(worker=False, api=False, sqlite_wal=True) as hub:
        await bulk_companies(hub, n, FIRST_ID)
        async with worker_process(hub, cached_workflows) as worker:
            await wait_idle(worker.pid)  # imported and polling
            idle_rss = RssSampler(worker.pid).sample()
            sampler = RssSampler(worker.pid)
            async with sampler.running():
                began = time.monotonic()
                await start_customers(hub, ids, START_CONCURRENCY)
                start_s = time.monotonic() - began
                await wait_idle(worker.pid, timeout_s=3600)
                settle_s = time.monotonic() - began
            settled_rss = sampler.peak
            assert hub.temporal.pid is not None
            temporal_rss = process_tree_rss(hub.temporal.pid)
            db = database_bytes(hub.temporal.db_file)
            open_count = await count_open(hub)

            sweeper = RssSampler(worker.pid)
            async with sweeper.running():
                began = time.monotonic()
                handle = await hub.client.start_workflow(
                    HealthSweepWorkflow.run,
                    HealthSweepInput(max_calls_per_10s=50_000, baseline=True),
                    id="health-sweep-in-flight",
                    task_queue=hub.settings.temporal_task_queue,
                )
                progress: SweepProgress = await handle.result()
                sweep_s = time.monotonic() - began
            sweep_rss = sweeper.peak
            if worker.returncode is not None:
                raise RuntimeError(f"the worker exited ({worker.returncode}): see worker.log")
            errors = log_errors(hub.workdir / "worker.log")

    c = progress.counts
    sweep_note = (
        f"{c.scored:,} companies scored in {progress.pages_done} pages; "
        f"triggers {dict(sorted(c.fired.items()))}; outreach started {c.outreach_started:,}, "
        f"churn campaigns started {c.churn_started:,}, told {c.churn_signalled:,}"
    )
    if errors:
        sweep_note += f"; worker log: {len(errors)} error lines, first: {errors[0][:300]}"
    label = f"{n:,} customers ({2 * n:,} workflows)"
    per_workflow_kb = (settled_rss - idle_rss) / 1024 / max(1, min(2 * n, cache))
    cache_for_target = int((RSS_TARGET_MB * MB - idle_rss) / 1024 / max(per_workflow_kb, 1))
    cache_note = (
        f"worker idle before the starts: {idle_rss / MB:.0f} MB; about {per_workflow_kb:.0f} KB "
        f"per cached workflow (cache {cache:,}, WORKER_MAX_CACHED_WORKFLOWS); "
        f"under {RSS_TARGET_MB:.0f} MB the cache may hold about {cache_for_target:,}"
    )
    rss_target = Target(kind="at_most", bound=RSS_TARGET_MB, text=f"<= {RSS_TARGET_MB:.0f} MB")
    return [
        Figure(
            name="in flight: worker RSS, customers open",
            unit="MB",
            runs=[settled_rss / MB],
            description=f"{label}: peak resident memory of the worker process while "
            "starting them and until idle",
            target=rss_target,
            notes=[f"{open_count:,} workflows open afterwards", cache_note],
        ),
        Figure(
            name="in flight: Temporal server RSS",
            unit="MB",
            runs=[temporal_rss / MB],
            description=f"{label}: the dev server's resident memory once the worker was idle",
        ),
        Figure(
            name="in flight: database size",
            unit="MB",
            runs=[db / MB],
            description=f"{label}: the dev server's SQLite file plus WAL",
        ),
        Figure(
            name="in flight: time to start them all",
            unit="s",
            runs=[start_s],
            description=f"{label}: start_workflow for each, {START_CONCURRENCY} at once",
        ),
        Figure(
            name="in flight: time until the worker is idle",
            unit="s",
            runs=[settle_s],
            description=f"{label}: from the first start until every first workflow task "
            "and first activity has run (worker CPU under 5 % for 3 s)",
        ),
        Figure(
            name="in flight: health sweep wall time",
            unit="s",
            runs=[sweep_s],
            description=f"{n + 10:,} companies: a baseline HealthSweepWorkflow (every "
            "company scored and written) start to result, while the workflows above stay open",
            notes=[sweep_note],
        ),
        Figure(
            name="in flight: worker RSS during the health sweep",
            unit="MB",
            runs=[sweep_rss / MB],
            description="peak resident memory of the worker process while the sweep ran",
            target=rss_target,
            notes=[sweep_note],
        ),
    ]


def log_errors(log_file: Path) -> list[str]:
    """The worker's ERROR (and worse) log lines."""
    lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    return [ln for ln in lines if '"level": "ERROR"' in ln or '"level": "CRITICAL"' in ln]


async def count_open(hub: Hub) -> int:
    """Open workflows (the dev server's visibility)."""
    result = await hub.client.count_workflows("ExecutionStatus = 'Running'")
    return int(result.count)
