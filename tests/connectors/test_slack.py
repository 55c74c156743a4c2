"""SlackChat through the real slack-sdk AsyncWebClient against the sandbox emulator."""

from __future__ import annotations

import uuid

import pytest

from connectors.errors import NotFoundError, PermanentConnectorError, RetryableConnectorError
from connectors.slack import SlackChat
from tests.connectors.connector_sandbox import SandboxClient


def _with_key(messages: list[dict[str, object]], key: str) -> list[dict[str, object]]:
    found = []
    for m in messages:
        meta = m.get("metadata") or {}
        assert isinstance(meta, dict)
        payload = meta.get("event_payload") or {}
        if payload.get("idempotency_key") == key:
            found.append(m)
    return found


async def test_post_twice_same_key_posts_once(slack: SlackChat, sandbox_api: SandboxClient) -> None:
    key = f"test-slack-{uuid.uuid4()}"
    first = await slack.post_message(
        channel="C0CSALERTS",
        text="Health dropped for Brightleaf",
        blocks=None,
        idempotency_key=key,
    )
    second = await slack.post_message(
        channel="C0CSALERTS",
        text="Health dropped for Brightleaf",
        blocks=None,
        idempotency_key=key,
    )
    assert first.created and not second.created
    assert (second.channel, second.ts) == (first.channel, first.ts)
    assert len(_with_key((await sandbox_api.outbox())["slack_messages"], key)) == 1


async def test_post_by_channel_name(slack: SlackChat, sandbox_api: SandboxClient) -> None:
    key = f"test-slack-{uuid.uuid4()}"
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Renewal* in 30 days"}}
    ]
    ref = await slack.post_message(
        channel="#cs-alerts", text="Renewal in 30 days", blocks=blocks, idempotency_key=key
    )
    assert ref.channel == "C0CSALERTS"
    posted = _with_key((await sandbox_api.outbox())["slack_messages"], key)
    assert posted[0]["blocks"] == blocks


async def test_unknown_channel_name_is_permanent(slack: SlackChat) -> None:
    with pytest.raises(NotFoundError, match="no-such-channel"):
        await slack.post_message(
            channel="no-such-channel", text="x", blocks=None, idempotency_key="k"
        )


async def test_unknown_channel_id_is_permanent(slack: SlackChat) -> None:
    with pytest.raises(PermanentConnectorError, match="channel_not_found"):
        await slack.post_message(channel="C0NOPE", text="x", blocks=None, idempotency_key="k")


async def test_lookup_user_id(slack: SlackChat) -> None:
    assert await slack.lookup_user_id("dana.reyes@cshub.example") == "U0DANA"
    assert await slack.lookup_user_id("nobody@cshub.example") is None


async def test_rate_limit_is_retryable_with_retry_after(
    slack: SlackChat, sandbox_api: SandboxClient
) -> None:
    await sandbox_api.fault("slack", 429, retry_after=3, path_contains="users.lookupByEmail")
    with pytest.raises(RetryableConnectorError) as info:
        await slack.lookup_user_id("dana.reyes@cshub.example")
    assert info.value.retry_after == 3


async def test_slow_answer_times_out_as_retryable(sandbox_api: SandboxClient) -> None:
    # The SDK takes whole seconds: 0.3 becomes 1.
    chat = SlackChat("xoxb-sandbox", base_url=f"{sandbox_api.url}/api/", timeout_s=0.3)
    await sandbox_api.fault("slack", None, delay_s=1.5, path_contains="users.lookupByEmail")
    with pytest.raises(RetryableConnectorError, match="lookup_user_id"):
        await chat.lookup_user_id("dana.reyes@cshub.example")
