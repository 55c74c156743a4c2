"""Replay a button click as Slack sends it: ``POST /_sandbox/slack/click``.

Body (JSON): ``channel``, ``ts`` (a message in the sandbox), ``action_id`` (one of its
buttons), ``user_id`` (default ``U0DANA``), ``signing_secret``, optional ``timestamp``
(unix seconds; default now: give an old one to sign a stale request) and ``url`` (when
given, the sandbox POSTs the click there and includes the answer).

Answers ``{"body", "headers", "status"?, "response"?}``: the form-encoded ``payload=``
body of a ``block_actions`` interaction and its ``X-Slack-Signature`` /
``X-Slack-Request-Timestamp`` headers (``v0=`` hex HMAC-SHA256 of ``v0:{ts}:{body}``), so
a test can send it again (Slack's retry) or change a byte (a forgery).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
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
        "trigger_id": f"{int(now)}.sandbox",
        "response_url": f"{request.scheme}://{request.host}/_sandbox/slack/response",
        "actions": [action],
    }
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    timestamp = str(spec.get("timestamp") or int(now))
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
    return web.json_response(answer)


def setup(app: web.Application) -> None:
    app.router.add_post("/_sandbox/slack/click", click)
