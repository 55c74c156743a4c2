"""The account executive (company property ``cshub_account_executive_id``) in CSM alerts
and tasks, against the HubSpot and Slack emulators (owners 501-503 exist; 999 does not).

A stale id must not block the company's alerts or tasks: the alert mentions the CSM
only, the task goes to the CSM. A valid one is mentioned and owns the task."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.crm import CrmActivities
from activities.messaging import MessagingActivities, MessagingConfig
from activities.models import ActionResult, CsmAlertRequest, CsmTaskRequest, MessageContext
from connectors.errors import PermanentConnectorError
from connectors.hubspot import HubSpotCrm
from connectors.slack import SlackChat
from domain.health_properties import ACCOUNT_EXECUTIVE
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from tests.conftest import outbox
from wiring.connectors import build_connectors

CHANNEL = "C0CSALERTS"
COMPANY = "1001"  # Brightleaf Studio, CSM Dana Reyes (501, U0DANA)
DECLINE = {
    "score": 58,
    "previous_score": 72,
    "delta": -14,
    "category_label": "At risk",
    "model": "seed001 v1",
}


@pytest.fixture
async def sandbox_with_ae(clean_sandbox: SandboxHandle) -> AsyncIterator[SandboxHandle]:
    try:
        yield clean_sandbox
    finally:  # leave no AE behind for tests that use the sandbox without resetting it
        async with httpx.AsyncClient() as http:
            (await http.post(f"{clean_sandbox.http_url}/_sandbox/reset")).raise_for_status()


def crm_for(sandbox: SandboxHandle) -> HubSpotCrm:
    return HubSpotCrm(access_token="sandbox", base_url=sandbox.http_url, timeout_s=5)


async def set_ae(sandbox: SandboxHandle, ae_id: str) -> None:
    crm = crm_for(sandbox)
    await asyncio.to_thread(crm.update_company, COMPANY, {ACCOUNT_EXECUTIVE: ae_id})


def messaging(sandbox: SandboxHandle, settings: Settings, chat: Any = None) -> MessagingActivities:
    return MessagingActivities(
        crm_for(sandbox),
        build_connectors(settings).mailer,
        chat or SlackChat("xoxb-sandbox", base_url=f"{sandbox.http_url}/api/", timeout_s=5),
        MessagingConfig(alerts_channel=CHANNEL),
    )


async def alert(acts: MessagingActivities, key: str) -> ActionResult:
    req = CsmAlertRequest(
        customer_id=COMPANY,
        template="health_decline",
        idempotency_key=key,
        context=MessageContext(day=0, extra=DECLINE),
        workflow_id="ae-test",
    )
    return await ActivityEnvironment().run(acts.alert_csm, req)


async def task(sandbox: SandboxHandle, key: str) -> ActionResult:
    req = CsmTaskRequest(
        customer_id=COMPANY,
        subject=f"Upgrade conversation {key}",
        body="Close to the seat limit: discuss an upgrade.",
        due_at=datetime.now(UTC) + timedelta(days=2),
        idempotency_key=key,
        assign_to="account_executive",
    )
    acts = CrmActivities(crm_for(sandbox))
    # a blocking activity: off the event loop, which serves the emulators
    return await asyncio.to_thread(ActivityEnvironment().run, acts.create_csm_task, req)


async def posted(sandbox: SandboxHandle, key: str) -> dict[str, Any]:
    found = [
        m
        for m in (await outbox(sandbox))["slack_messages"]
        if ((m.get("metadata") or {}).get("event_payload") or {}).get("idempotency_key") == key
    ]
    assert len(found) == 1, found
    message: dict[str, Any] = found[0]
    return message


async def task_owner(sandbox: SandboxHandle, task_id: str | None) -> str:
    [found] = [t for t in (await outbox(sandbox))["crm_tasks"] if t["id"] == task_id]
    assert {"type": "companies", "id": COMPANY} in found["associations"]
    owner: str = found["properties"]["hubspot_owner_id"]
    return owner


def body_of(message: dict[str, Any]) -> str:
    text: str = message["blocks"][1]["text"]["text"]
    return text


async def test_an_unknown_account_executive_leaves_the_alert_and_task_to_the_csm(
    sandbox_with_ae: SandboxHandle, hub_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = sandbox_with_ae
    await set_ae(sandbox, "999")
    key = f"ae-test-{uuid.uuid4().hex[:8]}"

    with caplog.at_level(logging.WARNING):
        result = await alert(messaging(sandbox, hub_settings), f"{key}/alert")
        created = await task(sandbox, f"{key}/task")

    assert result.channel == "slack" and result.created
    message = await posted(sandbox, f"{key}/alert")
    assert message["channel"] == CHANNEL
    body = body_of(message)
    assert body.startswith("<@U0DANA>: the health score of *Brightleaf Studio*")
    assert "No account executive is set for *Brightleaf Studio*" in body

    assert created.created
    assert await task_owner(sandbox, created.ref) == "501"  # the CSM

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        f"company {COMPANY}: account executive 999" in w and "CSM only" in w for w in warnings
    ), warnings
    assert any(
        f"company {COMPANY}: account executive 999" in w and "goes to the CSM (owner 501)" in w
        for w in warnings
    ), warnings


async def test_a_known_account_executive_is_mentioned_and_owns_the_task(
    sandbox_with_ae: SandboxHandle, hub_settings: Settings
) -> None:
    sandbox = sandbox_with_ae
    await set_ae(sandbox, "502")  # Marcus Chen, U0MARCUS
    key = f"ae-test-{uuid.uuid4().hex[:8]}"

    result = await alert(messaging(sandbox, hub_settings), f"{key}/alert")
    created = await task(sandbox, f"{key}/task")

    assert result.created
    message = await posted(sandbox, f"{key}/alert")
    body = body_of(message)
    assert body.startswith("<@U0DANA> <@U0MARCUS>: the health score of *Brightleaf Studio*")
    assert "No account executive" not in body
    fields = [f["text"] for f in message["blocks"][2]["fields"]]
    assert "*Account executive*\nMarcus Chen" in fields
    assert "remediation plan with <@U0MARCUS>" in message["blocks"][3]["text"]["text"]

    assert created.created
    assert await task_owner(sandbox, created.ref) == "502"


class SlackWithoutUserLookup(SlackChat):
    """Slack refusing the e-mail look-up of one user (e.g. a scope the app lacks)."""

    def __init__(self, refused_email: str, **kwargs: Any) -> None:
        super().__init__("xoxb-sandbox", **kwargs)
        self.refused_email = refused_email

    async def lookup_user_id(self, email: str) -> str | None:
        if email == self.refused_email:
            raise PermanentConnectorError(
                "slack", "lookup_user_id", f"email {email}", "missing_scope"
            )
        return await super().lookup_user_id(email)


async def test_an_account_executive_slack_does_not_know_is_named_without_a_mention(
    sandbox_with_ae: SandboxHandle, hub_settings: Settings
) -> None:
    sandbox = sandbox_with_ae
    await set_ae(sandbox, "502")
    chat = SlackWithoutUserLookup(
        "marcus.chen@cshub.example", base_url=f"{sandbox.http_url}/api/", timeout_s=5
    )
    key = f"ae-test-{uuid.uuid4().hex[:8]}"

    result = await alert(messaging(sandbox, hub_settings, chat), f"{key}/alert")

    assert result.created
    message = await posted(sandbox, f"{key}/alert")
    assert body_of(message).startswith("<@U0DANA> Marcus Chen: the health score")
    assert "<@U0MARCUS>" not in str(message["blocks"])
