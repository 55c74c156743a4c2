"""Webhook signatures: our signer and verifier against the providers' own SDKs, the
documented formulas computed independently here, and every way a request can be wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hubspot.utils.signature import Signature

from webhooks import signatures
from webhooks.signatures import (
    DEFAULT_TOLERANCE_S,
    SignatureError,
    hubspot_v3_uri,
    verify_hubspot_v3,
    verify_product,
    verify_stripe,
    verify_zendesk,
)
from webhooks.signing import sign_hubspot_v3, sign_product, sign_stripe, sign_zendesk

SECRET = "sup3r-s3cret-value-never-echoed"
OTHER_SECRET = "another-s3cret-value"
NOW = 1_795_000_000.0  # fixed clock for deterministic window checks
BODY = b'{"id":"evt_1","object":"event","type":"invoice.paid","note":"caf\xc3\xa9 \xe2\x82\xac"}'
HUBSPOT_URL = "https://cs.example.test/webhooks/hubspot"

# CONNECTORS.md, "Webhook signatures": the self-computed HubSpot v3 vector.
VECTOR_SECRET = "test-client-secret"
VECTOR_BODY = (
    b'[{"eventId":100,"subscriptionType":"company.propertyChange","objectId":123,'
    b'"propertyName":"health","propertyValue":"red","occurredAt":1700000000000}]'
)
VECTOR_TS = "1700000000000"
VECTOR_SIGNATURE = "0jN+CoPpGt7oPM93nqQyuALfBo6KMd0sKJ4+baDrp0c="


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _zendesk_ts(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rejected(call: Callable[[], None], *fragments: str, secret: str = SECRET) -> str:
    """Assert the call raises SignatureError whose message names the problem and leaks nothing."""
    with pytest.raises(SignatureError) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    assert secret not in message
    assert SECRET not in message and OTHER_SECRET not in message
    return message


# --- one table for the properties every scheme shares ----------------------------------


@dataclass(frozen=True)
class Scheme:
    name: str
    signature_header: str
    timestamp_header: str  # for Stripe, the timestamp lives inside the signature header
    sign: Callable[[str, bytes, float], dict[str, str]]
    verify: Callable[[str, bytes, Mapping[str, str], float | None], None]
    expected: Callable[[str, bytes, float], str]  # the formula, computed independently


def _hubspot_expected(secret: str, body: bytes, at: float) -> str:
    msg = b"POST" + HUBSPOT_URL.encode() + body + str(int(at * 1000)).encode()
    return base64.b64encode(_hmac(secret, msg)).decode()


def _stripe_expected(secret: str, body: bytes, at: float) -> str:
    return _hmac(secret, f"{int(at)}.".encode() + body).hex()


def _zendesk_expected(secret: str, body: bytes, at: float) -> str:
    return base64.b64encode(_hmac(secret, _zendesk_ts(at).encode() + body)).decode()


SCHEMES = [
    Scheme(
        name="hubspot",
        signature_header="X-HubSpot-Signature-v3",
        timestamp_header="X-HubSpot-Request-Timestamp",
        sign=lambda s, b, at: sign_hubspot_v3(
            secret=s, method="POST", url=HUBSPOT_URL, body=b, timestamp_ms=int(at * 1000)
        ),
        verify=lambda s, b, h, now: verify_hubspot_v3(
            secret=s,
            method="POST",
            url=HUBSPOT_URL,
            body=b,
            signature=h.get("X-HubSpot-Signature-v3"),
            timestamp_ms=h.get("X-HubSpot-Request-Timestamp"),
            now=now,
        ),
        expected=_hubspot_expected,
    ),
    Scheme(
        name="stripe",
        signature_header="Stripe-Signature",
        timestamp_header="Stripe-Signature",
        sign=lambda s, b, at: sign_stripe(secret=s, body=b, timestamp=int(at)),
        verify=lambda s, b, h, now: verify_stripe(
            secret=s, body=b, header=h.get("Stripe-Signature"), now=now
        ),
        expected=_stripe_expected,
    ),
    Scheme(
        name="zendesk",
        signature_header="X-Zendesk-Webhook-Signature",
        timestamp_header="X-Zendesk-Webhook-Signature-Timestamp",
        sign=lambda s, b, at: sign_zendesk(secret=s, body=b, timestamp=_zendesk_ts(at)),
        verify=lambda s, b, h, now: verify_zendesk(
            secret=s,
            body=b,
            signature=h.get("X-Zendesk-Webhook-Signature"),
            timestamp=h.get("X-Zendesk-Webhook-Signature-Timestamp"),
            now=now,
        ),
        expected=_zendesk_expected,
    ),
    Scheme(
        name="product",
        signature_header="X-Cshub-Signature",
        timestamp_header="X-Cshub-Timestamp",
        sign=lambda s, b, at: sign_product(secret=s, body=b, timestamp=int(at)),
        verify=lambda s, b, h, now: verify_product(
            secret=s,
            body=b,
            signature=h.get("X-Cshub-Signature"),
            timestamp=h.get("X-Cshub-Timestamp"),
            now=now,
        ),
        expected=_stripe_expected,  # same formula as Stripe: hex HMAC of "<t>.<body>"
    ),
]

each_scheme = pytest.mark.parametrize("scheme", SCHEMES, ids=[s.name for s in SCHEMES])


@each_scheme
def test_sender_sets_exactly_the_documented_headers(scheme: Scheme) -> None:
    headers = scheme.sign(SECRET, BODY, NOW)
    assert set(headers) == {scheme.signature_header, scheme.timestamp_header}
    assert scheme.expected(SECRET, BODY, NOW) in headers[scheme.signature_header]


@each_scheme
def test_valid_request_is_accepted(scheme: Scheme) -> None:
    scheme.verify(SECRET, BODY, scheme.sign(SECRET, BODY, NOW), NOW)


@each_scheme
def test_now_defaults_to_the_clock(scheme: Scheme) -> None:
    scheme.verify(SECRET, BODY, scheme.sign(SECRET, BODY, time.time()), None)
    _rejected(
        lambda: scheme.verify(SECRET, BODY, scheme.sign(SECRET, BODY, NOW - 3600), None),
        "too old",
    )


@each_scheme
def test_tampered_body_is_rejected(scheme: Scheme) -> None:
    headers = scheme.sign(SECRET, BODY, NOW)
    for tampered in (BODY.replace(b"invoice.paid", b"invoice.void"), BODY + b" ", b""):
        msg = _rejected(
            lambda t=tampered: scheme.verify(SECRET, t, headers, NOW),  # type: ignore[misc]
            "signature mismatch",
            scheme.signature_header,
        )
        assert scheme.expected(SECRET, tampered, NOW) not in msg


@each_scheme
def test_wrong_secret_is_rejected_without_echoing_either_secret(scheme: Scheme) -> None:
    headers = scheme.sign(OTHER_SECRET, BODY, NOW)
    msg = _rejected(
        lambda: scheme.verify(SECRET, BODY, headers, NOW),
        "signature mismatch",
    )
    assert scheme.expected(SECRET, BODY, NOW) not in msg
    assert scheme.expected(OTHER_SECRET, BODY, NOW) not in msg


@each_scheme
def test_stale_timestamp_is_rejected(scheme: Scheme) -> None:
    sent = NOW - DEFAULT_TOLERANCE_S - 1
    _rejected(
        lambda: scheme.verify(SECRET, BODY, scheme.sign(SECRET, BODY, sent), NOW),
        "timestamp outside the 300 s tolerance window",
        "too old",
    )


@each_scheme
def test_far_future_timestamp_is_rejected(scheme: Scheme) -> None:
    sent = NOW + DEFAULT_TOLERANCE_S + 1
    _rejected(
        lambda: scheme.verify(SECRET, BODY, scheme.sign(SECRET, BODY, sent), NOW),
        "timestamp outside the 300 s tolerance window",
        "in the future",
    )


@each_scheme
@pytest.mark.parametrize("skew", [-DEFAULT_TOLERANCE_S, DEFAULT_TOLERANCE_S])
def test_window_edges_are_accepted(scheme: Scheme, skew: int) -> None:
    scheme.verify(SECRET, BODY, scheme.sign(SECRET, BODY, NOW + skew), NOW)


@each_scheme
@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_signature_header_is_rejected(scheme: Scheme, value: str | None) -> None:
    headers: dict[str, str] = dict(scheme.sign(SECRET, BODY, NOW))
    del headers[scheme.signature_header]
    if value is not None:
        headers[scheme.signature_header] = value
    _rejected(
        lambda: scheme.verify(SECRET, BODY, headers, NOW),
        f"missing {scheme.signature_header} header",
    )


@each_scheme
def test_missing_timestamp_is_rejected(scheme: Scheme) -> None:
    headers = dict(scheme.sign(SECRET, BODY, NOW))
    if scheme.name == "stripe":  # the timestamp is the header's t= entry
        headers["Stripe-Signature"] = headers["Stripe-Signature"].split(",", 1)[1]
        _rejected(
            lambda: scheme.verify(SECRET, BODY, headers, NOW), "malformed Stripe-Signature header"
        )
    else:
        del headers[scheme.timestamp_header]
        _rejected(
            lambda: scheme.verify(SECRET, BODY, headers, NOW),
            f"missing {scheme.timestamp_header} header",
        )


@each_scheme
def test_resigned_timestamp_without_resigning_body_is_rejected(scheme: Scheme) -> None:
    """A replay with a refreshed timestamp but the old signature must fail."""
    old = scheme.sign(SECRET, BODY, NOW - 3600)
    fresh = scheme.sign(SECRET, BODY, NOW)
    if scheme.name == "stripe":
        t_fresh = fresh["Stripe-Signature"].split(",")[0]
        v1_old = old["Stripe-Signature"].split(",")[1]
        forged = {"Stripe-Signature": f"{t_fresh},{v1_old}"}
    else:
        forged = {**old, scheme.timestamp_header: fresh[scheme.timestamp_header]}
    _rejected(lambda: scheme.verify(SECRET, BODY, forged, NOW), "signature mismatch")


@each_scheme
def test_non_ascii_signature_is_a_mismatch_not_a_crash(scheme: Scheme) -> None:
    headers = dict(scheme.sign(SECRET, BODY, NOW))
    if scheme.name == "stripe":
        headers["Stripe-Signature"] = f"t={int(NOW)},v1=é☃"
    elif scheme.name == "product":
        headers["X-Cshub-Signature"] = "v1=é☃"
    else:
        headers[scheme.signature_header] = "é☃\udcff"
    _rejected(lambda: scheme.verify(SECRET, BODY, headers, NOW), "signature mismatch")


@each_scheme
@pytest.mark.parametrize("secret", ["", "  "])
def test_empty_secret_is_a_programming_error(scheme: Scheme, secret: str) -> None:
    headers = scheme.sign(SECRET, BODY, NOW)
    with pytest.raises(ValueError, match="secret") as info:
        scheme.verify(secret, BODY, headers, NOW)
    assert not isinstance(info.value, SignatureError)
    with pytest.raises(ValueError, match="secret"):
        scheme.sign(secret, BODY, NOW)


@each_scheme
def test_empty_secret_wins_over_missing_headers(scheme: Scheme) -> None:
    with pytest.raises(ValueError):
        scheme.verify("", BODY, {}, NOW)


# --- HubSpot v3 --------------------------------------------------------------------------


def test_hubspot_connectors_md_vector() -> None:
    headers = sign_hubspot_v3(
        secret=VECTOR_SECRET,
        method="POST",
        url="https://cs.example.test/webhooks/hubspot",
        body=VECTOR_BODY,
        timestamp_ms=int(VECTOR_TS),
    )
    assert headers == {
        "X-HubSpot-Signature-v3": VECTOR_SIGNATURE,
        "X-HubSpot-Request-Timestamp": VECTOR_TS,
    }
    verify_hubspot_v3(
        secret=VECTOR_SECRET,
        method="POST",
        url="https://cs.example.test/webhooks/hubspot",
        body=VECTOR_BODY,
        signature=VECTOR_SIGNATURE,
        timestamp_ms=VECTOR_TS,
        now=1_700_000_000 + 60,
    )


def test_hubspot_vector_matches_the_sdk_formula() -> None:
    sdk = Signature.get_signature(
        VECTOR_SECRET,
        VECTOR_BODY.decode(),
        "v3",
        "https://cs.example.test/webhooks/hubspot",
        "POST",
        VECTOR_TS,
    )
    assert sdk == VECTOR_SIGNATURE


def test_hubspot_our_signature_passes_the_sdk_check() -> None:
    headers = sign_hubspot_v3(secret=SECRET, method="POST", url=HUBSPOT_URL, body=BODY)
    assert Signature.is_valid(
        signature=headers["X-HubSpot-Signature-v3"],
        client_secret=SECRET,
        request_body=BODY.decode(),
        http_uri=HUBSPOT_URL,
        http_method="POST",
        signature_version="v3",
        timestamp=headers["X-HubSpot-Request-Timestamp"],
    )


def test_hubspot_sdk_signature_passes_our_check() -> None:
    ts = str(int(time.time() * 1000))
    sdk = Signature.get_signature(SECRET, BODY.decode(), "v3", HUBSPOT_URL, "POST", ts)
    verify_hubspot_v3(
        secret=SECRET,
        method="POST",
        url=HUBSPOT_URL,
        body=BODY,
        signature=sdk,
        timestamp_ms=ts,
    )


ENCODED_URL = (
    "https://cs.example.test/webhooks/hubspot%3Bv3"
    "?portal=62515&who=ops%40example.test&list=a%2Cb%2cc&expr=%28x%2Ay%29%21%24%27"
    "&next=https%3A%2F%2Fapp.example.test%2Fdone%3Fok&keep=%20%25%253A"
)
DECODED_URL = (
    "https://cs.example.test/webhooks/hubspot;v3"
    "?portal=62515&who=ops@example.test&list=a,b,c&expr=(x*y)!$'"
    "&next=https://app.example.test/done?ok&keep=%20%25%253A"
)


def test_hubspot_uri_decodes_exactly_the_documented_escapes() -> None:
    assert hubspot_v3_uri(ENCODED_URL) == DECODED_URL
    # %20 and %25 are not in HubSpot's table; one pass, so %253A does not become ":"
    assert hubspot_v3_uri("/a%20b%25c%253A") == "/a%20b%25c%253A"


def test_hubspot_url_encoded_characters_against_the_sdk() -> None:
    # HubSpot signs the decoded URI; the SDK helper takes the URI as already decoded.
    ts = str(int(time.time() * 1000))
    sdk = Signature.get_signature(SECRET, BODY.decode(), "v3", DECODED_URL, "POST", ts)
    for url in (ENCODED_URL, DECODED_URL):
        verify_hubspot_v3(
            secret=SECRET, method="POST", url=url, body=BODY, signature=sdk, timestamp_ms=ts
        )
    ours = sign_hubspot_v3(
        secret=SECRET, method="POST", url=ENCODED_URL, body=BODY, timestamp_ms=int(ts)
    )
    assert ours["X-HubSpot-Signature-v3"] == sdk
    assert Signature.is_valid(
        signature=ours["X-HubSpot-Signature-v3"],
        client_secret=SECRET,
        request_body=BODY.decode(),
        http_uri=DECODED_URL,
        http_method="POST",
        signature_version="v3",
        timestamp=ours["X-HubSpot-Request-Timestamp"],
    )


def test_hubspot_signature_covers_method_and_url() -> None:
    headers = sign_hubspot_v3(
        secret=SECRET, method="POST", url=HUBSPOT_URL, body=BODY, timestamp_ms=int(NOW * 1000)
    )
    for method, url in (("PUT", HUBSPOT_URL), ("POST", HUBSPOT_URL + "?x=1")):
        _rejected(
            lambda m=method, u=url: verify_hubspot_v3(  # type: ignore[misc]
                secret=SECRET,
                method=m,
                url=u,
                body=BODY,
                signature=headers["X-HubSpot-Signature-v3"],
                timestamp_ms=headers["X-HubSpot-Request-Timestamp"],
                now=NOW,
            ),
            "signature mismatch",
        )


@pytest.mark.parametrize(
    "ts", ["abc", "1.7e12", "-1700000000000", "+1700000000000", "1_700", "\u0661\u0667"]
)
def test_hubspot_non_numeric_timestamp_is_rejected(ts: str) -> None:
    _rejected(
        lambda: verify_hubspot_v3(
            secret=SECRET,
            method="POST",
            url=HUBSPOT_URL,
            body=BODY,
            signature="x",
            timestamp_ms=ts,
            now=NOW,
        ),
        "invalid X-HubSpot-Request-Timestamp header",
        "milliseconds",
    )


def test_hubspot_timestamp_in_seconds_is_seen_as_stale() -> None:
    """A sender using seconds instead of ms signs a 1970 timestamp: reported as too old."""
    ts = str(int(NOW))
    sig = Signature.get_signature(SECRET, BODY.decode(), "v3", HUBSPOT_URL, "POST", ts)
    _rejected(
        lambda: verify_hubspot_v3(
            secret=SECRET,
            method="POST",
            url=HUBSPOT_URL,
            body=BODY,
            signature=sig,
            timestamp_ms=ts,
            now=NOW,
        ),
        "too old",
    )


# --- Stripe ------------------------------------------------------------------------------

STRIPE_SECRET = "whsec_test_0123456789abcdef"
STRIPE_BODY = json.dumps(
    {"id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1, "data": {"object": {}}}
).encode()


def test_stripe_library_header_passes_our_check() -> None:
    stripe = pytest.importorskip("stripe")
    header = stripe.WebhookSignature.generate_signature_header(
        STRIPE_BODY.decode(), STRIPE_SECRET, timestamp=int(NOW)
    )
    verify_stripe(secret=STRIPE_SECRET, body=STRIPE_BODY, header=header, now=NOW)
    assert sign_stripe(secret=STRIPE_SECRET, body=STRIPE_BODY, timestamp=int(NOW)) == {
        "Stripe-Signature": header
    }


def test_our_stripe_header_passes_the_stripe_library() -> None:
    stripe = pytest.importorskip("stripe")
    header = sign_stripe(secret=STRIPE_SECRET, body=STRIPE_BODY)["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(STRIPE_BODY, header, STRIPE_SECRET, 300)
    event = stripe.Webhook.construct_event(STRIPE_BODY, header, STRIPE_SECRET)
    assert (event.id, event.type) == ("evt_1", "invoice.paid")
    wrong = sign_stripe(secret="whsec_other", body=STRIPE_BODY)["Stripe-Signature"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(STRIPE_BODY, wrong, STRIPE_SECRET)


def test_stripe_any_v1_may_match_and_v0_is_ignored() -> None:
    t = int(NOW)
    good = _stripe_expected(STRIPE_SECRET, STRIPE_BODY, NOW)
    rolled = _stripe_expected("whsec_previous", STRIPE_BODY, NOW)
    for header in (
        f"t={t},v1={rolled},v1={good}",
        f"t={t},v1={good},v1={rolled}",
        f"v1={rolled}, t={t}, v0={'0' * 64}, v1={good}",
    ):
        verify_stripe(secret=STRIPE_SECRET, body=STRIPE_BODY, header=header, now=NOW)
    _rejected(
        lambda: verify_stripe(
            secret=STRIPE_SECRET,
            body=STRIPE_BODY,
            header=f"t={t},v1={rolled},v0={good}",  # a match in v0 does not count
            now=NOW,
        ),
        "signature mismatch",
        secret=STRIPE_SECRET,
    )


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        ",",
        "=abc",
        "t=1795000000;v1=abc",
        "t=abc,v1=abc",
        "t=,v1=abc",
        "t=1.5,v1=abc",
        "t=-1,v1=abc",
        "t=1795000000,t=1795000001,v1=abc",
        "v1=abc",
        "t=1795000000,v1",
    ],
)
def test_stripe_malformed_header(header: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify_stripe(secret=STRIPE_SECRET, body=STRIPE_BODY, header=header, now=NOW)
    assert str(info.value) == "malformed Stripe-Signature header"


def test_stripe_header_without_v1() -> None:
    _rejected(
        lambda: verify_stripe(
            secret=STRIPE_SECRET, body=STRIPE_BODY, header=f"t={int(NOW)},v0=abc", now=NOW
        ),
        "no v1 signature in Stripe-Signature header",
        secret=STRIPE_SECRET,
    )


# --- Zendesk -----------------------------------------------------------------------------


def test_zendesk_documented_formula_computed_independently() -> None:
    ts = "2026-11-23T09:00:00Z"
    body = b'{"type":"zen:event-type:ticket.created","detail":{"id":"35436"}}'
    expected = base64.b64encode(
        hmac.new(b"zendesk-webhook-secret", ts.encode() + body, hashlib.sha256).digest()
    ).decode()
    now = datetime(2026, 11, 23, 9, 2, tzinfo=UTC).timestamp()
    verify_zendesk(
        secret="zendesk-webhook-secret", body=body, signature=expected, timestamp=ts, now=now
    )
    assert sign_zendesk(secret="zendesk-webhook-secret", body=body, timestamp=ts) == {
        "X-Zendesk-Webhook-Signature": expected,
        "X-Zendesk-Webhook-Signature-Timestamp": ts,
    }


@pytest.mark.parametrize(
    "ts", ["2026-11-23T10:00:00+01:00", "2026-11-23T09:00:00.123Z", "2026-11-23T09:00:00"]
)
def test_zendesk_timestamp_is_signed_as_sent_and_read_with_its_offset(ts: str) -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp()
    headers = sign_zendesk(secret=SECRET, body=BODY, timestamp=ts)
    assert headers["X-Zendesk-Webhook-Signature-Timestamp"] == ts
    verify_zendesk(
        secret=SECRET,
        body=BODY,
        signature=headers["X-Zendesk-Webhook-Signature"],
        timestamp=ts,
        now=now,
    )
    _rejected(
        lambda: verify_zendesk(
            secret=SECRET,
            body=BODY,
            signature=headers["X-Zendesk-Webhook-Signature"],
            timestamp=ts,
            now=now + 301,
        ),
        "too old",
    )


def test_zendesk_default_timestamp_is_iso_utc() -> None:
    ts = sign_zendesk(secret=SECRET, body=BODY)["X-Zendesk-Webhook-Signature-Timestamp"]
    assert ts.endswith("Z")
    assert abs(datetime.fromisoformat(ts).timestamp() - time.time()) < 5


@pytest.mark.parametrize("ts", ["yesterday", "1795000000", "2026-13-45T99:00:00Z"])
def test_zendesk_unparseable_timestamp(ts: str) -> None:
    _rejected(
        lambda: verify_zendesk(secret=SECRET, body=BODY, signature="x", timestamp=ts, now=NOW),
        "invalid X-Zendesk-Webhook-Signature-Timestamp header",
        "ISO-8601",
    )


# --- product (our scheme) ----------------------------------------------------------------


def _product_sig(secret: str, ts: str, body: bytes) -> str:
    return hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()


def test_product_documented_formula_computed_independently() -> None:
    ts = str(int(NOW))
    sig = _product_sig(SECRET, ts, BODY)
    assert sign_product(secret=SECRET, body=BODY, timestamp=int(NOW)) == {
        "X-Cshub-Timestamp": ts,
        "X-Cshub-Signature": f"v1={sig}",
    }
    verify_product(secret=SECRET, body=BODY, signature=f"v1={sig}", timestamp=ts, now=NOW)
    verify_product(secret=SECRET, body=BODY, signature=f"v1={sig.upper()}", timestamp=ts, now=NOW)


def test_product_key_rotation_accepts_any_listed_v1() -> None:
    ts = str(int(NOW))
    new, old = _product_sig(SECRET, ts, BODY), _product_sig(OTHER_SECRET, ts, BODY)
    header = f"v1={new}, v1={old}"
    verify_product(secret=SECRET, body=BODY, signature=header, timestamp=ts, now=NOW)
    verify_product(secret=OTHER_SECRET, body=BODY, signature=header, timestamp=ts, now=NOW)
    verify_product(
        secret=SECRET, body=BODY, signature=f"v2=future,v1={new},", timestamp=ts, now=NOW
    )
    _rejected(
        lambda: verify_product(
            secret="third-secret", body=BODY, signature=header, timestamp=ts, now=NOW
        ),
        "signature mismatch",
        "X-Cshub-Signature",
        secret="third-secret",
    )


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("deadbeef", "malformed X-Cshub-Signature header"),
        ("v1=abc,=abc", "malformed X-Cshub-Signature header"),
        ("v2=abc", "no v1 signature in X-Cshub-Signature header"),
    ],
)
def test_product_malformed_signature_header(header: str, fragment: str) -> None:
    _rejected(
        lambda: verify_product(
            secret=SECRET, body=BODY, signature=header, timestamp=str(int(NOW)), now=NOW
        ),
        fragment,
    )


@pytest.mark.parametrize("ts", ["abc", "1795000000.5", "-1", str(int(NOW * 1000)) + "0" * 10])
def test_product_bad_timestamp(ts: str) -> None:
    _rejected(
        lambda: verify_product(secret=SECRET, body=BODY, signature="v1=x", timestamp=ts, now=NOW),
        "invalid X-Cshub-Timestamp header",
    )


def test_product_shell_recipe_in_the_docstring_produces_an_accepted_signature(
    tmp_path: Path,
) -> None:
    """Run the docstring's openssl line, so the recipe we hand to senders stays true."""
    recipe = (
        "SIG=$({ printf '%s.' \"$TS\"; cat body.json; }"
        " | openssl dgst -sha256 -hmac \"$SECRET\" -r | cut -d' ' -f1)"
    )
    assert recipe in (signatures.__doc__ or "")
    if shutil.which("openssl") is None or shutil.which("bash") is None:
        pytest.skip("openssl/bash not available")
    body = b'{"event_id":"u-1","type":"usage.limit","customer_id":"1001"}\n'
    (tmp_path / "body.json").write_bytes(body)
    ts = str(int(time.time()))
    out = subprocess.run(
        ["bash", "-c", f'{recipe}; printf %s "$SIG"'],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "SECRET": SECRET, "TS": ts},
        capture_output=True,
        check=True,
        timeout=10,
    )
    sig = out.stdout.decode()
    assert sig == _product_sig(SECRET, ts, body)
    verify_product(secret=SECRET, body=body, signature=f"v1={sig}", timestamp=ts)


