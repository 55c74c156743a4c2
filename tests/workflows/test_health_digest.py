"""The weekly health digest against the HubSpot and Slack emulators: one message per CSM
with at-risk or critical accounts (tests/health_portfolio.GROUPS: Dana 501 has 7 at
risk, Priya 503 has 7 critical, Marcus 502 has none), none again on a retry with the
same key; and HealthDigestWorkflow end to end on the real worker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.health_digest import (
    HealthDigestActivities,
    HealthDigestInput,
    HealthDigestRequest,
    HealthDigestResult,
)
from activities.messaging import MessagingConfig
from connectors.hubspot import HubSpotCrm
from connectors.slack import SlackChat
from runtime.settings import Settings
from sandbox.demo_data import load_demo_data
from sandbox.server import SandboxHandle
from tests.conftest import outbox, running_worker
from tests.health_portfolio import group_ids, reset, seed_portfolio
from workflows.health_digest import HealthDigestWorkflow

CHANNEL = "C0CSALERTS"
CRM_URL = "https://app.hubspot.com/contacts/42/company/{id}"


@pytest.fixture
async def portfolio(clean_sandbox: SandboxHandle) -> AsyncIterator[SandboxHandle]:
    await seed_portfolio(clean_sandbox)
    try:
        yield clean_sandbox
    finally:
        await reset(clean_sandbox)


def activities_for(sandbox: SandboxHandle) -> HealthDigestActivities:
    return HealthDigestActivities(
        HubSpotCrm(access_token="sandbox", base_url=sandbox.http_url, timeout_s=5),
        SlackChat("xoxb-sandbox", base_url=f"{sandbox.http_url}/api/", timeout_s=5),
        MessagingConfig(alerts_channel=CHANNEL, crm_company_url=CRM_URL),
    )


async def digests(sandbox: SandboxHandle, key_prefix: str) -> dict[str, dict[str, Any]]:
    """Posted digest messages whose idempotency key starts with the prefix, by owner id."""
    found: dict[str, dict[str, Any]] = {}
    for message in (await outbox(sandbox))["slack_messages"]:
        key = ((message.get("metadata") or {}).get("event_payload") or {}).get("idempotency_key")
        if isinstance(key, str) and key.startswith(f"{key_prefix}/"):
            owner = key.removeprefix(f"{key_prefix}/")
            assert owner not in found, f"two digests for owner {owner}"
            found[owner] = message
    return found


async def test_one_digest_per_csm_with_at_risk_accounts_and_none_on_retry(
    portfolio: SandboxHandle,
) -> None:
    acts = activities_for(portfolio)
    key = f"health-digest-test-{uuid.uuid4().hex[:8]}/2026-05-04"
    req = HealthDigestRequest(idempotency_key=key, workflow_id="health-digest-test")

    first = await ActivityEnvironment().run(acts.post_health_digests, req)

    assert [(p.owner_id, p.accounts, p.critical, p.at_risk, p.created) for p in first.posts] == [
        ("501", 7, 0, 7, True),
        ("503", 7, 7, 0, True),
    ]
    assert (first.needing_attention, first.unowned, first.posted) == (14, 0, 2)
    posted = await digests(portfolio, key)
    assert sorted(posted) == ["501", "503"]  # Marcus (502): nothing at risk, no message
    assert all(m["channel"] == CHANNEL for m in posted.values())

    priya = posted["503"]
    assert priya["text"] == (
        ":bar_chart: Weekly health digest for Priya Natarajan: 7 critical, 0 at risk of "
        f"{7 + demo_companies_of('503')} accounts"
    )
    assert priya["blocks"][1]["text"]["text"].startswith("<@U0PRIYA>, 7 of your ")
    worst = group_ids(3)[0]  # critical 35, -17: listed first
    assert priya["blocks"][2]["text"]["text"].startswith(
        f"*<{CRM_URL.format(id=worst)}|Bulk Company {worst}>* · *Critical* · score *35* "
        "(-17 since the last sweep) · Community"
    )
    assert "<@U0DANA>" in posted["501"]["blocks"][1]["text"]["text"]

    again = await ActivityEnvironment().run(acts.post_health_digests, req)
    assert [(p.owner_id, p.created) for p in again.posts] == [("501", False), ("503", False)]
    assert [p.ref for p in again.posts] == [p.ref for p in first.posts]
    assert await digests(portfolio, key) == posted  # nothing new in the channel


def demo_companies_of(owner_id: str) -> int:
    """Demo companies are never scored here but still owned: the digest counts them in
    "of N accounts"."""
    return sum(1 for c in load_demo_data().companies if c.owner_id == owner_id)


async def test_only_one_csm(portfolio: SandboxHandle) -> None:
    acts = activities_for(portfolio)
    key = f"health-digest-test-{uuid.uuid4().hex[:8]}/2026-05-04"
    req = HealthDigestRequest(idempotency_key=key, only_owner_id="501")
    result = await ActivityEnvironment().run(acts.post_health_digests, req)
    assert [(p.owner_id, p.created) for p in result.posts] == [("501", True)]
    assert sorted(await digests(portfolio, key)) == ["501"]
    nobody = HealthDigestRequest(idempotency_key=key, only_owner_id="502")
    assert (await ActivityEnvironment().run(acts.post_health_digests, nobody)).posts == []


async def test_workflow_posts_the_digests_once(
    time_skipping_env: WorkflowEnvironment, portfolio: SandboxHandle, hub_settings: Settings
) -> None:
    env = time_skipping_env
    workflow_id = f"health-digest-{uuid.uuid4().hex[:8]}"
    async with running_worker(env, hub_settings) as worker:
        result = await env.client.execute_workflow(
            HealthDigestWorkflow.run,
            HealthDigestInput(),
            id=workflow_id,
            task_queue=worker.task_queue,
        )
        handle = env.client.get_workflow_handle(workflow_id)
        history = await handle.fetch_history()
    assert isinstance(result, HealthDigestResult)
    assert [(p.owner_id, p.created) for p in result.posts] == [("501", True), ("503", True)]
    started = history.events[0].event_time.ToDatetime().date().isoformat()
    posted = await digests(portfolio, f"{workflow_id}/{started}")
    assert sorted(posted) == ["501", "503"]
    assert all(f"workflow `{workflow_id}`" in str(m["blocks"]) for m in posted.values())
