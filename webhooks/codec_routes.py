"""The codec endpoint (``/codec``): Temporal's remote codec protocol, so the Temporal Web
UI and the ``temporal`` CLI can show encrypted payloads decoded to people allowed to.

Protocol: ``POST …/decode`` and ``POST …/encode`` with ``{"payloads": [{"metadata":
{…base64…}, "data": "base64"}]}`` (protobuf JSON of ``Payloads``), answered in kind. Only
the last path segment picks the operation, as the protocol asks, so ``/codec/decode``,
``/codec//decode`` (an endpoint configured with a trailing slash) and the dev form
``/codec/t/<token>/decode`` all work. ``X-Namespace``, when sent, must be the hub's
namespace.

Who may call it (any one of):
- ``Authorization: Bearer <token>``, a token of ``CSHUB_CODEC_TOKENS`` (the CLI:
  ``--codec-auth "Bearer …"``; scripts; a proxy);
- a session cookie from ``/codec/session`` (a person signs in once with a token there;
  the Temporal UI sends the cookie when "include cross-origin credentials" is on);
- sandbox only, ``CSHUB_CODEC_DEV_TOKEN`` as a path segment: ``/codec/t/<token>/decode``,
  which ``cshub dev`` gives the dev UI (it cannot send a header of its own).

Without keys (encryption off) or without any of those configured, every path answers
404. CORS is answered for ``CSHUB_CODEC_CORS_ORIGINS`` only, credentials allowed.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads

from runtime.codec import EncryptionCodec, PayloadDecryptionError
from runtime.settings import Environment, Settings

log = logging.getLogger("cshub.codec")

MAX_BODY_BYTES = 8 * 1024 * 1024
SESSION_COOKIE = "cshub_codec_session"
ALLOWED_HEADERS = ["Authorization", "Authorization-Extras", "Content-Type", "X-Namespace"]
_SESSION_CONTEXT = b"cshub-codec-session-v1:"


def _digest(value: str | bytes) -> bytes:
    return hashlib.sha256(value.encode() if isinstance(value, str) else value).digest()


def _one_of(candidate: str, secrets: list[str]) -> bool:
    """Constant time in the candidate: every secret is compared, equal-length digests."""
    given = _digest(candidate)
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(given, _digest(secret))
    return found


def _session_mac(token: str, expires: int) -> str:
    return hmac.new(
        _digest(token), _SESSION_CONTEXT + str(expires).encode(), hashlib.sha256
    ).hexdigest()


def new_session_cookie(token: str, ttl_seconds: float, now: float | None = None) -> str:
    expires = int((now or time.time()) + ttl_seconds)
    return f"{expires}.{_session_mac(token, expires)}"


def session_valid(
    cookie: str, tokens: list[str], now: float | None = None, max_ttl: float | None = None
) -> bool:
    """Signed with one of the tokens (revoking the token ends its sessions), not expired,
    and not expiring later than ``max_ttl`` from now: shortening
    CSHUB_CODEC_SESSION_HOURS shortens the sessions already open."""
    expires_s, _, mac = cookie.partition(".")
    if not (expires_s.isascii() and expires_s.isdecimal() and len(expires_s) <= 12 and mac):
        return False
    expires = int(expires_s)
    current = now or time.time()
    if expires <= current or (max_ttl is not None and expires > current + max_ttl + 60):
        return False
    found = False
    for token in tokens:
        found |= hmac.compare_digest(mac.encode(), _session_mac(token, expires).encode())
    return found


def _error(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": error, "detail": detail}, status, headers=headers)


def create_codec_app(settings: Settings) -> Starlette:
    """The ``/codec`` sub-application (mounted by ``webhooks.app.create_app``)."""
    keyring = settings.encryption_keyring()
    codec = EncryptionCodec(keyring) if keyring else None
    tokens = settings.codec_tokens
    dev_token = (
        settings.cshub_codec_dev_token.get_secret_value()
        if settings.cshub_codec_dev_token is not None and settings.cshub_env is Environment.SANDBOX
        else None
    )
    session_ttl = settings.cshub_codec_session_hours * 3600
    namespace = settings.temporal_namespace
    disabled: str | None = None
    if codec is None:
        disabled = "payload encryption is off (CSHUB_ENCRYPTION_KEYS is not set)"
    elif not tokens and dev_token is None:
        disabled = "no one may use it yet: set CSHUB_CODEC_TOKENS"

    def authorised(request: Request, path_token: str | None) -> bool:
        if path_token is not None:
            return dev_token is not None and _one_of(path_token, [dev_token])
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        bearer = credential.strip() if scheme.lower() == "bearer" else ""
        if bearer and tokens and _one_of(bearer, tokens):
            return True
        cookie = request.cookies.get(SESSION_COOKIE)
        return bool(cookie and tokens and session_valid(cookie, tokens, max_ttl=session_ttl))

    async def read_body(request: Request, limit: int) -> bytes | None:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return None
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return None
        return body

    async def convert(request: Request) -> Response:
        if disabled or codec is None:
            return _error(404, "codec_disabled", f"the codec endpoint is off: {disabled}")
        parts = [p for p in request.path_params["rest"].split("/") if p]
        operation = parts[-1] if parts else ""
        prefix = parts[:-1]
        dev_form = len(prefix) == 2 and prefix[0] == "t"
        if operation not in ("encode", "decode") or (prefix and not dev_form):
            return _error(404, "not_found", "POST …/encode or …/decode")
        if not authorised(request, prefix[1] if prefix else None):
            log.warning("codec %s refused: no valid credentials", operation)
            return _error(
                401,
                "unauthorized",
                "send Authorization: Bearer <a CSHUB_CODEC_TOKENS token>, or sign in at "
                "/codec/session",
                headers={"WWW-Authenticate": 'Bearer realm="cshub-codec"'},
            )
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            # JSON only: a cross-site form or text/plain POST (no CORS preflight) cannot
            # ride on a browser's session cookie.
            return _error(415, "unsupported_media_type", "send Content-Type: application/json")
        asked = request.headers.get("x-namespace")
        if asked and asked != namespace:
            return _error(403, "wrong_namespace", f"this codec serves namespace {namespace!r}")
        body = await read_body(request, MAX_BODY_BYTES)
        if body is None:
            return _error(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        payloads = Payloads()
        try:
            json_format.Parse(body, payloads)
        except (json_format.ParseError, UnicodeDecodeError) as err:
            return _error(400, "invalid_payloads", f"not a Payloads JSON object: {err}")
        try:
            if operation == "encode":
                out = await codec.encode(list(payloads.payloads))
            else:
                out = await codec.decode(list(payloads.payloads))
        except PayloadDecryptionError as err:
            return _error(422, "cannot_decrypt", str(err))
        return Response(
            json_format.MessageToJson(Payloads(payloads=out)), media_type="application/json"
        )

    def session_page(title: str, text: str, status: int = 200, form: bool = True) -> Response:
        body = (
            "<!doctype html><html lang=en><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>{html.escape(title)}</title>"
            "<body style='font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;"
            "padding:0 1rem;color:#1f2933'>"
            f"<h1 style='font-size:1.4rem'>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        )
        if form:
            body += (
                "<form method=post><label>Codec token "
                "<input type=password name=token autocomplete=off required></label> "
                "<button>Sign in</button></form>"
            )
        return HTMLResponse(body, status, headers={"Cache-Control": "no-store"})

    async def session_form(request: Request) -> Response:
        if disabled:
            return _error(404, "codec_disabled", f"the codec endpoint is off: {disabled}")
        return session_page(
            "Read encrypted payloads in the Temporal UI",
            "Sign in with a codec token (CSHUB_CODEC_TOKENS). Your browser then keeps a "
            f"session cookie for {settings.cshub_codec_session_hours:g} h, which the "
            "Temporal UI sends when its codec setting 'include cross-origin credentials' "
            "is on.",
        )

    async def session_login(request: Request) -> Response:
        if disabled:
            return _error(404, "codec_disabled", f"the codec endpoint is off: {disabled}")
        body = await read_body(request, 4096)
        fields = parse_qs((body or b"").decode(errors="replace"))
        token = (fields.get("token") or [""])[0].strip()
        if not token or not tokens or not _one_of(token, tokens):
            log.warning("codec session sign-in refused: unknown token")
            return session_page("Not signed in", "That is not a valid codec token.", 401)
        expires = datetime.fromtimestamp(time.time() + session_ttl, UTC)
        endpoint = str(request.url).split("?", 1)[0].removesuffix("session")
        response = session_page(
            "Signed in",
            f"Until {expires:%Y-%m-%d %H:%M} UTC this browser may decode payloads. In the "
            f"Temporal UI's codec settings use the endpoint {endpoint} with 'include "
            "cross-origin credentials' on (or TEMPORAL_CODEC_ENDPOINT and "
            "TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true on the UI server).",
            form=False,
        )
        secure = request.url.scheme == "https"
        response.set_cookie(
            SESSION_COOKIE,
            new_session_cookie(token, session_ttl),
            max_age=int(session_ttl),
            path=request.scope.get("root_path") or "/codec",
            httponly=True,
            secure=secure,
            # Lax is enough for a UI on the same site (127.0.0.1:8233 → 127.0.0.1:8000,
            # temporal.example.com → cshub.example.com); another site needs None + https.
            samesite="none" if secure else "lax",
        )
        return response

    return Starlette(
        routes=[
            Route("/session", session_form, methods=["GET"]),
            Route("/session", session_login, methods=["POST"]),
            Route("/{rest:path}", convert, methods=["POST"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=settings.codec_cors_origins,
                allow_credentials=True,
                allow_methods=["POST"],
                allow_headers=ALLOWED_HEADERS,
                max_age=600,
            )
        ],
    )
