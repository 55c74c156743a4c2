"""``cshub report support``: read back what the support workflows recorded and compute
the support metrics of a period (``domain.support_metrics``).

The records come from Temporal itself, through visibility and the workflows' own
reports (``domain.support_records``): for each of ``TicketSlaWorkflow``,
``CsatSurveyWorkflow`` and ``NpsSurveyWorkflow`` the collector lists the executions
that may hold something for the period, keeps the latest run of each workflow id, and
reads it: a completed run's result, otherwise the status query (answered by a worker;
a failed or terminated run is replayed for it). A run that cannot be read is skipped
and counted in the report's warnings, never guessed.

Only the workflow type names, ids, query names and record models are shared with the
support workflows; this module imports none of their code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from cshub.terminal import ProgressFn
from domain.customer_text import TextReading, count_themes
from domain.executive_report import MEETS, NO_DATA, format_kpi
from domain.health_report import theme_lines
from domain.support_metrics import SupportMetrics, SupportTargets, compute_support_metrics
from domain.support_records import CsatStatus, NpsStatus, TicketSlaStatus
from domain.text_table import table_lines
from runtime.settings import Settings

CONCURRENCY = 20
QUERY_TIMEOUT = timedelta(seconds=10)
WARNINGS_SHOWN = 10


@dataclass(frozen=True)
class RecordSource:
    """One kind of support workflow and how it reports about itself."""

    workflow_type: str
    query: str
    model: type[BaseModel]
    bounded_by_start: bool
    """List only runs started before ``until``. Not for NPS: a customer's survey cycle
    continues-as-new each quarter and its latest run carries the answers of earlier ones."""


TICKETS = RecordSource("TicketSlaWorkflow", "sla_status", TicketSlaStatus, True)
CSAT = RecordSource("CsatSurveyWorkflow", "status", CsatStatus, True)
NPS = RecordSource("NpsSurveyWorkflow", "status", NpsStatus, False)
TEXTS = RecordSource("CustomerTextWorkflow", "", TextReading, True)
"""What customers wrote (survey comments, ticket comments): each run's result, read once
it completed (the run is short; one still running is read by the next report)."""


class ReportError(Exception):
    """The report could not be made; the message says why."""


class TemporalUnreachable(ReportError):
    """Temporal did not answer (connection refused, server down mid-way)."""


class InvalidFilter(ReportError):
    """The visibility server refused the query (e.g. a bad ``--where``)."""


@dataclass
class SupportRecords:
    tickets: list[TicketSlaStatus] = field(default_factory=list)
    csat: list[CsatStatus] = field(default_factory=list)
    nps: list[NpsStatus] = field(default_factory=list)
    texts: list[TextReading] = field(default_factory=list)
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- collecting


def visibility_query(
    source: RecordSource, since: datetime, until: datetime, extra: str | None = None
) -> str:
    """Runs that were open at some time of the period, or closed after it began.

    Only ``WorkflowType``, ``StartTime``, ``CloseTime`` and ``ExecutionStatus`` are used,
    which every visibility store supports (the dev server's SQLite included)."""
    parts = [f"WorkflowType = '{source.workflow_type}'"]
    if source.bounded_by_start:
        parts.append(f"StartTime < '{_rfc3339(until)}'")
    parts.append(f"(ExecutionStatus = 'Running' OR CloseTime >= '{_rfc3339(since)}')")
    if extra and extra.strip():
        parts.append(f"({extra.strip()})")
    return " AND ".join(parts)


def texts_query(since: datetime, until: datetime, extra: str | None = None) -> str:
    """The texts read in the period: completed CustomerTextWorkflow runs closed in it."""
    parts = [
        f"WorkflowType = '{TEXTS.workflow_type}'",
        "ExecutionStatus = 'Completed'",
        f"CloseTime >= '{_rfc3339(since)}'",
        f"CloseTime < '{_rfc3339(until)}'",
    ]
    if extra and extra.strip():
        parts.append(f"({extra.strip()})")
    return " AND ".join(parts)


async def collect_support_records(
    client: Client,
    since: datetime,
    until: datetime,
    *,
    extra_filter: str | None = None,
    concurrency: int = CONCURRENCY,
    query_timeout: timedelta = QUERY_TIMEOUT,
    progress: ProgressFn | None = None,
) -> SupportRecords:
    """List and read every support record that may count for ``since <= t < until``.

    ``extra_filter`` is ANDed to each visibility query (e.g. ``TaskQueue = 'cshub'``).
    At most ``concurrency`` reads are in flight. A query that times out marks its task
    queue as having no worker: its other runs are skipped without waiting again.
    """
    records = SupportRecords()
    reader = _Reader(client, asyncio.Semaphore(concurrency), query_timeout, records)
    await reader.check_retention(since)
    read: dict[str, list[Any]] = {}
    for source in (TICKETS, CSAT, NPS):
        latest = await reader.list_latest(visibility_query(source, since, until, extra_filter))
        read[source.workflow_type] = await _read_all(reader, source, latest, progress)
    records.tickets = [r for r in read[TICKETS.workflow_type] if isinstance(r, TicketSlaStatus)]
    records.csat = [r for r in read[CSAT.workflow_type] if isinstance(r, CsatStatus)]
    records.nps = [r for r in read[NPS.workflow_type] if isinstance(r, NpsStatus)]
    texts = await reader.list_latest(texts_query(since, until, extra_filter))
    records.texts = [
        r for r in await _read_all(reader, TEXTS, texts, progress) if isinstance(r, TextReading)
    ]
    for queue, count in sorted(reader.unanswered.items()):
        records.warnings.append(
            f"{count} workflow(s) on task queue {queue!r} not read: no worker answered "
            "queries (is `cshub worker` running?)"
        )
    return records


async def _read_all(
    reader: _Reader,
    source: RecordSource,
    latest: list[WorkflowExecution],
    progress: ProgressFn | None,
) -> list[Any]:
    """Read ``latest`` (``reader`` bounds the concurrency), telling ``progress``."""
    what = f"{source.workflow_type} runs read"
    done = 0

    async def one(execution: WorkflowExecution) -> Any:
        nonlocal done
        result = await reader.read(source, execution)
        done += 1
        if progress:
            progress(what, done, len(latest))
        return result

    if progress:
        progress(what, 0, len(latest))
    return list(await asyncio.gather(*(one(e) for e in latest)))


async def support_report(
    client: Client,
    since: datetime,
    until: datetime,
    *,
    extra_filter: str | None = None,
    targets: SupportTargets | None = None,
    concurrency: int = CONCURRENCY,
    query_timeout: timedelta = QUERY_TIMEOUT,
    progress: ProgressFn | None = None,
) -> SupportMetrics:
    records = await collect_support_records(
        client,
        since,
        until,
        extra_filter=extra_filter,
        concurrency=concurrency,
        query_timeout=query_timeout,
        progress=progress,
    )
    metrics = compute_support_metrics(
        records.tickets,
        records.csat,
        [a for s in records.nps for a in s.answers],
        since,
        until,
        targets,
    )
    return metrics.model_copy(
        update={
            "skipped": records.skipped,
            "warnings": records.warnings,
            "themes": count_themes(t.verdict for t in records.texts),
        }
    )


async def support_report_for(
    settings: Settings,
    since: datetime,
    until: datetime,
    extra_filter: str | None = None,
    progress: ProgressFn | None = None,
) -> SupportMetrics:
    """Connect the way the settings say, then ``support_report``."""
    from runtime.temporal_client import connect

    try:
        client = await connect(settings)
    except RuntimeError as exc:
        raise TemporalUnreachable(_unreachable(settings, exc)) from None
    try:
        return await support_report(
            client, since, until, extra_filter=extra_filter, progress=progress
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.INVALID_ARGUMENT:
            raise InvalidFilter(f"Temporal refused the visibility query: {exc}") from None
        if exc.status is RPCStatusCode.UNAVAILABLE:
            raise TemporalUnreachable(_unreachable(settings, exc)) from None
        raise ReportError(
            f"Temporal at {settings.temporal_address} (TEMPORAL_ADDRESS) answered "
            f"{exc.status.name}: {exc}"
        ) from None


def _unreachable(settings: Settings, exc: Exception) -> str:
    return (
        f"cannot reach Temporal at {settings.temporal_address} "
        f"(TEMPORAL_ADDRESS, namespace {settings.temporal_namespace}): {exc}"
    )


class _Reader:
    def __init__(
        self,
        client: Client,
        semaphore: asyncio.Semaphore,
        query_timeout: timedelta,
        records: SupportRecords,
    ) -> None:
        self.client = client
        self.semaphore = semaphore
        self.query_timeout = query_timeout
        self.records = records
        self.dead_queues: set[str] = set()
        self.unanswered: dict[str, int] = {}

    async def check_retention(self, since: datetime) -> None:
        """Closed runs vanish after the namespace's retention: say so when the period
        reaches further back (the dev server keeps them one day)."""
        try:
            resp = await self.client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=self.client.namespace)
            )
        except RPCError as exc:
            if exc.status is RPCStatusCode.UNAVAILABLE:
                raise
            return  # not allowed to look: no warning rather than no report
        retention = resp.config.workflow_execution_retention_ttl.ToTimedelta()
        if retention and since < datetime.now(UTC) - retention:
            self.records.warnings.append(
                f"namespace {self.client.namespace!r} keeps closed workflows for "
                f"{_human(retention)}: tickets and surveys closed before "
                f"{datetime.now(UTC) - retention:%Y-%m-%d %H:%M} UTC are no longer in "
                "Temporal and not counted"
            )

    async def list_latest(self, query: str) -> list[WorkflowExecution]:
        """The latest listed run of each workflow id (visibility pages through all)."""
        latest: dict[str, WorkflowExecution] = {}
        async for execution in self.client.list_workflows(query, page_size=1000):
            kept = latest.get(execution.id)
            if kept is None or execution.start_time > kept.start_time:
                latest[execution.id] = execution
        return list(latest.values())

    async def read(self, source: RecordSource, execution: WorkflowExecution) -> Any:
        async with self.semaphore:
            try:
                return await self._read(source, execution)
            except RPCError as exc:
                if exc.status is RPCStatusCode.UNAVAILABLE:
                    raise
                self._skip(source, execution, exc)
            except Exception as exc:  # a failed query, a result of another shape ...
                self._skip(source, execution, exc)
            return None

    async def _read(self, source: RecordSource, execution: WorkflowExecution) -> Any:
        run_id, status = execution.run_id, execution.status
        if status is WorkflowExecutionStatus.CONTINUED_AS_NEW:
            # The next run was not listed (it started after the period): read the latest.
            desc = await self.client.get_workflow_handle(execution.id).describe()
            run_id, status = desc.run_id, desc.status
        handle = self.client.get_workflow_handle(
            execution.id, run_id=run_id, result_type=source.model
        )
        if status is WorkflowExecutionStatus.COMPLETED:
            return await handle.result(follow_runs=False, rpc_timeout=self.query_timeout)
        queue = execution.task_queue
        if queue in self.dead_queues:
            self.unanswered[queue] = self.unanswered.get(queue, 0) + 1
            self.records.skipped += 1
            return None
        try:
            return await handle.query(
                source.query, result_type=source.model, rpc_timeout=self.query_timeout
            )
        except RPCError as exc:
            # The client's own deadline shows as CANCELLED ("Timeout expired").
            if exc.status not in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                raise
            self.dead_queues.add(queue)
            self.unanswered[queue] = self.unanswered.get(queue, 0) + 1
            self.records.skipped += 1
            return None

    def _skip(self, source: RecordSource, execution: WorkflowExecution, exc: Exception) -> None:
        self.records.skipped += 1
        status = execution.status.name.lower() if execution.status else "unknown"
        self.records.warnings.append(
            f"{execution.id} ({status}) skipped: {source.query} could not be read: "
            f"{type(exc).__name__}: {exc}"
        )


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _human(span: timedelta) -> str:
    """``12 days``, ``1 day``, ``2.5 hours``."""
    days = span / timedelta(days=1)
    value, unit = (days, "day") if days >= 1 else (span / timedelta(hours=1), "hour")
    return f"{value:.3g} {unit}{'' if value == 1 else 's'}"


