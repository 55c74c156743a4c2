"""Helpers for the dunning, churn-prevention and win-back workflow tests."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowExecutionDescription, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from domain.journeys import ActionRecord

# Demo customers' zones (sandbox/demo_data.yaml).
TIMEZONES = {
    "1001": "Europe/Berlin",
    "1002": "America/Chicago",
    "1003": "America/New_York",
    "1004": "Europe/London",
    "1005": "Europe/Paris",
    "1006": "America/Los_Angeles",
    "1007": "Asia/Tokyo",
    "1008": "Australia/Sydney",
    "1009": "America/Denver",
    "1010": "America/Bogota",
}
SEND_HOUR = 10  # the playbooks' send_window.send_hour


async def skip_to_local_hour(
    env: WorkflowEnvironment, customer_id: str, hour: int = 12, *, weekday: bool = False
) -> None:
    """Move the test server's clock to the next ``hour``:00 in the customer's zone, so a
    campaign starts at a known local time (the session clock is wherever earlier tests
    left it, and starts at the wall clock's time). ``weekday``: the next such time on a
    Monday to Friday, inside every business-hours calendar when ``hour`` is."""
    tz = ZoneInfo(TIMEZONES[customer_id])
    now = (await env.get_current_time()).astimezone(tz)
    target = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    while weekday and target.weekday() >= 5:
        target += timedelta(days=1)
    await env.sleep(target - now)


def local_hour(at: datetime, customer_id: str) -> int:
    return at.astimezone(ZoneInfo(TIMEZONES[customer_id])).hour


def emails(box: dict[str, Any], customer_id: str) -> list[tuple[int, str]]:
    """(campaign day, template) of every e-mail to the customer, in sending order."""
    return [
        (int(e["headers"]["X-Cshub-Journey-Day"]), e["template"])
        for e in box["emails"]
        if e["headers"].get("X-Cshub-Customer-Id") == customer_id
    ]


def company_updates(box: dict[str, Any], customer_id: str) -> list[dict[str, Any]]:
    return [
        u["properties"]
        for u in box["crm_updates"]
        if u["type"] == "companies" and str(u["id"]) == customer_id
    ]


def merged_company_update(box: dict[str, Any], customer_id: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for props in company_updates(box, customer_id):
        merged.update(props)
    return merged


def notes(box: dict[str, Any], customer_id: str) -> list[str]:
    return [
        n["properties"]["hs_note_body"]
        for n in box["crm_notes"]
        if {"type": "companies", "id": customer_id} in n["associations"]
    ]


def task_subjects(box: dict[str, Any], customer_id: str) -> list[str]:
    return [
        t["properties"]["hs_task_subject"]
        for t in box["crm_tasks"]
        if {"type": "companies", "id": customer_id} in t["associations"]
    ]


def slack_texts(box: dict[str, Any], word: str) -> list[str]:
    return [m["text"] for m in box["slack_messages"] if word.lower() in m["text"].lower()]


def sent(actions: list[ActionRecord], channel: str) -> list[ActionRecord]:
    return [a for a in actions if a.channel == channel and a.outcome == "done"]


async def stop(handle: WorkflowHandle[Any, Any]) -> None:
    """Terminate a workflow left running (children are abandoned, so they outlive the
    test that started them on the shared test server)."""
    with contextlib.suppress(RPCError):
        desc = await handle.describe()
        if desc.status is WorkflowExecutionStatus.RUNNING:
            await handle.terminate("test done")


async def wait_for(
    handle: WorkflowHandle[Any, Any], seconds: float = 10
) -> WorkflowExecutionDescription:
    """Describe a workflow another one starts (a child), waiting until it exists."""
    for _ in range(int(seconds * 10)):
        try:
            return await handle.describe()
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
        await asyncio.sleep(0.1)
    raise AssertionError(f"workflow {handle.id} was not started")


async def progress_once_started(handle: WorkflowHandle[Any, Any], query: Any) -> Any:
    """The ``progress`` of a workflow another one just started, once it has begun (read
    its playbook and the customer's profile)."""
    for _ in range(100):
        progress = await handle.query(query)
        if progress.status.value != "starting":
            return progress
        await asyncio.sleep(0.1)
    raise AssertionError(f"workflow {handle.id} did not begin")
