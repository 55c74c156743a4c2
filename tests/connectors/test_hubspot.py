"""HubSpotCrm through the real hubspot-api-client against the sandbox emulator."""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import UTC, datetime

import pytest

from connectors.errors import NotFoundError, RetryableConnectorError
from connectors.hubspot import HubSpotCrm
from tests.connectors.connector_sandbox import SandboxClient

DUE = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


async def test_get_company(hubspot: HubSpotCrm) -> None:
    company = await asyncio.to_thread(hubspot.get_company, "1001")
    assert company.id == "1001"
    assert company.name == "Brightleaf Studio"
    assert company.domain == "brightleaf.example.com"
    assert company.tier == "community"
    assert company.owner_id == "501"
    assert company.timezone == "Europe/Berlin"


async def test_primary_contact_is_the_first_associated(hubspot: HubSpotCrm) -> None:
    contact = await asyncio.to_thread(hubspot.get_primary_contact, "1003")
    assert contact is not None
    assert contact.email == "grace.kim@northwind.example.com"
    assert (contact.first_name, contact.last_name) == ("Grace", "Kim")


async def test_get_owner(hubspot: HubSpotCrm) -> None:
    owner = await asyncio.to_thread(hubspot.get_owner, "501")
    assert owner.email == "dana.reyes@cshub.example"
    assert owner.full_name == "Dana Reyes"


async def test_create_task_is_idempotent(hubspot: HubSpotCrm, sandbox_api: SandboxClient) -> None:
    key = f"test-task-{uuid.uuid4()}"

    def create() -> tuple[str, bool]:
        ref = hubspot.create_task(
            company_id="1001",
            subject="Check in on onboarding",
            body="Day 7 milestone missed",
            due_at=DUE,
            owner_id="501",
            priority="high",
            idempotency_key=key,
        )
        return ref.id, ref.created

    first = await asyncio.to_thread(create)
    second = await asyncio.to_thread(create)
    assert first[1] is True
    assert second == (first[0], False)

    tasks = [
        t
        for t in (await sandbox_api.outbox())["crm_tasks"]
        if t["properties"].get("cshub_idempotency_key") == key
    ]
    assert len(tasks) == 1
    props = tasks[0]["properties"]
    assert props["hs_task_subject"] == "Check in on onboarding"
    assert props["hs_task_status"] == "NOT_STARTED"
    assert props["hs_task_priority"] == "HIGH"
    assert props["hubspot_owner_id"] == "501"
    assert {"type": "companies", "id": "1001"} in [
        {"type": a["type"], "id": str(a["id"])} for a in tasks[0]["associations"]
    ]


async def test_create_note_is_idempotent(hubspot: HubSpotCrm, sandbox_api: SandboxClient) -> None:
    key = f"test-note-{uuid.uuid4()}"

    def create() -> bool:
        return hubspot.create_note(
            company_id="1002", body="Health dropped to 62", timestamp=DUE, idempotency_key=key
        ).created

    assert await asyncio.to_thread(create) is True
    assert await asyncio.to_thread(create) is False
    notes = [
        n
        for n in (await sandbox_api.outbox())["crm_notes"]
        if n["properties"].get("cshub_idempotency_key") == key
    ]
    assert len(notes) == 1


async def test_missing_company_is_not_found_and_not_retried(
    hubspot: HubSpotCrm, sandbox_api: SandboxClient
) -> None:
    missing = f"9{uuid.uuid4().int % 10**8}"
    with pytest.raises(NotFoundError) as info:
        await asyncio.to_thread(hubspot.get_company, missing)
    assert f"hubspot get_company(company {missing}): 404" in str(info.value)
    assert not info.value.retryable
    assert len(await sandbox_api.requests("hubspot", f"/companies/{missing}")) == 1


async def test_429_carries_retry_after_then_next_call_succeeds(
    hubspot: HubSpotCrm, sandbox_api: SandboxClient
) -> None:
    await sandbox_api.fault("hubspot", 429, retry_after=2, path_contains="/companies/1004")
    with pytest.raises(RetryableConnectorError) as info:
        await asyncio.to_thread(hubspot.get_company, "1004")
    assert info.value.status == 429
    assert info.value.retry_after == 2
    # One request only: urllib3's silent Retry-After retries are off.
    company = await asyncio.to_thread(hubspot.get_company, "1004")
    assert company.name == "Quill & Co"


async def test_500_is_retryable(hubspot: HubSpotCrm, sandbox_api: SandboxClient) -> None:
    await sandbox_api.fault("hubspot", 500, path_contains="/owners/502")
    with pytest.raises(RetryableConnectorError) as info:
        await asyncio.to_thread(hubspot.get_owner, "502")
    assert info.value.status == 500
    assert "hubspot get_owner(owner 502): 500" in str(info.value)


async def test_post_500_on_create_is_retryable(
    hubspot: HubSpotCrm, sandbox_api: SandboxClient
) -> None:
    await sandbox_api.fault("hubspot", 503, path_contains="/objects/tasks/search")
    with pytest.raises(RetryableConnectorError):
        await asyncio.to_thread(
            hubspot.create_task,
            company_id="1001",
            subject="s",
            body="b",
            due_at=DUE,
            owner_id=None,
            priority="LOW",
            idempotency_key=f"test-task-{uuid.uuid4()}",
        )