# --- misc --------------------------------------------------------------------------------


def test_negative_tolerance_is_a_programming_error() -> None:
    h = sign_product(secret=SECRET, body=BODY, timestamp=int(NOW))
    with pytest.raises(ValueError):
        verify_product(
            secret=SECRET,
            body=BODY,
            signature=h["X-Cshub-Signature"],
            timestamp=h["X-Cshub-Timestamp"],
            now=NOW,
            tolerance_s=-1,
        )


def test_custom_tolerance() -> None:
    h = sign_product(secret=SECRET, body=BODY, timestamp=int(NOW) - 30)
    kwargs = {"signature": h["X-Cshub-Signature"], "timestamp": h["X-Cshub-Timestamp"]}
    verify_product(secret=SECRET, body=BODY, now=NOW, tolerance_s=30, **kwargs)
    _rejected(
        lambda: verify_product(secret=SECRET, body=BODY, now=NOW, tolerance_s=29, **kwargs),
        "timestamp outside the 29 s tolerance window",
    )


def test_signers_reject_negative_timestamps() -> None:
    with pytest.raises(ValueError):
        sign_stripe(secret=SECRET, body=BODY, timestamp=-1)
    with pytest.raises(ValueError):
        sign_product(secret=SECRET, body=BODY, timestamp=-1)
    with pytest.raises(ValueError):
        sign_hubspot_v3(secret=SECRET, method="POST", url=HUBSPOT_URL, body=BODY, timestamp_ms=-1)


def test_secret_must_be_a_plain_str() -> None:
    class Wrapped:  # stands in for pydantic's SecretStr
        pass

    with pytest.raises(TypeError, match="str"):
        verify_product(
            secret=Wrapped(),  # type: ignore[arg-type]
            body=BODY,
            signature="v1=x",
            timestamp=str(int(NOW)),
            now=NOW,
        )


def test_zendesk_timestamp_without_offset_is_utc_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ts = "2026-11-23T09:00:00"
    sig = sign_zendesk(secret=SECRET, body=BODY, timestamp=ts)["X-Zendesk-Webhook-Signature"]
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp()
    monkeypatch.setenv("TZ", "XST+05")  # POSIX rule, needs no tzdata: UTC-5
    time.tzset()
    try:
        verify_zendesk(secret=SECRET, body=BODY, signature=sig, timestamp=ts, now=now)
    finally:
        monkeypatch.undo()
        time.tzset()
