"""History growth: events per workflow run for every workflow type over a simulated
customer-year, on the time-skipping test server with the real worker and activities."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.testservice.v1 import UnlockTimeSkippingRequest
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.health_digest import HealthDigestInput
from bench.hub import sandbox_settings
from bench.results import Figure, Size, Target
from cshub.binaries import temporal_test_server
from cshub.search_attributes import ensure_search_attributes
from domain.dunning import DunningInput, PaymentFailed, PaymentSucceeded
from domain.health_sweep import HealthSweepInput
from domain.onboarding import MilestoneReached, OnboardingInput, ProductEvent
from domain.renewal import Churned, RenewalInput, Renewed
from domain.surveys import CsatAnswered, NpsAnswered, NpsInput
from domain.ticket_sla import AgentReplied, TicketSlaInput, TicketStatusChanged
from domain.tiers import ProductEventType, Tier
from domain.usage import UsageFigures, UsageSnapshot, UsageSnapshotInput
from sandbox.server import SandboxHandle, start_sandbox
from wiring.connectors import build_connectors
from worker import create_worker
from workflows.dunning import DunningWorkflow
from workflows.health_digest import HealthDigestWorkflow
from workflows.health_sweep import HealthSweepWorkflow
from workflows.nps import NpsSurveyWorkflow
from workflows.onboarding import OnboardingWorkflow
from workflows.registry import WORKFLOWS
from workflows.renewal import RenewalWorkflow
from workflows.ticket_sla import TicketSlaWorkflow
from workflows.usage_snapshot import UsageSnapshotWorkflow

TITLE = "History growth"

DAYS = {Size.TINY: 12, Size.FULL: 365}
CUSTOMER = "1003"  # Northwind Analytics (demo data): contacts, a Zendesk organisation
REQUESTER = 8103  # its Zendesk user
CONTACT = "2003"
STALL_S = 20.0
"""A time skip that has not returned after this long is stuck (see :meth:`Year.skip_to`)."""

TEMPORAL_SUGGESTS_AT = 4 * 1024
"""``limit.historyCount.suggestContinueAsNew``: a Temporal cluster's default."""
TEMPORAL_WARNS_AT = 10 * 1024
"""``limit.historyCount.warn``; the hard limit (``.error``) is 51,200 events."""
RENEWAL_BOUND = 2000
"""``history.max_events`` in playbooks/renewal.yaml: the renewal's own bound."""

PAGES_PER_RUN: int = HealthSweepInput.model_fields["pages_per_run"].default
PAGES_PER_ACTIVITY: int = HealthSweepInput.model_fields["pages_per_activity"].default

BOUNDS: dict[str, tuple[int, str]] = {
    "RenewalWorkflow": (RENEWAL_BOUND, "its playbook's history.max_events"),
    "HealthSweepWorkflow": (TEMPORAL_SUGGESTS_AT, f"continues as new every {PAGES_PER_RUN} pages"),
}
"""The bound per type; every other type: Temporal's continue-as-new suggestion."""

