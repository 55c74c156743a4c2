"""Webhook signature verification: HubSpot v3, Stripe, Zendesk and our own product scheme.

Every ``verify_*`` function takes the raw request body as bytes, exactly as it came off
the wire, and either returns ``None`` (authentic and fresh) or raises `SignatureError`.
Nothing is parsed or re-serialised: the signed string is built by concatenating bytes.
Comparisons use `hmac.compare_digest`. The checks run in this order: headers present,
timestamp well formed, signature matches, timestamp inside the window. The window is
checked last so "timestamp outside the window" is only ever said about a request whose
signature is valid (a replay or a skewed clock), never about a forgery.

An empty secret is a configuration bug, not a bad request: it raises `ValueError`.

Schemes
-------
HubSpot v3 (``X-HubSpot-Signature-v3``, ``X-HubSpot-Request-Timestamp`` in ms)
    ``base64(HMAC-SHA256(client_secret, method + uri + body + timestamp))``. ``uri`` is
    the full URL HubSpot posted to (scheme, host, path, query) with ``%3A %2F %3F %40
    %21 %24 %27 %28 %29 %2A %2C %3B`` decoded (either hex case), nothing else. Behind
    a proxy, pass the public URL, not the one the app sees.

Stripe (``Stripe-Signature: t=<unix s>,v1=<hex>[,v1=<hex>…][,v0=…]``)
    ``hex(HMAC-SHA256(whsec_secret, "<t>.<body>"))``; any ``v1`` may match.

Zendesk (``X-Zendesk-Webhook-Signature``, ``X-Zendesk-Webhook-Signature-Timestamp``)
    ``base64(HMAC-SHA256(secret, timestamp + body))``, the timestamp being the ISO-8601
    header value as sent (``2026-11-23T09:00:00Z``; no offset is read as UTC). Zendesk
    defines no window; we apply the same tolerance as the others.

Product (our scheme, for the product's usage events; Stripe-like)
    ``X-Cshub-Timestamp: <unix seconds>``
    ``X-Cshub-Signature: v1=<hex(HMAC-SHA256(secret, "<timestamp>.<raw body>"))>``

    The signed string is the timestamp digits, one ``.``, then the body bytes exactly
    as sent. The hex digest is case-insensitive. During a key rotation the sender may
    list several signatures, ``v1=<with new key>,v1=<with old key>``; the request is
    accepted if any of them matches. Entries with other prefixes are ignored (room for a
    future ``v2``). The timestamp must be within 300 s of our clock, either way.

    A sender in a shell (``body.json`` holds the exact bytes to post)::

        SECRET='the shared secret'
        TS=$(date +%s)
        SIG=$({ printf '%s.' "$TS"; cat body.json; } | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
        curl -sS -X POST 'https://cshub.example.test/webhooks/product' \\
             -H 'Content-Type: application/json' \\
             -H "X-Cshub-Timestamp: $TS" \\
             -H "X-Cshub-Signature: v1=$SIG" \\
             --data-binary @body.json

    (``--data-binary``, not ``-d``: ``-d`` strips newlines and the signature would no
    longer match. ``webhooks.signing.sign_product`` builds the same headers in Python.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "HUBSPOT_SIGNATURE_HEADER",
    "HUBSPOT_TIMESTAMP_HEADER",
    "PRODUCT_SIGNATURE_HEADER",
    "PRODUCT_TIMESTAMP_HEADER",
    "STRIPE_SIGNATURE_HEADER",
    "ZENDESK_SIGNATURE_HEADER",
    "ZENDESK_TIMESTAMP_HEADER",
    "SignatureError",
    "hubspot_v3_signature",
    "hubspot_v3_uri",
    "product_signature",
    "stripe_signature",
    "verify_hubspot_v3",
    "verify_product",
    "verify_stripe",
    "verify_zendesk",
    "zendesk_signature",
]

DEFAULT_TOLERANCE_S = 300

HUBSPOT_SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
HUBSPOT_TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
STRIPE_SIGNATURE_HEADER = "Stripe-Signature"
ZENDESK_SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
ZENDESK_TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
PRODUCT_TIMESTAMP_HEADER = "X-Cshub-Timestamp"
PRODUCT_SIGNATURE_HEADER = "X-Cshub-Signature"

_MALFORMED_STRIPE = "malformed Stripe-Signature header"

# Unix time as plain ASCII digits (int() would also take "+1", " 1", "1_0" and Arabic-Indic digits).
_UNIX_DIGITS = re.compile(r"[0-9]{1,19}")

# The twelve escapes HubSpot decodes before signing v3; one pass, so "%253A" stays "%253A".
_HUBSPOT_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_HUBSPOT_ESCAPE = re.compile("|".join(_HUBSPOT_DECODED), re.IGNORECASE)


class SignatureError(Exception):
    """Verification failed. str(exc) is safe to return to the caller: it says what is wrong
    (which header is missing, timestamp outside the window, signature mismatch) and never
    echoes the secret or the expected signature."""


# --- the signed strings (shared with webhooks.signing, the sender side) ------------------


def hubspot_v3_uri(url: str) -> str:
    """The URL as HubSpot signs it: the twelve escapes of its table decoded, nothing else."""
    return _HUBSPOT_ESCAPE.sub(lambda m: _HUBSPOT_DECODED[m.group(0).upper()], url)


def hubspot_v3_signature(
    *, secret: str, method: str, url: str, body: bytes, timestamp_ms: str
) -> str:
    """base64(HMAC-SHA256(secret, method + uri + body + timestamp))."""
    _require_secret(secret)
    message = (method + hubspot_v3_uri(url)).encode() + body + timestamp_ms.encode()
    return base64.b64encode(_hmac(secret, message)).decode("ascii")


def stripe_signature(*, secret: str, body: bytes, timestamp: str) -> str:
    """hex(HMAC-SHA256(secret, "<timestamp>.<body>")), the value of a ``v1=`` entry."""
    _require_secret(secret)
    return _hmac(secret, timestamp.encode() + b"." + body).hex()


def zendesk_signature(*, secret: str, body: bytes, timestamp: str) -> str:
    """base64(HMAC-SHA256(secret, timestamp + body))."""
    _require_secret(secret)
    return base64.b64encode(_hmac(secret, timestamp.encode() + body)).decode("ascii")


def product_signature(*, secret: str, body: bytes, timestamp: str) -> str:
    """hex(HMAC-SHA256(secret, "<timestamp>.<body>")), the value of a ``v1=`` entry."""
    _require_secret(secret)
    return _hmac(secret, timestamp.encode() + b"." + body).hex()


# --- verification ----------------------------------------------------------------------


def verify_hubspot_v3(
    *,
    secret: str,
    method: str,
    url: str,
    body: bytes,
    signature: str | None,
    timestamp_ms: str | None,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Check an ``X-HubSpot-Signature-v3`` request. ``url`` is the full public URL the
    sender used (including any query string); ``timestamp_ms`` is the raw
    ``X-HubSpot-Request-Timestamp`` header (Unix milliseconds)."""
    _require_settings(secret, tolerance_s)
    sig = _require_header(signature, HUBSPOT_SIGNATURE_HEADER)
    ts = _require_header(timestamp_ms, HUBSPOT_TIMESTAMP_HEADER)
    sent_at = _unix_time(ts, HUBSPOT_TIMESTAMP_HEADER, "milliseconds") / 1000
    expected = hubspot_v3_signature(
        secret=secret, method=method, url=url, body=body, timestamp_ms=ts
    )
    if not _matches_any(expected, [sig]):
        raise SignatureError(
            f"signature mismatch: {HUBSPOT_SIGNATURE_HEADER} does not match the request"
        )
    _check_window(sent_at, now, tolerance_s, HUBSPOT_TIMESTAMP_HEADER)


