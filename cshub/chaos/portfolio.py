"""The chaos run's customers: sandbox demo data plus N generated companies, and what the
hub owes each of them for the events the run sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from domain.strict_yaml import load_yaml_file
from domain.tiers import Tier

DEMO_DATA = Path(__file__).resolve().parents[2] / "sandbox" / "demo_data.yaml"
FIRST_COMPANY = 7001
OWNERS = ("501", "502", "503")
TIERS = (Tier.STARTER, Tier.PROFESSIONAL, Tier.ENTERPRISE, Tier.COMMUNITY)

# One real city per UTC offset: the run picks the one where it is early afternoon, so
# no e-mail waits for the customer's morning (quiet hours) while the run lasts.
ZONES = (
    "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver",
    "America/Chicago", "America/New_York", "America/Halifax", "America/Sao_Paulo",
    "Atlantic/South_Georgia", "Atlantic/Azores", "Europe/London", "Europe/Paris",
    "Europe/Athens", "Europe/Moscow", "Asia/Dubai", "Asia/Karachi", "Asia/Dhaka",
    "Asia/Bangkok", "Asia/Singapore", "Asia/Tokyo", "Australia/Brisbane",
    "Pacific/Noumea", "Pacific/Auckland",
)  # fmt: skip


def afternoon_zone(now: datetime | None = None) -> str:
    """The zone whose local time is closest to 13:00 now."""
    moment = now or datetime.now(UTC)

    def distance(zone: str) -> float:
        local = moment.astimezone(ZoneInfo(zone))
        return abs(local.hour + local.minute / 60 - 13)

    return min(ZONES, key=distance)


@dataclass(frozen=True)
class Customer:
    company_id: str
    deal_id: str
    tier: Tier
    dunning: bool
    """Whether the run sends this customer failed payments (every second customer)."""

    @property
    def invoice_id(self) -> str:
        return f"in_chaos{self.company_id}"


def customers(count: int) -> list[Customer]:
    return [
        Customer(
            company_id=str(FIRST_COMPANY + i),
            deal_id=str(FIRST_COMPANY + 10_000 + i),
            tier=TIERS[i % len(TIERS)],
            dunning=i % 2 == 0,
        )
        for i in range(count)
    ]


def write_demo_data(path: Path, portfolio: list[Customer], timezone: str) -> Path:
    """The sandbox's demo data with the portfolio's companies added."""
    data: dict[str, Any] = load_yaml_file(DEMO_DATA)
    for n, c in enumerate(portfolio):
        cid = c.company_id
        data["companies"].append(
            {
                "id": cid,
                "name": f"Chaos Customer {cid}",
                "domain": f"chaos{cid}.example.com",
                "tier": c.tier.value,
                "owner_id": OWNERS[n % len(OWNERS)],
                "timezone": timezone,
                "contacts": [
                    {
                        "id": str(int(cid) + 20_000),
                        "email": f"owner@chaos{cid}.example.com",
                        "first_name": "Casey",
                        "last_name": f"Chaos{cid}",
                        "job_title": "Operations Lead",
                    }
                ],
                "deal": {
                    "id": c.deal_id,
                    "name": f"Chaos Customer {cid} - {c.tier.value.title()}",
                    "amount": 1188,
                    "close_date": "2026-11-01",
                },
            }
        )
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass(frozen=True)
class Owed:
    """What one workflow owes its customer at once (plan day 0)."""

    emails: tuple[str, ...]  # templates
    slack: int
    tasks: int


async def owed_at_start() -> dict[str, Owed]:
    """Day-0 actions by ``"onboarding:<tier>"`` and ``"dunning"``, from the real playbooks
    run on the time-skipping server (``cshub simulate``)."""
    from cshub.simulate import SimulatedAction, simulate_dunning, simulate_onboarding

    def owed(actions: list[SimulatedAction]) -> Owed:
        day0 = [a for a in actions if a.day == 0]
        return Owed(
            # Sent ones only: an e-mail held back by contact pressure is recorded too.
            emails=tuple(
                a.template or "" for a in day0 if a.channel == "email" and a.outcome == "done"
            ),
            slack=sum(1 for a in day0 if a.channel == "slack"),
            tasks=sum(1 for a in day0 if a.channel == "crm_task"),
        )

    found = {f"onboarding:{t.value}": owed(await simulate_onboarding(t, days=0)) for t in TIERS}
    found["dunning"] = owed(await simulate_dunning(days=0))
    return found
