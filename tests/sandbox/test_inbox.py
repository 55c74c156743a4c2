"""The inbox page, the outbox document's shape, and the demo data."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import ValidationError

from sandbox.demo_data import DEFAULT_DATA_FILE, load_demo_data
from sandbox.server import start_sandbox


async def test_inbox_page_is_self_contained_html(http: httpx.AsyncClient) -> None:
    page = await http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "sandbox inbox" in html and "/api/outbox" in html
    assert not re.search(r"""(src|href)=["']https?://""", html)  # no external assets
    assert "<link" not in html


async def test_outbox_document_shape(http: httpx.AsyncClient) -> None:
    outbox = (await http.get("/api/outbox")).json()
    assert set(outbox) == {
        "emails",
        "slack_messages",
        "crm_tasks",
        "crm_notes",
        "crm_updates",
        "ticket_changes",
        "slack_views",
    }


async def test_directory(http: httpx.AsyncClient) -> None:
    data = (await http.get("/_sandbox/data")).json()
    assert [c["id"] for c in data["companies"]] == [f"100{i}" for i in range(1, 10)] + ["1010"]
    assert data["companies"][2]["primary_contact"] == "grace.kim@northwind.example.com"
    assert data["endpoints"]["http"] == str(http.base_url).rstrip("/")
    assert {c["name"] for c in data["slack_channels"]} == {
        "cs-alerts",
        "cs-escalations",
        "cs-ops",
        "support-leads",
    }


def test_demo_data_covers_every_tier() -> None:
    data = load_demo_data()
    tiers = {c.id: c.tier for c in data.companies}
    assert tiers == {
        "1001": "community",
        "1002": "community",
        "1003": "starter",
        "1004": "starter",
        "1005": "professional",
        "1006": "professional",
        "1007": "enterprise",
        "1008": "enterprise",
        "1009": "starter",  # primary contact unsubscribed
        "1010": "professional",  # Spanish-speaking contact
    }
    assert len(data.owners) == 3
    assert {o.external_id for o in data.zendesk.organizations} == set(tiers)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("companies", 0, "timezone"), "Mars/Olympus", "unknown IANA time zone"),
        (("companies", 0, "owner_id"), "999", "unknown owner_id 999"),
        (("companies", 0, "tier"), "gold", "community"),
        (("zendesk", "tickets", 0, "group_id"), 4242, "unknown group_id 4242"),
    ],
)
def test_invalid_demo_data_is_rejected(
    tmp_path: Path, path: tuple[str | int, ...], value: object, message: str
) -> None:
    raw = yaml.safe_load(DEFAULT_DATA_FILE.read_text())
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValidationError, match=message):
        load_demo_data(broken)


async def test_custom_data_file(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_DATA_FILE.read_text())
    raw["companies"][0]["name"] = "Custom Co"
    custom = tmp_path / "custom.yaml"
    custom.write_text(yaml.safe_dump(raw))
    handle = await start_sandbox(http_port=0, smtp_port=0, data_file=custom)
    try:
        async with httpx.AsyncClient(base_url=handle.http_url) as client:
            company = await client.get(
                "/crm/v3/objects/companies/1001", headers={"Authorization": "Bearer t"}
            )
            assert company.json()["properties"]["name"] == "Custom Co"
    finally:
        await handle.stop()
