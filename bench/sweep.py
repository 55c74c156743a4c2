"""Portfolio sweep: a health sweep of a large emulated portfolio under HubSpot's rate
limit, against the floor that limit sets."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx

from bench.hub import Hub, local_hub, wait_idle, worker_process
from bench.results import Figure, Size, Target
from cshub.schedules import hub_schedules
from domain.health_sweep import HEALTH_SWEEP_SCHEDULE_ID, HealthSweepInput, SweepProgress
from sandbox.clock import iso_ms, utcnow
from workflows.health_sweep import HealthSweepWorkflow

TITLE = "Portfolio sweep"

COMPANIES = {Size.TINY: 300, Size.FULL: 100_000}
DEMO_COMPANIES = 10
FIRST_ID = 800_001
LIMIT_REQUESTS, LIMIT_WINDOW_S = 100, 10.0
"""HubSpot's burst limit for a private app, enforced by the emulator."""
SWEEP_BUDGET = 95.0
"""``HEALTH_SWEEP_MAX_CALLS_PER_10S`` for this run (see NOTES)."""
FACTOR = 1.2
PAGE = 100
"""Companies per sweep page (HubSpot's list limit)."""
SCORING_SHARE = 0.10
"""Churn-risk scoring may add at most this share of the floor's time per page."""

NOTES = f"""
A health sweep (`HealthSweepWorkflow`, what the `health-sweep` schedule starts, with its
defaults: 25 pages per activity, 200 pages per run) run by a worker process (`python -m
cshub worker`, production settings) over {COMPANIES[Size.FULL]:,} bulk HubSpot companies
(`"vary": true`) plus the 10 demo ones, with the emulator enforcing HubSpot's limit:
`POST /_sandbox/ratelimit {{"system": "hubspot", "max_requests": {LIMIT_REQUESTS},
"window_s": {LIMIT_WINDOW_S:.0f}}}` (a sliding window; the 101st request within 10 s is
answered 429 with Retry-After). Pages of 100 companies: one list call and one batch
update per page.

It is a **baseline** sweep (`{{"baseline": true}}`: score and write every company, fire
no trigger), what docs/cs-ops/health.md prescribes for the first sweep of a portfolio the hub has
not watched before, and the only kind where every HubSpot call is the sweep's own: with
outreach, the triggers' workflows make their own HubSpot calls (alerts read the company
and its owners, tasks search and create) plus Slack and SMTP work, and the sweep slows
itself down by an estimate of those; the floor would then no longer be "the sweep's calls
÷ 10 per second".

*Floor*: the HubSpot requests the emulator served during the sweep (answered 2xx, from
`GET /api/requests`) ÷ {LIMIT_REQUESTS / LIMIT_WINDOW_S:.0f} per second: no client can
do them faster. Target: the sweep's wall time (start to result) at most {FACTOR} x the
floor. `HEALTH_SWEEP_MAX_CALLS_PER_10S` is {SWEEP_BUDGET:.0f} here: the documented default
80 leaves 20 requests per 10 s for the rest of the hub (onboarding, renewals, webhooks),
which a benchmark with nothing else running does not need; 80 would cap the sweep at
1.25 x the floor by itself, {SWEEP_BUDGET:.0f} at {LIMIT_REQUESTS / SWEEP_BUDGET:.2f} x.
Staying under 100 keeps the sweep from provoking 429s.

*Churn-risk scoring per page*: what scoring one 100-company page with the churn-risk
model costs (`LoadedModel.predict`, one batch per page on one thread, as
`score_health_page` calls it), against the floor's time per page (the floor ÷ the pages
of this run: two calls a page at 10 per second, 200 ms): at most
{SCORING_SHARE:.0%}. The model is trained by the hub's own code on a generated
portfolio's feature rows (`cshub/risk_backtest.py`), measured in the benchmark's process
rather than inside the worker so that the figure is the scoring alone, as CPU time of
the scoring thread (wall time on an idle core; on this shared machine, with a load of
10-14 on 2 cores, a page measured 65 ms of wall time for 19 ms of CPU). Before: three
calibrated copies of the whole pipeline (`CalibratedClassifierCV`'s default ensemble,
each preparing the columns twice), about 35 ms a page on a quiet core and 144 ms
measured on the loaded machine; after: the columns prepared once for both models and
one isotonic calibrator (`ensemble=False`), about 10 ms (19 ms of CPU on the loaded
machine); then the page's rows prepared with numpy by the fitted imputation, scaling
and one-hot (`runtime.risk_model.FastScorer`, the same probabilities) instead of a data
frame through the column transformer: about 6 ms of CPU on the loaded machine.

*429s left unhandled*: 429 answers not followed by a successful retry of the same call,
plus companies the sweep did not score; it must be 0 (every 429 slows the sweep down,
none fails it).

**Before / after** (same machine, 2026-11-23; wall time against the floor):

| | companies | wall time | floor | x floor |
|---|---|---|---|---|
| 1. a child workflow and an activity per page; after each page, sleep the page's whole share of the limit | 20,010 | 239 s | 40.2 s | 5.9 |
| 2. sleep only what the page left of its share (`workflow.patched("sweep-pace-from-page-start")`); emulator pages with a heap, not a sort of every company | 20,010 | 159 s | 40.2 s | 4.0 |
| 3. one activity does 25 pages, reading the next page while it writes the current one, spacing its own requests to the budget, resuming from its last page (heartbeat) on a retry (`workflow.patched("sweep-pages-per-activity")`); the connector reads the list and batch-update answers as JSON instead of the SDK's models | 20,010 | 45.5 s | 40.2 s | 1.13 |
| 3. (the same) | 100,010 | 216 s | 200 s | 1.08 |

What the profiles showed before step 3 (py-spy over the benchmark process, which then
ran the worker and the emulator together): a page took about 0.8 s of its own against
its 0.2 s share of the limit: the Temporal round trips of a child workflow and an
activity per page on the SQLite dev server, then the HubSpot SDK building its models
for 100 companies twice a page (19 % of the process in `dateutil` parsing
`createdAt` / `updatedAt`, timestamps the hub never reads; most of it for the
batch-update answer, of which the connector only counts ids), then scoring (11 %). So
the sweep ran at page speed, not at the limit. Step 3 cut the round trips 25-fold and
overlapped the rest with the requests, and the sweep now runs at the budget; what is
left above it is one child workflow's round trips per 25 pages and a continue-as-new
per 200. Since step 3 the worker is its own process, as in production, rather than
sharing the benchmark's process with the emulator.
"""


