"""Turn an HTTP failure into a :class:`~connectors.errors.ConnectorError`.

Every vendor SDK reports a failed call differently (``ApiException`` in hubspot-api-client,
``APIException`` wrapping a ``requests`` response in zenpy, ``SlackApiError`` in slack-sdk),
but what matters to the caller is the same three facts: may it be retried, after how long,
and what did the remote system say. This module answers them once, from the status code,
the headers and the body, so the four connectors classify failures identically:

* 429 -> retryable, ``retry_after`` from ``Retry-After`` (seconds or an HTTP date) or from
  HubSpot's ``X-HubSpot-RateLimit-Interval-Milliseconds`` when the window is spent;
* 408 and 5xx -> retryable;
* 404 -> :class:`NotFoundError`;
* any other 4xx -> :class:`PermanentConnectorError` carrying the remote message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

from connectors.errors import (
    ConnectorError,
    NotFoundError,
    PermanentConnectorError,
    RetryableConnectorError,
)

# HubSpot's daily limit resets at midnight in the portal's own time zone, which the API
# does not tell us; checking again hourly is cheap and never waits a whole day for nothing.
HUBSPOT_DAILY_LIMIT_RETRY_S = 3600.0

_MAX_DETAIL = 300

HeaderSource = Mapping[str, Any] | Iterable[tuple[str, Any]] | None


def classify_http(
    system: str,
    operation: str,
    target: str,
    status: int,
    headers: HeaderSource = None,
    body: object = None,
) -> ConnectorError:
    """The error to raise for an HTTP response with a non-2xx ``status``.

    ``headers`` may be any mapping or list of pairs (urllib3, requests and aiohttp each
    have their own type); names are matched case-insensitively. ``body`` may be bytes, text
    or already-decoded JSON.
    """
    hdrs = _lower_headers(headers)
    data = _decode_body(body)
    message = remote_message(data) or _reason(status)
    detail = f"{status} {message}"
    if status == 429:
        retry_after = _retry_after(hdrs)
        if _is_hubspot_daily_limit(data):
            retry_after = max(retry_after or 0.0, HUBSPOT_DAILY_LIMIT_RETRY_S)
        return RetryableConnectorError(
            system, operation, target, detail, status=status, retry_after=retry_after
        )
    if status == 408 or status >= 500:
        return RetryableConnectorError(
            system, operation, target, detail, status=status, retry_after=_retry_after(hdrs)
        )
    if status == 404:
        return NotFoundError(system, operation, target, detail, status=status)
    return PermanentConnectorError(system, operation, target, detail, status=status)


def transport_error(
    system: str, operation: str, target: str, exc: BaseException
) -> RetryableConnectorError:
    """A request that got no HTTP answer (refused, reset, timed out): always retryable."""
    text = str(exc).strip()
    kind = type(exc).__name__
    detail = f"{kind}: {text}" if text else kind
    return RetryableConnectorError(system, operation, target, _truncate(detail))


def unexpected_error(
    system: str, operation: str, target: str, exc: BaseException
) -> PermanentConnectorError:
    """An answer the SDK could not understand (missing field, bad JSON): a bug, not a blip.

    Retrying would only repeat it, so it is permanent; the message keeps the SDK's words.
    """
    text = str(exc).strip()
    detail = f"unexpected response ({type(exc).__name__}: {text})"
    return PermanentConnectorError(system, operation, target, _truncate(detail))


@contextmanager
def reading_response(system: str, operation: str, target: str) -> Iterator[None]:
    """Wrap the code that turns an SDK answer into our models: a surprise there (a missing
    attribute, a value our model rejects) becomes :func:`unexpected_error`, so that even
    a malformed answer lets only a ConnectorError escape."""
    try:
        yield
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise unexpected_error(system, operation, target, exc) from exc


def remote_message(data: object) -> str | None:
    """The human-readable message in an error body, in the shapes our vendors use.

    HubSpot: ``{"message": ...}``; Zendesk: ``{"error": "RecordNotFound", "description": ...}``
    or ``{"error": {"title", "message"}}``; Slack: ``{"ok": false, "error": "channel_not_found"}``.
    """
    if isinstance(data, str):
        text = data.strip()
        return _truncate(text) if text else None
    if not isinstance(data, Mapping):
        return None
    for key in ("message", "description"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            error = data.get("error")
            if key == "description" and isinstance(error, str) and error:
                text = f"{error}: {text}"
            return _truncate(text)
    error = data.get("error")
    if isinstance(error, str) and error:
        return _truncate(error)
    if isinstance(error, Mapping):
        parts = [str(error[k]) for k in ("title", "message") if error.get(k)]
        if parts:
            return _truncate(": ".join(parts))
    return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def _retry_after(hdrs: Mapping[str, str]) -> float | None:
    parsed = parse_retry_after(hdrs.get("retry-after"))
    if parsed is not None:
        return parsed
    # HubSpot announces its window instead of a delay: when nothing is left in the
    # window, waiting one window length is the earliest a retry can succeed.
    interval_ms = hdrs.get("x-hubspot-ratelimit-interval-milliseconds")
    if interval_ms is not None:
        try:
            return max(0.0, float(interval_ms) / 1000.0)
        except ValueError:
            return None
    return None


def _is_hubspot_daily_limit(data: object) -> bool:
    return isinstance(data, Mapping) and str(data.get("policyName", "")).upper() == "DAILY"


def _lower_headers(headers: HeaderSource) -> dict[str, str]:
    if headers is None:
        return {}
    items: Iterable[tuple[str, Any]]
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k).lower(): str(v) for k, v in items}


def _decode_body(body: object) -> object:
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            parsed: object = json.loads(body)
        except ValueError:
            return body
        return parsed
    return body


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


def _truncate(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
