"""Error answers shaped like each real system's, so the SDKs raise what they raise in production.

HubSpot: ``{"status":"error","message","correlationId","category"}`` (``ApiException``).
Zendesk: ``{"error","description"}`` (``RecordNotFoundException`` for ``RecordNotFound``,
``APIException`` otherwise). Slack: ``{"ok":false,"error"}``, HTTP 200 except for 429 and
5xx (``SlackApiError``).
"""

from __future__ import annotations

import math
import uuid
from http import HTTPStatus
from typing import Any

from aiohttp import web

from sandbox.faults import FaultSpec, LimitDecision

JsonDict = dict[str, Any]

HUBSPOT_DEFAULT_MAX = 190  # requests per 10 s, the "Professional" burst limit
ZENDESK_DEFAULT_MAX = 700  # requests per minute

_HUBSPOT_CATEGORIES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    429: "RATE_LIMITS",
}
_ZENDESK_ERRORS = {
    400: "InvalidRequest",
    401: "Couldn't authenticate you",
    403: "Forbidden",
    404: "RecordNotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    422: "RecordInvalid",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def hubspot_error(
    status: int,
    category: str,
    message: str,
    *,
    errors: list[JsonDict] | None = None,
    context: JsonDict | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: JsonDict = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    if errors:
        body["errors"] = errors
    if context:
        body["context"] = context
    return web.json_response(body, status=status, headers=headers)


def zendesk_error(
    status: int,
    error: str,
    description: str,
    details: JsonDict | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: JsonDict = {"error": error, "description": description}
    if details:
        body["details"] = details
    return web.json_response(body, status=status, headers=headers)


def slack_error(
    error: str, *, status: int = 200, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    return web.json_response({"ok": False, "error": error, **extra}, status=status, headers=headers)


def rate_limit_headers(system: str, decision: LimitDecision | None) -> dict[str, str]:
    """The quota headers a system sends with every answer (defaults when no limit is set)."""
    if system == "hubspot":
        window_ms = int((decision.window_s if decision else 10) * 1000)
        maximum = decision.max_requests if decision else HUBSPOT_DEFAULT_MAX
        remaining = decision.remaining if decision else HUBSPOT_DEFAULT_MAX - 1
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(window_ms),
            "X-HubSpot-RateLimit-Max": str(maximum),
            "X-HubSpot-RateLimit-Remaining": str(max(remaining, 0)),
            "X-HubSpot-RateLimit-Daily": "1000000",
            "X-HubSpot-RateLimit-Daily-Remaining": "999999",
        }
    if system == "zendesk":
        maximum = decision.max_requests if decision else ZENDESK_DEFAULT_MAX
        remaining = decision.remaining if decision else ZENDESK_DEFAULT_MAX - 1
        return {"X-Rate-Limit": str(maximum), "X-Rate-Limit-Remaining": str(max(remaining, 0))}
    return {}


def rate_limited(system: str, retry_after: float, decision: LimitDecision | None) -> web.Response:
    """A 429 with ``Retry-After`` (whole seconds, as every SDK parses it as an int)."""
    headers = {"Retry-After": str(math.ceil(retry_after))}
    if system == "hubspot":
        exhausted = decision or LimitDecision(False, 100, 0, 10.0, math.ceil(retry_after))
        headers |= rate_limit_headers(system, exhausted)
        return web.json_response(
            {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": "SECONDLY",
                "groupName": "publicapi:private-app:burst",
            },
            status=429,
            headers=headers,
        )
    if system == "zendesk":
        headers |= rate_limit_headers(system, decision or LimitDecision(False, 700, 0, 60.0, 1))
        return zendesk_error(
            429,
            "TooManyRequests",
            "Rate limit exceeded, retry after the given delay",
            headers=headers,
        )
    return slack_error("ratelimited", status=429, headers=headers)


def system_error(system: str, status: int, message: str | None = None) -> web.Response:
    """A generic error of the given status in the system's own shape."""
    reason = message or _reason(status)
    if system == "hubspot":
        category = _HUBSPOT_CATEGORIES.get(status, "INTERNAL_ERROR" if status >= 500 else "ERROR")
        return hubspot_error(status, category, reason)
    if system == "zendesk":
        return zendesk_error(status, _ZENDESK_ERRORS.get(status, "Error"), reason)
    error = "internal_error" if status >= 500 else "invalid_request"
    return slack_error(error, status=status, detail=reason)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def unauthorized(system: str) -> web.Response:
    if system == "hubspot":
        return hubspot_error(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )
    if system == "zendesk":
        return web.json_response({"error": "Couldn't authenticate you"}, status=401)
    return slack_error("not_authed")  # Slack answers auth errors with HTTP 200


def fault_response(system: str, spec: FaultSpec) -> web.Response:
    """The answer an injected fault gives instead of serving the request."""
    assert spec.status is not None
    if spec.body is not None:
        headers = (
            {"Retry-After": str(math.ceil(spec.retry_after))}
            if spec.retry_after is not None
            else None
        )
        return web.json_response(spec.body, status=spec.status, headers=headers)
    if spec.status == 429:
        return rate_limited(system, 1 if spec.retry_after is None else spec.retry_after, None)
    response = system_error(system, spec.status, f"Injected fault: HTTP {spec.status}")
    if spec.retry_after is not None:
        response.headers["Retry-After"] = str(math.ceil(spec.retry_after))
    return response