def scoring_ms_per_page(size: Size) -> list[float]:
    """Milliseconds the sweep's churn-risk scoring takes per 100-company page
    (``LoadedModel.predict``, what ``score_health_page`` calls once per page, on one
    thread): a model trained by the hub's code on a generated portfolio's feature rows
    (cshub/risk_backtest.py), then pages of 100 of those rows scored; three runs, each
    the median page. CPU time of the scoring thread (``predict`` runs on one thread):
    what scoring costs the worker, whatever else the machine is doing (on a busy shared
    machine the wall time of a page grows with the other work, not with the model)."""
    from cshub.risk_backtest import START, label_rows, simulate, trained_model
    from playbooks.loader import load_detector_rules, load_health_models

    customers, weeks, pages = (200, 60, 60) if size is Size.FULL else (60, 40, 10)
    portfolio = simulate(
        customers, weeks, 23, load_health_models().for_tier("starter"), load_detector_rules()
    )
    label_rows(portfolio, 90, START + timedelta(weeks=weeks))
    model = trained_model(portfolio, source="bench", seed=23)
    rows = [dict(r.features) for c in portfolio for r in c.rows]
    chunks = [rows[i : i + PAGE] for i in range(0, len(rows) - PAGE + 1, PAGE)][:pages]
    model.predict(chunks[0])  # first call: imports, caches
    runs: list[float] = []
    for _ in range(3):
        took: list[float] = []
        for chunk in chunks:
            began = time.thread_time()
            model.predict(chunk)
            took.append((time.thread_time() - began) * 1000)
        runs.append(statistics.median(took))
    return runs


async def _control(hub: Hub, method: str, path: str, body: Any = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=600) as http:
        resp = await http.request(method, hub.sandbox.http_url + path, json=body)
        resp.raise_for_status()
        return resp


async def hubspot_requests(hub: Hub, since: str) -> list[dict[str, Any]]:
    """Every HubSpot request the emulator recorded at or after ``since`` (ISO time)."""
    found: list[dict[str, Any]] = (await _control(hub, "GET", "/api/requests")).json()
    return [r for r in found if r["system"] == "hubspot" and r["at"] >= since]


