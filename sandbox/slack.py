"""Slack Web API methods at ``/api/{method}`` (JSON or form bodies, Bearer token).

Like Slack, application errors are HTTP 200 with ``{"ok": false, "error": ...}``; only
rate limits (429) and injected server faults use other statuses. Implemented methods:
auth.test, chat.postMessage, chat.update, conversations.history/replies/list/info/open,
users.lookupByEmail, users.info, views.open (a trigger id from a replayed click, once,
within 3 s; the opened view is in the outbox's ``slack_views``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from sandbox.appkeys import STORE
from sandbox.errors import slack_error
from sandbox.middleware import BadRequest, read_json
from sandbox.slack_blocks import block_errors, view_errors
from sandbox.slack_state import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    TEAM_NAME,
    SlackChannel,
    SlackMessage,
)
from sandbox.store import Store

JsonDict = dict[str, Any]
Method = Callable[[web.Request, Store, JsonDict], Awaitable[web.Response]]

MAX_TEXT = 40_000


class SlackFail(Exception):
    """An ``ok: false`` answer."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _ok(**fields: Any) -> web.Response:
    return web.json_response({"ok": True, **fields})


async def _params(request: web.Request) -> JsonDict:
    """Query parameters merged with a JSON or form body."""
    params: JsonDict = dict(request.query)
    if request.method == "POST":
        if request.content_type == "application/json":
            body = await read_json(request)
            if body is not None and not isinstance(body, dict):
                raise SlackFail("invalid_json")
            params.update(body or {})
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return params


