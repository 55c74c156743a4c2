"""Replay a button click as Slack sends it: ``POST /_sandbox/slack/click``; and the
submission of a modal the hub opened: ``POST /_sandbox/slack/submit``.

Body (JSON): ``channel``, ``ts`` (a message in the sandbox), ``action_id`` (one of its
buttons), ``user_id`` (default ``U0DANA``), ``signing_secret``, optional ``timestamp``
(unix seconds; default now: give an old one to sign a stale request) and ``url`` (when
given, the sandbox POSTs the click there and includes the answer).

Answers ``{"body", "headers", "status"?, "response"?}``: the form-encoded ``payload=``
body of a ``block_actions`` interaction and its ``X-Slack-Signature`` /
``X-Slack-Request-Timestamp`` headers (``v0=`` hex HMAC-SHA256 of ``v0:{ts}:{body}``), so
a test can send it again (Slack's retry) or change a byte (a forgery). The click's
``trigger_id`` opens a modal once, within 3 seconds (``views.open``).

``/_sandbox/slack/submit`` body: ``view_id`` (a view opened with ``views.open``),
``values`` (``{block_id: value}``: the option value of a select, the text of an input),
``signing_secret``, optional ``timestamp`` and ``url``: a signed ``view_submission``
payload shaped as Slack sends it (the user who opened the view, ``view.state.values``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from sandbox.appkeys import STORE
from sandbox.middleware import BadRequest, read_json
from sandbox.slack_state import APP_ID, TEAM_ID


async def click(request: web.Request) -> web.Response:
    try:
        spec = await read_json(request)
    except BadRequest:
        return web.json_response({"ok": False, "error": "invalid_json"}, status=400)
    store = request.app[STORE]
    channel = store.slack.channel_by_id(str(spec.get("channel") or ""))
    if channel is None:
        return web.json_response({"ok": False, "error": "channel_not_found"}, status=404)
    found = [m for m in channel.messages if m.ts == str(spec.get("ts") or "")]
    if not found:
        return web.json_response({"ok": False, "error": "message_not_found"}, status=404)
    message = found[0]
    wanted = str(spec.get("action_id") or "")
    button = None
    block_id = None
    for block in message.blocks or []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == wanted:
                button, block_id = element, block.get("block_id")
    if button is None:
        return web.json_response({"ok": False, "error": "action_not_found"}, status=404)
    user_id = str(spec.get("user_id") or "U0DANA")
    now = time.time()
    action = {
        "type": "button",
        "action_id": wanted,
        "block_id": block_id or "",
        "text": button.get("text"),
        "value": button.get("value"),
        "action_ts": f"{now:.6f}",
    }
    if button.get("url"):
        action["url"] = button["url"]
    payload = {
        "type": "block_actions",
        "api_app_id": APP_ID,
        "team": {"id": TEAM_ID, "domain": "sandbox"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel.id,
            "is_ephemeral": False,
        },
        "channel": {"id": channel.id, "name": channel.name},
        "message": message.to_json(),
        "trigger_id": store.slack_views.issue_trigger(user_id),
        "response_url": f"{request.scheme}://{request.host}/_sandbox/slack/response",
        "actions": [action],
    }
    return web.json_response(await _signed(payload, spec))


async def _signed(payload: dict[str, Any], spec: dict[str, Any]) -> dict[str, object]:
    """The interaction as Slack posts it: form-encoded ``payload=``, signed; sent to
    ``spec["url"]`` when given."""
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    timestamp = str(spec.get("timestamp") or int(time.time()))
    secret = str(spec.get("signing_secret") or "")
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }
    answer: dict[str, object] = {"ok": True, "body": body, "headers": headers}
    if spec.get("url"):
        async with (
            aiohttp.ClientSession() as http,
            http.post(str(spec["url"]), data=body.encode(), headers=headers) as resp,
        ):
            answer["status"] = resp.status
            answer["response"] = await resp.text()
    return answer


def _state_value(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """One input's entry in ``view.state.values``, as Slack fills it."""
    kind = str(element.get("type") or "plain_text_input")
    if kind == "static_select":
        options = element.get("options") or []
        chosen = next((o for o in options if o.get("value") == value), None)
        if chosen is None and value is not None:
            chosen = {"text": {"type": "plain_text", "text": str(value)}, "value": str(value)}
        return {"type": kind, "selected_option": chosen}
    return {"type": kind, "value": None if value is None else str(value)}


async def submit(request: web.Request) -> web.Response:
    try:
        spec = await read_json(request)
    except BadRequest:
        return web.json_response({"ok": False, "error": "invalid_json"}, status=400)
    views = request.app[STORE].slack_views
    view_id = str(spec.get("view_id") or "")
    view = views.views.get(view_id)
    if view is None:
        return web.json_response({"ok": False, "error": "view_not_found"}, status=404)
    [opened] = [o for o in views.opened if o["view_id"] == view_id]
    user_id = str(spec.get("user_id") or opened["user"])
    given = spec.get("values") or {}
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block.get("element") or {}
        values[str(block.get("block_id"))] = {
            str(element.get("action_id")): _state_value(element, given.get(block.get("block_id")))
        }
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "sandbox"},
        "user": {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": TEAM_ID,
        },
        "api_app_id": APP_ID,
        "token": "sandbox-verification-token",
        "trigger_id": views.issue_trigger(user_id),
        "view": {**view, "state": {"values": values}},
        "response_urls": [],
        "is_enterprise_install": False,
    }
    return web.json_response(await _signed(payload, spec))


def setup(app: web.Application) -> None:
    app.router.add_post("/_sandbox/slack/click", click)
    app.router.add_post("/_sandbox/slack/submit", submit)