NOTES = f"""
One simulated customer-year on the time-skipping test server (`temporal-test-server`),
with the real worker (every workflow, activity and connector) against the emulators. The
customer is Northwind Analytics (`{CUSTOMER}`, demo data); the portfolio around it is
the 10 demo companies (bulk companies have no contacts: their outreach e-mails fail, and
the old test server then keeps time skipping locked). What happens in the year (day 0 =
the start):

- every day at 06:00 UTC the health sweep (`HealthSweepWorkflow`, real outreach; the
  first one a baseline) and a product usage snapshot for the customer
  (`UsageSnapshotWorkflow`, signal-with-start as the API does); every Monday-equivalent
  (every 7 days) the CSM digest (`HealthDigestWorkflow`);
- day 0: onboarding (starter), a renewal countdown 75 days out, the NPS survey programme
  (quarterly); days 1-6 product events (one redelivered), day 20 a milestone by signal;
  the journey ends on day 90;
- a Zendesk ticket every 30 days from day 10 (priorities urgent, high, normal, low in
  turn): `TicketSlaWorkflow`, an agent reply after 2 hours, solved the next day, the CSAT
  survey it starts answered two days later; NPS answers a few days into each quarter;
- day 75: renewed (continue-as-new into the next term, 12 months on);
- day 100: a failed payment (`DunningWorkflow`, signal-with-start as the Stripe route),
  Stripe's retry fails on day 101, paid on day 104; day 250: another failed payment,
  never paid: on day 271 dunning starts churn prevention; day 300: churned (to the
  renewal countdown, which starts the win-back, and to churn prevention if it still runs);
- plus whatever the sweeps start on their own: outreach for companies crossing a band
  (`HealthOutreachWorkflow`), churn prevention for those entering Critical.

Afterwards every run is found by walking the histories from the workflows started by
hand: child workflows started (`ChildWorkflowExecutionStarted`) and continue-as-new
(`WorkflowExecutionContinuedAsNew`). Per type: the most events in any one run and the
runs in the year (runs still open at the year's end count with the events they have).

**Bounds.** `RenewalWorkflow`: {RENEWAL_BOUND:,} events, its playbook's
`history.max_events` (it continues as new before that on its own; `make test` checks
three years). Every other type: {TEMPORAL_SUGGESTS_AT:,} events, the count at which a
Temporal cluster suggests continue-as-new by default (`limit.historyCount.
suggestContinueAsNew`; it warns at {TEMPORAL_WARNS_AT:,} and fails a run at 51,200).
The long-lived workflows (onboarding, dunning, churn, win-back, NPS, usage snapshots,
ticket SLA) continue as new when the cluster suggests it; the time-skipping test server
never suggests it, so a run staying under {TEMPORAL_SUGGESTS_AT:,} events here stays
under it without the suggestion. The health sweep bounds itself: it continues as new
every {PAGES_PER_RUN} pages ({PAGES_PER_RUN * 100:,} companies), done by child workflows
of {PAGES_PER_ACTIVITY} pages each, so its longest run is about
{PAGES_PER_RUN // PAGES_PER_ACTIVITY} x the events of one child in the parent (child
started and completed, the pacing timer, a workflow task: about 10), about a hundred
events, whatever the portfolio's size; here a sweep is one page. Sweeps are awaited in
real time (the SDK's auto time skipping while awaiting a result lets the old test server
race years ahead).

The bundled test server is older than the SDK and now and then keeps time skipping
locked with nothing running (it happened around a few sweeps a year); a skip that makes
no progress for {STALL_S:.0f} s is unlocked once more, which can let a later skip run a
few hours past its mark. The notes count both; they move events by hours, not the
number of events a run records.
"""

log = logging.getLogger("bench.history")


