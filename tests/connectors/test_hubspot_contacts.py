"""HubSpotCrm's contact calls (used by the NPS and CSAT surveys) through the real
hubspot-api-client against the sandbox emulator: every contact of a company (v4
association pages of 500, batch reads of 100), one contact, by address, and updates."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from connectors.errors import NotFoundError
from connectors.hubspot import HubSpotCrm
from sandbox.server import SandboxHandle

CONTACT_TO_COMPANY = 279


async def test_all_contacts_of_a_company_with_properties(
    hubspot: HubSpotCrm, clean_sandbox: SandboxHandle
) -> None:
    # The demo data as seeded (another file in this process may have changed 1010's language).
    contacts = await asyncio.to_thread(
        hubspot.list_company_contacts, "1003", properties=["cshub_nps_last_asked"]
    )
    assert [c.id for c in contacts] == ["2003", "2004"]
    assert contacts[0].email == "grace.kim@northwind.example.com"
    assert contacts[0].properties == {"cshub_nps_last_asked": None}
    opted_out = await asyncio.to_thread(hubspot.list_company_contacts, "1009")
    assert [(c.id, c.email_opt_out) for c in opted_out] == [("2013", True)]
    spanish = await asyncio.to_thread(hubspot.list_company_contacts, "1010")
    assert spanish[0].language == "es"


async def test_a_company_with_many_contacts_is_read_in_pages_and_batches(
    hubspot: HubSpotCrm, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.hubspot._ASSOCIATION_PAGE", 50)  # pages: 50, 50, 30
    tag = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(
        base_url=sandbox.http_url, headers={"Authorization": "Bearer sandbox"}
    ) as http:
        resp = await http.post(
            "/crm/v3/objects/companies", json={"properties": {"name": f"Big {tag}"}}
        )
        resp.raise_for_status()
        company = resp.json()["id"]
        inputs = [
            {
                "properties": {"email": f"c{i}-{tag}@big.example", "firstname": f"C{i}"},
                "associations": [
                    {
                        "to": {"id": company},
                        "types": [
                            {
                                "associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": CONTACT_TO_COMPANY,
                            }
                        ],
                    }
                ],
            }
            for i in range(130)
        ]
        for start in (0, 100):
            batch = {"inputs": inputs[start : start + 100]}
            (
                await http.post("/crm/v3/objects/contacts/batch/create", json=batch)
            ).raise_for_status()

    contacts = await asyncio.to_thread(hubspot.list_company_contacts, company)
    assert len(contacts) == 130 and len({c.id for c in contacts}) == 130
    assert [c.first_name for c in contacts[:3]] == ["C0", "C1", "C2"]
    limited = await asyncio.to_thread(hubspot.list_company_contacts, company, limit=101)
    assert len(limited) == 101


async def test_contact_by_id_by_address_and_update(hubspot: HubSpotCrm) -> None:
    await asyncio.to_thread(hubspot.update_contact, "2004", {"cshub_nps_last_asked": "2026-10-15"})
    leo = await asyncio.to_thread(hubspot.get_contact, "2004", properties=["cshub_nps_last_asked"])
    assert leo.email == "leo.martin@northwind.example.com"
    assert leo.properties["cshub_nps_last_asked"] == "2026-10-15"

    found = await asyncio.to_thread(
        hubspot.find_contact_by_email, " Leo.Martin@northwind.example.com "
    )
    assert found is not None and found.id == "2004"
    assert await asyncio.to_thread(hubspot.find_contact_by_email, "nobody@x.example") is None
    with pytest.raises(NotFoundError, match="contact 999999"):
        await asyncio.to_thread(hubspot.get_contact, "999999")