def _json_field(params: JsonDict, name: str, error: str) -> Any:
    """A structured argument that form bodies carry as a JSON string."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else None
        except json.JSONDecodeError:
            raise SlackFail(error) from None
    return value


def _flag(params: JsonDict, name: str) -> bool:
    return str(params.get(name, "")).lower() in ("1", "true", "yes")


def _ts(params: JsonDict, name: str, default: Decimal) -> Decimal:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise SlackFail(f"invalid_ts_{name}") from None


def _limit(params: JsonDict, default: int, most: int) -> int:
    try:
        return max(1, min(int(params.get("limit") or default), most))
    except ValueError:
        raise SlackFail("invalid_limit") from None


def _cursor_offset(params: JsonDict) -> int:
    cursor = str(params.get("cursor") or "")
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().removeprefix("offset:"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SlackFail("invalid_cursor") from None


def _next_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _channel(store: Store, params: JsonDict) -> SlackChannel:
    """Read methods take channel ids only, as Slack does (names and user ids are not found)."""
    channel = store.slack.channel_by_id(str(params.get("channel") or ""))
    if channel is None:
        raise SlackFail("channel_not_found")
    return channel


def _page(messages: list[SlackMessage], params: JsonDict, key: str = "messages") -> JsonDict:
    offset = _cursor_offset(params)
    limit = _limit(params, 100, 999)
    page = messages[offset : offset + limit]
    more = offset + limit < len(messages)
    return {
        key: [m.to_json() for m in page],
        "has_more": more,
        "pin_count": 0,
        "response_metadata": {"next_cursor": _next_cursor(offset + limit) if more else ""},
    }


# -- methods -----------------------------------------------------------------------


async def auth_test(request: web.Request, store: Store, params: JsonDict) -> web.Response:
    return _ok(
        url=f"{request.scheme}://{request.host}/",
        team=TEAM_NAME,
        user="cshub",
        team_id=TEAM_ID,
        user_id=BOT_USER_ID,
        bot_id=BOT_ID,
        is_enterprise_install=False,
    )


async def chat_post_message(request: web.Request, store: Store, params: JsonDict) -> web.Response:
    if not params.get("channel"):
        raise SlackFail("channel_not_found")
    channel = store.slack.channel_for_post(str(params["channel"]))
    if channel is None:
        raise SlackFail("channel_not_found")
    text = str(params.get("text") or "")
    blocks = _json_field(params, "blocks", "invalid_blocks_format")
    attachments = _json_field(params, "attachments", "invalid_attachments")
    if not text and not blocks and not attachments:
        raise SlackFail("no_text")
    if len(text) > MAX_TEXT:
        raise SlackFail("msg_too_long")
    if blocks is not None:
        errors = block_errors(blocks)
        if errors:
            raise SlackFail(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
    metadata = _json_field(params, "metadata", "invalid_metadata_format")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and metadata["event_type"]
        and isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackFail("invalid_metadata_format")
    thread_ts = str(params["thread_ts"]) if params.get("thread_ts") else None
    if thread_ts is not None and not any(m.ts == thread_ts for m in channel.messages):
        raise SlackFail("thread_not_found")
    message = store.slack.post(channel, text, blocks, metadata, thread_ts)
    store.record_slack_message(channel, message)
    return _ok(channel=channel.id, ts=message.ts, message=message.to_json())


async def chat_update(request: web.Request, store: Store, params: JsonDict) -> web.Response:
    """Edit a message in place (the bot's own); the outbox shows the new text and blocks
    and how many edits there were."""
    channel = store.slack.channel_by_id(str(params.get("channel") or ""))
    if channel is None:
        raise SlackFail("channel_not_found")
    ts = str(params.get("ts") or "")
    found = [m for m in channel.messages if m.ts == ts]
    if not found:
        raise SlackFail("message_not_found")
    text = str(params.get("text") or "")
    blocks = _json_field(params, "blocks", "invalid_blocks_format")
    if not text and not blocks:
        raise SlackFail("no_text")
    if blocks is not None:
        errors = block_errors(blocks)
        if errors:
            raise SlackFail("invalid_blocks", errors=errors)
    message = found[0]
    message.text = text or message.text
    message.blocks = blocks if blocks is not None else message.blocks
    message.edits += 1
    return _ok(channel=channel.id, ts=message.ts, text=message.text, message=message.to_json())


async def conversations_history(
    request: web.Request, store: Store, params: JsonDict
) -> web.Response:
    channel = _channel(store, params)
    oldest = _ts(params, "oldest", Decimal(0))
    latest = _ts(params, "latest", Decimal("Infinity"))
    inclusive = _flag(params, "inclusive")
    selected = [
        m
        for m in reversed(channel.messages)  # newest first
        if (m.thread_ts is None or m.thread_ts == m.ts)
        and (oldest <= Decimal(m.ts) if inclusive else oldest < Decimal(m.ts))
        and (Decimal(m.ts) <= latest if inclusive else Decimal(m.ts) < latest)
    ]
    return _ok(**_page(selected, params))


async def conversations_replies(
    request: web.Request, store: Store, params: JsonDict
) -> web.Response:
    channel = _channel(store, params)
    ts = str(params.get("ts") or "")
    thread = [m for m in channel.messages if m.ts == ts or m.thread_ts == ts]
    if not thread:
        raise SlackFail("thread_not_found")
    return _ok(**_page(thread, params))


async def conversations_list(request: web.Request, store: Store, params: JsonDict) -> web.Response:
    types = str(params.get("types") or "public_channel").split(",")
    channels = [
        c.to_json()
        for c in store.slack.channels.values()
        if ("im" in types if c.im_user else "public_channel" in types)
    ]
    offset, limit = _cursor_offset(params), _limit(params, 100, 1000)
    more = offset + limit < len(channels)
    return _ok(
        channels=channels[offset : offset + limit],
        response_metadata={"next_cursor": _next_cursor(offset + limit) if more else ""},
    )


async def conversations_info(request: web.Request, store: Store, params: JsonDict) -> web.Response:
    return _ok(channel=_channel(store, params).to_json())


async def conversations_open(request: web.Request, store: Store, params: JsonDict) -> web.Response:
    users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
    if len(users) != 1:
        raise SlackFail("not_enough_users" if not users else "too_many_users")
    channel = store.slack.open_dm(users[0])
    if channel is None:
        raise SlackFail("user_not_found")
    return _ok(channel={"id": channel.id}, no_op=False, already_open=False)


async def users_lookup_by_email(
    request: web.Request, store: Store, params: JsonDict
) -> web.Response:
    email = str(params.get("email") or "")
    if not email:
        raise SlackFail("invalid_arguments")
    user = store.slack.user_by_email(email)
    if user is None:
        raise SlackFail("users_not_found")
    return _ok(user=user.to_json())


async def users_info(request: web.Request, store: Store, params: JsonDict) -> web.Response:
    user = store.slack.users.get(str(params.get("user") or ""))
    if user is None:
        raise SlackFail("user_not_found")
    return _ok(user=user.to_json())


async def views_open(request: web.Request, store: Store, params: JsonDict) -> web.Response:
    """Open a modal for the user whose click issued ``trigger_id`` (``sandbox.slack_clicks``)."""
    view = _json_field(params, "view", "invalid_arguments")
    trigger_id = str(params.get("trigger_id") or "")
    if view is None:
        raise SlackFail("invalid_arguments")
    if not trigger_id:
        raise SlackFail("invalid_trigger_id")
    errors = view_errors(view)
    if errors:
        raise SlackFail(
            "invalid_arguments", response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
        )
    user_id, error = store.slack_views.exchange(trigger_id)
    if user_id is None:
        raise SlackFail(error)
    return _ok(view=store.slack_views.open(view, user_id, trigger_id))


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "conversations.list": conversations_list,
    "conversations.info": conversations_info,
    "conversations.open": conversations_open,
    "users.lookupByEmail": users_lookup_by_email,
    "users.info": users_info,
    "views.open": views_open,
}


async def dispatch(request: web.Request) -> web.StreamResponse:
    name = request.match_info["method"]
    method = METHODS.get(name)
    if method is None:
        return slack_error("unknown_method", req_method=name)
    try:
        return await method(request, request.app[STORE], await _params(request))
    except SlackFail as fail:
        return slack_error(fail.error, **fail.extra)
    except BadRequest:
        return slack_error("invalid_json")


def setup(app: web.Application) -> None:
    pattern = r"/api/{method:[a-zA-Z]+\.[a-zA-Z.]+}"
    app.router.add_get(pattern, dispatch)
    app.router.add_post(pattern, dispatch)
