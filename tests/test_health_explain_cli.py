"""``cshub health explain`` for a known customer, against the HubSpot emulator, checked
line by line against the hand computation (seed 001's "Acme Healthcare" view)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from cshub.cli import app
from domain import health_properties as hp
from runtime.settings import Settings
from sandbox.server import SandboxHandle
from wiring.connectors import build_connectors

# 17/20 seats, 18/25 features, 39/50 runs; 28 days to value, ROI 150 %, 3 use cases;
# ratings; NPS 8.5; 0 critical tickets; last CSM touch 12 days ago.
ACME = {
    "cshub_active_users": "17",
    "cshub_licensed_seats": "20",
    "cshub_features_adopted": "18",
    "cshub_features_available": "25",
    "cshub_workflow_runs": "39",
    "cshub_workflow_limit": "50",
    "cshub_days_to_first_value": "28",
    "cshub_roi_percent": "150",
    "cshub_use_cases_expanded_90d": "3",
    "cshub_health_engagement": "excellent",
    "cshub_nps_last_score": "8.5",
    "cshub_health_feedback": "excellent",
    "cshub_health_integration": "excellent",
    "cshub_health_performance": "excellent",
    "cshub_health_security": "good",
    "cshub_critical_tickets_open": "0",
    "cshub_health_upgrade_readiness": "good",
    "cshub_health_account_expansion": "good",
}
LAST_SWEEP = {
    hp.SCORE: "80.00",
    hp.CATEGORY: "good",
    hp.CATEGORY_LABEL: "Good",
    hp.MODEL: "seed001 v3",
    hp.BREAKDOWN: json.dumps(
        {
            "product_usage": 91.67,
            "business_value": 91.67,
            "engagement": 62.5,
            "technical_health": 93.75,
            "growth_potential": 75.0,
        }
    ),
    hp.SCORED_AT: "2026-11-20T06:00:00Z",
}


async def explain(sandbox: SandboxHandle, customer: str) -> tuple[int, str]:
    env = {"CSHUB_ENV": "sandbox", "HUBSPOT_BASE_URL": sandbox.http_url}
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["health", "explain", customer], env=env
    )
    return result.exit_code, result.output


async def test_explain_matches_the_hand_computation(
    clean_sandbox: SandboxHandle, hub_settings: Settings
) -> None:
    touched = (datetime.now(UTC) - timedelta(days=12)).date().isoformat()
    crm = build_connectors(hub_settings).crm
    await asyncio.to_thread(
        crm.update_company, "1007", {**ACME, **LAST_SWEEP, "notes_last_contacted": touched}
    )
    code, out = await explain(clean_sandbox, "1007")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[:4] == [
        "Atlas Manufacturing (customer 1007) · tier enterprise",
        "Last sweep: 2026-11-20T06:00:00Z · recorded 80.00 Good",
        "Compared with: the last sweep's score (the inputs changed since)",
        "",
    ]
    # 0.30 x 91.6667 + 0.25 x 91.6667 + 0.20 x 100 + 0.15 x 93.75 + 0.10 x 75 = 91.98
    assert lines[4:9] == [
        "Score: 91.98 Healthy (healthy)",
        "Model: seed001 v3",
        "Confidence: normal",
        "Previous: 80.00 Good; change +11.98",
        "Crossed up: Good → Healthy (entered healthy)",
    ]
    table = lines[lines.index(next(x for x in lines if x.startswith("dimension"))) :][:7]
    assert table[1:] == [
        "product_usage          0.30    0.3000   91.67        27.50   +0.00",
        "business_value         0.25    0.2500   91.67        22.92   +0.00",
        "engagement             0.20    0.2000  100.00        20.00  +37.50",
        "technical_health       0.15    0.1500   93.75        14.06   +0.00",
        "growth_potential       0.10    0.1000   75.00         7.50   +0.00",
        "total                                                91.98",
    ]
    assert "  engagement.csm_touch: days_since_csm_touch=12 → <= 30 → 100" in lines
    assert (
        "  product_usage.active_users: active_users=17, licensed_seats=20 → 85.0% > 80 → 100"
        in lines
    )


async def test_explain_unknown_customer_and_never_scored(
    clean_sandbox: SandboxHandle,
) -> None:
    code, out = await explain(clean_sandbox, "999999")
    assert code != 0 and "no CRM company with id 999999" in out
    code, out = await explain(clean_sandbox, "1001")  # demo data: no inputs, never scored
    assert code == 0, out
    lines = out.splitlines()
    assert lines[1] == "Last sweep: never scored"
    assert lines[2] == "Compared with: nothing (no score recorded yet)"
    assert "Score: unknown (no data) (unknown)" in lines
    assert "Previous: none" in lines