def unhandled_429s(requests: list[dict[str, Any]]) -> int:
    """429 answers with no later successful request of the same method and path."""
    pending: Counter[tuple[str, str]] = Counter()
    for r in requests:
        key = (r["method"], r["path"])
        if r["status"] == 429:
            pending[key] += 1
        elif r["status"] < 400:
            pending[key] = 0
    return sum(pending.values())


async def run(size: Size) -> list[Figure]:
    n = COMPANIES[size]
    async with local_hub(worker=False, api=False) as hub, worker_process(hub) as worker:
        hub.settings = hub.settings.model_copy(
            update={"health_sweep_max_calls_per_10s": SWEEP_BUDGET}
        )
        await _control(
            hub,
            "POST",
            "/_sandbox/hubspot/companies/bulk",
            {"count": n, "id_start": FIRST_ID, "vary": True},
        )
        await _control(
            hub,
            "POST",
            "/_sandbox/ratelimit",
            {"system": "hubspot", "max_requests": LIMIT_REQUESTS, "window_s": LIMIT_WINDOW_S},
        )
        (scheduled,) = [d for d in hub_schedules(hub.settings) if d.schedule_id == "health-sweep"]
        assert isinstance(scheduled.arg, HealthSweepInput)
        inp = scheduled.arg.model_copy(update={"baseline": True})
        await wait_idle(worker.pid)  # imported and polling
        since = iso_ms(utcnow())
        began = time.monotonic()
        handle = await hub.client.start_workflow(
            HealthSweepWorkflow.run,
            inp,
            id=f"{HEALTH_SWEEP_SCHEDULE_ID}-bench",
            task_queue=hub.settings.temporal_task_queue,
        )
        progress: SweepProgress = await handle.result()
        wall = time.monotonic() - began
        requests = await hubspot_requests(hub, since)

    served = [r for r in requests if r["status"] < 400]
    answered_429 = sum(1 for r in requests if r["status"] == 429)
    floor = len(served) / (LIMIT_REQUESTS / LIMIT_WINDOW_S)
    expected = n + DEMO_COMPANIES
    c = progress.counts
    floor_ms_per_page = floor * 1000 / max(1, progress.pages_done)
    scoring = scoring_ms_per_page(size)
    unscored = 0 if progress.done else expected
    unscored = max(unscored, expected - c.scored)
    unhandled = unhandled_429s(requests) + unscored
    note = (
        f"{expected:,} companies, {c.scored:,} scored in {progress.pages_done:,} pages "
        f"({progress.runs} runs); {len(served):,} HubSpot calls served, {answered_429} "
        f"answered 429; budget {inp.max_calls_per_10s:.0f} calls / 10 s"
    )
    return [
        Figure(
            name="sweep: wall time against the rate-limit floor",
            unit="s",
            runs=[wall],
            description=f"baseline health sweep of {expected:,} companies, HubSpot limited to "
            f"{LIMIT_REQUESTS} requests per {LIMIT_WINDOW_S:.0f} s; baseline = HubSpot calls "
            "made / 10 per s",
            baseline_runs=[floor],
            target=Target(kind="at_most", factor=FACTOR, text=f"<= {FACTOR} x floor"),
            notes=[note],
        ),
        Figure(
            name="sweep: 429s left unhandled",
            unit="",
            runs=[float(unhandled)],
            description="429 answers never followed by a successful retry, plus companies "
            "left unscored",
            target=Target(kind="at_most", bound=0, text="0"),
            notes=[note],
        ),
        Figure(
            name="sweep: churn-risk scoring per page",
            unit="ms",
            runs=scoring,
            description=f"CPU time of the churn-risk model scoring one {PAGE}-company page "
            "(one batch, one thread); baseline = the floor's time per page (floor / pages)",
            baseline_runs=[floor_ms_per_page],
            target=Target(
                kind="at_most",
                factor=SCORING_SHARE,
                text=f"<= {SCORING_SHARE:.0%} of the floor's time per page",
            ),
            notes=[
                f"{statistics.median(scoring) / floor_ms_per_page:.1%} of the floor's "
                f"{floor_ms_per_page:.0f} ms per page; model trained by the hub's code on a "
                "generated portfolio's feature rows (cshub/risk_backtest.py)"
            ],
        ),
        Figure(
            name="sweep: companies per second",
            unit="companies/s",
            runs=[c.scored / wall if wall else 0.0],
            description="scored and written per second of wall time",
        ),
    ]
