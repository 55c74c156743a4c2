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
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis.core.result import Ok
from temporalio.client import Client

from cshub.settings import Settings
from tests.fuzz.conftest import workflow_ids
from tests.webhooks.conftest import Api
from webhooks.ledger import DeliveryLedger

pytestmark = pytest.mark.timeout(240)

SCHEMA_EXAMPLES = 25
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


# Header values httpx can send (latin-1, no control characters).
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
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
            "GET /survey/csat",
            "GET /survey/exit",
            "GET /survey/nps",
            "POST /webhooks/hubspot",
            "POST /webhooks/product",
            "POST /webhooks/stripe",
            "POST /webhooks/zendesk",
        ]
    ), labels
    seen: Counter[str] = Counter()
    started = time.monotonic()

    def allowed(label: str) -> set[int]:
        if label.startswith("POST /webhooks/"):
            return {401, 413, 422}  # never 2xx without a signature
        if label.startswith("GET /survey/"):
            return {403, 422}  # never the thank-you page without a genuine sig
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

        one()

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
