"""A scored portfolio in the HubSpot emulator for the health report and digest tests: 30
bulk companies in six groups with the properties a health sweep writes, and the demo
companies' health properties blanked (never scored), whatever the demo data says.

The figures the tests expect were worked out by hand from GROUPS.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from connectors.hubspot import HubSpotCrm
from domain import health_properties as hp
from sandbox.server import SandboxHandle

FIRST_ID = 200_000
SWEPT_AT = "2026-05-04T06:00:00Z"


@dataclass(frozen=True)
class Group:
    count: int
    tier: str
    owner_id: str | None
    category: str
    score: str
    previous: str
    delta: str
    low_confidence: bool = False

    def properties(self) -> dict[str, str]:
        props = {
            "cshub_tier": self.tier,
            hp.CATEGORY: self.category,
            hp.CATEGORY_LABEL: self.category.replace("_", " ").title(),
            hp.SCORE: self.score,
            hp.PREVIOUS_SCORE: self.previous,
            hp.DELTA: self.delta,
            hp.MODEL: "seed001 v1",
            hp.LOW_CONFIDENCE: "true" if self.low_confidence else "false",
            hp.SCORED_AT: SWEPT_AT,
        }
        if self.owner_id:
            props["hubspot_owner_id"] = self.owner_id
        return props


GROUPS: tuple[Group, ...] = (
    Group(6, "enterprise", "502", "healthy", "90", "85", "5"),
    Group(8, "starter", "502", "good", "75", "75", "0"),
    Group(7, "professional", "501", "at_risk", "60", "66.5", "-6.5", low_confidence=True),
    Group(4, "community", "503", "critical", "35", "52", "-17"),
    Group(3, "starter", "503", "critical", "40.5", "38", "2.5"),
    Group(2, "community", None, "unknown", "", "", ""),
)
BULK = sum(g.count for g in GROUPS)  # 30


def group_ids(index: int) -> list[str]:
    start = FIRST_ID + sum(g.count for g in GROUPS[:index])
    return [str(start + n) for n in range(GROUPS[index].count)]


async def seed_portfolio(sandbox: SandboxHandle) -> int:
    """Create the groups; blank the demo companies' health. Returns the demo count."""
    async with httpx.AsyncClient(base_url=sandbox.http_url, timeout=10) as http:
        for index, group in enumerate(GROUPS):
            resp = await http.post(
                "/_sandbox/hubspot/companies/bulk",
                json={
                    "count": group.count,
                    "id_start": int(group_ids(index)[0]),
                    "properties": group.properties(),
                },
            )
            assert resp.status_code == 201, resp.text
    crm = HubSpotCrm(access_token="sandbox", base_url=sandbox.http_url, timeout_s=5)
    page = await asyncio.to_thread(crm.list_companies, after=None, limit=100)
    demo = [c.id for c in page.companies if int(c.id) < FIRST_ID]
    assert page.next_after is None and len(demo) + BULK == len(page.companies)
    blank = dict.fromkeys(hp.OUTPUT_PROPERTIES, "")
    await asyncio.to_thread(crm.batch_update_companies, {i: blank for i in demo})
    return len(demo)


async def reset(sandbox: SandboxHandle) -> None:
    async with httpx.AsyncClient(base_url=sandbox.http_url, timeout=10) as http:
        (await http.post("/_sandbox/reset")).raise_for_status()
