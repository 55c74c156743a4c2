"""Portfolio sweep: a health sweep of a large emulated portfolio under HubSpot's rate
limit, against the floor that limit sets."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx

from bench.hub import Hub, local_hub
from bench.results import Figure, Size, Target
from cshub.schedules import hub_schedules
from domain.health_sweep import HEALTH_SWEEP_SCHEDULE_ID, HealthSweepInput, SweepProgress
from sandbox.clock import iso_ms, utcnow
from workflows.health_sweep import HealthSweepWorkflow

TITLE = "Portfolio sweep"

COMPANIES = {Size.TINY: 300, Size.FULL: 20_000}
DEMO_COMPANIES = 10
FIRST_ID = 800_001
LIMIT_REQUESTS, LIMIT_WINDOW_S = 100, 10.0
"""HubSpot's burst limit for a private app, enforced by the emulator."""
SWEEP_BUDGET = 95.0
"""``HEALTH_SWEEP_MAX_CALLS_PER_10S`` for this run (see NOTES)."""
FACTOR = 1.2

NOTES = f"""
A health sweep (`HealthSweepWorkflow`, what the `health-sweep` schedule starts, with the
in-process worker of `bench/hub.py`) over {COMPANIES[Size.FULL]:,} bulk HubSpot companies (`"vary":
true`) plus the 10 demo ones, with the emulator enforcing HubSpot's limit:
`POST /_sandbox/ratelimit {{"system": "hubspot", "max_requests": {LIMIT_REQUESTS},
"window_s": {LIMIT_WINDOW_S:.0f}}}` (a sliding window; the 101st request within 10 s is
answered 429 with Retry-After). Pages of 100 companies: one list call and one batch
update per page.

It is a **baseline** sweep (`{{"baseline": true}}`: score and write every company, fire
no trigger), what the README prescribes for the first sweep of a portfolio the hub has
not watched before, and the only kind where every HubSpot call is the sweep's own: with
outreach, the triggers' workflows make their own HubSpot calls (alerts read the company
and its owners, tasks search and create) plus Slack and SMTP work, and the sweep slows
itself down by an estimate of those; the floor would then no longer be "the sweep's calls
÷ 10 per second".

*Floor*: the HubSpot requests the emulator served during the sweep (answered 2xx, from
`GET /api/requests`) ÷ {LIMIT_REQUESTS / LIMIT_WINDOW_S:.0f} per second: no client can
do them faster. Target: the sweep's wall time (start to result) at most {FACTOR} x the
floor. `HEALTH_SWEEP_MAX_CALLS_PER_10S` is {SWEEP_BUDGET:.0f} here: the README's default
80 leaves 20 requests per 10 s for the rest of the hub (onboarding, renewals, webhooks),
which a benchmark with nothing else running does not need; 80 would cap the sweep at
1.25 x the floor by itself. Staying under 100 keeps the sweep from provoking 429s.

**Measured at 20,000 companies (+ the 10 demo ones), not 100,000.** A 100,000-company
attempt ran at about 1.2 s a page (306 pages after 7 minutes, 25 pages in the last 30 s):
20 minutes against a 200 s floor, so it was stopped. A profile of the benchmark process
(py-spy; the in-process worker and the emulator share it) during that attempt:

- 24 %: the emulator's `GET /crm/v3/objects/companies` sorting all 100,000 companies for
  every page (`sandbox/hubspot.py` `list_objects`), an emulator artefact (HubSpot pages
  on its own servers), and it grows with the portfolio;
- 22 %: the HubSpot SDK deserializing responses, 19 % in `dateutil` parsing every
  company's `createdAt` / `updatedAt`, most of it for the batch update's response, of
  which the connector only counts the ids (`connectors/hubspot.py`
  `batch_update_companies`);
- 11 %: scoring (`domain/health_outreach.py` `assess`).

At 20,000 companies (2026-11-23, 2 shared cores) the pages took about 1.2 s each
against their 0.2 s share of the limit (239 s for a 40 s floor), and not one 429 was
answered. A profile of a 5,000-company sweep puts the HubSpot SDK's deserialization
(dateutil, for list and batch-update responses alike) first among the hub's own costs,
then scoring; the Temporal round trips of a child workflow and an activity per page and
the 0.21 s pause make up most of the rest.

**Before / after** (20,000 companies, same machine, 2026-11-23):

| | wall time | floor | x floor |
|---|---|---|---|
| before: sleep the page's whole share after it, emulator sorts every company per page | 239 s | 40.2 s | 5.9 |
| after: sleep only what the page left of its share (`workflow.patched("sweep-pace-from-page-start")`), emulator pages with a heap | 159 s | 40.2 s | 4.0 |

**Still missing the {FACTOR} x target, and why:** a page now takes about 0.8 s of its own
(a child workflow and an activity per page: two Temporal round trips on the SQLite dev
server, two HubSpot calls whose responses the SDK deserializes with `dateutil`, scoring
100 companies) against its 0.2 s share of the limit, so the sweep runs at page speed,
not at the limit. Next steps, not done: list the next page while the current one is
scored and written (the cursor is known as soon as the list call returns), and have
`batch_update_companies` skip deserializing a response it only counts ids from.

*429s left unhandled*: 429 answers not followed by a successful retry of the same call,
plus companies the sweep did not score; it must be 0 (every 429 slows the page down,
none fails it).
"""


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
    async with local_hub(worker=True, api=False) as hub:
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
            name="sweep: companies per second",
            unit="companies/s",
            runs=[c.scored / wall if wall else 0.0],
            description="scored and written per second of wall time",
        ),
    ]
