"""Portfolio paging and batch writes (the health sweep's CRM calls): HubSpotCrm through
the real hubspot-api-client against the sandbox, plus the sandbox's bulk companies and
the recording CRM's versions of the same calls."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import Company
from connectors.errors import RetryableConnectorError
from connectors.hubspot import HubSpotCrm
from connectors.recording import RecordingCrm
from sandbox.demo_data import load_demo_data
from sandbox.server import SandboxHandle
from tests.connectors.connector_sandbox import SandboxClient

HEALTH_INPUTS = (
    "cshub_active_users",
    "cshub_licensed_seats",
    "cshub_features_adopted",
    "cshub_features_available",
    "cshub_workflow_runs",
    "cshub_workflow_limit",
    "cshub_open_tickets",
    "cshub_nps_score",
    "cshub_payment_status",
    "notes_last_contacted",
)
BULK_START = 100_000
LIST_PATH = "/crm/v3/objects/companies"


@pytest.fixture
async def portfolio(
    clean_sandbox: SandboxHandle, sandbox_api: SandboxClient
) -> AsyncIterator[SandboxClient]:
    """A freshly reset sandbox, reset again afterwards so bulk companies and rate limits
    stay out of every other test."""
    try:
        yield sandbox_api
    finally:
        (await sandbox_api.http.post("/_sandbox/reset")).raise_for_status()


async def bulk(api: SandboxClient, count: int, **extra: Any) -> dict[str, Any]:
    resp = await api.http.post(
        "/_sandbox/hubspot/companies/bulk",
        json={"count": count, "id_start": BULK_START, "vary": True, **extra},
    )
    assert resp.status_code == 201, resp.text
    result: dict[str, Any] = resp.json()
    return result


async def rate_limit(api: SandboxClient, max_requests: int | None, window_s: float = 1) -> None:
    body = {"system": "hubspot", "max_requests": max_requests, "window_s": window_s}
    (await api.http.post("/_sandbox/ratelimit", json=body)).raise_for_status()


def walk(crm: HubSpotCrm, properties: tuple[str, ...]) -> tuple[list[Company], int]:
    """Every company, page by page; also how many pages it took."""
    companies: list[Company] = []
    after: str | None = None
    pages = 0
    while True:
        page = crm.list_companies(after=after, limit=100, properties=properties)
        pages += 1
        companies += page.companies
        if page.next_after is None:
            return companies, pages
        after = page.next_after


async def test_paging_visits_every_company_once_in_id_order(
    hubspot: HubSpotCrm, portfolio: SandboxClient
) -> None:
    created = await bulk(portfolio, 1000)
    assert (created["first_id"], created["last_id"]) == ("100000", "100999")
    demo_ids = [c.id for c in load_demo_data().companies]
    expected = sorted([*demo_ids, *(str(BULK_START + n) for n in range(1000))], key=int)

    companies, pages = await asyncio.to_thread(walk, hubspot, (*HEALTH_INPUTS, "cshub_tier"))

    assert [c.id for c in companies] == expected
    assert pages == math.ceil(len(expected) / 100)
    gets = [r for r in await portfolio.requests("hubspot", LIST_PATH) if r["path"] == LIST_PATH]
    assert [(r["method"], r["status"]) for r in gets] == [("GET", 200)] * pages
    for company in companies:
        assert set(HEALTH_INPUTS) <= set(company.properties)  # asked for: always present
    by_id = {c.id: c for c in companies}
    first = by_id["100000"]
    assert first.name == "Bulk Company 100000"
    assert first.tier in {"community", "starter", "professional", "enterprise"}
    assert first.owner_id in {"501", "502", "503"}
    assert all(first.properties[p] not in (None, "") for p in HEALTH_INPUTS)
    seats = int(first.properties["cshub_licensed_seats"] or 0)
    assert 0 <= int(first.properties["cshub_active_users"] or 0) <= seats
    assert by_id["1001"].name == "Brightleaf Studio"
    assert by_id["1001"].properties["cshub_active_users"] is None  # not set on demo data


async def test_list_companies_refuses_a_page_over_100(hubspot: HubSpotCrm) -> None:
    with pytest.raises(ValueError, match="limit"):
        await asyncio.to_thread(hubspot.list_companies, after=None, limit=101)


async def test_batch_update_of_100_changes_all(
    hubspot: HubSpotCrm, portfolio: SandboxClient
) -> None:
    await bulk(portfolio, 150)
    ids = [str(BULK_START + n) for n in range(100)]
    updates = {
        i: {"cshub_health_score": str(n % 101), "cshub_health_band": "watch"}
        for n, i in enumerate(ids)
    }

    assert await asyncio.to_thread(hubspot.batch_update_companies, updates) == 100
    # Idempotent: the same batch again changes nothing and still answers 100.
    assert await asyncio.to_thread(hubspot.batch_update_companies, updates) == 100

    read = await asyncio.to_thread(
        hubspot.batch_read_companies, ids, ["cshub_health_score", "cshub_health_band"]
    )
    assert [c.id for c in read] == ids
    assert {c.id: c.properties["cshub_health_score"] for c in read} == {
        i: p["cshub_health_score"] for i, p in updates.items()
    }
    assert {c.properties["cshub_health_band"] for c in read} == {"watch"}
    untouched = await asyncio.to_thread(
        hubspot.batch_read_companies, [str(BULK_START + 100)], ["cshub_health_score"]
    )
    assert untouched[0].properties["cshub_health_score"] is None
    posts = await portfolio.requests("hubspot", "/companies/batch/update")
    assert [(r["method"], r["status"]) for r in posts] == [("POST", 200)] * 2
    box = await portfolio.outbox()
    assert len([u for u in box["crm_updates"] if u["type"] == "companies"]) == 200


async def test_batch_update_of_101_is_refused_before_any_call(
    hubspot: HubSpotCrm, portfolio: SandboxClient
) -> None:
    updates = {str(BULK_START + n): {"cshub_health_score": "50"} for n in range(101)}
    with pytest.raises(ValueError, match="at most 100"):
        await asyncio.to_thread(hubspot.batch_update_companies, updates)
    with pytest.raises(ValueError, match="at most 100"):
        await asyncio.to_thread(hubspot.batch_read_companies, list(updates), [])
    assert await portfolio.requests("hubspot", "/batch/") == []
    assert await asyncio.to_thread(hubspot.batch_update_companies, {}) == 0


async def test_batch_calls_skip_companies_that_do_not_exist(
    hubspot: HubSpotCrm, portfolio: SandboxClient
) -> None:
    updated = await asyncio.to_thread(
        hubspot.batch_update_companies,
        {"1001": {"cshub_health_score": "71"}, "999999": {"cshub_health_score": "10"}},
    )
    assert updated == 1  # HubSpot answers 207 with an error for the missing one
    read = await asyncio.to_thread(
        hubspot.batch_read_companies, ["1002", "999999", "1001", "1002"], ["cshub_health_score"]
    )
    assert [c.id for c in read] == ["1002", "1001"]
    assert read[1].properties["cshub_health_score"] == "71"
    assert read[1].name == "Brightleaf Studio" and read[1].owner_id == "501"


async def test_429_on_the_list_call_carries_retry_after_then_succeeds(
    hubspot: HubSpotCrm, portfolio: SandboxClient
) -> None:
    await rate_limit(portfolio, 1, window_s=1)
    first = await asyncio.to_thread(hubspot.list_companies, after=None, limit=5)
    assert len(first.companies) == 5 and first.next_after is not None

    with pytest.raises(RetryableConnectorError) as info:
        await asyncio.to_thread(hubspot.list_companies, after=first.next_after, limit=5)
    assert info.value.status == 429
    assert info.value.retry_after == 1
    assert "hubspot list_companies(companies after" in str(info.value)

    await asyncio.sleep(info.value.retry_after + 0.1)  # the window has passed
    second = await asyncio.to_thread(hubspot.list_companies, after=first.next_after, limit=5)
    assert {c.id for c in second.companies}.isdisjoint({c.id for c in first.companies})
    # One request per call: urllib3 never retried the 429 behind our back.
    gets = [r for r in await portfolio.requests("hubspot", LIST_PATH) if r["path"] == LIST_PATH]
    assert [r["status"] for r in gets] == [200, 429, 200]


async def test_429_on_batch_update_is_not_retried_by_the_sdk(
    hubspot: HubSpotCrm, portfolio: SandboxClient
) -> None:
    await portfolio.fault(
        "hubspot", 429, retry_after=3, path_contains="/companies/batch/update", method="POST"
    )
    updates = {"1001": {"cshub_health_score": "12"}}
    with pytest.raises(RetryableConnectorError) as info:
        await asyncio.to_thread(hubspot.batch_update_companies, updates)
    assert (info.value.status, info.value.retry_after) == (429, 3)
    posts = await portfolio.requests("hubspot", "/companies/batch/update")
    assert [r["status"] for r in posts] == [429]
    assert (await portfolio.outbox())["crm_updates"] == []  # nothing was written
    assert await asyncio.to_thread(hubspot.batch_update_companies, updates) == 1


# -- the sandbox's bulk companies -------------------------------------------------------


async def company_json(api: SandboxClient, company_id: str, *names: str) -> Any:
    query = "&".join(f"properties={n}" for n in names)
    return await api.http.get(
        f"{LIST_PATH}/{company_id}?{query}", headers={"Authorization": "Bearer t"}
    )


async def test_bulk_companies_are_deterministic_and_removed_by_reset(
    portfolio: SandboxClient,
) -> None:
    await bulk(portfolio, 20)
    before = (await company_json(portfolio, "100007", *HEALTH_INPUTS)).json()["properties"]
    (await portfolio.http.post("/_sandbox/reset")).raise_for_status()
    assert (await company_json(portfolio, "100007")).status_code == 404
    await bulk(portfolio, 20)
    after = (await company_json(portfolio, "100007", *HEALTH_INPUTS)).json()["properties"]
    assert {p: after[p] for p in HEALTH_INPUTS} == {p: before[p] for p in HEALTH_INPUTS}
    other = (await company_json(portfolio, "100008", *HEALTH_INPUTS)).json()["properties"]
    assert {p: other[p] for p in HEALTH_INPUTS} != {p: after[p] for p in HEALTH_INPUTS}


async def test_bulk_companies_take_defaults_refuse_taken_ids_and_keep_ids_unique(
    hubspot: HubSpotCrm, portfolio: SandboxClient
) -> None:
    created = await bulk(portfolio, 5, properties={"cshub_tier": "enterprise"})
    assert created["created"] == 5
    company = (await company_json(portfolio, "100004", "cshub_tier", "cshub_nps_score")).json()
    assert company["properties"]["cshub_tier"] == "enterprise"  # defaults win over vary
    assert company["properties"]["cshub_nps_score"] is not None

    clash = await portfolio.http.post(
        "/_sandbox/hubspot/companies/bulk", json={"count": 3, "id_start": 100003}
    )
    assert clash.status_code == 409
    bad = await portfolio.http.post(
        "/_sandbox/hubspot/companies/bulk",
        json={"count": 3, "id_start": 200000, "properties": {"hubspot_owner_id": "999"}},
    )
    assert bad.status_code == 400 and "999" in bad.text
    assert (await company_json(portfolio, "200000")).status_code == 404  # all or nothing

    # Records created afterwards get ids above the bulk range (no collision).
    ref = await asyncio.to_thread(
        lambda: hubspot.create_note(
            company_id="100002",
            body="load test",
            timestamp=datetime(2030, 1, 1, tzinfo=UTC),
            idempotency_key="bulk-note",
        )
    )
    assert int(ref.id) > 100004
    more = await portfolio.http.post("/_sandbox/hubspot/companies/bulk", json={"count": 2})
    assert more.status_code == 201
    assert int(more.json()["first_id"]) > int(ref.id)


async def test_list_cursor_is_an_id_and_garbage_is_refused(portfolio: SandboxClient) -> None:
    auth = {"Authorization": "Bearer t"}
    page = (await portfolio.http.get(f"{LIST_PATH}?limit=2", headers=auth)).json()
    ids = [r["id"] for r in page["results"]]
    assert page["paging"]["next"]["after"] == str(int(ids[-1]) + 1)
    bad = await portfolio.http.get(f"{LIST_PATH}?after=abc", headers=auth)
    assert bad.status_code == 400


# -- the recording CRM ------------------------------------------------------------------


def test_recording_crm_portfolio() -> None:
    seeded = {
        str(i): Company(id=str(i), name=f"C{i}", properties={"cshub_nps_score": "5"})
        for i in (12, 3, 100, 7)
    }
    crm = RecordingCrm(companies=seeded, missing={"100"})
    first = crm.list_companies(after=None, limit=2, properties=["cshub_nps_score"])
    assert [c.id for c in first.companies] == ["3", "7"]
    rest = crm.list_companies(after=first.next_after, limit=2)
    assert [c.id for c in rest.companies] == ["12"] and rest.next_after is None

    assert crm.batch_update_companies({"3": {"cshub_nps_score": "40"}, "100": {"x": "y"}}) == 1
    assert crm.company_updates == [("3", {"cshub_nps_score": "40"})]
    assert crm.batch_updates == [{"3": {"cshub_nps_score": "40"}}]
    read = crm.batch_read_companies(["3", "100", "55"], ["cshub_nps_score"])
    assert [(c.id, c.properties.get("cshub_nps_score")) for c in read] == [
        ("3", "40"),
        ("55", None),
    ]
    with pytest.raises(ValueError):
        crm.batch_update_companies({str(i): {} for i in range(101)})
