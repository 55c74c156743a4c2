"""ASGI middleware that every response of the API passes through.

``BodyDeadline``: a request's body must arrive within ``CSHUB_API_BODY_TIMEOUT_S`` of its
headers. A client trickling its body (a byte a second) is answered 408 and its
connection closed, instead of holding a connection and a task for as long as it likes;
requests on other connections are served meanwhile. uvicorn itself has no body timeout
(its ``--timeout-keep-alive`` only covers idle connections between requests; the
headers' deadline is in webhooks/server.py), and the compose stack's Caddy
(deploy/Caddyfile) has its own total read timeouts in front of it: this is the limit
that still holds when the API is reached directly.

``SecurityHeaders``: ``X-Content-Type-Options: nosniff`` (a JSON error that echoes input
is never sniffed as HTML) and ``Referrer-Policy: no-referrer`` (a survey page's signed
query string never leaves in a Referer header) on every response.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("cshub.webhooks")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class _BodyTimedOut(Exception):
    pass


class BodyDeadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        body_done = False
        started = False
        answered = False

        async def timed_receive() -> Message:
            nonlocal body_done, answered
            if body_done:
                return await receive()  # e.g. waiting for a disconnect: not the body
            try:
                async with asyncio.timeout(max(deadline - loop.time(), 0)):
                    message = await receive()
            except TimeoutError:
                if not started:
                    answered = True
                    await _send_timeout(send, self.seconds)
                log.warning(
                    "%s %s: body not received within %g s; connection closed",
                    scope.get("method"),
                    scope.get("path"),
                    self.seconds,
                )
                raise _BodyTimedOut from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 408 went out; what the app still tries to say is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except _BodyTimedOut:
            if not answered:
                raise
        except Exception:
            if not answered:
                raise
            # A sub-application's error handler turned the timeout into its own error
            # after the 408 was sent: nothing more to say.


async def _send_timeout(send: Send, seconds: float) -> None:
    body: dict[str, Any] = {
        "error": "request_timeout",
        "detail": f"the request body did not arrive within {seconds:g} s",
    }
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 408,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
