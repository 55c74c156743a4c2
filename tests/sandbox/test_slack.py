"""The Slack emulator driven by the real slack-sdk clients (sync and async)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Health dropped"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Brightleaf Studio* is at 62"}},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "CSM: <@U0DANA>"}]},
]
METADATA = {"event_type": "cshub_alert", "event_payload": {"idempotency_key": "health-1001:w42"}}


async def test_post_message_sync_client(http: httpx.AsyncClient, slack: WebClient) -> None:
    response = await asyncio.to_thread(
        slack.chat_postMessage, channel="C0CSALERTS", text="Health dropped", blocks=BLOCKS
    )
    assert response["ok"] and response["channel"] == "C0CSALERTS"
    assert response["message"]["blocks"] == BLOCKS
    [posted] = (await http.get("/api/outbox")).json()["slack_messages"]
    assert (posted["channel"], posted["channel_name"]) == ("C0CSALERTS", "cs-alerts")
    assert posted["ts"] == response["ts"]
    assert posted["text"] == "Health dropped"
    assert posted["blocks"] == BLOCKS
    assert posted["metadata"] is None
    assert posted["posted_at"].endswith("Z")


async def test_history_returns_metadata_newest_first(
    http: httpx.AsyncClient, async_slack: AsyncWebClient
) -> None:
    first = await async_slack.chat_postMessage(
        channel="#cs-escalations", text="one", metadata=METADATA
    )
    second = await async_slack.chat_postMessage(channel="cs-escalations", text="two")
    assert first["channel"] == second["channel"] == "C0ESCALATE"
    history = await async_slack.conversations_history(
        channel="C0ESCALATE", include_all_metadata=True, limit=50
    )
    assert [m["text"] for m in history["messages"]] == ["two", "one"]
    assert history["messages"][1]["metadata"] == METADATA
    newer = await async_slack.conversations_history(channel="C0ESCALATE", oldest=first["ts"])
    assert [m["text"] for m in newer["messages"]] == ["two"]
    paged = await async_slack.conversations_history(channel="C0ESCALATE", limit=1)
    assert paged["has_more"] is True and paged["response_metadata"]["next_cursor"]
    with pytest.raises(SlackApiError) as info:  # read methods want ids, not names
        await async_slack.conversations_history(channel="cs-escalations")
    assert info.value.response["error"] == "channel_not_found"


async def test_lookup_by_email(http: httpx.AsyncClient, async_slack: AsyncWebClient) -> None:
    found = await async_slack.users_lookupByEmail(email="Priya.Natarajan@cshub.example")
    assert found["user"]["id"] == "U0PRIYA"
    assert found["user"]["profile"]["email"] == "priya.natarajan@cshub.example"
    with pytest.raises(SlackApiError) as info:
        await async_slack.users_lookupByEmail(email="nobody@cshub.example")
    assert info.value.response.status_code == 200
    assert info.value.response["error"] == "users_not_found"


async def test_unknown_channel(http: httpx.AsyncClient, async_slack: AsyncWebClient) -> None:
    for channel in ("C0NOPE", "#no-such-channel"):
        with pytest.raises(SlackApiError) as info:
            await async_slack.chat_postMessage(channel=channel, text="x")
        assert info.value.response["error"] == "channel_not_found"
    assert (await http.get("/api/outbox")).json()["slack_messages"] == []


async def test_direct_message_to_user_id(
    http: httpx.AsyncClient, async_slack: AsyncWebClient
) -> None:
    posted = await async_slack.chat_postMessage(channel="U0DANA", text="Your task is due")
    assert posted["channel"] == "D0DANA"
    opened = await async_slack.conversations_open(users="U0DANA")
    assert opened["channel"]["id"] == "D0DANA"
    history = await async_slack.conversations_history(channel="D0DANA")
    assert [m["text"] for m in history["messages"]] == ["Your task is due"]
    [recorded] = (await http.get("/api/outbox")).json()["slack_messages"]
    assert (recorded["channel"], recorded["channel_name"]) == ("D0DANA", "@dana.reyes")


async def test_invalid_blocks_and_metadata(
    http: httpx.AsyncClient, async_slack: AsyncWebClient
) -> None:
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError) as info:
        await async_slack.chat_postMessage(channel="C0OPS", text="t", blocks=too_long)
    assert info.value.response["error"] == "invalid_blocks"
    assert "/blocks/0/text/text" in info.value.response["errors"][0]
    with pytest.raises(SlackApiError) as info:
        await async_slack.chat_postMessage(channel="C0OPS", text="t", metadata={"event_type": "x"})
    assert info.value.response["error"] == "invalid_metadata_format"
    with pytest.raises(SlackApiError) as info, pytest.warns(UserWarning, match="text"):
        await async_slack.chat_postMessage(channel="C0OPS")
    assert info.value.response["error"] == "no_text"


async def test_form_body_and_auth(http: httpx.AsyncClient) -> None:
    posted = await http.post(
        "/api/chat.postMessage",
        data={"channel": "C0OPS", "text": "digest", "blocks": '[{"type": "divider"}]'},
        headers={"Authorization": "Bearer xoxb-sandbox"},
    )
    assert posted.json()["ok"] is True
    assert posted.json()["message"]["blocks"] == [{"type": "divider"}]
    legacy = await http.post("/api/auth.test", data={"token": "xoxb-sandbox"})
    assert legacy.json()["ok"] is True
    anonymous = await http.post("/api/chat.postMessage", json={"channel": "C0OPS", "text": "x"})
    assert (anonymous.status_code, anonymous.json()) == (200, {"ok": False, "error": "not_authed"})
    unknown = await http.post("/api/chat.fly", headers={"Authorization": "Bearer x"})
    assert unknown.json()["error"] == "unknown_method"


async def test_conversations_list_and_auth_test(
    http: httpx.AsyncClient, async_slack: AsyncWebClient
) -> None:
    listed = await async_slack.conversations_list()
    assert {(c["id"], c["name"]) for c in listed["channels"]} == {
        ("C0CSALERTS", "cs-alerts"),
        ("C0ESCALATE", "cs-escalations"),
        ("C0OPS", "cs-ops"),
        ("C0SUPPORT", "support-leads"),
    }
    me = await async_slack.auth_test()
    assert me["user_id"] == "U0CSHUBBOT"


async def test_injected_429(http: httpx.AsyncClient, async_slack: AsyncWebClient) -> None:
    fault = {
        "system": "slack",
        "status": 429,
        "retry_after": 7,
        "path_contains": "chat.postMessage",
    }
    await http.post("/_sandbox/faults", json=fault)
    with pytest.raises(SlackApiError) as info:
        await async_slack.chat_postMessage(channel="C0OPS", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.response["error"] == "ratelimited"
    assert (await async_slack.chat_postMessage(channel="C0OPS", text="x"))["ok"]