async def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    crm = HubSpotCrm("token", base_url=f"http://127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(RetryableConnectorError, match=r"hubspot get_company\(company 1001\)"):
        await asyncio.to_thread(crm.get_company, "1001")


async def test_slow_answer_times_out_as_retryable(sandbox_api: SandboxClient) -> None:
    crm = HubSpotCrm("token", base_url=sandbox_api.url, timeout_s=0.3)
    await sandbox_api.fault("hubspot", None, delay_s=1.0, path_contains="/companies/1006")
    with pytest.raises(RetryableConnectorError, match=r"get_company\(company 1006\)"):
        await asyncio.to_thread(crm.get_company, "1006")


async def test_get_deal_reads_stage_tier_and_company(hubspot: HubSpotCrm) -> None:
    crm = hubspot
    deal = await asyncio.to_thread(crm.get_deal, "3003")
    assert deal.company_id == "1003"
    assert deal.stage == "closedwon"
    assert deal.tier == "starter"
    with pytest.raises(NotFoundError, match="deal 9999"):
        await asyncio.to_thread(crm.get_deal, "9999")


HOSTILE = "Evil <img src=x onerror=alert(1)> Co"


async def test_task_and_note_bodies_reach_hubspot_as_text_not_markup(
    hubspot: HubSpotCrm, sandbox_api: SandboxClient
) -> None:
    """HubSpot renders task and note bodies as HTML: a hostile company name in them is
    escaped (before, it went in raw: HTML injection in the CRM)."""
    key = f"test-hostile-{uuid.uuid4()}"
    body = f"E-mail 'welcome' sent to contact 2001\nWelcome to {HOSTILE} & friends"

    def create() -> None:
        hubspot.create_note(
            company_id="1001", body=body, timestamp=DUE, idempotency_key=f"{key}:note"
        )
        hubspot.create_task(
            company_id="1001",
            subject="Check in",
            body=body,
            due_at=DUE,
            owner_id=None,
            priority="low",
            idempotency_key=f"{key}:task",
        )

    await asyncio.to_thread(create)
    box = await sandbox_api.outbox()
    [note] = [
        n for n in box["crm_notes"] if n["properties"].get("cshub_idempotency_key") == f"{key}:note"
    ]
    [task] = [
        t for t in box["crm_tasks"] if t["properties"].get("cshub_idempotency_key") == f"{key}:task"
    ]
    escaped = "Welcome to Evil &lt;img src=x onerror=alert(1)&gt; Co &amp; friends"
    for stored in (note["properties"]["hs_note_body"], task["properties"]["hs_task_body"]):
        assert "<img" not in stored
        assert escaped in stored
        assert stored.startswith("E-mail 'welcome' sent to contact 2001\n")


async def test_upload_file_replaces_the_same_name_and_serves_it(hubspot: HubSpotCrm) -> None:
    """The review pack's chart: a retried upload (same name, same folder) keeps one file,
    its id, and the new content; the url serves it."""
    import httpx

    name = f"pack-{uuid.uuid4().hex[:8]}.png"
    first = await asyncio.to_thread(
        hubspot.upload_file, name=name, content=b"\x89PNG first", folder="/cshub/test"
    )
    again = await asyncio.to_thread(
        hubspot.upload_file, name=name, content=b"\x89PNG again", folder="/cshub/test"
    )
    assert again.id == first.id and again.url == first.url
    async with httpx.AsyncClient() as http:
        got = await http.get(first.url)
    assert got.status_code == 200 and got.content == b"\x89PNG again"
    assert got.headers["content-type"] == "image/png"
    other = await asyncio.to_thread(
        hubspot.upload_file, name=f"other-{name}", content=b"x", folder="/cshub/test"
    )
    assert other.id != first.id


async def test_a_task_carries_its_attachments(
    hubspot: HubSpotCrm, sandbox_api: SandboxClient
) -> None:
    """A review task's chart is attached (hs_attachment_ids: file ids, ";"-separated) and
    the Files API finds each by id; a value that is no list of ids is refused."""
    import httpx

    from connectors.errors import PermanentConnectorError

    files = [
        await asyncio.to_thread(
            hubspot.upload_file,
            name=f"{n}-{uuid.uuid4().hex[:8]}.png",
            content=b"\x89PNG",
            folder="/cshub/test",
        )
        for n in ("chart", "extra")
    ]

    async def task_with(attachment_ids: list[str]) -> str:
        key = f"test-task-{uuid.uuid4()}"
        await asyncio.to_thread(
            lambda: hubspot.create_task(
                company_id="1001",
                subject="QBR",
                body="pack",
                due_at=DUE,
                owner_id=None,
                priority="MEDIUM",
                idempotency_key=key,
                attachment_ids=attachment_ids,
            )
        )
        return key

    key = await task_with([f.id for f in files])
    (task,) = [
        t
        for t in (await sandbox_api.outbox())["crm_tasks"]
        if t["properties"].get("cshub_idempotency_key") == key
    ]
    ids = task["properties"]["hs_attachment_ids"]
    assert ids == f"{files[0].id};{files[1].id}"
    async with httpx.AsyncClient(headers={"Authorization": "Bearer test"}) as http:
        for f, file_id in zip(files, ids.split(";"), strict=True):
            got = await http.get(f"{sandbox_api.url}/files/v3/files/{file_id}")
            assert got.status_code == 200 and got.json()["url"] == f.url
        missing = await http.get(f"{sandbox_api.url}/files/v3/files/1")
        assert missing.status_code == 404
    with pytest.raises(PermanentConnectorError, match="hs_attachment_ids"):
        await task_with(["chart.png"])
