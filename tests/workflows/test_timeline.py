"""The per-customer timeline (issue 7, part 6), end to end on the time-skipping server:
a churn-prevention campaign for a demo customer, with the real activities and
connectors against the sandbox, recording into an action store; the timeline read from
the store (CLI reader and API) lists exactly what the sandbox's outbox shows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.action_log import SqliteActionStore
from domain.churn import ChurnPreventionInput, RiskFactor
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import emails_for, outbox, running_worker
from tests.workflows.campaign_helpers import notes, skip_to_local_hour, stop
from webhooks.app import create_app
from webhooks.ledger import DeliveryLedger
from webhooks.timeline_routes import read_timeline
from workflows.churn import ChurnPreventionWorkflow

TOKEN = "timeline-test-token-0123456789"
CUSTOMER = "1005"


def outbox_keys(box: dict[str, Any], customer: str, workflow_id: str) -> dict[str, list[str]]:
    """Idempotency keys of what the sandbox received for the customer, by channel."""
    company = {"type": "companies", "id": customer}
    return {
        # A long header is folded on the wire: unfold it.
        "email": ["".join(e["idempotency_key"].split()) for e in emails_for(box, customer)],
        "slack": [
            m["metadata"]["event_payload"]["idempotency_key"]
            for m in box["slack_messages"]
            if (m.get("metadata") or {})
            .get("event_payload", {})
            .get("idempotency_key", "")
            .startswith(f"{workflow_id}/")
        ],
        "crm_task": [
            t["properties"]["cshub_idempotency_key"]
            for t in box["crm_tasks"]
            if company in t["associations"]
        ],
    }


async def test_timeline_lists_exactly_the_emails_alerts_and_tasks_the_outbox_shows(
    time_skipping_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    tmp_path: Path,
) -> None:
    env = time_skipping_env
    db = tmp_path / "actions.db"
    store = SqliteActionStore(db)
    async with httpx.AsyncClient(base_url=clean_sandbox.http_url) as http:
        # The first Slack post fails (500): Temporal retries the alert once.
        fault = {"system": "slack", "status": 500, "path_contains": "chat.postMessage"}
        (await http.post("/_sandbox/faults", json=fault)).raise_for_status()
    await skip_to_local_hour(env, CUSTOMER, 12)
    workflow_id = f"churn-{CUSTOMER}-timeline-{uuid.uuid4().hex[:6]}"
    async with running_worker(env, hub_settings, actions=store) as worker:
        handle = await env.client.start_workflow(
            ChurnPreventionWorkflow.run,
            ChurnPreventionInput(
                customer_id=CUSTOMER,
                risk_factors=[RiskFactor.USAGE_DROP, RiskFactor.SUPPORT_SPIKE],
                health_score=45,  # below 50: an executive escalation alert at once
            ),
            id=workflow_id,
            task_queue=worker.task_queue,
        )
        try:
            for _ in range(60):  # the first check (day 0) and the alert's retry
                progress = await handle.query(ChurnPreventionWorkflow.progress)
                if progress.checks_done >= 1 and progress.escalations >= 1:
                    break
                await env.sleep(timedelta(seconds=2))  # skips the retry's back-off
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"no first check: {progress}")
        finally:
            await stop(handle)
    box = await outbox(clean_sandbox)
    store.close()

    timeline = read_timeline(db, CUSTOMER)
    sent = outbox_keys(box, CUSTOMER, workflow_id)
    assert sent["email"] and sent["slack"] and sent["crm_task"], sent
    for channel, keys in sent.items():
        listed = [r["key"] for r in timeline if r["channel"] == channel]
        assert sorted(listed) == sorted(keys), channel
    assert {r["channel"] for r in timeline} <= {"email", "slack", "crm_task", "crm_note"}
    assert all(r["outcome"] == "done" and r["workflow_id"] == workflow_id for r in timeline)
    assert all(r["workflow_type"] == "ChurnPreventionWorkflow" for r in timeline)
    assert [r["last_at"] for r in timeline] == sorted(
        (r["last_at"] for r in timeline), reverse=True
    )

    [alert] = [r for r in timeline if r["channel"] == "slack"]
    assert (alert["attempts"], alert["outcome"], alert["step"]) == (2, "done", "escalation:1")
    assert alert["error"] is None
    [email] = [r for r in timeline if r["channel"] == "email"]
    assert email["kind"] == "churn_reengagement"
    # The e-mail is also a note on the CRM company, where CSMs look.
    email_notes = [n for n in notes(box, CUSTOMER) if n.startswith("E-mail 'churn_reengagement'")]
    assert len(email_notes) == 1 and f"(workflow {workflow_id})" in email_notes[0]

    # The API serves the same list, with a token only.
    settings = hub_settings.model_copy(
        update={
            "cshub_actions_db": db,
            "cshub_api_tokens": Settings(cshub_api_tokens=TOKEN).cshub_api_tokens,
        }
    )

    async def connect() -> Client:
        return env.client

    app = create_app(settings, ledger=DeliveryLedger(":memory:"), connect=connect)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
        url = f"/customers/{CUSTOMER}/timeline"
        assert (await api.get(url)).status_code == 401
        # Credentials first: a bad query from an unauthenticated caller is still a 401.
        bad = await api.get(url + "?limit=0&since=nonsense")
        assert bad.status_code == 401, bad.text
        wrong = await api.get(url, headers={"Authorization": "Bearer not-the-token-at-all"})
        assert wrong.status_code == 401
        answer = await api.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200
        assert answer.json() == timeline
        other = await api.get(
            "/customers/1001/timeline", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert other.json() == []
