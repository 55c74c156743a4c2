"""HubSpot's two webhook formats, from real payloads, through the signed endpoint to the
workflow they start (or the "ignored" they deserve): legacy and generic closed-won, a
custom pipeline's won stage found from the pipelines API, associations, creations,
merges, deletions and restores."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
from temporalio.testing import WorkflowEnvironment

from cshub import send_test_event
from sandbox.server import SandboxHandle
from tests.conftest import eventually, forget_workflows, outbox, running_worker
from tests.webhooks.conftest import Api
from tests.webhooks.real_payloads import hubspot


@contextlib.asynccontextmanager
async def hub(env: WorkflowEnvironment, api: Api, *ids: str) -> AsyncIterator[None]:
    try:
        async with running_worker(env, api.settings, task_queue=api.settings.temporal_task_queue):
            yield
    finally:
        for wid in ids:
            with contextlib.suppress(Exception):
                await env.client.get_workflow_handle(wid).terminate("test done")


async def _welcomed(sandbox: SandboxHandle, customer: str) -> None:
    emails = (await outbox(sandbox))["emails"]
    assert [
        e["template"] for e in emails if e["headers"].get("X-Cshub-Customer-Id") == customer
    ] == ["welcome"]


async def test_closed_won_in_both_formats_and_in_a_custom_pipeline_starts_onboarding(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    cases = [
        ("legacy_deal_closedwon.json", "1004"),  # deal 3004
        ("generic_deal_closedwon.json", "1005"),  # deal 3005, objectTypeId 0-3
        ("generic_deal_custom_pipeline_won.json", "1010"),  # stage 1982613415 of a custom one
    ]
    await forget_workflows(dev_server_env.client, *(f"onboarding-{c}" for _, c in cases))
    async with hub(dev_server_env, api, *(f"onboarding-{c}" for _, c in cases)):
        for fixture, customer in cases:
            resp = await api.post(hubspot(api, fixture))
            assert resp.status_code == 200, resp.text
            (result,) = resp.json()["results"]
            assert (result["outcome"], result["type"], result["workflow_id"]) == (
                "accepted",
                "hubspot.deal.closed_won",
                f"onboarding-{customer}",
            ), (fixture, result)
        for _, customer in cases:
            await eventually(lambda c=customer: _welcomed(clean_sandbox, c))  # type: ignore[misc]


async def test_association_merge_deletion_restore_and_creation_are_ignored_not_invalid(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    resp = await api.post(hubspot(api, "association_and_lifecycle_batch.json"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["counts"] == {"ignored": 6}, body
    assert [r["type"] for r in body["results"]] == [
        "hubspot.contact.associationChange",
        "hubspot.deal.associationChange",
        "hubspot.contact.merge",
        "hubspot.ticket.deletion",
        "hubspot.ticket.restore",
        "hubspot.company.propertyChange",
    ]
    resp = await api.post(hubspot(api, "generic_contact_creation.json"))
    assert resp.json()["results"][0]["type"] == "hubspot.contact.creation"
    assert resp.json()["results"][0]["outcome"] == "ignored"


async def test_a_pipeline_added_after_start_up_is_read_when_its_won_stage_is_first_seen(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    # The ingress reads the pipelines once (a first closed-won) ...
    await forget_workflows(dev_server_env.client, "onboarding-1004", "onboarding-1002")
    async with hub(dev_server_env, api, "onboarding-1004", "onboarding-1002"):
        resp = await api.post(hubspot(api, "legacy_deal_closedwon.json"))
        assert resp.json()["results"][0]["outcome"] == "accepted", resp.text
        # ... then someone adds a pipeline in HubSpot.
        async with httpx.AsyncClient() as http:
            created = await http.post(
                f"{clean_sandbox.http_url}/crm/v3/pipelines/deals",
                headers={"Authorization": "Bearer sandbox"},
                json={
                    "label": "Renewals",
                    "displayOrder": 3,
                    "stages": [
                        {"label": "Open", "metadata": {"probability": "0.5"}},
                        {"label": "Won", "metadata": {"isClosed": "true", "probability": "1.0"}},
                    ],
                },
            )
        won_stage = created.json()["stages"][1]["id"]
        resp = await api.post(
            hubspot(api, "generic_deal_closedwon.json", objectId=3002, propertyValue=won_stage)
        )
        (result,) = resp.json()["results"]
        assert (result["outcome"], result["workflow_id"]) == ("accepted", "onboarding-1002")


async def test_send_test_event_speaks_the_generic_format_and_a_zendesk_trigger(
    api: Api, dev_server_env: WorkflowEnvironment, clean_sandbox: SandboxHandle
) -> None:
    async with hub(dev_server_env, api, "onboarding-1009", "ticket-sla-5002"):
        status, text = await asyncio.to_thread(
            send_test_event.send,
            api.settings,
            "hubspot",
            "deal-won-generic",
            customer="1009",
            url=api.url,
        )
        assert status == 200, text
        (result,) = json.loads(text)["results"]
        assert (result["outcome"], result["workflow_id"]) == ("accepted", "onboarding-1009")
        status, text = await asyncio.to_thread(
            send_test_event.send,
            api.settings,
            "zendesk",
            "trigger-ticket-created",
            ticket="5002",
            url=api.url,
        )
        assert status == 202, text
        assert json.loads(text)["workflow_id"] == "ticket-sla-5002"