# ---------------------------------------------------------------------------- the table


def format_value(value: float | None, unit: str) -> str:
    if value is None or unit == "%":
        return format_kpi(value, unit)
    if unit == "h":
        return f"{value:.2f} h"
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


def render_table(metrics: SupportMetrics) -> str:
    """The figures next to their targets, then the counts behind them."""
    m = metrics
    lines = [
        f"Support report {m.since:%Y-%m-%d %H:%M} UTC \u2192 {m.until:%Y-%m-%d %H:%M} UTC "
        f"({_human(m.until - m.since)})",
        f"records read: {m.tickets_read} ticket(s), {m.csat_read} CSAT survey(s), "
        f"{m.nps_read} NPS answer(s)",
        "",
    ]
    rows = [("figure", "value", "target", "meets")]
    rows += [
        (f.label, format_value(f.value, f.unit), f.target or MEETS[None], MEETS[f.meets_target])
        for f in m.figures
    ]
    lines += table_lines(rows, (False, True, False, False))
    lines += [
        "",
        f"first responses {m.first_response.count} \u00b7 solved {m.resolution.count} "
        f"\u00b7 SLA decided {m.sla.decided} (met {m.sla.met}, breached {m.sla.breached}) "
        f"\u00b7 CSAT answers {m.csat.answers} (4-5: {m.csat.satisfied}) "
        f"\u00b7 NPS contacts {m.nps.answers} (promoters {m.nps.promoters}, passives "
        f"{m.nps.passives}, detractors {m.nps.detractors})",
        "tickets created per week: "
        + " \u00b7 ".join(
            f"{w.start:%Y-%m-%d}"
            + ("" if w.end - w.start == timedelta(days=7) else f" ({_human(w.end - w.start)})")
            + f" {w.created}"
            for w in m.load.weeks
        ),
        "top customers: "
        + (
            " \u00b7 ".join(
                f"{c.customer_id or '(none)'} {c.created}" for c in m.load.top_customers
            )
            or NO_DATA
        )
        + f" ({m.load.customers} customer(s) with tickets)",
    ]
    lines += theme_lines(m.themes, {}) or ["what customers wrote: no text read in the period"]
    if m.warnings or m.skipped:
        lines += ["", f"warnings ({m.skipped} workflow(s) skipped):"]
        lines += [f"  {w}" for w in m.warnings[:WARNINGS_SHOWN]]
        if len(m.warnings) > WARNINGS_SHOWN:
            lines.append(f"  ... and {len(m.warnings) - WARNINGS_SHOWN} more (see --json)")
    return "\n".join(lines)