def verify_stripe(
    *,
    secret: str,
    body: bytes,
    header: str | None,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Check a ``Stripe-Signature: t=…,v1=…`` header; any ``v1`` may match."""
    _require_settings(secret, tolerance_s)
    value = _require_header(header, STRIPE_SIGNATURE_HEADER)
    timestamps: list[str] = []
    candidates: list[str] = []
    for item in value.split(","):
        key, sep, entry = item.partition("=")
        key, entry = key.strip(), entry.strip()
        if not sep or not key:
            raise SignatureError(_MALFORMED_STRIPE)
        if key == "t":
            timestamps.append(entry)
        elif key == "v1":
            candidates.append(entry)
        # v0 (legacy test-mode signature) and unknown schemes are ignored, as Stripe's SDK does
    if len(timestamps) != 1 or not _UNIX_DIGITS.fullmatch(timestamps[0]):
        raise SignatureError(_MALFORMED_STRIPE)
    if not candidates:
        raise SignatureError(f"no v1 signature in {STRIPE_SIGNATURE_HEADER} header")
    t = timestamps[0]
    expected = stripe_signature(secret=secret, body=body, timestamp=t)
    if not _matches_any(expected, candidates):
        raise SignatureError(
            f"signature mismatch: no v1 entry of {STRIPE_SIGNATURE_HEADER} matches the request"
        )
    _check_window(int(t), now, tolerance_s, f"{STRIPE_SIGNATURE_HEADER} timestamp (t=)")


@dataclass(frozen=True)
class TimestampedScheme:
    """A scheme that signs the body with a timestamp header (Zendesk, the product): called
    as ``verify(secret=, body=, signature=, timestamp=[, now=, tolerance_s=])``."""

    signature_header: str
    timestamp_header: str
    sent_at: Callable[[str], float]
    """The timestamp header's value as Unix time (a :class:`SignatureError` if it is not one)."""
    candidates: Callable[[str], list[str]]
    """The signatures the signature header offers (any one may match)."""
    sign: Callable[..., str]
    """The signature of ``secret=``, ``body=`` and ``timestamp=`` (as sent)."""
    mismatch: str

    def __call__(
        self,
        *,
        secret: str,
        body: bytes,
        signature: str | None,
        timestamp: str | None,
        now: float | None = None,
        tolerance_s: int = DEFAULT_TOLERANCE_S,
    ) -> None:
        _require_settings(secret, tolerance_s)
        value = _require_header(signature, self.signature_header)
        ts = _require_header(timestamp, self.timestamp_header)
        sent_at = self.sent_at(ts)
        candidates = self.candidates(value)
        expected = self.sign(secret=secret, body=body, timestamp=ts)
        if not _matches_any(expected, candidates):
            raise SignatureError(f"signature mismatch: {self.mismatch}")
        _check_window(sent_at, now, tolerance_s, self.timestamp_header)


def _zendesk_sent_at(ts: str) -> float:
    try:
        moment = datetime.fromisoformat(ts)
    except ValueError:
        raise SignatureError(
            f"invalid {ZENDESK_TIMESTAMP_HEADER} header: expected an ISO-8601 date-time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


verify_zendesk = TimestampedScheme(
    ZENDESK_SIGNATURE_HEADER,
    ZENDESK_TIMESTAMP_HEADER,
    _zendesk_sent_at,
    lambda value: [value],
    zendesk_signature,
    f"{ZENDESK_SIGNATURE_HEADER} does not match the request",
)
"""Check ``X-Zendesk-Webhook-Signature`` against ``X-Zendesk-Webhook-Signature-Timestamp``
(ISO-8601, signed as sent)."""


def _product_candidates(value: str) -> list[str]:
    candidates: list[str] = []
    for item in value.split(","):
        if not item.strip():
            continue
        key, sep, entry = item.partition("=")
        if not sep or not key.strip():
            raise SignatureError(
                f"malformed {PRODUCT_SIGNATURE_HEADER} header: expected v1=<hex>[,v1=<hex>...]"
            )
        if key.strip() == "v1":
            candidates.append(entry.strip().lower())
    if not candidates:
        raise SignatureError(f"no v1 signature in {PRODUCT_SIGNATURE_HEADER} header")
    return candidates


verify_product = TimestampedScheme(
    PRODUCT_SIGNATURE_HEADER,
    PRODUCT_TIMESTAMP_HEADER,
    lambda ts: _unix_time(ts, PRODUCT_TIMESTAMP_HEADER, "seconds"),
    _product_candidates,
    product_signature,
    f"no v1 entry of {PRODUCT_SIGNATURE_HEADER} matches the request",
)
"""Check our own scheme (module docstring): ``X-Cshub-Timestamp`` (Unix seconds) and
``X-Cshub-Signature: v1=<hex>[,v1=<hex>…]``."""


# --- helpers ---------------------------------------------------------------------------


def _require_secret(secret: str) -> None:
    if not isinstance(secret, str):  # e.g. a pydantic SecretStr passed as is
        raise TypeError("webhook signing secret must be a str (unwrap SecretStr first)")
    if not secret.strip():
        raise ValueError(
            "webhook signing secret is empty: configure it before verifying or signing"
        )


def _require_settings(secret: str, tolerance_s: int) -> None:
    _require_secret(secret)
    if tolerance_s < 0:
        raise ValueError("tolerance_s must be >= 0")


def _unix_time(value: str, header: str, unit: str) -> int:
    if not _UNIX_DIGITS.fullmatch(value):
        raise SignatureError(f"invalid {header} header: expected Unix time in {unit}")
    return int(value)


def _require_header(value: str | None, name: str) -> str:
    if value is None or not value.strip():
        raise SignatureError(f"missing {name} header")
    return value.strip()


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _matches_any(expected: str, candidates: Iterable[str]) -> bool:
    """Constant-time per candidate; every candidate is compared (no early exit)."""
    want = expected.encode()
    matched = False
    for candidate in candidates:
        # bytes, not str: compare_digest refuses non-ASCII str, and a header may hold anything
        matched |= hmac.compare_digest(want, candidate.encode("utf-8", "surrogatepass"))
    return matched


def _check_window(sent_at: float, now: float | None, tolerance_s: int, what: str) -> None:
    current = time.time() if now is None else now
    age = current - sent_at
    if age > tolerance_s:
        raise SignatureError(
            f"timestamp outside the {tolerance_s} s tolerance window: {what} is too old"
        )
    if -age > tolerance_s:
        raise SignatureError(
            f"timestamp outside the {tolerance_s} s tolerance window: {what} is in the future"
        )
