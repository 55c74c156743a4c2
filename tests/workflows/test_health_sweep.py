"""The health sweep end to end: real workflows, activities and connectors against the
HubSpot / Slack / SMTP emulators, on the dev server (hundreds of outreach workflows at
once are more than the time-skipping test server serves well). The bulk companies live
in a time zone where it is midday now, so no e-mail waits for quiet hours to end.

What a user sees is checked against the pure verdict (``assess``) of each company's
properties as they were before the sweep: every score written, exactly one Slack alert /
CRM task / churn campaign per trigger fired, and nothing at all from a second sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.health import READ_PROPERTIES
from connectors.base import Crm
from domain.health_outreach import CompanyHealth, assess
from domain.health_sweep import HealthSweepInput, SweepProgress, outreach_workflow_id
from playbooks.loader import load_health_models, load_outreach_plan
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import eventually, outbox, running_worker
from wiring.connectors import build_connectors
from workflows.health_outreach import STEPS
from workflows.health_sweep import HealthSweepWorkflow

DECLINE_TASK = "Check-in call: health score dropped"
ADOPTION_TASK = "Enablement session: low feature adoption"
EXPANSION_TASK = "Upgrade opportunity: healthy account near its limits or upgrade-ready"


def midday_zone() -> str:
    """A fixed-offset zone where the local time is about noon right now."""
    offset = (datetime.now(UTC).hour - 12 + 12) % 24 - 12  # hours behind UTC, -12..11
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{offset:+d}"  # Etc/GMT+5 is UTC-5


async def bulk_companies(sandbox: SandboxHandle, count: int, id_start: int) -> None:
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            f"{sandbox.http_url}/_sandbox/hubspot/companies/bulk",
            json={
                "count": count,
                "id_start": id_start,
                "vary": True,
                "properties": {"cshub_timezone": midday_zone()},
            },
        )
        resp.raise_for_status()


@contextlib.asynccontextmanager
async def hubspot_rate_limit(
    sandbox: SandboxHandle, max_requests: int, window_s: float
) -> AsyncIterator[None]:
    """The HubSpot emulator answers 429 past ``max_requests`` per ``window_s``, until exit."""
    url = f"{sandbox.http_url}/_sandbox/ratelimit"
    limit = {"system": "hubspot", "max_requests": max_requests, "window_s": window_s}
    async with httpx.AsyncClient() as http:
        (await http.post(url, json=limit)).raise_for_status()
    try:
        yield
    finally:
        async with httpx.AsyncClient() as http:
            await http.post(url, json={"system": "hubspot", "max_requests": None})


def read_portfolio(crm: Crm) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    after: str | None = None
    while True:
        page = crm.list_companies(after=after, limit=100, properties=READ_PROPERTIES)
        for c in page.companies:
            out[c.id] = {**c.properties, "cshub_tier": c.tier}
        if page.next_after is None:
            return out
        after = page.next_after


def verdicts(portfolio: dict[str, dict[str, Any]], at: datetime) -> dict[str, CompanyHealth]:
    models, plan = load_health_models(), load_outreach_plan()
    out: dict[str, CompanyHealth] = {}
    for cid, props in portfolio.items():
        h = assess(cid, props, models.for_tier(props.get("cshub_tier")), plan, at)
        assert h is not None
        out[cid] = h
    return out


def fired_counts(expected: dict[str, CompanyHealth]) -> dict[str, int]:
    return dict(Counter(f.trigger.value for h in expected.values() for f in h.fired))


async def sweep(
    env: WorkflowEnvironment, queue: str, workflow_id: str, **options: Any
) -> SweepProgress:
    handle = await env.client.start_workflow(
        HealthSweepWorkflow.run,
        # Pacing is not what these tests are about: a budget the emulator never hits; the
        # risk detectors have their own (tests/workflows/test_risk_detectors_sweep.py).
        HealthSweepInput(max_calls_per_10s=50_000, risk_detectors=False, **options),
        id=workflow_id,
        task_queue=queue,
    )
    return await handle.result()


async def outreach_done(
    env: WorkflowEnvironment, expected: dict[str, CompanyHealth], at: datetime
) -> int:
    """Wait until every outreach workflow the sweep started has done its actions (one
    with a decline alert stays open for a click or its escalation); their number."""
    steps = {
        outreach_workflow_id(cid, at): sum(len(STEPS.get(f.trigger, ())) for f in h.fired)
        for cid, h in expected.items()
        if any(f.trigger.value != "critical" for f in h.fired)
    }
    for wid, count in steps.items():
        handle = env.client.get_workflow_handle(wid)

        async def acted(handle: Any = handle, count: int = count) -> None:
            assert len(await handle.query("progress")) >= count

        await eventually(acted, within_s=60)
    return len(steps)


def keyed(box: dict[str, Any], suffix: str) -> list[str]:
    """Slack messages whose idempotency key ends with ``suffix`` (one per alert sent)."""
    keys = [
        ((m.get("metadata") or {}).get("event_payload") or {}).get("idempotency_key") or ""
        for m in box["slack_messages"]
    ]
    return [k for k in keys if k.startswith("health-outreach-") and k.endswith(suffix)]


def task_count(box: dict[str, Any], subject: str) -> Counter[str]:
    """Tasks with ``subject``, per company id."""
    return Counter(
        a["id"]
        for t in box["crm_tasks"]
        if t["properties"]["hs_task_subject"] == subject
        for a in t["associations"]
        if a["type"] == "companies"
    )


async def test_a_sweep_of_500_companies_acts_once_per_trigger_and_a_second_sweep_not_at_all(
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    """Pages of 50, so the sweep still reads 11 pages over 3 runs (continue-as-new every 4)
    while starting half the outreach workflows 1,000 companies would."""
    env = dev_server_env
    await bulk_companies(clean_sandbox, 500, 300001)
    crm = build_connectors(hub_settings).crm
    before = await asyncio.to_thread(read_portfolio, crm)
    assert len(before) == 510  # the ten demo companies and the bulk ones

    async with running_worker(env, hub_settings) as worker:
        result = await sweep(
            env, worker.task_queue, "health-sweep-test-1", pages_per_run=4, page_size=50
        )
        assert result.sweep_at is not None
        expected = verdicts(before, result.sweep_at)
        fired = fired_counts(expected)
        c = result.counts
        assert (result.done, result.pages_done, result.runs) == (True, 11, 3)
        assert (c.companies, c.scored, c.stale) == (510, 510, 0)
        assert c.by_category == dict(Counter(h.category.value for h in expected.values()))
        assert c.fired == fired
        assert fired["health_decline"] > 50 and fired["critical"] > 25  # a real test
        assert c.churn_started == fired["critical"]
        assert c.outreach_started == await outreach_done(env, expected, result.sweep_at)

        # Every score, trend and breakdown is on its company.
        after = await asyncio.to_thread(read_portfolio, crm)
        for cid, h in expected.items():
            written = {k: after[cid].get(k) or "" for k in h.properties}
            assert written == h.properties, cid

        box = await outbox(clean_sandbox)
        assert len(keyed(box, "decline:alert")) == fired["health_decline"]
        assert len(keyed(box, "usage:alert")) == fired["usage_limit"]
        for subject, trigger in (
            (DECLINE_TASK, "health_decline"),
            (ADOPTION_TASK, "low_adoption"),
            (EXPANSION_TASK, "expansion"),
        ):
            tasks = task_count(box, subject)
            assert sum(tasks.values()) == fired[trigger], subject
            assert set(tasks.values()) <= {1}, subject  # never twice for one company
        critical = [
            cid for cid, h in expected.items() if any(f.trigger == "critical" for f in h.fired)
        ]
        for cid in critical:
            desc = await env.client.get_workflow_handle(f"churn-{cid}").describe()
            assert desc.status is WorkflowExecutionStatus.RUNNING

        # The same portfolio a day later: nothing crossed, every trigger cools down.
        again = await sweep(env, worker.task_queue, "health-sweep-test-2", page_size=50)
        assert again.counts.scored == 510
        assert again.counts.fired == {}
        assert (again.counts.outreach_started, again.counts.churn_started) == (0, 0)
        assert again.counts.churn_signalled == 0  # scores did not move
        box2 = await outbox(clean_sandbox)
        assert keyed(box2, ":alert") == keyed(box, ":alert")
        for subject in (DECLINE_TASK, ADOPTION_TASK, EXPANSION_TASK):
            assert task_count(box2, subject) == task_count(box, subject)


async def test_a_sweep_under_429s_slows_down_and_ends_with_the_same_result(
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    env = dev_server_env
    await bulk_companies(clean_sandbox, 300, 400001)
    crm = build_connectors(hub_settings).crm
    before = await asyncio.to_thread(read_portfolio, crm)
    async with httpx.AsyncClient() as http:
        for _ in range(3):  # three bursts of 429s on the list and batch-update calls
            resp = await http.post(
                f"{clean_sandbox.http_url}/_sandbox/faults",
                json={
                    "system": "hubspot",
                    "status": 429,
                    "retry_after": 2,
                    "count": 2,
                    "path_contains": "/crm/v3/objects/companies",
                },
            )
            resp.raise_for_status()
    async with running_worker(env, hub_settings) as worker:
        result = await sweep(env, worker.task_queue, "health-sweep-429", dry_run=False)
        assert result.sweep_at is not None
        expected = verdicts(before, result.sweep_at)
        assert result.done and result.counts.scored == 310
        assert result.counts.fired == fired_counts(expected)
        await outreach_done(env, expected, result.sweep_at)
        after = await asyncio.to_thread(read_portfolio, crm)
        for cid, h in expected.items():
            assert {k: after[cid].get(k) or "" for k in h.properties} == h.properties, cid
    async with httpx.AsyncClient() as http:
        faults = (await http.get(f"{clean_sandbox.http_url}/_sandbox/faults")).json()
        requests = (await http.get(f"{clean_sandbox.http_url}/api/requests")).json()
    assert faults["faults"] == []  # every injected 429 was served
    assert sum(1 for r in requests if r["status"] == 429) == 6


async def test_a_baseline_sweep_records_scores_and_later_sweeps_alert_only_on_change(
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    env = dev_server_env
    await bulk_companies(clean_sandbox, 150, 500001)
    crm = build_connectors(hub_settings).crm
    async with running_worker(env, hub_settings) as worker:
        base = await sweep(env, worker.task_queue, "health-sweep-baseline", baseline=True)
        assert base.counts.scored == 160
        assert base.counts.by_category.get("critical", 0) > 5  # there was something to say
        assert (base.counts.fired, base.counts.outreach_started) == ({}, 0)
        assert base.counts.churn_started == 0
        portfolio = await asyncio.to_thread(read_portfolio, crm)
        assert all(p.get("cshub_health_scored_at") for p in portfolio.values())

        after = await sweep(env, worker.task_queue, "health-sweep-after-baseline")
        assert after.sweep_at is not None
        await outreach_done(env, verdicts(portfolio, after.sweep_at), after.sweep_at)
        # Nothing changed bands: no decline, critical or celebration; the level triggers
        # (usage, adoption, expansion) speak about now and may fire.
        assert set(after.counts.fired) <= {"usage_limit", "low_adoption", "expansion"}
        assert after.counts.churn_started == 0


async def test_the_sweep_paces_itself_under_the_crm_rate_limit(
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    """HubSpot (the emulator) allows 12 requests per 10 s; the sweep allows itself 10:
    five pages of two requests each go through without a single 429."""
    env = dev_server_env
    await bulk_companies(clean_sandbox, 440, 600001)  # 450 with the demo: 5 pages
    async with (
        hubspot_rate_limit(clean_sandbox, 12, 10),
        running_worker(env, hub_settings) as worker,
    ):
        handle = await env.client.start_workflow(
            HealthSweepWorkflow.run,
            HealthSweepInput(max_calls_per_10s=10, baseline=True),
            id="health-sweep-paced",
            task_queue=worker.task_queue,
        )
        result = await handle.result()
        desc = await handle.describe()
    assert (result.pages_done, result.counts.scored, result.counts.crm_calls) == (5, 450, 10)
    assert desc.close_time is not None and desc.start_time is not None
    # ten requests spaced 10 s / 10 = 1 s apart
    assert (desc.close_time - desc.start_time).total_seconds() >= 8
    async with httpx.AsyncClient() as http:
        requests = (await http.get(f"{clean_sandbox.http_url}/api/requests")).json()
    assert [r for r in requests if r["status"] == 429] == []


async def test_a_429_in_a_run_of_pages_goes_on_from_the_last_page_written(
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
) -> None:
    """One activity does all four pages; HubSpot (the emulator) refuses the fourth request
    within 2 s. The retried activity starts from its last heartbeat: every page is written
    exactly once and counted once."""
    env = dev_server_env
    await bulk_companies(clean_sandbox, 300, 610001)  # 310 with the demo: 4 pages
    async with (
        hubspot_rate_limit(clean_sandbox, 3, 2),
        running_worker(env, hub_settings) as worker,
    ):
        result = await sweep(
            env, worker.task_queue, "health-sweep-resume", baseline=True, pages_per_activity=10
        )
    async with httpx.AsyncClient() as http:
        requests = (await http.get(f"{clean_sandbox.http_url}/api/requests")).json()
    writes = [r for r in requests if r["method"] == "POST" and "batch/update" in r["path"]]
    assert sum(1 for r in requests if r["status"] == 429) >= 1
    assert [r["status"] for r in writes if r["status"] < 400] == [200] * 4
    assert (result.pages_done, result.counts.scored, result.counts.companies) == (4, 310, 310)
