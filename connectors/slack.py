"""Slack implementation of :class:`connectors.base.Chat` (slack-sdk ``AsyncWebClient``).

Idempotent posting
    Each message carries Slack message metadata
    ``{"event_type": "cshub_message", "event_payload": {"idempotency_key": key}}``. Before
    posting, the newest 200 messages of the last 7 days in the channel are read
    (``conversations.history`` with ``include_all_metadata``); when one carries the key it
    is returned with ``created=False``. History is newest-first and a retry follows its
    failed attempt within minutes, so one page is enough in practice; a key re-sent after
    more than 200 newer messages, or after 7 days, would post again. The bot must be a
    member of the channel to read its history (Slack answers ``not_in_channel``).

Channels
    ``channel`` may be a conversation id (``C…``, ``G…``, ``D…``), a channel name
    (``cs-alerts`` or ``#cs-alerts``) or a user id (``U…``/``W…``) for a direct message.
    Slack channel names are lower case, so an upper-case word is always taken as an id.
    Names are resolved through ``conversations.list`` (cached for the client's life, reloaded
    once on a miss); user ids through ``conversations.open`` (cached), so the DM's history
    can be checked like any channel. Needs the scopes ``chat:write``, ``channels:history``,
    ``groups:history``, ``im:history``, ``im:write``, ``channels:read``, ``groups:read``
    and ``users:read.email``.

Failures
    The SDK's own retry handlers are switched off: Temporal retries, using ``retry_after``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, TypeVar, Unpack

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from connectors.base import ChatMessageRef, ChatPost
from connectors.errors import (
    ActivityCancelled,
    ConnectorError,
    NotFoundError,
    PermanentConnectorError,
    RetryableConnectorError,
)
from connectors.http_errors import classify_http, transport_error, unexpected_error

SYSTEM = "slack"
EVENT_TYPE = "cshub_message"
HISTORY_WINDOW_S = 7 * 24 * 3600
HISTORY_LIMIT = 200

_CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]+$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
# Slack `error` codes (HTTP 200, ok=false) that a later attempt can overcome.
_RETRYABLE_CODES = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_NOT_FOUND_CODES = frozenset(
    {"channel_not_found", "user_not_found", "users_not_found", "message_not_found"}
)

T = TypeVar("T")


class SlackChat:
    """Posts to Slack channels and DMs, at most once per idempotency key."""

    def __init__(
        self,
        token: str,
        base_url: str = "https://slack.com/api/",
        timeout_s: float = 10.0,
    ) -> None:
        # A new aiohttp session per request (the SDK's default when none is given) keeps the
        # client usable from any event loop: the worker's, or a test's.
        self._client = AsyncWebClient(
            token=token,
            base_url=base_url,
            timeout=max(1, math.ceil(timeout_s)),
            retry_handlers=[],
        )
        # Plain dicts, no lock: two concurrent misses both list the channels, which is
        # harmless, and a lock would tie the client to one event loop.
        self._channel_ids: dict[str, str] = {}
        self._dm_ids: dict[str, str] = {}

    async def post_message(self, **post: Unpack[ChatPost]) -> ChatMessageRef:
        channel, text, blocks = post["channel"], post["text"], post["blocks"]
        idempotency_key = post["idempotency_key"]
        channel_id = await self._resolve(channel)
        target = f"channel {channel}, key {idempotency_key}"
        existing = await self._find_posted(channel_id, idempotency_key, target)
        if existing is not None:
            return ChatMessageRef(channel=channel_id, ts=existing, created=False)
        resp = await self._call(
            "post_message",
            target,
            lambda: self._client.chat_postMessage(
                channel=channel_id,
                text=text,
                blocks=blocks,
                metadata={
                    "event_type": EVENT_TYPE,
                    "event_payload": {"idempotency_key": idempotency_key},
                },
            ),
        )
        ts = resp.get("ts")
        if not ts:
            raise PermanentConnectorError(
                SYSTEM, "post_message", target, "chat.postMessage answered without a ts"
            )
        return ChatMessageRef(
            channel=str(resp.get("channel") or channel_id), ts=str(ts), created=True
        )

    async def update_message(
        self, *, channel: str, ts: str, text: str, blocks: list[dict[str, object]] | None
    ) -> None:
        """Edit a message the bot posted (``chat.update``): e.g. an alert after a CSM's
        click, to show who did what. Idempotent: the same content twice is the same."""
        await self._call(
            "update_message",
            f"channel {channel}, message {ts}",
            lambda: self._client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks),
        )

    async def open_view(self, *, trigger_id: str, view: dict[str, object]) -> str:
        """Open a modal for the user who clicked (``views.open`` with the interaction's
        ``trigger_id``, valid 3 seconds and once); the view's id."""
        resp = await self._call(
            "open_view",
            f"trigger {trigger_id}",
            lambda: self._client.views_open(trigger_id=trigger_id, view=view),
        )
        opened = resp.get("view") or {}
        return str(opened.get("id") or "") if isinstance(opened, Mapping) else ""

    async def get_message(self, *, channel: str, ts: str) -> dict[str, Any] | None:
        """One message of a channel as it is now (``conversations.history`` around
        ``ts``, inclusive), or None when it is not there."""
        resp = await self._call(
            "get_message",
            f"channel {channel}, message {ts}",
            lambda: self._client.conversations_history(
                channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
            ),
        )
        for message in resp.get("messages") or []:
            if isinstance(message, Mapping) and message.get("ts") == ts:
                return dict(message)
        return None

    async def lookup_user_id(self, email: str) -> str | None:
        try:
            resp = await self._call(
                "lookup_user_id",
                f"email {email}",
                lambda: self._client.users_lookupByEmail(email=email),
            )
        except NotFoundError:
            return None
        user = resp.get("user") or {}
        user_id = user.get("id") if isinstance(user, Mapping) else None
        return str(user_id) if user_id else None

    # -- idempotency -------------------------------------------------------------------------

    async def _find_posted(self, channel_id: str, key: str, target: str) -> str | None:
        """The ts of a recent message in the channel carrying this key, if any."""
        oldest = f"{time.time() - HISTORY_WINDOW_S:.6f}"
        resp = await self._call(
            "post_message",
            target,
            lambda: self._client.conversations_history(
                channel=channel_id, oldest=oldest, limit=HISTORY_LIMIT, include_all_metadata=True
            ),
        )
        for message in resp.get("messages") or []:
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") != EVENT_TYPE:
                continue
            payload = metadata.get("event_payload") or {}
            if payload.get("idempotency_key") == key:
                return str(message.get("ts"))
        return None

    # -- channel resolution ------------------------------------------------------------------

    async def _resolve(self, channel: str) -> str:
        if _CONVERSATION_ID.match(channel):
            return channel
        if _USER_ID.match(channel):
            return await self._dm_channel(channel)
        return await self._channel_by_name(channel.removeprefix("#"))

    async def _dm_channel(self, user_id: str) -> str:
        cached = self._dm_ids.get(user_id)
        if cached:
            return cached
        resp = await self._call(
            "post_message",
            f"user {user_id}",
            lambda: self._client.conversations_open(users=user_id),
        )
        opened = resp.get("channel") or {}
        dm_id = opened.get("id") if isinstance(opened, Mapping) else None
        if not dm_id:
            raise PermanentConnectorError(
                SYSTEM, "post_message", f"user {user_id}", "conversations.open returned no channel"
            )
        self._dm_ids[user_id] = str(dm_id)
        return str(dm_id)

    async def _channel_by_name(self, name: str) -> str:
        if name not in self._channel_ids:
            self._channel_ids = await self._list_channels(name)
        channel_id = self._channel_ids.get(name)
        if channel_id is None:
            raise NotFoundError(
                SYSTEM,
                "post_message",
                f"channel {name}",
                "no such channel visible to the bot (check the name and invite the bot)",
            )
        return channel_id

    async def _list_channels(self, name: str) -> dict[str, str]:
        ids: dict[str, str] = {}
        cursor: str | None = None
        while True:
            resp = await self._call(
                "post_message",
                f"channel {name}",
                partial(
                    self._client.conversations_list,
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=1000,
                    cursor=cursor,
                ),
            )
            for conv in resp.get("channels") or []:
                if conv.get("name") and conv.get("id"):
                    ids[str(conv["name"])] = str(conv["id"])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return ids

    # -- plumbing ----------------------------------------------------------------------------

    async def _call(
        self,
        operation: str,
        target: str,
        fn: Callable[[], Awaitable[AsyncSlackResponse]],
    ) -> AsyncSlackResponse:
        """Await one SDK call; let only ConnectorErrors out."""
        try:
            return await fn()
        except (ConnectorError, ActivityCancelled):
            raise
        except SlackApiError as exc:
            raise _classify_slack(operation, target, exc) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise transport_error(SYSTEM, operation, target, exc) from exc
        except Exception as exc:
            raise unexpected_error(SYSTEM, operation, target, exc) from exc


def _classify_slack(operation: str, target: str, exc: SlackApiError) -> ConnectorError:
    response: Any = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    headers = getattr(response, "headers", None)
    if status != 200:
        return classify_http(SYSTEM, operation, target, status or 500, headers, data)
    code = str(data.get("error", "unknown_error")) if isinstance(data, Mapping) else "unknown"
    detail = code
    if isinstance(data, Mapping) and data.get("needed"):
        detail = f"{code} (needs scope {data['needed']})"
    if code in _RETRYABLE_CODES:
        return RetryableConnectorError(SYSTEM, operation, target, detail, status=status)
    if code in _NOT_FOUND_CODES:
        return NotFoundError(SYSTEM, operation, target, detail, status=status)
    return PermanentConnectorError(SYSTEM, operation, target, detail, status=status)
