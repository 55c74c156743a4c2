"""The HubSpot emulator driven by the real hubspot-api-client (and raw HTTP where the SDK
would hide what is checked)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.companies import ApiException, Filter, FilterGroup, PublicObjectSearchRequest
from hubspot.crm.companies import BatchInputSimplePublicObjectBatchInput as CompanyBatchUpdate
from hubspot.crm.companies import BatchReadInputSimplePublicObjectId as CompanyBatchRead
from hubspot.crm.companies import SimplePublicObjectBatchInput as CompanyUpdate
from hubspot.crm.companies import SimplePublicObjectId as CompanyId
from hubspot.crm.companies import SimplePublicObjectInput as CompanyInput
from hubspot.crm.objects.tasks import ApiException as TaskApiException
from hubspot.crm.objects.tasks import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectInputForCreate,
)

AUTH = {"Authorization": "Bearer sandbox-token"}
DUE = "2030-01-07T09:00:00.000Z"


def _task(subject: str, company_id: str = "1001", **extra: str) -> Any:
    return SimplePublicObjectInputForCreate(
        properties={
            "hs_timestamp": DUE,
            "hs_task_subject": subject,
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": "HIGH",
            "hubspot_owner_id": "501",
            **extra,
        },
        associations=[
            PublicAssociationsForObject(
                to=PublicObjectId(id=company_id),
                types=[
                    AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=192)
                ],
            )
        ],
    )


async def test_get_company_with_properties_and_associations(
    http: httpx.AsyncClient, hubspot: HubSpot
) -> None:
    company = await asyncio.to_thread(
        hubspot.crm.companies.basic_api.get_by_id,
        "1003",
        properties=["name", "cshub_tier", "hubspot_owner_id", "cshub_timezone"],
        associations=["contacts"],
    )
    assert company.id == "1003"
    assert company.properties["name"] == "Northwind Analytics"
    assert company.properties["cshub_tier"] == "starter"
    assert company.properties["hubspot_owner_id"] == "503"
    assert company.properties["cshub_timezone"] == "America/New_York"
    contacts = company.associations["contacts"].results
    assert [c.id for c in contacts] == ["2003", "2004"]  # first = primary contact
    assert contacts[0].type == "company_to_contact"
    assert company.created_at is not None and company.updated_at is not None


async def test_default_and_comma_separated_properties(http: httpx.AsyncClient) -> None:
    plain = (await http.get("/crm/v3/objects/companies/1001", headers=AUTH)).json()
    assert set(plain["properties"]) == {
        "createdate",
        "domain",
        "hs_lastmodifieddate",
        "hs_object_id",
        "name",
    }
    assert plain["archived"] is False
    assert plain["createdAt"].endswith("Z")
    asked = (
        await http.get(
            "/crm/v3/objects/companies/1001?properties=cshub_tier,lifecyclestage&properties=nope",
            headers=AUTH,
        )
    ).json()
    assert asked["properties"]["cshub_tier"] == "community"
    assert asked["properties"]["lifecyclestage"] == "customer"
    assert asked["properties"]["nope"] is None


async def test_missing_object_is_404_api_exception(
    http: httpx.AsyncClient, hubspot: HubSpot
) -> None:
    with pytest.raises(ApiException) as info:
        await asyncio.to_thread(hubspot.crm.companies.basic_api.get_by_id, "999999")
    assert info.value.status == 404
    body = json.loads(info.value.body)
    assert body["category"] == "OBJECT_NOT_FOUND"
    assert body["message"] == "resource not found"
    assert body["status"] == "error" and body["correlationId"]


async def test_search_pages_through_all_results(http: httpx.AsyncClient, hubspot: HubSpot) -> None:
    request = PublicObjectSearchRequest(
        filter_groups=[
            FilterGroup(
                filters=[Filter(property_name="lifecyclestage", operator="EQ", value="customer")]
            )
        ],
        properties=["name", "cshub_tier"],
        sorts=[{"propertyName": "name", "direction": "ASCENDING"}],
        limit=3,
    )
    names: list[str] = []
    pages = 0
    while True:
        page = await asyncio.to_thread(hubspot.crm.companies.search_api.do_search, request)
        pages += 1
        assert page.total == 10
        names += [r.properties["name"] for r in page.results]
        if page.paging is None:
            break
        request.after = page.paging.next.after
    assert pages == 4
    assert len(names) == 10 and names == sorted(names)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            [{"propertyName": "cshub_tier", "operator": "EQ", "value": "ENTERPRISE"}],
            {"1007", "1008"},
        ),
        (
            [{"propertyName": "cshub_tier", "operator": "IN", "values": ["starter", "community"]}],
            {"1001", "1002", "1003", "1004", "1009"},
        ),
        (
            [
                {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": "501"},
                {"propertyName": "cshub_tier", "operator": "NEQ", "value": "community"},
            ],
            {"1004", "1007"},
        ),
        (
            [{"propertyName": "cshub_health", "operator": "NOT_HAS_PROPERTY"}],
            {f"100{i}" for i in range(1, 9)} | {"1009", "1010"},
        ),
        ([{"propertyName": "cshub_health", "operator": "HAS_PROPERTY"}], set()),
    ],
)
async def test_search_filters(
    http: httpx.AsyncClient, filters: list[dict[str, Any]], expected: set[str]
) -> None:
    response = await http.post(
        "/crm/v3/objects/companies/search",
        headers=AUTH,
        json={"filterGroups": [{"filters": filters}], "limit": 100},
    )
    assert response.status_code == 200
    assert {r["id"] for r in response.json()["results"]} == expected


async def test_search_numbers_dates_and_associations(http: httpx.AsyncClient) -> None:
    async def ids(object_type: str, filters: list[dict[str, Any]]) -> set[str]:
        body = {"filterGroups": [{"filters": filters}], "limit": 100}
        resp = await http.post(f"/crm/v3/objects/{object_type}/search", headers=AUTH, json=body)
        return {r["id"] for r in resp.json()["results"]}

    assert await ids("deals", [{"propertyName": "amount", "operator": "GT", "value": "10000"}]) == {
        "3005",
        "3006",
        "3007",
        "3008",
        "3010",
    }
    assert await ids(
        "deals", [{"propertyName": "closedate", "operator": "LT", "value": "2025-05-01"}]
    ) == {"3007", "3008"}
    assert await ids(
        "contacts", [{"propertyName": "associations.company", "operator": "EQ", "value": "1005"}]
    ) == {"2006", "2007"}


async def test_create_task_with_association(http: httpx.AsyncClient, hubspot: HubSpot) -> None:
    task = await asyncio.to_thread(
        hubspot.crm.objects.tasks.basic_api.create,
        _task("Check in on onboarding", cshub_idempotency_key="onboarding-1001:day7"),
    )
    assert task.id.isdigit()
    assert task.properties["hs_task_subject"] == "Check in on onboarding"

    outbox = (await http.get("/api/outbox")).json()
    [recorded] = outbox["crm_tasks"]
    assert recorded["id"] == task.id
    assert recorded["properties"]["cshub_idempotency_key"] == "onboarding-1001:day7"
    assert recorded["associations"] == [{"type": "companies", "id": "1001"}]
    assert recorded["created_at"].endswith("Z")

    # The association is visible from the company's side, in v3 and v4.
    company = (
        await http.get("/crm/v3/objects/companies/1001?associations=tasks", headers=AUTH)
    ).json()
    assert company["associations"]["tasks"]["results"] == [
        {"id": task.id, "type": "company_to_task"}
    ]
    page = await asyncio.to_thread(
        hubspot.crm.associations.v4.basic_api.get_page, "tasks", task.id, "companies"
    )
    assert [
        (str(r.to_object_id), [t.type_id for t in r.association_types]) for r in page.results
    ] == [("1001", [192])]
    found = (
        await http.post(
            "/crm/v3/objects/tasks/search",
            headers=AUTH,
            json={
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": "cshub_idempotency_key",
                                "operator": "EQ",
                                "value": "onboarding-1001:day7",
                            }
                        ]
                    }
                ]
            },
        )
    ).json()
    assert [r["id"] for r in found["results"]] == [task.id]


@pytest.mark.parametrize(
    ("properties", "type_id", "message"),
    [
        ({"hs_timestamp": None}, 192, "hs_timestamp is required"),
        ({"hs_task_priority": "URGENT"}, 192, "URGENT was not one of the allowed options"),
        ({"hs_timestamp": "next tuesday"}, 192, "not a valid date"),
        ({"hubspot_owner_id": "999"}, 192, "999 is not a valid owner id"),
        ({}, 190, "association type id 190 does not start at tasks"),
    ],
)
async def test_create_task_validation(
    http: httpx.AsyncClient,
    hubspot: HubSpot,
    properties: dict[str, str | None],
    type_id: int,
    message: str,
) -> None:
    task = _task("invalid")
    task.properties.update(properties)
    task.associations[0].types[0].association_type_id = type_id
    with pytest.raises(TaskApiException) as info:
        await asyncio.to_thread(hubspot.crm.objects.tasks.basic_api.create, task)
    assert info.value.status == 400
    body = json.loads(info.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    assert message in body["message"]
    assert (await http.get("/api/outbox")).json()["crm_tasks"] == []


async def test_patch_records_update(http: httpx.AsyncClient, hubspot: HubSpot) -> None:
    updated = await asyncio.to_thread(
        hubspot.crm.companies.basic_api.update,
        "1002",
        CompanyInput(properties={"cshub_health_score": 62, "cshub_health": "at_risk"}),
    )
    assert updated.properties["cshub_health_score"] == "62"  # stored as a string
    [update] = (await http.get("/api/outbox")).json()["crm_updates"]
    assert update["type"] == "companies" and update["id"] == "1002"
    assert update["properties"] == {"cshub_health_score": "62", "cshub_health": "at_risk"}
    again = (
        await http.get("/crm/v3/objects/companies/1002?properties=cshub_health", headers=AUTH)
    ).json()
    assert again["properties"]["cshub_health"] == "at_risk"


async def test_batch_read_and_update(http: httpx.AsyncClient, hubspot: HubSpot) -> None:
    read = await asyncio.to_thread(
        hubspot.crm.companies.batch_api.read,
        CompanyBatchRead(
            inputs=[CompanyId(id="1001"), CompanyId(id="1008"), CompanyId(id="424242")],
            properties=["name", "cshub_tier"],
            properties_with_history=[],
        ),
    )
    assert read.status == "COMPLETE"
    assert {r.id: r.properties["cshub_tier"] for r in read.results} == {
        "1001": "community",
        "1008": "enterprise",
    }
    assert read.num_errors == 1 and read.errors[0].context == {"ids": ["424242"]}

    updated = await asyncio.to_thread(
        hubspot.crm.companies.batch_api.update,
        CompanyBatchUpdate(
            inputs=[
                CompanyUpdate(id=i, properties={"cshub_health_score": "80"})
                for i in ("1003", "1004")
            ]
        ),
    )
    assert sorted(r.id for r in updated.results) == ["1003", "1004"]
    updates = (await http.get("/api/outbox")).json()["crm_updates"]
    assert [(u["id"], u["properties"]) for u in updates] == [
        ("1003", {"cshub_health_score": "80"}),
        ("1004", {"cshub_health_score": "80"}),
    ]

    too_many = {"inputs": [{"id": "1001"}] * 101, "properties": []}
    response = await http.post("/crm/v3/objects/companies/batch/read", headers=AUTH, json=too_many)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


async def test_batch_create_tasks(http: httpx.AsyncClient) -> None:
    inputs = [
        {
            "properties": {"hs_timestamp": "1893456000000", "hs_task_subject": f"t{i}"},
            "associations": [
                {
                    "to": {"id": "1005"},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}],
                }
            ],
        }
        for i in range(3)
    ]
    response = await http.post(
        "/crm/v3/objects/tasks/batch/create", headers=AUTH, json={"inputs": inputs}
    )
    assert response.status_code == 201
    assert len(response.json()["results"]) == 3
    tasks = (await http.get("/api/outbox")).json()["crm_tasks"]
    assert [t["properties"]["hs_task_subject"] for t in tasks] == ["t0", "t1", "t2"]


async def test_v4_default_association(http: httpx.AsyncClient, hubspot: HubSpot) -> None:
    note = await http.post(
        "/crm/v3/objects/notes",
        headers=AUTH,
        json={"properties": {"hs_timestamp": DUE, "hs_note_body": "Kick-off call held"}},
    )
    assert note.status_code == 201
    note_id = note.json()["id"]
    result = await asyncio.to_thread(
        hubspot.crm.associations.v4.basic_api.create_default, "notes", note_id, "companies", "1006"
    )
    assert result.status == "COMPLETE"
    [recorded] = (await http.get("/api/outbox")).json()["crm_notes"]
    assert recorded["associations"] == [{"type": "companies", "id": "1006"}]
    assert recorded["properties"]["hs_note_body"] == "Kick-off call held"


async def test_owner(http: httpx.AsyncClient, hubspot: HubSpot) -> None:
    owner = await asyncio.to_thread(hubspot.crm.owners.owners_api.get_by_id, 502)
    assert (owner.id, owner.email, owner.first_name, owner.last_name) == (
        "502",
        "marcus.chen@cshub.example",
        "Marcus",
        "Chen",
    )
    assert owner.archived is False
    missing = await http.get("/crm/v3/owners/999", headers=AUTH)
    assert missing.status_code == 404


async def test_injected_429_raises_with_retry_after(
    http: httpx.AsyncClient, hubspot: HubSpot
) -> None:
    fault = {"system": "hubspot", "status": 429, "retry_after": 3, "path_contains": "/search"}
    assert (await http.post("/_sandbox/faults", json=fault)).status_code == 201
    request = PublicObjectSearchRequest(filter_groups=[], limit=1)
    with pytest.raises(ApiException) as info:
        await asyncio.to_thread(hubspot.crm.companies.search_api.do_search, request)
    assert info.value.status == 429
    assert info.value.headers["Retry-After"] == "3"
    assert info.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    body = json.loads(info.value.body)
    assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "SECONDLY")
    # The fault is used up: the retry succeeds.
    page = await asyncio.to_thread(hubspot.crm.companies.search_api.do_search, request)
    assert page.total == 10
    statuses = [r["status"] for r in (await http.get("/api/requests")).json()]
    assert statuses == [429, 200]
