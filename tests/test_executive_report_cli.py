"""``cshub report executive`` against the HubSpot and Zendesk emulators: a generated
portfolio (bulk companies with renewal, churn, onboarding and NPS properties; tickets
imported with their replies, solve times and CSAT tags) whose figures were worked out by
hand below; the CLI prints them next to their targets and writes a PNG."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from connectors.hubspot import HubSpotCrm
from cshub.cli import app
from domain import executive_report as er
from sandbox.server import SandboxHandle

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIRST_ID = 300_000
SINCE, UNTIL = "2026-01-01", "2026-04-01"  # 90 days: 3 months of 30 days


@dataclass(frozen=True)
class Group:
    count: int
    tier: str
    owner: str
    props: dict[str, str] = field(default_factory=dict)


GROUPS: tuple[Group, ...] = (
    # A: renewed flat in the period, promoters
    Group(4, "starter", "501", {
        er.CUSTOMER_SINCE: "2025-06-01", er.RENEWAL_OUTCOME: "renewed",
        er.RENEWAL_DECIDED_AT: "2026-02-10", er.ARR_BEFORE_RENEWAL: "1188", er.ARR: "1188",
        er.NPS_LAST_SCORE: "9",
    }),
    # B: churned at their renewal in the period, detractors (no longer counted in NPS)
    Group(2, "starter", "501", {
        er.CUSTOMER_SINCE: "2025-05-01", er.CHURNED_AT: "2026-03-01",
        er.RENEWAL_OUTCOME: "churned", er.RENEWAL_DECIDED_AT: "2026-03-01",
        er.ARR_BEFORE_RENEWAL: "1188", er.ARR: "0", er.NPS_LAST_SCORE: "3",
    }),
    # C: renewed with an expansion, promoters
    Group(3, "professional", "502", {
        er.CUSTOMER_SINCE: "2025-03-01", er.RENEWAL_OUTCOME: "renewed",
        er.RENEWAL_DECIDED_AT: "2026-01-15", er.ARR_BEFORE_RENEWAL: "11988", er.ARR: "15000",
        er.NPS_LAST_SCORE: "10",
    }),
    # D: no renewal yet, a detractor
    Group(1, "professional", "502", {er.CUSTOMER_SINCE: "2025-12-01", er.NPS_LAST_SCORE: "5"}),
    # E: new in the period (not a customer at its start); onboarding not due yet
    Group(5, "community", "503", {
        er.CUSTOMER_SINCE: "2026-01-05", er.ONBOARDING_STARTED_AT: "2026-01-05",
        er.DAYS_TO_FIRST_VALUE: "3", er.ONBOARDING_SURVEY_SCORE: "9",
        er.ONBOARDING_SURVEY_ANSWERED: "2026-02-04",
    }),
    # F1 / F2: onboarding started on the first day, due by the end: one completed
    Group(1, "enterprise", "503", {
        er.CUSTOMER_SINCE: "2025-12-20", er.ONBOARDING_STARTED_AT: "2026-01-01",
        er.ONBOARDING_COMPLETED_AT: "2026-03-15", er.DAYS_TO_FIRST_VALUE: "5",
        er.NPS_LAST_SCORE: "8",
    }),
    Group(1, "enterprise", "503", {
        er.CUSTOMER_SINCE: "2025-12-20", er.ONBOARDING_STARTED_AT: "2026-01-01",
        er.DAYS_TO_FIRST_VALUE: "12", er.NPS_LAST_SCORE: "9", er.ONBOARDING_SURVEY_SCORE: "4",
        er.ONBOARDING_SURVEY_ANSWERED: "2026-03-31",
    }),
)  # fmt: skip

AGENT = 8001
NORTHWIND, HELIOS = 8103, 8106  # requesters of companies 1003 (starter) and 1005 (prof.)


def _ticket(
    requester: int,
    priority: str,
    created: str,
    replies_after_min: list[int],
    solved_after_min: int | None,
    tags: list[str],
) -> dict[str, object]:
    from datetime import datetime, timedelta

    at = datetime.fromisoformat(created)
    comments: list[dict[str, object]] = [
        {"author_id": requester, "value": "It broke.", "created_at": created}
    ]
    comments += [
        {
            "author_id": AGENT,
            "value": "Looking into it.",
            "created_at": (at + timedelta(minutes=m)).isoformat(),
        }
        for m in replies_after_min
    ]
    body: dict[str, object] = {
        "subject": "Report test",
        "requester_id": requester,
        "priority": priority,
        "created_at": created,
        "tags": tags,
        "comments": comments,
        "status": "solved" if solved_after_min is not None else "open",
    }
    if solved_after_min is not None:
        body["solved_at"] = (at + timedelta(minutes=solved_after_min)).isoformat()
    return body


TICKETS = (
    # T1 high: reply 30 min (<= 60), solved 5 h (<= 8 h), one reply, CSAT 5
    _ticket(NORTHWIND, "high", "2026-02-01T10:00:00+00:00", [30], 300, ["cshub_csat", "csat_score_5"]),
    # T2 urgent: reply 20 min (> 15), two replies, solved 3 h (<= 4 h), escalated, CSAT 3
    _ticket(HELIOS, "urgent", "2026-02-02T10:00:00+00:00", [20, 60], 180,
            ["cshub_sla_breached", "cshub_csat", "csat_score_3"]),
    # T3 normal: reply 2 h (<= 4 h), solved 30 h (> 24 h), one reply, CSAT 4
    _ticket(NORTHWIND, "normal", "2026-03-01T09:00:00+00:00", [120], 1800, ["csat_score_4"]),
    # T4 low: reply 10 h (<= 24 h), still open
    _ticket(HELIOS, "low", "2026-03-10T09:00:00+00:00", [600], None, []),
    # T5 before the period: not counted
    _ticket(NORTHWIND, "normal", "2025-12-20T09:00:00+00:00", [5], 10, ["csat_score_1"]),
    # T6 high: no reply yet, escalated
    _ticket(HELIOS, "high", "2026-03-20T09:00:00+00:00", [], None, ["cshub_sla_breached"]),
)  # fmt: skip


async def seed(sandbox: SandboxHandle) -> None:
    blank = dict.fromkeys(er.COMPANY_PROPERTIES, "")
    async with httpx.AsyncClient(base_url=sandbox.http_url, timeout=10) as http:
        start = FIRST_ID
        for group in GROUPS:
            props = {**blank, "cshub_tier": group.tier, "hubspot_owner_id": group.owner}
            resp = await http.post(
                "/_sandbox/hubspot/companies/bulk",
                json={
                    "count": group.count,
                    "id_start": start,
                    "properties": {**props, **group.props},
                },
            )
            assert resp.status_code == 201, resp.text
            start += group.count
        auth = ("automation@cshub.example/token", "sandbox")
        for body in TICKETS:
            resp = await http.post("/api/v2/imports/tickets.json", json={"ticket": body}, auth=auth)
            assert resp.status_code == 201, resp.text
    crm = HubSpotCrm(access_token="sandbox", base_url=sandbox.http_url, timeout_s=5)
    page = await asyncio.to_thread(crm.list_companies, after=None, limit=100)
    demo = [c.id for c in page.companies if int(c.id) < FIRST_ID]
    await asyncio.to_thread(crm.batch_update_companies, {i: blank for i in demo})


@pytest.fixture
async def portfolio(clean_sandbox: SandboxHandle) -> AsyncIterator[SandboxHandle]:
    try:
        await seed(clean_sandbox)
        yield clean_sandbox
    finally:
        async with httpx.AsyncClient(base_url=clean_sandbox.http_url) as http:
            (await http.post("/_sandbox/reset")).raise_for_status()


async def run_cli(sandbox: SandboxHandle, *args: str) -> str:
    env = {
        "CSHUB_ENV": "sandbox",
        "HUBSPOT_BASE_URL": sandbox.http_url,
        "ZENDESK_BASE_NETLOC": sandbox.http_url.removeprefix("http://"),
        "ZENDESK_SCHEME": "http",
    }
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["report", "executive", "--since", SINCE, "--until", UNTIL, *args],
        env=env,
    )
    assert result.exit_code == 0, result.output
    return result.output


# Worked out by hand from GROUPS and TICKETS:
# customers at the start: A4 + B2 + C3 + D1 + F2 = 12 (E joined in the period); churned: B2
# renewals decided: A4 renewed, B2 churned, C3 renewed (expanded) = 9
# ARR before 4*1188 + 2*1188 + 3*11988 = 43092; gross 4*1188 + 3*11988 = 40716;
# net 4*1188 + 3*15000 = 49752
# onboardings started in the period: E5 (3 days), F1 (5), F2 (12); due by the end: F1, F2
# NPS of customers active at the end: 4x9, 3x10, 5, 8, 9 -> 8 promoters, 1 detractor of 10
# tickets created in the period: T1 T2 T3 T4 T6; solved T1 T2 T3; one-touch T1 T3;
# escalated T2 T6; CSAT 5, 3, 4; answered T1-T4, in time T1 T3 T4; solved in time T1 T2
EXPECTED: dict[str, float] = {
    "retention": 83.3,  # 10 / 12
    "churn_monthly": 5.56,  # 2 / 12 / 3 months
    "grr": 94.5,  # 40716 / 43092
    "nrr": 115.5,  # 49752 / 43092
    "renewal_rate": 77.8,  # 7 / 9
    "expansion_rate": 33.3,  # 3 / 9
    "time_to_first_value": 3,  # median of 3,3,3,3,3,5,12
    "onboarding_completion": 50.0,  # 1 / 2
    "onboarding_satisfaction": 8.17,  # (5 x 9 + 4) / 6 surveys answered in the period
    "first_contact_resolution": 66.7,  # 2 / 3
    "escalation_rate": 40.0,  # 2 / 5
    "csat_average": 4.0,  # (5 + 3 + 4) / 3
    "csat_share": 66.7,  # 2 / 3
    "response_compliance": 75.0,  # 3 / 4
    "resolution_compliance": 66.7,  # 2 / 3
    "nps": 70.0,  # 80 % - 10 %
}


async def test_figures_equal_the_hand_computation(portfolio: SandboxHandle, tmp_path: Path) -> None:
    chart = tmp_path / "exec" / "report.png"
    body = json.loads(await run_cli(portfolio, "--json", "--png", str(chart)))
    figures = {v["key"]: v["value"] for v in body["portfolio"]["values"]}
    assert figures == EXPECTED
    meets = {v["key"]: v["meets"] for v in body["portfolio"]["values"]}
    assert meets["retention"] is False and meets["nps"] is True  # > 40 (seed 003)
    assert meets["expansion_rate"] is True and meets["grr"] is None  # no seed target
    assert chart.read_bytes()[:8] == PNG_SIGNATURE and body["chart"] == str(chart)
    tiers = {s["name"]: s for s in body["tiers"]}
    starter = {v["key"]: v["value"] for v in tiers["starter"]["values"]}
    assert starter["renewal_rate"] == 66.7  # 4 / 6
    assert starter["csat_average"] == 4.5  # T1 5 and T3 4 (company 1003, a starter)
    csms = {s["name"]: s for s in body["csms"]}
    dana = {v["key"]: v["value"] for v in csms["Dana Reyes"]["values"]}
    assert dana["retention"] == 66.7 and dana["nrr"] == 66.7  # A4 of A4 + B2


async def test_the_table_names_targets_seeds_and_sources(
    portfolio: SandboxHandle, tmp_path: Path
) -> None:
    output = await run_cli(portfolio, "--png", str(tmp_path / "r.png"))
    main = output.split("By tier")[0].splitlines()  # the portfolio's table
    rows = {line.split("  ")[0]: line for line in main}
    assert "77.8 %" in rows["Renewal rate"] and "> 95 %" in rows["Renewal rate"]
    assert "4.00 / 5" in rows["CSAT average (1-5)"] and ">= 4.5 / 5" in rows["CSAT average (1-5)"]
    assert "Zendesk ticket metrics (replies)" in rows["First-contact resolution"]
    assert "HubSpot company cshub_nps_last_score" in rows["NPS"]
    assert "> 40 (seed 003; seed 002 asks 70+)" in rows["NPS"]
    assert "\u2717" in rows["Response-time compliance"]  # 75 % < 95 %
    assert "By tier" in output and "By CSM" in output
    assert output.rstrip().endswith(f"chart: {tmp_path / 'r.png'}")