# ---------------------------------------------------------------------------- the year
@dataclass
class Year:
    env: WorkflowEnvironment
    sandbox: SandboxHandle
    queue: str
    day0: datetime
    roots: set[tuple[str, str | None]] = field(default_factory=set)
    sweeps: int = 0
    stalls: int = 0
    overshoots: int = 0

    async def skip_to(self, at: datetime) -> None:
        """Move the test server's clock to ``at``. The test server (older than the SDK)
        can keep time-skipping locked for good after some activity failures; a skip that
        makes no progress for ``STALL_S`` is unlocked once more (counted in the notes)."""
        while (now := await self.env.get_current_time()) < at:
            try:
                await asyncio.wait_for(self.env.sleep(at - now), STALL_S)
            except (TimeoutError, RPCError):  # the RPC's own deadline is 30 s
                # Locked, the clock still moves in real time: not what a skip does.
                if await self.env.get_current_time() - now > timedelta(minutes=10):
                    continue
                self.stalls += 1
                print(f"[bench] history: time skipping stuck at {now}: unlocked", flush=True)
                await self.env.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
        if now - at > timedelta(hours=1):
            # An unlock that was not needed after all lets one skip run past its mark.
            self.overshoots += 1
            print(f"[bench] history: the clock ran ahead to {now} (wanted {at})", flush=True)

    async def result(self, handle: WorkflowHandle[Any, Any]) -> Any:
        """Wait in real time: the SDK's time skipping while awaiting a result would let
        the test server race years ahead (to the next timer of any workflow, over and
        over) while the sweep waits on its activities."""
        with self.env.auto_time_skipping_disabled():
            return await handle.result()

    def started(self, workflow_id: str, run_id: str | None) -> None:
        self.roots.add((workflow_id, run_id))

    async def start(self, wf: Any, arg: Any, workflow_id: str, **kw: Any) -> None:
        handle = await self.env.client.start_workflow(
            wf, arg, id=workflow_id, task_queue=self.queue, **kw
        )
        self.started(workflow_id, handle.result_run_id)

    async def signal(self, workflow_id: str, signal: str, arg: Any) -> None:
        """Signal the workflow id's current run; a closed one is not an error here."""
        with contextlib.suppress(RPCError):
            await self.env.client.get_workflow_handle(workflow_id).signal(signal, arg)

    async def query(self, workflow_id: str, query: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self.env.client.get_workflow_handle(workflow_id).query(
                query
            )
        except Exception:  # not started (yet) or gone
            return None
        return result


Action = Callable[[Year], Awaitable[None]]


def sweep(day: int, first: bool) -> Action:
    async def act(y: Year) -> None:
        inp = HealthSweepInput(max_calls_per_10s=50_000, baseline=first)
        wid = f"health-sweep-day-{day}"
        handle = await y.env.client.start_workflow(
            HealthSweepWorkflow.run, inp, id=wid, task_queue=y.queue
        )
        y.started(wid, handle.result_run_id)
        await y.result(handle)
        y.sweeps += 1

    return act


def usage_snapshot(day: int) -> Action:
    async def act(y: Year) -> None:
        at = await y.env.get_current_time()
        figures = UsageFigures(
            active_users=10 + day % 7,
            licensed_seats=25,
            workflow_runs=200 + 3 * day,
            workflow_limit=1000,
            login_days_30d=20,
        )
        await y.start(
            UsageSnapshotWorkflow.run,
            UsageSnapshotInput(customer_id=CUSTOMER),
            f"usage-{CUSTOMER}",
            start_signal="snapshot",
            start_signal_args=[
                UsageSnapshot(occurred_at=at, figures=figures, event_id=f"usage-{day}")
            ],
        )

    return act


def digest(day: int) -> Action:
    async def act(y: Year) -> None:
        wid = f"health-digest-day-{day}"
        handle = await y.env.client.start_workflow(
            HealthDigestWorkflow.run, HealthDigestInput(), id=wid, task_queue=y.queue
        )
        y.started(wid, handle.result_run_id)
        await y.result(handle)

    return act


async def begin_customer(y: Year) -> None:
    today = (await y.env.get_current_time()).date()
    await y.start(
        OnboardingWorkflow.run,
        OnboardingInput(customer_id=CUSTOMER, tier=Tier.STARTER),
        f"onboarding-{CUSTOMER}",
    )
    await y.start(
        RenewalWorkflow.run,
        RenewalInput(customer_id=CUSTOMER, renewal_date=today + timedelta(days=75)),
        f"renewal-{CUSTOMER}",
    )
    await y.start(NpsSurveyWorkflow.run, NpsInput(customer_id=CUSTOMER), f"nps-{CUSTOMER}")


def product_event(kind: ProductEventType, event_id: str, **kw: Any) -> Action:
    async def act(y: Year) -> None:
        await y.signal(
            f"onboarding-{CUSTOMER}",
            "product_event",
            ProductEvent(type=kind, event_id=event_id, **kw),
        )

    return act


async def milestone(y: Year) -> None:
    await y.signal(
        f"onboarding-{CUSTOMER}",
        "milestone_reached",
        MilestoneReached(milestone="first_production_workflow"),
    )


async def renewed(y: Year) -> None:
    await y.signal(f"renewal-{CUSTOMER}", "renewed", Renewed(event_id="evt_renewed_1"))


def payment_failed(invoice: str, event: str, attempt: int, start: bool) -> Action:
    async def act(y: Year) -> None:
        msg = PaymentFailed(invoice_id=invoice, attempt_count=attempt, event_id=event)
        if start:
            await y.start(
                DunningWorkflow.run,
                DunningInput(
                    customer_id=CUSTOMER, invoice_id=invoice, amount_due_cents=9900, currency="usd"
                ),
                f"dunning-{CUSTOMER}",
                start_signal="payment_failed",
                start_signal_args=[msg],
            )
        else:
            await y.signal(f"dunning-{CUSTOMER}", "payment_failed", msg)

    return act


def payment_succeeded(invoice: str) -> Action:
    async def act(y: Year) -> None:
        await y.signal(
            f"dunning-{CUSTOMER}", "payment_succeeded", PaymentSucceeded(invoice_id=invoice)
        )

    return act


async def churned(y: Year) -> None:
    """Stripe's subscription deleted: the renewal countdown stops and starts the win-back;
    a churn-prevention campaign still running ends as churned."""
    reason = Churned(reason="moved to a competitor", event_id="evt_churned")
    await y.signal(f"churn-{CUSTOMER}", "churned", reason)
    await y.signal(f"renewal-{CUSTOMER}", "churned", reason)


def nps_answer(quarter: int) -> Action:
    async def act(y: Year) -> None:
        await y.signal(
            f"nps-{CUSTOMER}",
            "nps_answered",
            NpsAnswered(
                contact_id=CONTACT, score=(6, 9, 3, 10)[quarter % 4], event_id=f"nps-{quarter}"
            ),
        )

    return act


@dataclass
class Ticket:
    """One support ticket's life: created, replied to, solved, its CSAT answered."""

    number: int
    priority: str
    ticket_id: str = ""

    async def open(self, y: Year) -> None:
        created = await y.env.get_current_time()
        body = {
            "ticket": {
                "subject": f"Bench ticket {self.number}",
                "comment": {"body": "Our scheduled workflows stopped running."},
                "requester_id": REQUESTER,
                "priority": self.priority,
                "created_at": created.astimezone(UTC).isoformat(),
            }
        }
        async with httpx.AsyncClient(
            base_url=y.sandbox.http_url, auth=("automation@cshub.example/token", "sandbox")
        ) as http:
            resp = await http.post("/api/v2/tickets.json", json=body)
            resp.raise_for_status()
            self.ticket_id = str(resp.json()["ticket"]["id"])
        await y.start(
            TicketSlaWorkflow.run,
            TicketSlaInput(ticket_id=self.ticket_id),
            f"ticket-sla-{self.ticket_id}",
        )

    async def reply(self, y: Year) -> None:
        await y.signal(f"ticket-sla-{self.ticket_id}", "agent_replied", AgentReplied())

    async def solve(self, y: Year) -> None:
        async with httpx.AsyncClient(
            base_url=y.sandbox.http_url, auth=("automation@cshub.example/token", "sandbox")
        ) as http:
            resp = await http.put(
                f"/api/v2/tickets/{self.ticket_id}.json", json={"ticket": {"status": "solved"}}
            )
            resp.raise_for_status()
        await y.signal(
            f"ticket-sla-{self.ticket_id}", "status_changed", TicketStatusChanged(status="solved")
        )

    async def answer_csat(self, y: Year) -> None:
        wid = f"csat-{self.ticket_id}"
        status = await y.query(wid, "status")
        survey = (status or {}).get("survey_id")
        await y.signal(
            wid,
            "csat_answered",
            CsatAnswered(score=2 + self.number % 4, survey_id=survey, event_id=f"csat-{wid}"),
        )


def timeline(days: int) -> list[tuple[timedelta, str, Action]]:
    """Everything that happens in the year, as offsets from its start (06:00 UTC)."""
    day = timedelta(days=1)
    hour = timedelta(hours=1)
    out: list[tuple[timedelta, str, Action]] = []
    for d in range(days):
        out.append((d * day, f"sweep {d}", sweep(d, first=d == 0)))
        out.append((d * day + 5 * hour, f"usage {d}", usage_snapshot(d)))
        if d % 7 == 6:
            out.append((d * day + 2 * hour, f"digest {d}", digest(d)))
    out.append((4 * hour, "customer starts", begin_customer))
    events: list[tuple[float, ProductEventType, str, dict[str, Any]]] = [
        (1, ProductEventType.FIRST_LOGIN, "p1", {}),
        (2, ProductEventType.WORKFLOW_CREATED, "p2", {}),
        (2.1, ProductEventType.WORKFLOW_CREATED, "p2", {}),  # redelivered
        (3, ProductEventType.WORKFLOW_CREATED, "p3", {}),
        (5, ProductEventType.WORKFLOW_CREATED, "p4", {}),
        (6, ProductEventType.USAGE_THRESHOLD, "p5", {"percent": 86}),
    ]
    for on_day, kind, event, extra in events:
        out.append(
            (on_day * day + 7 * hour, f"product event {event}", product_event(kind, event, **extra))
        )
    out.append((20 * day + 7 * hour, "milestone", milestone))
    out.append((75 * day + 8 * hour, "renewed", renewed))
    for q in range(4):
        out.append(((5 + 91 * q) * day + 9 * hour, f"nps answer {q}", nps_answer(q)))
    priorities = ("urgent", "high", "normal", "low")
    for n, d in enumerate(range(10, days, 30)):
        t = Ticket(n, priorities[n % 4])
        at = d * day + 3 * hour
        out += [
            (at, f"ticket {n} opened", t.open),
            (at + 2 * hour, f"ticket {n} replied", t.reply),
            (at + day, f"ticket {n} solved", t.solve),
            (at + 3 * day + 4 * hour, f"ticket {n} csat answered", t.answer_csat),
        ]
    out += [
        (100 * day + 8 * hour, "payment failed", payment_failed("in_1", "evt_f1", 1, True)),
        (101 * day + 8 * hour, "payment retry failed", payment_failed("in_1", "evt_f2", 2, False)),
        (104 * day + 8 * hour, "paid", payment_succeeded("in_1")),
        (250 * day + 8 * hour, "payment failed again", payment_failed("in_2", "evt_f3", 1, True)),
        (300 * day + 8 * hour, "churned", churned),
    ]
    return sorted((o for o in out if o[0] < days * day), key=lambda o: o[0])


# ---------------------------------------------------------------------------- counting
@dataclass
class RunCount:
    workflow_type: str
    workflow_id: str
    run_id: str
    events: int


async def walk(env: WorkflowEnvironment, roots: set[tuple[str, str | None]]) -> list[RunCount]:
    """Every run reachable from ``roots`` through child starts and continue-as-new."""
    seen: set[str] = set()
    todo = list(roots)
    runs: list[RunCount] = []
    while todo:
        wid, run_id = todo.pop()
        try:
            history: WorkflowHistory = await env.client.get_workflow_handle(
                wid, run_id=run_id
            ).fetch_history()
        except RPCError:
            continue
        first = history.events[0].workflow_execution_started_event_attributes
        actual_run = history.events[
            0
        ].workflow_execution_started_event_attributes.original_execution_run_id
        key = run_id or actual_run or wid
        if key in seen:
            continue
        seen.add(key)
        runs.append(RunCount(first.workflow_type.name, wid, key, len(history.events)))
        for ev in history.events:
            if ev.HasField("child_workflow_execution_started_event_attributes"):
                ex = ev.child_workflow_execution_started_event_attributes.workflow_execution
                todo.append((ex.workflow_id, ex.run_id))
            elif ev.HasField("workflow_execution_continued_as_new_event_attributes"):
                new_run = (
                    ev.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                )
                todo.append((wid, new_run))
    return runs


# ---------------------------------------------------------------------------- running
def _playbooks_dir() -> Path:
    """The shipped playbooks (a copy: nothing else reads them)."""
    from playbooks.loader import PACKAGE_DIR

    root = Path(tempfile.mkdtemp(prefix="cshub-bench-playbooks-"))
    shutil.copytree(PACKAGE_DIR, root, dirs_exist_ok=True)
    return root


@contextlib.asynccontextmanager
async def year_hub(size: Size) -> AsyncIterator[Year]:
    sandbox = await start_sandbox(http_port=0, smtp_port=0)
    workdir = Path(tempfile.mkdtemp(prefix="cshub-bench-history-"))
    settings = sandbox_settings(
        sandbox,
        workdir,
        temporal_task_queue=f"bench-history-{uuid.uuid4().hex[:8]}",
        worker_max_concurrent_activities=16,
    )
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(temporal_test_server()),
    )
    try:
        await ensure_search_attributes(env.client)
        with ThreadPoolExecutor(max_workers=16) as pool:
            worker = create_worker(env.client, settings, build_connectors(settings), executor=pool)
            async with worker:
                now = await env.get_current_time()
                start = (now + timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0)
                yield Year(env, sandbox, settings.temporal_task_queue, start)
    finally:
        await env.shutdown()
        await sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def simulate(size: Size) -> tuple[list[RunCount], int, float, int]:
    days = DAYS[size]
    began = time.monotonic()
    async with year_hub(size) as y:
        await y.skip_to(y.day0)
        for offset, label, act in timeline(days):
            if label.startswith("sweep ") and int(label.split()[1]) % 30 == 0:
                print(f"[bench] history: day {label.split()[1]} of {days}", flush=True)
            await y.skip_to(y.day0 + offset)
            try:
                await act(y)
            except Exception:
                log.exception("history bench: %s failed", label)
                raise
        await y.skip_to(y.day0 + timedelta(days=days))
        runs = await walk(y.env, y.roots)
        stalls = y.stalls + y.overshoots
    return runs, days, time.monotonic() - began, stalls


