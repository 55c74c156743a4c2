"""Product events are counted at the ingress; the journey hears only what its playbook
acts on (a first event, a threshold crossed) and the hour's count (issue 18)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from bench.hot_customers import workflow_runs
from playbooks.loader import PACKAGE_DIR
from sandbox.server import SandboxHandle
from tests.conftest import eventually, running_worker
from tests.webhooks.conftest import Api
from webhooks import sample_events as samples
from webhooks.aggregate import ProductAggregator, plan_thresholds
from workflows.onboarding import OnboardingWorkflow


def test_the_shipped_plans_thresholds() -> None:
    t = plan_thresholds(PACKAGE_DIR)
    assert t.counts["ai_request"] == {1, 10}
    assert t.counts["workflow_created"] == {1, 3}
    assert t.counts["first_login"] == {1}
    assert t.percents == {85.0}


@pytest.fixture
def agg(store_url: str) -> Iterator[ProductAggregator]:
    """An aggregator on the test's store, closed after it: a PostgreSQL pool left to the
    garbage collector stops its threads from one of them and fails whichever test runs."""
    aggregator = ProductAggregator(store_url, plan_thresholds(PACKAGE_DIR))
    yield aggregator
    aggregator.close()


def test_a_busy_hour_is_two_signals_not_three_hundred(agg: ProductAggregator) -> None:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    signals: list[tuple[int, int]] = []  # (event number, count handed on)
    for i in range(1, 301):
        now = t0 + timedelta(seconds=12 * i)  # 300 events over the hour
        d = agg.decide("1001", "ai_request", 1, None, now)
        agg.commit("1001", "ai_request", d, now)
        if d.signal:
            signals.append((i, d.count))
    # The first event and the 10th (the nudge's threshold); the rest is counted.
    assert signals == [(1, 1), (10, 9)]
    # An hour after the last signal, the next event hands on everything counted since:
    # nothing handed on twice, nothing lost.
    later = t0 + timedelta(hours=3)
    d = agg.decide("1001", "ai_request", 1, None, later)
    assert d.signal and d.count == 291 and d.total == 301


def test_a_refused_signal_leaves_the_counts_as_they_were(agg: ProductAggregator) -> None:
    first = agg.decide("1001", "workflow_created", 1, None)
    assert first.signal
    # Temporal answered 503: no commit; the sender's retry is the first event again.
    again = agg.decide("1001", "workflow_created", 1, None)
    assert again.signal and again.count == 1 and again.total == 1


def test_usage_is_signalled_when_it_crosses_a_playbook_percentage(
    agg: ProductAggregator,
) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    seen = []
    for pct in (40, 60, 70, 86, 87, 90):
        d = agg.decide("1001", "usage_threshold", 1, pct, now)
        agg.commit("1001", "usage_threshold", d, now)
        seen.append((pct, d.signal))
        now += timedelta(minutes=1)
    assert seen == [(40, True), (60, False), (70, False), (86, True), (87, False), (90, False)]


def test_replicas_on_one_store_count_into_the_same_totals(store_url: str) -> None:
    """Two API replicas (or forwarders) on one store: the second one's events continue
    the first one's totals, so the 10th ai_request crosses the nudge's threshold
    whichever replica counts it (on PostgreSQL, replicas on several hosts)."""
    one = ProductAggregator(store_url, plan_thresholds(PACKAGE_DIR))
    two = ProductAggregator(store_url, plan_thresholds(PACKAGE_DIR))
    try:
        now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        signals = []
        for i in range(1, 11):
            agg = one if i % 2 else two
            d = agg.decide("1001", "ai_request", 1, None, now)
            agg.commit("1001", "ai_request", d, now)
            if d.signal:
                signals.append((i, d.count))
            now += timedelta(seconds=10)
        assert signals == [(1, 1), (10, 9)]
        assert one.totals("1001", "ai_request") == two.totals("1001", "ai_request") == (10, 10)
    finally:
        one.close()
        two.close()


async def test_100_ai_requests_through_the_api_reach_the_journey_as_two_signals(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    env = dev_server_env
    secret = api.secret("product_webhook_secret")
    async with running_worker(env, api.settings, task_queue=api.settings.temporal_task_queue):
        try:
            requests = [
                samples.signed_product(
                    samples.product_event(customer_id="1009", type="ai_request"), secret=secret
                )
                for _ in range(100)
            ]
            outcomes = []
            for request in requests[:10]:  # in order: the first and the 10th are signalled
                resp = await api.post(request)
                assert resp.status_code == 202, resp.text
                outcomes.append(resp.json())
            sem = asyncio.Semaphore(20)

            async def post(r: samples.SignedRequest) -> int:
                async with sem:
                    return (await api.post(r)).status_code

            codes = await asyncio.gather(*(post(r) for r in requests[10:]))
            assert set(codes) == {202}
            assert outcomes[0]["detail"].startswith("signal product_event")
            assert outcomes[1]["detail"].startswith("counted: 2 counted")
            assert outcomes[9]["detail"].startswith("signal product_event")
            handle = env.client.get_workflow_handle("onboarding-1009")

            async def counted() -> None:
                progress = await handle.query(OnboardingWorkflow.progress)
                assert progress.event_counts == {"ai_request": 10}

            await eventually(counted)
            # Every run of the journey: the tests' dev server suggests continue-as-new at 60
            # events (tests/conftest.py), and on a busy machine the journey's own steps
            # reach that before or between the two signals (the latest run alone then held
            # 0 or 1 of them).
            latest = await handle.fetch_history()
            first_run = latest.events[0].workflow_execution_started_event_attributes
            runs = await workflow_runs(env.client, handle.id, first_run.first_execution_run_id)
            signals = [
                e.workflow_execution_signaled_event_attributes.signal_name
                for history in runs
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            ]
            assert signals == ["product_event", "product_event"]
            # A redelivery is still a duplicate, answered from the ledger.
            resp = await api.post(requests[5])
            assert resp.status_code == 200 and resp.json()["outcome"] == "duplicate"
        finally:
            with contextlib.suppress(Exception):
                await env.client.get_workflow_handle("onboarding-1009").terminate("test")
