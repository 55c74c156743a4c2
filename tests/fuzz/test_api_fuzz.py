"""Fuzz the webhook API from the outside, over HTTP, against a real uvicorn server on
127.0.0.1 with a real Temporal dev server behind it (so "Temporal unreachable" is never
the excuse for a 503) and the sandbox emulators.

- every operation of the OpenAPI document, with schemathesis (positive and negative
  data, bounded examples, derandomised so CI sees the same cases every run): no 5xx,
  never a 2xx from a signed endpoint without a signature; afterwards the namespace holds
  no workflow and the delivery ledger recorded nothing;
- each provider, with bodies signed correctly (arbitrary JSON, schema-shaped bodies,
  realistic events with one field made hostile): 2xx or 4xx only, a 422 names the field;
- the survey links with fuzzed query strings (well-formed values, forged ``sig``);
- the codec and timeline endpoints without / with wrong bearer tokens or cookies.

Hypothesis runs in a worker thread (blocking HTTP); the server runs on the test's loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from google.protobuf import json_format
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis.core.result import Ok
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client

from domain.survey_links import csat_links, exit_survey_links, nps_links
from runtime.settings import Settings
from tests.fuzz.conftest import random_secret, workflow_ids
from tests.webhooks.conftest import Api
from webhooks import sample_events as samples
from webhooks import signing
from webhooks.codec_routes import SESSION_COOKIE, new_session_cookie
from webhooks.ledger import DeliveryLedger

pytestmark = pytest.mark.timeout(240)

SCHEMA_EXAMPLES = 50
"""Per operation and generation mode (9 operations x 2 modes)."""
SIGNED_EXAMPLES = 60
"""Per provider and body kind."""
LINK_EXAMPLES = 60
AUTH_EXAMPLES = 80


def fuzz_settings_profile(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,  # the same cases on every run: CI is reproducible
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


# Header values h11 sends (printable ASCII, no surrounding white space).
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(
    str.strip
)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
# Values that tend to break code expecting something else: huge and negative numbers,
# wrong container types, odd strings.
HOSTILE = JSON | st.sampled_from(
    [
        0,
        -1,
        10**20,
        -(10**20),
        2**63,
        1e308,
        "",
        " ",
        "\x00",
        "9" * 40,
        "a" * 5000,
        "../../etc/passwd",
        "1001\n",
        "ünïcødé",
        "😀",
        [],
        {},
        "null",
        True,
    ]
)


def check_no_server_error(seen: Counter[str], label: str, resp: httpx.Response) -> None:
    seen[f"{label} {resp.status_code}"] += 1
    assert resp.status_code < 500, f"{label}: {resp.status_code} {resp.text[:500]}"


async def in_thread(fn: Callable[[], None]) -> None:
    """Run blocking hypothesis code while the server keeps serving on this loop."""
    await asyncio.to_thread(fn)


# --- schemathesis over the whole OpenAPI document ---------------------------------------


async def test_schemathesis_every_operation_unsigned(
    fuzz_api: Api, fuzz_client: Client, fuzz_settings: Settings
) -> None:
    schema = await asyncio.to_thread(schemathesis.openapi.from_url, f"{fuzz_api.url}/openapi.json")
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), results
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    labels = sorted(op.label for op in operations)
    # Every route of the app is in the document (the codec is a mounted app: fuzzed below).
    assert labels == sorted(
        [
            "GET /customers/{customer_id}/timeline",
            "GET /healthz",
            "GET /timeline",
            "GET /preferences",
            "GET /preferences/unsubscribe",
            "POST /preferences",
            "POST /preferences/unsubscribe",
            "POST /slack/interactivity",
            "POST /webhooks/inbound-email",
            "GET /survey/csat",
            "GET /survey/exit",
            "GET /survey/nps",
            "GET /survey/onboarding",
            "POST /survey/onboarding",
            "POST /survey/comment",
            "POST /survey/exit/details",
            "POST /webhooks/hubspot",
            "POST /webhooks/product",
            "POST /webhooks/stripe",
            "POST /webhooks/zendesk",
            "POST /webhooks/zendesk/trigger",
        ]
    ), labels
    seen: Counter[str] = Counter()
    started = time.monotonic()

    def allowed(label: str) -> set[int]:
        if label.startswith("POST /webhooks/") or label == "POST /slack/interactivity":
            return {401, 413, 422}  # never 2xx without a signature
        if "/preferences" in label:
            return {403, 422}  # never a contact's choices without a genuine sig
        if label.startswith("GET /survey/") or label in (
            "POST /survey/comment",
            "POST /survey/exit/details",
            "POST /survey/onboarding",
        ):
            return {403, 422}  # never the thank-you page without a genuine sig
        if label == "GET /timeline":
            return {403, 422}  # never a timeline without a genuine signed link
        if label.startswith("GET /customers/"):
            return {401, 422}  # no bearer token: nothing is read
        return {200}  # /healthz: Temporal is up

    def fuzz_operation(
        session: requests.Session, op: APIOperation[Any, Any, Any, Any], mode: GenerationMode
    ) -> None:
        label = f"{op.label} [{mode.value}]"

        @fuzz_settings_profile(SCHEMA_EXAMPLES)
        @given(case=op.as_strategy(generation_mode=mode))
        def one(case: schemathesis.Case[Any]) -> None:
            resp = case.call(base_url=fuzz_api.url, session=session, timeout=30)
            seen[f"{label} {resp.status_code}"] += 1
            assert resp.status_code in allowed(op.label), (
                f"{label}: {resp.status_code} {resp.content[:300]!r}\n{case.as_curl_command()}"
            )

        try:
            one()
        except hypothesis.errors.Unsatisfiable:
            # An operation whose document declares no input (a raw signed body, like
            # Slack's form post) has no negative case to make; its positive cases ran.
            assert mode is GenerationMode.NEGATIVE, label
            seen[f"{label} no negative case"] += 1

    def fuzz() -> None:
        with requests.Session() as session:
            for op in operations:
                # /healthz takes nothing: there is no negative case to make
                modes = [GenerationMode.POSITIVE]
                if op.label != "GET /healthz":
                    modes.append(GenerationMode.NEGATIVE)
                for mode in modes:
                    fuzz_operation(session, op, mode)

    await in_thread(fuzz)
    elapsed = time.monotonic() - started
    print(f"\nschemathesis: {sum(seen.values())} requests in {elapsed:.1f} s")
    for key, n in sorted(seen.items()):
        print(f"  {key}: {n}")
    assert await workflow_ids(fuzz_client) == []
    assert DeliveryLedger(fuzz_settings.cshub_api_db).count() == 0


# --- signed fuzz: correctly signed, hostile bodies ---------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
# Values that tend to break code expecting something else: huge, negative and fractional
# numbers, wrong container types, odd strings, ids too long for Temporal.
HOSTILE = JSON | st.sampled_from(
    [
        0,
        -1,
        1.5,
        10**20,
        -(10**20),
        2**63,
        1e308,
        -1e308,
        "",
        " ",
        "\x00",
        "9" * 40,
        "a" * 5000,
        "../../etc/passwd",
        "1001\n",
        "ünïcødé",
        "\ud800",
        "😀",
        [],
        {},
        [1, 2],
        "null",
        True,
        "2026-13-45T99:99:99Z",
        "9999-12-31T23:59:59+14:00",
    ]
)


def base_events(provider: str) -> list[Any]:
    """Realistic deliveries for each provider, which the fuzz then makes hostile."""
    now = int(time.time())
    if provider == "hubspot":
        return [
            [samples.hubspot_event(object_id="3008", event_id=11)],
            [
                samples.hubspot_event(
                    object_id="1001",
                    subscription_type="company.propertyChange",
                    property_name="cshub_tier",
                    property_value="growth",
                    event_id=12,
                )
            ],
        ]
    if provider == "stripe":
        return [
            samples.stripe_event(
                type="invoice.payment_failed",
                customer_id="1001",
                attempt_count=1,
                amount_due=4900,
                currency="usd",
            ),
            samples.stripe_event(
                type="customer.subscription.updated",
                customer_id="1001",
                object_id="sub_1",
                status="active",
                current_period_end=now + 86400 * 365,
                items={"data": [{"current_period_end": now + 86400 * 365}]},
            ),
            samples.stripe_event(type="invoice.paid", customer_id="1001"),
        ]
    if provider == "zendesk":
        return [
            samples.zendesk_event(ticket_id="5001"),
            samples.zendesk_status_changed("5001", "open", "new"),
            samples.zendesk_comment_added("5001"),
        ]
    return [
        samples.product_event(customer_id="1001", type="first_login"),
        samples.product_event(
            customer_id="1001", type="usage_threshold", percent=87, limit_name="workflow_runs"
        ),
        samples.usage_snapshot_event(customer_id="1001"),
    ]


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (and one new key per object) a fuzz value can go."""
    out = [prefix]
    if isinstance(value, dict):
        out.append((*prefix, "fuzz_extra"))
        for k, v in value.items():
            out.extend(paths_of(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(paths_of(v, (*prefix, i)))
    return out


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = (
        replaced(copy[head], rest, new)
        if head in range(len(copy)) or (isinstance(copy, dict) and head in copy)
        else new
    )
    return copy


@st.composite
def mutated_event(draw: st.DrawFn, provider: str) -> Any:
    base = draw(st.sampled_from(base_events(provider)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths_of(base)))
        base = replaced(base, path, draw(HOSTILE))
    return base


def sign(api: Api, provider: str, body: bytes) -> dict[str, str]:
    secret = api.secret(
        {"hubspot": "hubspot_client_secret", "stripe": "stripe_webhook_secret",
         "zendesk": "zendesk_webhook_secret", "product": "product_webhook_secret"}[provider]
    )  # fmt: skip
    if provider == "hubspot":
        return signing.sign_hubspot_v3(secret=secret, method="POST", url=api.hubspot_url, body=body)
    if provider == "stripe":
        return signing.sign_stripe(secret=secret, body=body)
    if provider == "zendesk":
        return signing.sign_zendesk(secret=secret, body=body)
    return signing.sign_product(secret=secret, body=body)


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def check_signed_answer(provider: str, body: bytes, resp: httpx.Response) -> None:
    where = f"{provider} {resp.status_code} {resp.text[:400]}\nbody: {body[:400]!r}"
    assert resp.status_code in (200, 202, 422), where
    answer = resp.json()
    if resp.status_code == 422 and answer.get("error") == "invalid_payload":
        details = answer["detail"] if isinstance(answer["detail"], list) else []
        for item in details:
            assert item["field"], where  # "body" when the whole body is wrong
    if provider == "hubspot" and resp.status_code == 200:
        for result in answer["results"]:
            if result["outcome"] == "invalid" and "hubspot deal" not in result["detail"]:
                assert ": " in result["detail"], where  # "[0].objectId: Field required"


@pytest.mark.parametrize("provider", ["hubspot", "stripe", "zendesk", "product"])
async def test_signed_hostile_bodies_never_get_a_5xx(
    fuzz_api: Api, clean_sandbox: object, provider: str
) -> None:
    op_schema = await asyncio.to_thread(
        schemathesis.openapi.from_url, f"{fuzz_api.url}/openapi.json"
    )
    operation = op_schema[f"/webhooks/{provider}"]["POST"]
    seen: Counter[str] = Counter()
    started = time.monotonic()

    def post(http: httpx.Client, kind: str, body: bytes) -> None:
        resp = http.post(
            f"{fuzz_api.url}/webhooks/{provider}",
            content=body,
            headers={"Content-Type": "application/json", **sign(fuzz_api, provider, body)},
        )
        seen[f"{kind} {resp.status_code}"] += 1
        check_signed_answer(provider, body, resp)

    def fuzz() -> None:
        with httpx.Client(timeout=30) as http:

            @fuzz_settings_profile(SIGNED_EXAMPLES)
            @given(value=JSON)
            def arbitrary_json(value: Any) -> None:
                post(http, "arbitrary", encode(value))

            @fuzz_settings_profile(SIGNED_EXAMPLES)
            @given(raw=st.binary(max_size=200))
            def arbitrary_bytes(raw: bytes) -> None:
                post(http, "bytes", raw)

            @fuzz_settings_profile(SIGNED_EXAMPLES)
            @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
            def schema_shaped(case: schemathesis.Case[Any]) -> None:
                post(http, "schema", encode(case.body))

            @fuzz_settings_profile(SIGNED_EXAMPLES * 3)
            @given(value=mutated_event(provider))
            def near_valid(value: Any) -> None:
                post(http, "mutated", encode(value))

            for run in (arbitrary_json, arbitrary_bytes, schema_shaped, near_valid):
                run()

    await in_thread(fuzz)
    print(f"\nsigned {provider}: {sum(seen.values())} requests in "
          f"{time.monotonic() - started:.1f} s: {dict(sorted(seen.items()))}")  # fmt: skip


# --- survey links: fuzzed query strings, forged sig ---------------------------------------

SURVEY_ID = "0123456789abcdef"
FAR_FUTURE = 4_000_000_000


def genuine_links(secret: str) -> list[str]:
    base = "http://hub.example"
    return [
        *exit_survey_links(base, secret, "1001", "winback-1001-1", expires=FAR_FUTURE).values(),
        *csat_links(base, secret, "5001", SURVEY_ID, FAR_FUTURE).values(),
        *nps_links(base, secret, "1001", "2001", "2026-Q4", SURVEY_ID, FAR_FUTURE).values(),
    ]


QUERY_VALUE = st.one_of(
    HEADER_TEXT,
    st.text(max_size=40),
    st.sampled_from(["1001", "5001", "2001", "2026-Q4", SURVEY_ID, "0", "5", "10", "11", "-1",
                     "too_expensive", "other", "²", "\uff11", str(FAR_FUTURE), "0" * 13, "%00"]),
)  # fmt: skip


@st.composite
def tampered_link(draw: st.DrawFn, secret: str) -> tuple[str, list[tuple[str, str]]]:
    """A genuine link with something changed: a value, the sig, a parameter added,
    dropped or repeated. Never the genuine query itself."""
    link = draw(st.sampled_from(genuine_links(secret)))
    path, _, query = link.removeprefix("http://hub.example").partition("?")
    params = parse_qsl(query)
    original = list(params)
    names = [k for k, _ in params]
    how = draw(st.sampled_from(["value", "sig", "drop", "add", "repeat"]))
    if how == "value":
        i = draw(st.integers(0, len(params) - 1))
        params[i] = (params[i][0], draw(QUERY_VALUE))
    elif how == "sig":
        sig = dict(params)["sig"]
        forged = draw(
            st.one_of(
                st.text("0123456789abcdef", min_size=32, max_size=32),
                st.integers(0, 31).map(
                    lambda i: sig[:i] + ("0" if sig[i] != "0" else "1") + sig[i + 1 :]
                ),
                st.just(sig[:-1]),
                st.just(sig.upper()),
                QUERY_VALUE,
            )
        )
        params = [(k, forged if k == "sig" else v) for k, v in params]
    elif how == "drop":
        params.pop(draw(st.integers(0, len(params) - 1)))
    elif how == "add":
        params.append((draw(st.sampled_from([*names, "x"])), draw(QUERY_VALUE)))
    else:
        params = params + params
    # What the app reads (the last value of a repeated name) differs in a signed value;
    # a parameter the link does not sign (?x=...) may be added: that is still genuine.
    effective = dict(params)
    hypothesis.assume(any(effective.get(k) != v for k, v in original))
    return path, params


async def test_survey_links_never_signal_without_a_genuine_sig(
    fuzz_api: Api, fuzz_client: Client, fuzz_settings: Settings
) -> None:
    secret = fuzz_api.secret("survey_link_secret")
    seen: Counter[str] = Counter()

    def fuzz() -> None:
        with httpx.Client(timeout=30) as http:

            @fuzz_settings_profile(LINK_EXAMPLES * 3)
            @given(link=tampered_link(secret))
            def tampered(link: tuple[str, list[tuple[str, str]]]) -> None:
                path, params = link
                resp = http.get(fuzz_api.url + path, params=urlencode(params))
                seen[f"{path} {resp.status_code}"] += 1
                assert resp.status_code in (403, 422), (path, params, resp.status_code)

            tampered()

    await in_thread(fuzz)
    print(f"\nsurvey links: {dict(sorted(seen.items()))}")
    assert await workflow_ids(fuzz_client) == []
    assert DeliveryLedger(fuzz_settings.cshub_api_db).count() == 0
    # Not vacuous: the genuine link is taken (no survey runs, so "closed", but recorded).
    async with httpx.AsyncClient() as http:
        link = genuine_links(secret)[0].replace("http://hub.example", fuzz_api.url)
        resp = await http.get(link)
    assert resp.status_code == 200, resp.text
    assert DeliveryLedger(fuzz_settings.cshub_api_db).count() == 1


# --- codec and timeline: bearer tokens and session cookies --------------------------------


@st.composite
def wrong_credentials(draw: st.DrawFn, tokens: list[str]) -> dict[str, str]:
    token = draw(st.sampled_from(tokens))
    genuine = {f"Bearer {t}" for t in tokens}
    headers: dict[str, str] = {}
    auth = draw(
        st.one_of(
            st.none(),
            HEADER_TEXT,
            HEADER_TEXT.map(lambda t: f"Bearer {t}".strip()),
            st.integers(0, len(token) - 1).map(
                lambda i: f"Bearer {token[:i]}{'x' if token[i] != 'x' else 'y'}{token[i + 1 :]}"
            ),
            st.sampled_from(
                [f"Bearer {token[:-1]}", f"Bearer {token}x", f"Basic {token}", token,
                 f"Bearer {token.upper()}", "Bearer", f"Bearer {','.join([*tokens, token])}"]
            ),
        ).filter(lambda a: a not in genuine)  # one configured token: the joined list is it
    )  # fmt: skip
    if auth is not None:
        headers["Authorization"] = auth
    cookie = draw(
        st.one_of(
            st.none(),
            HEADER_TEXT.filter(lambda c: ";" not in c),
            st.text("0123456789abcdef", min_size=64, max_size=64).map(
                lambda mac: f"{FAR_FUTURE}.{mac}"
            ),
            st.just(new_session_cookie(random_secret(), 3600)),  # signed with another token
            st.just(new_session_cookie(token, -10)),  # a genuine one, expired
        )
    )
    if cookie is not None:
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    return headers


PAYLOADS = json.dumps(
    {"payloads": [{"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "eA=="}]}
)


async def test_codec_and_timeline_refuse_wrong_credentials(
    fuzz_api: Api, fuzz_settings: Settings
) -> None:
    codec_tokens = fuzz_settings.codec_tokens
    api_tokens = fuzz_settings.api_tokens
    seen: Counter[str] = Counter()

    def fuzz() -> None:
        with httpx.Client(timeout=30) as http:

            @fuzz_settings_profile(AUTH_EXAMPLES)
            @given(
                path=st.sampled_from(
                    ["/codec/decode", "/codec/encode", "/codec//decode", "/codec/t/x/decode",
                     f"/codec/t/{codec_tokens[0]}/decode"]
                ),
                headers=wrong_credentials(codec_tokens),
                body=st.one_of(st.just(PAYLOADS), st.text(max_size=50)),
            )  # fmt: skip
            def codec(path: str, headers: dict[str, str], body: str) -> None:
                resp = http.post(fuzz_api.url + path, content=body.encode(), headers=headers)
                seen[f"codec {resp.status_code}"] += 1
                assert resp.status_code == 401, (path, headers, resp.status_code, resp.text)

            @fuzz_settings_profile(AUTH_EXAMPLES)
            @given(token=st.one_of(HEADER_TEXT, st.just(codec_tokens[0][:-1])))
            def session(token: str) -> None:
                resp = http.post(f"{fuzz_api.url}/codec/session", data={"token": token})
                seen[f"codec session {resp.status_code}"] += 1
                assert resp.status_code == 401, (token, resp.status_code)
                assert SESSION_COOKIE not in resp.headers.get("set-cookie", "")

            @fuzz_settings_profile(AUTH_EXAMPLES)
            @given(
                customer=st.one_of(st.just("1001"), st.text(st.characters(codec="ascii"), max_size=20)),
                headers=wrong_credentials(api_tokens),
                since=st.one_of(st.none(), HEADER_TEXT),
            )  # fmt: skip
            def timeline(customer: str, headers: dict[str, str], since: str | None) -> None:
                params = {"since": since} if since is not None else {}
                resp = http.get(
                    f"{fuzz_api.url}/customers/{quote(customer, safe='')}/timeline",
                    params=params,
                    headers=headers,
                )
                seen[f"timeline {resp.status_code}"] += 1
                assert resp.status_code in (401, 404), (customer, headers, resp.status_code)

            for run in (codec, session, timeline):
                run()

            # Not vacuous: the right credentials are let in.
            ok = http.post(
                f"{fuzz_api.url}/codec/decode",
                content=PAYLOADS.encode(),
                headers={
                    "Authorization": f"Bearer {codec_tokens[1]}",
                    "Content-Type": "application/json",
                },
            )
            assert ok.status_code == 200, ok.text
            ok = http.get(
                f"{fuzz_api.url}/customers/1001/timeline",
                headers={"Authorization": f"Bearer {api_tokens[0]}"},
            )
            assert ok.status_code == 200, ok.text

    await in_thread(fuzz)
    print(f"\ncodec / timeline: {dict(sorted(seen.items()))}")


# --- the codec and timeline with valid credentials ---------------------------------------

B64 = st.binary(max_size=80).map(lambda b: base64.b64encode(b).decode())
METADATA = st.dictionaries(
    st.sampled_from(["encoding", "encryption-key-id", "encoding-version", "x"]),
    st.one_of(
        st.sampled_from(
            [b"binary/encrypted", b"json/plain", b"binary/null", b"fuzz1", b"k9", b"", b"\xff"]
        ),
        st.binary(max_size=20),
    ).map(lambda b: base64.b64encode(b).decode()),
    max_size=4,
)
PAYLOADS_BODY = st.one_of(
    st.builds(
        lambda items: json.dumps({"payloads": items}),
        st.lists(st.fixed_dictionaries({"metadata": METADATA, "data": B64}), max_size=4),
    ),
    st.text(max_size=60),
    st.just('{"payloads": [{"data": "!!not base64!!"}]}'),
    st.just('{"payloads": {"a": 1}}'),
)
SHORT_CIPHERTEXT = json.dumps(
    {
        "payloads": [
            {
                "metadata": {
                    "encoding": base64.b64encode(b"binary/encrypted").decode(),
                    "encryption-key-id": base64.b64encode(b"fuzz1").decode(),
                },
                "data": base64.b64encode(b"abc").decode(),
            }
        ]
    }
)
SINCE = st.one_of(
    HEADER_TEXT,
    st.builds(
        lambda n, unit: f"{n}{unit}",
        st.integers(min_value=0, max_value=10**30),
        st.sampled_from(["h", "d", "w", "D", ""]),
    ),
    st.sampled_from(
        ["99999999d", "1e9d", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
         "9999-12-31", "0001-01-01", "2026-02-30", "30d", "2026-03-01T09:00:00Z"]
    ),
)  # fmt: skip


async def test_codec_and_timeline_with_valid_credentials_never_5xx(
    fuzz_api: Api, fuzz_settings: Settings
) -> None:
    """An insider's hostile input (a codec or API token holder): anything at all is a
    2xx or a 4xx naming what is wrong, never a 5xx; genuine payloads round-trip."""
    codec_auth = {"Authorization": f"Bearer {fuzz_settings.codec_tokens[0]}"}
    api_auth = {"Authorization": f"Bearer {fuzz_settings.api_tokens[0]}"}
    seen: Counter[str] = Counter()

    def fuzz() -> None:
        with httpx.Client(timeout=30) as http:

            @fuzz_settings_profile(AUTH_EXAMPLES)
            @given(
                operation=st.sampled_from(["decode", "encode"]),
                body=PAYLOADS_BODY,
                content_type=st.sampled_from(
                    ["application/json", "application/json; charset=utf-8", "text/plain"]
                ),
            )
            @hypothesis.example(  # the review's 500: a ciphertext shorter than a nonce
                operation="decode", body=SHORT_CIPHERTEXT, content_type="application/json"
            )
            def codec(operation: str, body: str, content_type: str) -> None:
                resp = http.post(
                    f"{fuzz_api.url}/codec/{operation}",
                    content=body.encode(),
                    headers={**codec_auth, "Content-Type": content_type},
                )
                check_no_server_error(seen, f"codec {operation}", resp)
                assert resp.headers["x-content-type-options"] == "nosniff"
                if content_type == "text/plain":
                    assert resp.status_code == 415
                if resp.status_code == 200 and operation == "encode":
                    back = http.post(
                        f"{fuzz_api.url}/codec/decode",
                        content=resp.content,
                        headers={**codec_auth, "Content-Type": "application/json"},
                    )
                    assert back.status_code == 200, back.text
                    sent, got = Payloads(), Payloads()
                    json_format.Parse(body, sent)
                    json_format.Parse(back.content, got)
                    assert got == sent

            @fuzz_settings_profile(AUTH_EXAMPLES)
            @given(
                customer=st.one_of(
                    st.just("1001"), st.text(st.characters(codec="ascii"), max_size=20)
                ),
                since=st.one_of(st.none(), SINCE),
                limit=st.one_of(st.none(), st.integers(-5, 20_000).map(str), HEADER_TEXT),
            )
            @hypothesis.example(customer="1001", since="99999999d", limit=None)  # the 500
            def timeline(customer: str, since: str | None, limit: str | None) -> None:
                params = {k: v for k, v in (("since", since), ("limit", limit)) if v is not None}
                resp = http.get(
                    f"{fuzz_api.url}/customers/{quote(customer, safe='')}/timeline",
                    params=params,
                    headers=api_auth,
                )
                check_no_server_error(seen, "timeline", resp)
                assert resp.status_code in (200, 404, 422), (customer, params, resp.text)

            for run in (codec, timeline):
                run()

    await in_thread(fuzz)
    print(f"\ncodec / timeline with credentials: {dict(sorted(seen.items()))}")
