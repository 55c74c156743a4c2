"""``cshub report support`` on the dev server: stand-in support workflows (the real type
and query names, scripted statuses) are read back by the collector and the command, and
the printed figures match values computed by hand."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from typer.testing import CliRunner

from cshub.cli import app
from cshub.report import (
    CSAT,
    NPS,
    TICKETS,
    collect_support_records,
    render_table,
    support_report,
    visibility_query,
)
from cshub.temporal_process import free_port
from domain.periods import parse_period, parse_when
from domain.support_metrics import compute_support_metrics
from domain.support_records import (
    ClockName,
    ClockStatus,
    CsatStatus,
    NpsAnswer,
    NpsStatus,
    SlaBreach,
    TicketSlaStatus,
)

# ---------------------------------------------------------------------------- stand-ins

Finish = Literal["complete", "run", "fail"]


class TicketStandIn(BaseModel):
    status: TicketSlaStatus
    finish: Finish


class CsatStandIn(BaseModel):
    status: CsatStatus
    finish: Finish


class NpsStandIn(BaseModel):
    status: NpsStatus
    next_run: NpsStatus | None = None
    """Continue-as-new at once with this status (a new quarter)."""


@workflow.defn(name="TicketSlaWorkflow")
class TicketStandInWorkflow:
    @workflow.init
    def __init__(self, inp: TicketStandIn) -> None:
        self._inp = inp

    @workflow.run
    async def run(self, inp: TicketStandIn) -> TicketSlaStatus:
        if inp.finish == "fail":
            raise ApplicationError("scripted failure", non_retryable=True)
        if inp.finish == "run":
            await workflow.wait_condition(lambda: False)
        return inp.status

    @workflow.query(name="sla_status")
    def sla_status(self) -> TicketSlaStatus:
        if self._inp.finish == "fail":
            raise ApplicationError("no status: the SLA never started")
        return self._inp.status


@workflow.defn(name="CsatSurveyWorkflow")
class CsatStandInWorkflow:
    @workflow.init
    def __init__(self, inp: CsatStandIn) -> None:
        self._inp = inp

    @workflow.run
    async def run(self, inp: CsatStandIn) -> CsatStatus:
        if inp.finish == "run":
            await workflow.wait_condition(lambda: False)
        return inp.status

    @workflow.query(name="status")
    def status(self) -> CsatStatus:
        return self._inp.status


@workflow.defn(name="NpsSurveyWorkflow")
class NpsStandInWorkflow:
    @workflow.init
    def __init__(self, inp: NpsStandIn) -> None:
        self._inp = inp

    @workflow.run
    async def run(self, inp: NpsStandIn) -> NpsStatus:
        if inp.next_run is not None:
            workflow.continue_as_new(NpsStandIn(status=inp.next_run))
        await workflow.wait_condition(lambda: False)
        return inp.status

    @workflow.query(name="status")
    def status(self) -> NpsStatus:
        return self._inp.status


STAND_INS = [TicketStandInWorkflow, CsatStandInWorkflow, NpsStandInWorkflow]

# ---------------------------------------------------------------------------- the data set

# The period: 12 days, from 10 days ago (whole minute) to 2 days ahead, so the stand-ins
# started now are in it. Weeks: [S, S+7d) and [S+7d, S+12d).
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
S = NOW - timedelta(days=10)
UNTIL = S + timedelta(days=12)


def at(day: float, hour: float = 0) -> datetime:
    return S + timedelta(days=day, hours=hour)


def sla_ticket(
    ticket_id: str,
    created: datetime,
    first_response: tuple[datetime, float] | None,
    solved: tuple[datetime, float] | None,
    breach: datetime | None = None,
) -> TicketSlaStatus:
    fr_at, fr_min = first_response or (None, None)
    so_at, so_min = solved or (None, None)
    return TicketSlaStatus(
        ticket_id=ticket_id,
        customer_id="C1",
        created_at=created,
        first_response_at=fr_at,
        first_response_business_minutes=fr_min,
        solved_at=so_at,
        resolution_business_minutes=so_min,
        clocks=[
            ClockStatus(
                clock=ClockName.FIRST_RESPONSE,
                target_minutes=240,
                running=fr_at is None,
                met_at=fr_at,
                breached_at=breach,
            ),
            ClockStatus(
                clock=ClockName.RESOLUTION,
                target_minutes=1440,
                running=so_at is None,
                met_at=so_at,
            ),
        ],
        breaches=(
            [SlaBreach(clock=ClockName.FIRST_RESPONSE, at=breach, level=1, level_name="senior")]
            if breach
            else []
        ),
    )


async def start_data_set(client: Client, queue: str, prefix: str) -> None:
    """K1 completed, K2 and K3 running, K4 failed; CSAT for K1 and K0 completed, K3
    running; NPS customer N1 continued-as-new once (the latest run holds all the
    answers), N2 running."""
    tickets: list[tuple[TicketSlaStatus, Finish]] = [
        # 90 min / 600 min, no breach -> met.
        (sla_ticket("K1", at(1, 9), (at(1, 10.5), 90), (at(2, 9), 600)), "complete"),
        # First response breached at day 3 13:00, answered after 360 min, still open.
        (sla_ticket("K2", at(3, 9), (at(3, 15), 360), None, breach=at(3, 13)), "run"),
        # 30 min / 180 min, solved, in its reopen window (workflow still running) -> met.
        (sla_ticket("K3", at(5, 9), (at(5, 9.5), 30), (at(5, 12), 180)), "run"),
        # Failed: its query fails too -> skipped with a warning.
        (sla_ticket("K4", at(6, 9), (at(6, 10), 60), None), "fail"),
    ]
    handles: list[WorkflowHandle[object, object]] = []
    for status, finish in tickets:
        handles.append(
            await client.start_workflow(
                "TicketSlaWorkflow",
                TicketStandIn(status=status, finish=finish),
                id=f"{prefix}ticket-sla-{status.ticket_id}",
                task_queue=queue,
            )
        )
    surveys: list[tuple[CsatStatus, Finish]] = [
        (CsatStatus(ticket_id="K1", score=5, answered_at=at(2, 12), status="answered"), "complete"),
        (CsatStatus(ticket_id="K0", score=2, answered_at=at(1), status="answered"), "complete"),
        (CsatStatus(ticket_id="K3", sent_at=at(5, 12), status="sent"), "run"),
    ]
    for csat, finish in surveys:
        handles.append(
            await client.start_workflow(
                "CsatSurveyWorkflow",
                CsatStandIn(status=csat, finish=finish),
                id=f"{prefix}csat-{csat.ticket_id}",
                task_queue=queue,
            )
        )

    def answer(contact: str, score: int, when: datetime) -> NpsAnswer:
        return NpsAnswer(contact_id=contact, score=score, answered_at=when, quarter="2026-Q4")

    first_quarter = NpsStatus(customer_id="N1", answers=[answer("k1", 10, at(1))])
    next_quarter = NpsStatus(
        customer_id="N1",
        answers=[answer("k1", 10, at(1)), answer("k1", 4, at(4)), answer("k2", 9, at(4))],
    )
    await client.start_workflow(
        "NpsSurveyWorkflow",
        NpsStandIn(status=first_quarter, next_run=next_quarter),
        id=f"{prefix}nps-N1",
        task_queue=queue,
    )
    await client.start_workflow(
        "NpsSurveyWorkflow",
        NpsStandIn(
            status=NpsStatus(
                customer_id="N2", answers=[answer("k3", 8, at(6)), answer("k4", 10, at(7))]
            )
        ),
        id=f"{prefix}nps-N2",
        task_queue=queue,
    )
    # Completed and failed runs have closed before the report reads them.
    for handle in (handles[0], handles[4], handles[5]):
        await handle.result()
    with pytest.raises(WorkflowFailureError):
        await handles[3].result()


async def wait_until_listed(client: Client, where: str) -> None:
    """Visibility is eventually consistent: wait for every run with its final status."""
    expected = {TICKETS: (4, 2), CSAT: (3, 2), NPS: (3, 1)}  # runs listed, runs closed
    for _ in range(100):
        seen = {}
        for source in expected:
            rows = [
                e async for e in client.list_workflows(visibility_query(source, S, UNTIL, where))
            ]
            seen[source] = (len(rows), sum(1 for e in rows if e.close_time is not None))
        if seen == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"visibility never showed the data set: {seen}")


@pytest.fixture
async def scripted(dev_server_env: WorkflowEnvironment) -> AsyncIterator[tuple[Client, str]]:
    client = dev_server_env.client
    queue = f"report-{uuid.uuid4().hex[:10]}"
    async with Worker(
        client, task_queue=queue, workflows=STAND_INS, workflow_runner=UnsandboxedWorkflowRunner()
    ):
        await start_data_set(client, queue, f"{queue}-")
        where = f"TaskQueue = '{queue}'"
        await wait_until_listed(client, where)
        yield client, where
        async for e in client.list_workflows(
            f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'"
        ):
            await client.get_workflow_handle(e.id).terminate("test done")


# Hand-computed figures of the data set:
# first responses K1 90, K2 360, K3 30 min (K4 skipped) = 1.5, 6, 0.5 h:
#   median 1.50 h, mean 480 / 3 / 60 = 2.67 h
# solved K1 600, K3 180 min = 10, 3 h: median 6.50 h, mean 6.50 h
# SLA decided: met K1, K3; breached K2 -> 2 / 3 = 66.7 %
# CSAT answered: 5 (K1), 2 (K0); K3 only sent -> 1 of 2 -> 50.0 %
# NPS, latest run of N1 + N2, latest answer per contact: k1 4 (D), k2 9 (P), k3 8,
#   k4 10 (P) -> (2 - 1) / 4 * 100 = 25.0 (reading N1's first run alone would give 100)
# created K1, K2, K3 (all in week 1) = 3; per week 3 / (12 / 7) = 1.75; open at end: K2
EXPECTED_ROWS = {
    "first response (median)": ("1.50 h", "< 4 h", "\u2713"),
    "first response (mean)": ("2.67 h", "< 4 h", "\u2713"),
    "resolution (median)": ("6.50 h", "< 24 h", "\u2713"),
    "resolution (mean)": ("6.50 h", "< 24 h", "\u2713"),
    "SLA compliance": ("66.7 %", ">= 95 %", "\u2717"),
    "CSAT": ("50.0 %", "> 90 %", "\u2717"),
    "NPS": ("25", "> 40", "\u2717"),
    "tickets created": ("3", "\u2013", "\u2013"),
    "tickets per week": ("1.75", "\u2013", "\u2013"),
    "open at end": ("1", "\u2013", "\u2013"),
}


def table_rows(text: str) -> dict[str, tuple[str, ...]]:
    rows = {}
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 4 and cells[0] in EXPECTED_ROWS:
            rows[cells[0]] = tuple(cells[1:])
    return rows


async def test_the_collector_reads_latest_runs_and_skips_what_it_cannot_read(
    scripted: tuple[Client, str],
) -> None:
    client, where = scripted
    records = await collect_support_records(client, S, UNTIL, extra_filter=where)
    assert sorted(t.ticket_id for t in records.tickets) == ["K1", "K2", "K3"]
    assert sorted(c.ticket_id for c in records.csat) == ["K0", "K1", "K3"]
    assert sorted((s.customer_id, len(s.answers)) for s in records.nps) == [("N1", 3), ("N2", 2)]
    assert records.skipped == 1
    assert any("ticket-sla-K4 (failed) skipped" in w for w in records.warnings)

    m = await support_report(client, S, UNTIL, extra_filter=where)
    assert (m.first_response.count, m.first_response.median_hours) == (3, 1.5)
    assert m.first_response.mean_hours == pytest.approx(480 / 3 / 60)
    assert (m.resolution.median_hours, m.resolution.mean_hours) == (6.5, 6.5)
    assert (m.sla.decided, m.sla.met, m.sla.breached) == (3, 2, 1)
    assert (m.csat.answers, m.csat.csat_pct) == (2, 50)
    assert (m.nps.answers, m.nps.promoters, m.nps.detractors, m.nps.nps) == (4, 2, 1, 25)
    assert (m.load.created, m.load.open_at_end) == (3, 1)
    assert [w.created for w in m.load.weeks] == [3, 0]
    assert m.skipped == 1


async def test_cshub_report_support_prints_the_hand_computed_figures(
    scripted: tuple[Client, str],
) -> None:
    client, where = scripted
    env = {"TEMPORAL_ADDRESS": client.service_client.config.target_host}
    args = ["report", "support", "--since", S.isoformat(), "--until", UNTIL.isoformat()]
    runner = CliRunner()
    # The command runs its own event loop: give it a thread of its own.
    result = await asyncio.to_thread(runner.invoke, app, [*args, "--where", where], env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert table_rows(out) == EXPECTED_ROWS, out
    assert (
        f"Support report {S:%Y-%m-%d %H:%M} UTC \u2192 {UNTIL:%Y-%m-%d %H:%M} UTC (12 days)" in out
    )
    assert "records read: 3 ticket(s), 3 CSAT survey(s), 5 NPS answer(s)" in out
    assert (
        "first responses 3 \u00b7 solved 2 \u00b7 SLA decided 3 (met 2, breached 1) \u00b7 "
        "CSAT answers 2 (4-5: 1) \u00b7 NPS contacts 4 (promoters 2, passives 1, detractors 1)"
    ) in out
    assert f"tickets created per week: {S:%Y-%m-%d} 3 \u00b7 {at(7):%Y-%m-%d} (5 days) 0" in out
    assert "top customers: C1 3 (1 customer(s) with tickets)" in out
    assert "warnings (1 workflow(s) skipped):" in out
    assert "ticket-sla-K4 (failed) skipped" in out

    result = await asyncio.to_thread(
        runner.invoke, app, [*args, "--where", where, "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    figures = {f["key"]: (f["value"], f["meets_target"]) for f in data["figures"]}
    assert figures["sla_compliance_pct"] == (pytest.approx(200 / 3), False)
    assert figures["nps"] == (25, False)
    assert figures["first_response_median_hours"] == (1.5, True)
    assert data["skipped"] == 1


async def test_a_queue_without_worker_is_skipped_after_one_timeout(
    dev_server_env: WorkflowEnvironment,
) -> None:
    client = dev_server_env.client
    queue = f"report-idle-{uuid.uuid4().hex[:10]}"
    status = sla_ticket("I1", at(1), None, None)
    for n in range(3):
        await client.start_workflow(
            "TicketSlaWorkflow",
            TicketStandIn(status=status, finish="run"),
            id=f"{queue}-ticket-sla-{n}",
            task_queue=queue,
        )
    where = f"TaskQueue = '{queue}'"
    for _ in range(100):
        if (
            len(
                [e async for e in client.list_workflows(visibility_query(TICKETS, S, UNTIL, where))]
            )
            == 3
        ):
            break
        await asyncio.sleep(0.1)
    try:
        records = await collect_support_records(
            client, S, UNTIL, extra_filter=where, concurrency=1, query_timeout=timedelta(seconds=1)
        )
    finally:
        async for e in client.list_workflows(where):
            await client.get_workflow_handle(e.id).terminate("test done")
    assert records.tickets == []
    assert records.skipped == 3
    assert any(f"3 workflow(s) on task queue {queue!r} not read" in w for w in records.warnings)


def test_temporal_unreachable_is_a_clear_error() -> None:
    env = {"TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}
    result = CliRunner().invoke(app, ["report", "support", "--since", "7d"], env=env)
    assert result.exit_code == 1
    assert "cannot reach Temporal at 127.0.0.1:" in result.stderr
    assert "TEMPORAL_ADDRESS" in result.stderr


def test_a_bad_period_is_refused() -> None:
    result = CliRunner().invoke(app, ["report", "support", "--since", "soon"])
    assert result.exit_code == 2
    assert "cannot read 'soon' as a time" in result.stderr


def test_since_and_until_forms() -> None:
    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert parse_when("30d", now) == now - timedelta(days=30)
    assert parse_when("12h", now) == now - timedelta(hours=12)
    assert parse_when("2w", now) == now - timedelta(weeks=2)
    assert parse_when("1.5D", now) == now - timedelta(hours=36)
    assert parse_when("2026-03-01", now) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_when("2026-03-01T09:00:00", now) == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert parse_when("2026-03-01T09:00:00+01:00", now) == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert parse_when("2026-03-01T09:00:00Z", now) == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert parse_period("30d", None, now) == (now - timedelta(days=30), now)
    assert parse_period("2026-03-01", "2026-03-08", now) == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 8, tzinfo=UTC),
    )
    with pytest.raises(ValueError, match="empty"):
        parse_period("1d", "2d", now)
    with pytest.raises(ValueError, match="cannot read"):
        parse_when("30 days", now)


def test_visibility_queries_use_only_fields_every_store_supports() -> None:
    since, until = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
    assert visibility_query(TICKETS, since, until) == (
        "WorkflowType = 'TicketSlaWorkflow' AND StartTime < '2026-03-31T00:00:00Z' AND "
        "(ExecutionStatus = 'Running' OR CloseTime >= '2026-03-01T00:00:00Z')"
    )
    assert visibility_query(NPS, since, until, "TaskQueue = 'cshub'") == (
        "WorkflowType = 'NpsSurveyWorkflow' AND "
        "(ExecutionStatus = 'Running' OR CloseTime >= '2026-03-01T00:00:00Z') AND "
        "(TaskQueue = 'cshub')"
    )


def test_an_empty_period_prints_no_data_not_an_error() -> None:
    since = datetime(2026, 3, 1, tzinfo=UTC)
    text = render_table(compute_support_metrics([], [], [], since, since + timedelta(hours=6)))
    rows = {
        cells[0]: cells[1:]
        for cells in (re.split(r"\s{2,}", line.strip()) for line in text.splitlines())
        if len(cells) == 4
    }
    for label in ("first response (median)", "resolution (mean)", "SLA compliance", "CSAT", "NPS"):
        assert rows[label][0] == "no data"
        assert rows[label][2] == "\u2013"
    assert rows["tickets created"][0] == "0"
    assert "(6 hours)" in text
    assert "top customers: no data" in text


async def test_a_bad_filter_is_refused_by_the_server(dev_server_env: WorkflowEnvironment) -> None:
    env = {"TEMPORAL_ADDRESS": dev_server_env.client.service_client.config.target_host}
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["report", "support", "--where", "NoSuchField = 'x'"], env=env
    )
    assert result.exit_code == 2, result.output
    assert "Temporal refused the visibility query" in result.stderr
