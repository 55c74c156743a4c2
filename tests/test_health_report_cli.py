"""``cshub report health`` against the HubSpot emulator: 30 scored companies plus the
demo ones (never scored); the printed figures were worked out by hand from
tests/health_portfolio.GROUPS, and the chart is a real PNG."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cshub.cli import app
from sandbox.server import SandboxHandle
from tests.health_portfolio import BULK, SWEPT_AT, group_ids, reset, seed_portfolio

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def demo_count(clean_sandbox: SandboxHandle) -> AsyncIterator[int]:
    try:
        yield await seed_portfolio(clean_sandbox)
    finally:
        await reset(clean_sandbox)  # keep the bulk companies out of every other test


def env_for(sandbox: SandboxHandle) -> dict[str, str]:
    return {"CSHUB_ENV": "sandbox", "HUBSPOT_BASE_URL": sandbox.http_url}


async def run_cli(sandbox: SandboxHandle, *args: str) -> str:
    # The emulator runs on this event loop: the blocking CLI goes to a thread.
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["report", "health", *args], env=env_for(sandbox)
    )
    assert result.exit_code == 0, result.output
    return result.output


async def test_report_prints_the_figures_and_writes_a_png(
    sandbox: SandboxHandle, demo_count: int, tmp_path: Path
) -> None:
    chart = tmp_path / "out" / "health.png"
    output = await run_cli(sandbox, "--chart", str(chart))
    total = BULK + demo_count
    lines = output.splitlines()
    assert lines[0] == f"Portfolio health: {total} companies, 28 scored, {demo_count} never scored"
    assert lines[1] == f"last sweep: {SWEPT_AT}"
    assert lines[2] == "models: seed001 v1 (28)"

    def share(n: int) -> str:
        return f"{100 * n / total:.1f} %"

    unknown = 2 + demo_count
    assert f"Healthy           6  {share(6):>6}" in lines
    assert f"Good              8  {share(8):>6}" in lines
    assert f"At risk           7  {share(7):>6}" in lines
    assert f"Critical          7  {share(7):>6}" in lines
    assert f"Unknown   {unknown:>9}  {share(unknown):>6}" in lines
    # (6*90 + 8*75 + 7*60 + 4*35 + 3*40.5) / 28 = 1821.5 / 28 = 65.05...
    assert "average score: 65.05 (of 28 scored)" in lines
    # (6*5 + 8*0 - 7*6.5 - 4*17 + 3*2.5) / 28 = -76 / 28 = -2.71...
    assert (
        f"average delta: -2.71 (improving 9, declining 11, unchanged 8, no trend {unknown})"
        in lines
    )
    assert "low confidence: 7" in lines
    assert "at risk or critical: 14 (worst first)" in lines
    start = lines.index("at risk or critical: 14 (worst first)") + 2
    at_risk = lines[start : start + 14]
    worst = group_ids(3)[0]
    assert at_risk[0].split() == [
        "35", "-17", "Critical", "community", "Bulk", "Company", worst, f"({worst})",
        "Priya", "Natarajan", "(503)",
    ]  # fmt: skip
    assert [row.split()[0] for row in at_risk] == ["35"] * 4 + ["40.5"] * 3 + ["60"] * 7
    assert all("Dana Reyes (501)" in row for row in at_risk[7:])
    assert lines[-1] == f"chart: {chart}"

    data = chart.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000  # two labelled bar charts, not an empty canvas


async def test_json_output(sandbox: SandboxHandle, demo_count: int, tmp_path: Path) -> None:
    chart = tmp_path / "health.png"
    report = json.loads(await run_cli(sandbox, "--json", "--chart", str(chart)))
    assert report["total"] == BULK + demo_count
    assert {c["category"]: c["count"] for c in report["categories"]} == {
        "healthy": 6,
        "good": 8,
        "at_risk": 7,
        "critical": 7,
        "unknown": 2 + demo_count,
    }
    assert report["average_score"] == 65.05
    assert report["trend"]["average_delta"] == -2.71
    tiers = {t["tier"]: t["counts"] for t in report["tiers"]}
    assert tiers["enterprise"]["healthy"] == 6
    assert (tiers["starter"]["good"], tiers["starter"]["critical"]) == (8, 3)
    assert tiers["professional"]["at_risk"] == 7
    assert tiers["community"]["critical"] == 4
    owners = {o["owner_id"]: o for o in report["owners"]}
    assert owners["501"]["owner_name"] == "Dana Reyes"
    assert (owners["503"]["critical"], owners["503"]["average_score"]) == (7, 37.36)
    assert [a["id"] for a in report["at_risk"][:4]] == group_ids(3)
    assert report["chart"] == str(chart)
    assert chart.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["health", "--chart"], "cannot read the portfolio from the CRM at http://127.0.0.1:9"),
        (["executive", "--png"], "cannot read the portfolio (CRM at http://127.0.0.1:9, helpdesk"),
    ],
)
async def test_unreachable_crm_is_a_clear_error(
    command: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both portfolio reports (health, executive) say where they could not read."""
    monkeypatch.setattr("cshub.health_report.CLI_PAGE_ATTEMPTS", 1)  # no 1 s + 2 s back-off
    env = {"CSHUB_ENV": "sandbox", "HUBSPOT_BASE_URL": "http://127.0.0.1:9"}
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["report", *command, str(tmp_path / "x.png")],
        env=env,
    )
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "x.png").exists()


async def test_chart_of_an_empty_portfolio(tmp_path: Path) -> None:
    from cshub.health_report import write_chart
    from domain.health_report import build_portfolio_health

    path = write_chart(build_portfolio_health([]), tmp_path / "empty.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)