async def run(size: Size) -> list[Figure]:
    old = os.environ.get("CSHUB_PLAYBOOKS_DIR")
    playbooks = _playbooks_dir()
    os.environ["CSHUB_PLAYBOOKS_DIR"] = str(playbooks)
    try:
        runs, days, seconds, stalls = await simulate(size)
    finally:
        if old is None:
            os.environ.pop("CSHUB_PLAYBOOKS_DIR", None)
        else:
            os.environ["CSHUB_PLAYBOOKS_DIR"] = old
        shutil.rmtree(playbooks, ignore_errors=True)

    figures: list[Figure] = []
    for wf in WORKFLOWS:
        name = getattr(wf, "__temporal_workflow_definition").name
        mine = [r for r in runs if r.workflow_type == name]
        bound, why = BOUNDS.get(
            name, (TEMPORAL_SUGGESTS_AT, "Temporal's continue-as-new suggestion")
        )
        longest = max(mine, key=lambda r: r.events, default=None)
        ids = len({r.workflow_id for r in mine})
        figures.append(
            Figure(
                name=f"history: {name}, most events in one run",
                unit="events",
                runs=[float(longest.events if longest else 0)],
                description=f"{len(mine)} runs ({ids} workflow ids) in {days} simulated days; "
                f"bound: {why}",
                target=Target(kind="at_most", bound=bound, text=f"<= {bound:,} ({why})"),
                notes=[
                    f"runs in the year: {len(mine)}",
                    f"longest: {longest.workflow_id}" if longest else "no run",
                    f"simulated in {seconds:.0f} s ({stalls} stuck or overshot time skips)",
                ],
            )
        )
    return figures
