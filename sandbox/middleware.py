"""The request pipeline every emulated API call goes through.

In order: record the call, apply an injected fault (delay and/or error answer), apply the
rate limit, require credentials, then serve it; unknown paths and crashes are answered in
the system's own error shape, and quota headers are added the way the real APIs add them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.appkeys import FAULTS, STORE
from sandbox.errors import (
    fault_response,
    rate_limit_headers,
    rate_limited,
    system_error,
    unauthorized,
)
from sandbox.faults import System

log = logging.getLogger("sandbox")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SANDBOX_API_PATHS = frozenset({"/api/outbox", "/api/requests"})


class BadRequest(Exception):
    """The request body cannot be read (not JSON, wrong top-level type)."""


def detect_system(path: str) -> System | None:
    """Which emulated system a path belongs to (None for the sandbox's own pages)."""
    if path.startswith("/crm/"):
        return "hubspot"
    if path.startswith("/api/v2/"):
        return "zendesk"
    if path.startswith("/api/") and path not in SANDBOX_API_PATHS:
        return "slack"
    return None


async def read_json(request: web.Request) -> Any:
    """The parsed JSON body (None when empty); ``BadRequest`` when it is not JSON."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"Invalid input JSON: {exc}") from exc


def _bearer_token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def basic_auth_user(request: web.Request) -> str | None:
    """The user name of a Basic ``Authorization`` header (``email/token`` for Zendesk)."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, secret = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user if user and secret else None


async def _authenticated(system: System, request: web.Request) -> bool:
    if _bearer_token(request):
        return True
    if system == "zendesk":
        return basic_auth_user(request) is not None
    if system == "slack":  # legacy: token as a parameter
        if request.query.get("token"):
            return True
        if request.content_type == "application/x-www-form-urlencoded":
            return bool((await request.post()).get("token"))
    return False


async def _serve(system: System, request: web.Request, handler: Handler) -> web.StreamResponse:
    faults = request.app[FAULTS]
    fault = faults.take(system, request.method, request.path)
    spec = fault.spec if fault is not None else faults.roll_chaos(system)
    if spec is not None:
        if spec.delay_s:
            await asyncio.sleep(spec.delay_s)
        if spec.status is not None:
            return fault_response(system, spec)
    decision = faults.admit(system)
    if decision is not None and not decision.allowed:
        return rate_limited(system, decision.retry_after, decision)
    if not await _authenticated(system, request):
        return unauthorized(system)
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # no such route / method
        response = system_error(
            system, exc.status, f"{exc.reason}: {request.method} {request.path}"
        )
    except BadRequest as exc:
        response = system_error(system, 400, str(exc))
    except ConnectionResetError:  # the client gave up (its timeout) before sending it all
        return web.Response(status=499)
    except Exception:
        log.exception("sandbox: %s %s failed", request.method, request.path)
        response = system_error(system, 500, "The sandbox failed to serve this request")
    for name, value in rate_limit_headers(system, decision).items():
        response.headers.setdefault(name, value)
    return response


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    system = detect_system(request.path)
    if system is None:
        return await handler(request)
    status = 499  # the client went away before an answer
    try:
        response = await _serve(system, request, handler)
        status = response.status
        return response
    finally:
        log.debug("%s %s %s -> %s", system, request.method, request.path_qs, status)
        request.app[STORE].record_request(system, request.method, request.path, status)
