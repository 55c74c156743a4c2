"""A sandbox with a state file (``cshub dev``) comes back after a restart as it was:
CRM changes, Slack messages, e-mails and the outbox; only a reset starts over; a file it
cannot read is set aside with a warning, never silently used or lost."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.server import SandboxHandle, start_sandbox


async def send_some(handle: SandboxHandle) -> None:
    slack = AsyncWebClient(token="xoxb-sandbox", base_url=f"{handle.http_url}/api/")
    await slack.chat_postMessage(
        channel="C0CSALERTS",
        text="Quill &amp; Co needs a call",
        metadata={"event_type": "cshub_message", "event_payload": {"idempotency_key": "k/1"}},
    )
    async with httpx.AsyncClient(base_url=handle.http_url, timeout=10) as http:
        resp = await http.patch(
            "/crm/v3/objects/companies/1004",
            json={"properties": {"cshub_health_score": "61.5"}},
            headers={"Authorization": "Bearer sandbox"},
        )
        resp.raise_for_status()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@cshub.example", "b@quill.example", "Hello"
    msg["Message-ID"] = "<k-2@cshub.example>"
    msg.set_content("Hi")
    with smtplib.SMTP(handle.smtp_host, handle.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)


async def outbox(handle: SandboxHandle) -> dict[str, list[dict[str, object]]]:
    async with httpx.AsyncClient(base_url=handle.http_url, timeout=10) as http:
        box: dict[str, list[dict[str, object]]] = (await http.get("/api/outbox")).json()
        company = (
            await http.get(
                "/crm/v3/objects/companies/1004?properties=cshub_health_score",
                headers={"Authorization": "Bearer sandbox"},
            )
        ).json()
    box["company"] = [company["properties"]]
    return box


async def test_a_restart_keeps_the_state_and_only_a_reset_starts_over(tmp_path: Path) -> None:
    state = tmp_path / "sandbox-state.pickle"
    first = await start_sandbox(http_port=0, smtp_port=0, state_file=state)
    assert not first.restored
    await send_some(first)
    before = await outbox(first)
    await first.stop()
    assert state.stat().st_mode & 0o777 == 0o600

    second = await start_sandbox(http_port=0, smtp_port=0, state_file=state)
    try:
        assert second.restored
        after = await outbox(second)
        assert after == before
        assert [m["text"] for m in after["slack_messages"]] == ["Quill &amp; Co needs a call"]
        assert [e["message_id"] for e in after["emails"]] == ["<k-2@cshub.example>"]
        assert after["company"][0]["cshub_health_score"] == "61.5"
        async with httpx.AsyncClient(base_url=second.http_url, timeout=10) as http:
            (await http.post("/_sandbox/reset")).raise_for_status()
    finally:
        await second.stop()

    third = await start_sandbox(http_port=0, smtp_port=0, state_file=state)
    try:
        reset = await outbox(third)
        assert reset["slack_messages"] == [] and reset["emails"] == []
        assert reset["company"][0].get("cshub_health_score") != "61.5"
    finally:
        await third.stop()


async def test_an_unreadable_state_is_set_aside_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "sandbox-state.pickle"
    state.write_bytes(b"not a pickle")
    with caplog.at_level(logging.WARNING, logger="cshub.sandbox"):
        handle = await start_sandbox(http_port=0, smtp_port=0, state_file=state)
    try:
        assert not handle.restored
        assert (tmp_path / "sandbox-state.pickle.unreadable").read_bytes() == b"not a pickle"
        assert "cannot read the saved state" in caplog.text and str(state) in caplog.text
        async with httpx.AsyncClient(base_url=handle.http_url, timeout=10) as http:
            companies = (
                await http.get(
                    "/crm/v3/objects/companies?limit=100",
                    headers={"Authorization": "Bearer sandbox"},
                )
            ).json()
        assert len(companies["results"]) == 10  # the demo data
    finally:
        await handle.stop()
