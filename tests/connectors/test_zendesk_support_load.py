"""ZendeskHelpdesk.support_load through zenpy against the sandbox emulator: organisation
by external id, search counts and the hub's CSAT tags; and RecordingHelpdesk's twin."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from activities.surveys import CSAT_MARKER_TAG
from connectors.base import CSAT_ANSWERED_TAG, Ticket
from connectors.recording import RecordingHelpdesk
from connectors.zendesk import ZendeskHelpdesk
from sandbox.server import SandboxHandle
from tests.connectors.connector_sandbox import SandboxClient
from tests.support_tickets import add_ticket

BRIGHTLEAF = "1001"  # organisation 9001, no demo tickets
ANA = 8101  # Brightleaf's requester
PIXEL_HARBOR = "1002"  # organisation 9002, no demo tickets
TOM = 8102


def csat(score: int) -> list[str]:
    return [CSAT_ANSWERED_TAG, f"csat_score_{score}"]


def test_the_connector_reads_csat_as_the_survey_activity_writes_it() -> None:
    assert CSAT_ANSWERED_TAG == CSAT_MARKER_TAG


async def test_support_load_counts_one_customers_tickets_and_csat(
    zendesk: ZendeskHelpdesk, clean_sandbox: SandboxHandle, sandbox_api: SandboxClient
) -> None:
    now = datetime.now(UTC)
    url = clean_sandbox.http_url

    async def ticket(days_ago: float, priority: str | None, status: str, *tags: str) -> None:
        created = now - timedelta(days=days_ago)
        await add_ticket(url, ANA, created_at=created, priority=priority, status=status, tags=tags)

    await ticket(2, "urgent", "open")  # open, critical, last 30 d
    await ticket(10, "high", "pending")  # open, last 30 d
    await ticket(20, "urgent", "solved", *csat(5))  # last 30 d, satisfied
    await ticket(5, "normal", "closed", *csat(4))  # last 30 d, satisfied
    await ticket(40, "normal", "hold")  # open, previous 30 d
    await ticket(50, "low", "closed", *csat(2))  # previous 30 d, not satisfied
    await ticket(100, "normal", "solved", *csat(1))  # answered too long ago
    await ticket(65, "normal", "solved")  # nothing
    await ticket(70, "urgent", "new")  # open, critical
    await ticket(3, None, "open", CSAT_ANSWERED_TAG)  # open; a marker with no score
    # Another customer's urgent ticket counts for them only.
    await add_ticket(url, TOM, created_at=now, priority="urgent", status="open")

    load = await asyncio.to_thread(zendesk.support_load, BRIGHTLEAF)
    assert load.customer_id == BRIGHTLEAF
    assert load.organizations == 1
    assert (load.open_tickets, load.critical_open) == (5, 2)
    assert (load.created_last_30d, load.created_prev_30d) == (5, 2)
    assert (load.csat_answers, load.csat_satisfied, load.csat_percent) == (3, 2, 66.7)
    assert abs(load.as_of - now) < timedelta(seconds=30)

    wider = await asyncio.to_thread(
        lambda: zendesk.support_load(BRIGHTLEAF, critical_priorities=["urgent", "high"])
    )
    assert wider.critical_open == 3

    # The organisation by external id, then search counts (one per figure) and one search.
    assert await sandbox_api.requests("zendesk", "/organizations/show_many.json")
    assert len(await sandbox_api.requests("zendesk", "/search/count.json")) >= 4


async def test_windows_start_exactly_30_and_60_days_before_now(
    zendesk: ZendeskHelpdesk, clean_sandbox: SandboxHandle
) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for offset in (
        timedelta(days=30),  # last 30 days (its first second)
        timedelta(days=30, seconds=1),  # previous 30 days (its last second)
        timedelta(days=60),  # previous 30 days (its first second)
        timedelta(days=60, seconds=1),  # before both
        -timedelta(days=1),  # after ``now``: in the last 30 days
    ):
        await add_ticket(clean_sandbox.http_url, TOM, created_at=now - offset, status="solved")
    load = await asyncio.to_thread(lambda: zendesk.support_load(PIXEL_HARBOR, now=now))
    assert load.as_of == now
    assert (load.created_last_30d, load.created_prev_30d) == (2, 2)
    assert (load.open_tickets, load.csat_answers, load.csat_percent) == (0, 0, None)


@pytest.mark.usefixtures("clean_sandbox")
async def test_a_customer_with_no_organisation_has_nothing(zendesk: ZendeskHelpdesk) -> None:
    load = await asyncio.to_thread(zendesk.support_load, "99999")
    assert load.organizations == 0
    assert load.model_dump(exclude={"customer_id", "as_of"}) == {
        "organizations": 0,
        "open_tickets": 0,
        "critical_open": 0,
        "created_last_30d": 0,
        "created_prev_30d": 0,
        "csat_answers": 0,
        "csat_satisfied": 0,
    }


def test_recording_helpdesk_counts_by_the_same_rules() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def t(i: int, days_ago: int, status: str, priority: str | None, *tags: str) -> Ticket:
        at = now - timedelta(days=days_ago)
        return Ticket(
            id=str(i),
            subject="s",
            status=status,
            priority=priority,
            tags=list(tags),
            created_at=at,
            updated_at=at,
            customer_id="c1" if i < 100 else "c2",
        )

    helpdesk = RecordingHelpdesk(
        tickets={
            x.id: x
            for x in (
                t(1, 2, "open", "urgent"),
                t(2, 30, "solved", "normal", *csat(5)),
                t(3, 45, "hold", "high", *csat(3)),
                t(4, 95, "closed", "low", *csat(5)),
                t(101, 1, "open", "urgent"),
            )
        }
    )
    load = helpdesk.support_load("c1", critical_priorities=["urgent"], now=now)
    assert (load.open_tickets, load.critical_open) == (2, 1)
    assert (load.created_last_30d, load.created_prev_30d) == (2, 1)
    assert (load.csat_answers, load.csat_satisfied, load.csat_percent) == (2, 1, 50.0)
    assert helpdesk.support_load("nobody", now=now).organizations == 0


async def test_ticket_facts_of_one_customer_read_its_tickets_metric_sets(
    zendesk: ZendeskHelpdesk, clean_sandbox: SandboxHandle, sandbox_api: SandboxClient
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    url = clean_sandbox.http_url
    mine = await add_ticket(url, ANA, created_at=now - timedelta(days=3), priority="high")
    await add_ticket(url, ANA, created_at=now - timedelta(days=40))  # before the window
    await add_ticket(url, TOM, created_at=now - timedelta(days=3))  # another customer's
    facts = await asyncio.to_thread(
        lambda: zendesk.ticket_facts(now - timedelta(days=30), now, customer_id=BRIGHTLEAF)
    )
    assert [(f.id, f.customer_id, f.priority, f.replies) for f in facts] == [
        (mine, BRIGHTLEAF, "high", 0)
    ]
    # Its own metric set, not every ticket's.
    assert await sandbox_api.requests("zendesk", f"/tickets/{mine}/metrics.json")
    assert not await sandbox_api.requests("zendesk", "/ticket_metrics.json")
    nobody = await asyncio.to_thread(
        lambda: zendesk.ticket_facts(now - timedelta(days=30), now, customer_id="99999")
    )
    assert nobody == []
