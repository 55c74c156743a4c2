"""Hostile input, one property at a time: body size limits (also while streaming),
timestamp windows, constant-time comparisons, secrets only from the environment and
never in logs or workflow histories. Plus regressions for what the fuzz found."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from domain.events import CustomerEvent, DeliveryOutcome, EventSource
from domain.survey_links import exit_survey_links
from runtime.logs import JsonFormatter
from runtime.settings import SANDBOX_WEBHOOK_SECRETS, Settings
from tests.conftest import eventually, running_worker
from tests.fuzz.conftest import SECRET_FIELDS, secret_values, serve_on, workflow_ids
from tests.webhooks.conftest import Api
from webhooks import sample_events as samples
from webhooks import signing
from webhooks.app import MAX_BODY_BYTES
from webhooks.dispatch import dispatch
from webhooks.routing import route_for
from webhooks.sample_events import SignedRequest

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = ["hubspot", "stripe", "zendesk", "product"]
SECRET_OF = {
    "hubspot": "hubspot_client_secret",
    "stripe": "stripe_webhook_secret",
    "zendesk": "zendesk_webhook_secret",
    "product": "product_webhook_secret",
}


def sign_raw(
    api: Api, provider: str, body: bytes, secret: str | None = None, **ts: Any
) -> dict[str, str]:
    """The headers ``provider`` sends for ``body`` (signed with ``secret``, default the
    API's own); ``ts``: the timestamp keyword of the signer."""
    key = secret or api.secret(SECRET_OF[provider])
    if provider == "hubspot":
        return signing.sign_hubspot_v3(
            secret=key, method="POST", url=api.hubspot_url, body=body, **ts
        )
    if provider == "stripe":
        return signing.sign_stripe(secret=key, body=body, **ts)
    if provider == "zendesk":
        return signing.sign_zendesk(secret=key, body=body, **ts)
    return signing.sign_product(secret=key, body=body, **ts)


def signed(
    api: Api, provider: str, event: Any, secret: str | None = None, **ts: Any
) -> SignedRequest:
    body = json.dumps(event).encode()
    return SignedRequest(f"/webhooks/{provider}", body, sign_raw(api, provider, body, secret, **ts))


def ignored_event(provider: str) -> Any:
    """A genuine event no workflow acts on (answered 202 / 200 without starting one)."""
    uid = uuid.uuid4().int % 10**12
    if provider == "hubspot":
        return [
            samples.hubspot_event(
                object_id="1001",
                subscription_type="company.propertyChange",
                property_name="name",
                property_value="x",
                event_id=uid,
            )
        ]
    if provider == "stripe":
        return samples.stripe_event(type="charge.refunded", customer_id="1001")
    if provider == "zendesk":
        return samples.zendesk_event(ticket_id="5001", type="organization.created")
    return samples.product_event(customer_id="1001", type="share")


# --- body size --------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_body_over_1_mib_is_413_and_exactly_1_mib_is_read(
    fuzz_api: Api, provider: str
) -> None:
    big = b"{" + b" " * (MAX_BODY_BYTES - 1) + b"}"
    assert len(big) == MAX_BODY_BYTES + 1
    at_limit = big[:-2] + b"}"
    async with httpx.AsyncClient(timeout=30) as http:
        url = f"{fuzz_api.url}/webhooks/{provider}"
        too_big = await http.post(url, content=big, headers={"Content-Type": "application/json"})
        fits = await http.post(
            url, content=at_limit, headers=sign_raw(fuzz_api, provider, at_limit)
        )
    assert too_big.status_code == 413, too_big.text
    assert too_big.json()["error"] == "body_too_large"
    assert fits.status_code == 422, fits.text  # read whole, verified, then judged


async def _stream_chunked(url: str, limit: int) -> tuple[int, bytes]:
    """POST an endless chunked body (no Content-Length) until the server answers; return
    how many body bytes were sent by then and the answer's head."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    chunk = b" " * 65536
    sent = 0
    try:
        while not answer.done() and sent < limit:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            try:
                await asyncio.wait_for(writer.drain(), timeout=0.5)
            except TimeoutError:
                continue  # the server stopped reading: wait for its answer
            sent += len(chunk)
        head = await asyncio.wait_for(answer, timeout=10)
    except (ConnectionError, asyncio.IncompleteReadError):
        head = await asyncio.wait_for(answer, timeout=10)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return sent, head


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_chunked_body_is_refused_while_it_streams(fuzz_api: Api, provider: str) -> None:
    """No Content-Length to go by: the API counts while reading and answers 413 once
    past 1 MiB, without waiting for (or buffering) the rest."""
    limit = 256 * MAX_BODY_BYTES
    sent, head = await _stream_chunked(f"{fuzz_api.url}/webhooks/{provider}", limit)
    assert head.startswith(b"HTTP/1.1 413"), head
    # What was sent before the answer: the 1 MiB read plus what the sockets buffer.
    assert sent < 32 * MAX_BODY_BYTES, sent


# --- timestamp windows ------------------------------------------------------------------


def _timestamp(provider: str, offset_s: int) -> dict[str, Any]:
    at = time.time() + offset_s
    if provider == "hubspot":
        return {"timestamp_ms": int(at * 1000)}
    if provider == "zendesk":
        return {"timestamp": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {"timestamp": int(at)}


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("offset_s", "accepted"),
    [(-290, True), (290, True), (-310, False), (310, False)],
    ids=["past-inside", "future-inside", "past-outside", "future-outside"],
)
async def test_timestamp_window(
    fuzz_api: Api, provider: str, offset_s: int, accepted: bool
) -> None:
    request = signed(fuzz_api, provider, ignored_event(provider), **_timestamp(provider, offset_s))
    resp = await fuzz_api.post(request)
    if accepted:
        assert resp.status_code in (200, 202), resp.text
    else:
        assert resp.status_code == 401, resp.text
        assert "outside the 300 s tolerance window" in resp.json()["detail"]
        assert ("too old" if offset_s < 0 else "in the future") in resp.json()["detail"]


# --- constant-time comparisons ----------------------------------------------------------

SENSITIVE = re.compile(r"secret|signature|(^|_)sig($|_)|sigs?$|token|digest|(^|_)mac($|_)|password|api_key|bearer|credential|cookie", re.I)  # fmt: skip


def _names(node: ast.AST) -> set[str]:
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            out.add(sub.value)  # request.headers.get("x-hubspot-signature-v3")
    return out


def _is_literal(node: ast.AST) -> bool:
    """None, a literal, or the len() of something: comparing those leaks nothing."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len":
        return True
    return isinstance(node, ast.Tuple | ast.List | ast.Set) and all(
        isinstance(e, ast.Constant) for e in node.elts
    )


def non_constant_time_comparisons(source: str, filename: str) -> list[str]:
    """``a == b`` / ``a != b`` / ``a in b`` where one side is a secret, signature or token
    and neither side is a literal."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, sides, sides[1:], strict=False):
            if not isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn):
                continue
            if _is_literal(left) or _is_literal(right):
                continue
            if any(SENSITIVE.search(n) for n in _names(left) | _names(right)):
                found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_ast_scan_catches_a_plain_comparison() -> None:
    bad = "def ok(sig, expected):\n    return sig == expected\n"
    assert non_constant_time_comparisons(bad, "x.py") == ["x.py:2: sig == expected"]
    bad = "def ok(token, tokens):\n    return token in tokens\n"
    assert non_constant_time_comparisons(bad, "x.py") == ["x.py:2: token in tokens"]
    good = "import hmac\ndef ok(sig, want):\n    return hmac.compare_digest(sig, want)\n"
    assert non_constant_time_comparisons(good, "x.py") == []


def test_secrets_signatures_and_tokens_are_compared_in_constant_time() -> None:
    found = []
    for folder in ("webhooks", "cshub", "runtime", "wiring", "domain"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            found += non_constant_time_comparisons(path.read_text(encoding="utf-8"), rel)
    assert found == [], "use hmac.compare_digest:\n" + "\n".join(found)


# --- secrets only from the environment -----------------------------------------------------

SECRETISH = re.compile(r"secret|token|password|api_key|passphrase|private_key", re.I)


def secret_literals(source: str, filename: str) -> list[str]:
    """A string literal given as is to a secret-named parameter, variable or attribute
    (``secret="…"``, ``API_TOKEN = "…"``), other than a setting's name."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        pairs: list[tuple[str, ast.AST | None]] = []
        if isinstance(node, ast.keyword) and node.arg:
            pairs.append((node.arg, node.value))
        elif isinstance(node, ast.Assign):
            pairs += [(getattr(t, "id", getattr(t, "attr", "")), node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign):
            pairs.append((getattr(node.target, "id", getattr(node.target, "attr", "")), node.value))
        for name, value in pairs:
            if (
                SECRETISH.search(name)
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and value.value.strip()
                and value.value not in Settings.model_fields
            ):
                found.append(f"{filename}:{value.lineno}: {name} = {value.value!r}")
    return found


def test_the_secret_literal_scan_catches_one() -> None:
    src = 'STRIPE_SECRET = "whsec_live_123"\nconnect(api_token="t0k3n")\nsecret("stripe_webhook_secret")\n'
    assert secret_literals(src, "x.py") == [
        "x.py:1: STRIPE_SECRET = 'whsec_live_123'",
        "x.py:2: api_token = 't0k3n'",
    ]


def test_no_secret_literal_outside_the_sandbox_defaults() -> None:
    found = []
    for folder in (
        "webhooks",
        "cshub",
        "runtime",
        "wiring",
        "connectors",
        "activities",
        "workflows",
        "domain",
    ):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            found += secret_literals(path.read_text(encoding="utf-8"), rel)
    found += secret_literals((ROOT / "worker.py").read_text(encoding="utf-8"), "worker.py")
    # The known dev secrets a fresh clone runs with (CSHUB_ENV=sandbox only).
    assert found == [], "\n".join(found)


def test_every_secret_setting_is_a_secret_str() -> None:
    for name, field in Settings.model_fields.items():
        if SECRETISH.search(name) and "file" not in name and "hours" not in name:
            assert field.annotation in (SecretStr, SecretStr | None), name
    for name in SECRET_FIELDS:
        assert Settings.model_fields[name].annotation in (SecretStr, SecretStr | None), name


async def test_webhook_secrets_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    hub_settings: Settings,
    fuzz_client: Client,
    tmp_path: Path,
) -> None:
    from_env = {name: f"env-{name}-{uuid.uuid4().hex}" for name in SECRET_OF.values()}
    for name, value in from_env.items():
        monkeypatch.setenv(name.upper(), value)
    settings = Settings(
        **{
            k: getattr(hub_settings, k)
            for k in ("hubspot_base_url", "zendesk_base_netloc", "zendesk_scheme")
        },
        cshub_api_db=tmp_path / "env.db",
    )
    for name, value in from_env.items():
        assert getattr(settings, name).get_secret_value() == value
    async with serve_on(settings, fuzz_client) as api:
        for provider in PROVIDERS:
            genuine = await api.post(signed(api, provider, ignored_event(provider)))
            assert genuine.status_code in (200, 202), genuine.text
            sandbox_key = SANDBOX_WEBHOOK_SECRETS[SECRET_OF[provider]]
            old = await api.post(signed(api, provider, ignored_event(provider), sandbox_key))
            assert old.status_code == 401, old.text


# --- secrets and signatures never in logs -----------------------------------------------


SENDER: contextvars.ContextVar[bool] = contextvars.ContextVar("sender", default=False)
"""Set while the test plays the senders: their HTTP client logs the URLs and headers it
sends and receives (``HTTP Request: GET …/survey/exit?…&sig=…``, ``set-cookie``). The
API serves on tasks of its own, which never see it set."""


class Capture(logging.Handler):
    """Every record, as text, as a JSON line and with all its attributes; not the
    senders' own HTTP client's."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.json = JsonFormatter()
        self.text = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        if SENDER.get() and record.name.startswith(("httpx", "httpcore")):
            return
        self.lines.append(self.text.format(record))
        self.lines.append(self.json.format(record))
        self.lines.append(repr(record.__dict__))


@contextlib.contextmanager
def capture_all_logs() -> Iterator[Capture]:
    handler = Capture()
    names = ["", "cshub", "webhooks", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx",
             "httpcore", "temporalio", "fastapi", "starlette", "asyncio", "connectors"]  # fmt: skip
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


async def _deliveries(api: Api, settings: Settings) -> list[str]:
    """Valid and invalid deliveries of every kind; returns every signature, token and
    cookie value sent."""
    sent: list[str] = []
    async with httpx.AsyncClient(timeout=30) as http:
        for provider in PROVIDERS:
            good = signed(api, provider, ignored_event(provider))
            forged = signed(api, provider, ignored_event(provider), "not-the-secret-at-all")
            stale = signed(api, provider, ignored_event(provider), **_timestamp(provider, -3600))
            tampered = SignedRequest(good.path, good.body + b" ", good.headers)
            for request in (good, forged, stale, tampered):
                sent += signature_values(request.headers)
                resp = await api.post(request)
                assert resp.status_code < 500
        secret = api.secret("survey_link_secret")
        links = exit_survey_links(
            api.url, secret, "1001", "winback-1001-logs", expires=4_000_000_000
        )
        for link in links.values():
            sent.append(re.search(r"sig=([0-9a-f]+)", link).group(1))  # type: ignore[union-attr]
            await http.get(link)
            await http.get(link.replace("sig=", "sig=0"))
        codec_token, api_token = settings.codec_tokens[0], settings.api_tokens[0]
        payloads = {"payloads": [{"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "eA=="}]}
        for token in (codec_token, codec_token + "x"):
            await http.post(
                f"{api.url}/codec/decode",
                json=payloads,
                headers={"Authorization": f"Bearer {token}"},
            )
            login = await http.post(f"{api.url}/codec/session", data={"token": token})
            cookie = login.cookies.get("cshub_codec_session")
            http.cookies.clear()
            if cookie:
                sent.append(cookie)
                await http.post(
                    f"{api.url}/codec/decode",
                    json=payloads,
                    headers={"Cookie": f"cshub_codec_session={cookie}"},
                )
        for token in (api_token, api_token + "x"):
            await http.get(
                f"{api.url}/customers/1001/timeline", headers={"Authorization": f"Bearer {token}"}
            )
        sent += [codec_token + "x", api_token + "x"]
    return sent


def signature_values(headers: dict[str, str]) -> list[str]:
    """Each signature header's value, and each signature in it (``t=…,v1=<hex>``)."""
    out = []
    for name, value in headers.items():
        if "ignature" in name:
            out.append(value)
            out += [part.partition("=")[2] for part in value.split(",") if "=" in part]
    return [v for v in out if len(v) >= 16]


def _leaks(haystack: str, needles: list[str]) -> list[str]:
    return [n for n in needles if n and n in haystack]


async def test_secrets_and_signatures_never_appear_in_logs(
    fuzz_api: Api, fuzz_settings: Settings, clean_sandbox: object
) -> None:
    with capture_all_logs() as logs:
        sender = SENDER.set(True)
        try:
            sent = await _deliveries(fuzz_api, fuzz_settings)
        finally:
            SENDER.reset(sender)
    text = "\n".join(logs.lines)
    assert "rejected /webhooks/stripe webhook: signature mismatch" in text  # not vacuous
    assert "codec decode refused" in text
    assert len(sent) > 30
    assert _leaks(text, secret_values(fuzz_settings)) == []
    leaked = _leaks(text, sent)
    assert leaked == [], [line[:600] for line in logs.lines if any(v in line for v in leaked)][:3]


# --- secrets and signatures never in workflow histories -------------------------------------


async def test_secrets_and_signatures_never_appear_in_workflow_histories(
    fuzz_api: Api,
    fuzz_settings: Settings,
    fuzz_client: Client,
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: object,
) -> None:
    secret = fuzz_api.secret
    deliveries = [
        samples.signed_hubspot(
            [samples.hubspot_event(object_id="3008")],
            secret=secret("hubspot_client_secret"),
            public_url=fuzz_api.hubspot_url,
        ),
        samples.signed_product(
            samples.product_event(customer_id="1001", type="first_login"),
            secret=secret("product_webhook_secret"),
        ),
        samples.signed_stripe(
            samples.stripe_event(
                type="invoice.payment_failed",
                customer_id="1002",
                attempt_count=1,
                amount_due=4900,
                currency="usd",
            ),
            secret=secret("stripe_webhook_secret"),
        ),
        samples.signed_zendesk(
            samples.zendesk_event(ticket_id="5001"), secret=secret("zendesk_webhook_secret")
        ),
    ]
    sent = [v for d in deliveries for v in signature_values(d.headers)]
    async with running_worker(
        dev_server_env,
        fuzz_settings,
        task_queue=fuzz_settings.temporal_task_queue,
        client=fuzz_client,
    ):
        for delivery in deliveries:
            resp = await fuzz_api.post(delivery)
            assert resp.status_code in (200, 202), resp.text
        expected = {"onboarding-1008", "onboarding-1001", "dunning-1002", "ticket-sla-5001"}

        async def all_listed() -> list[str]:
            # The dev server's visibility (what list_workflows reads) lags the starts.
            listed = await workflow_ids(fuzz_client)
            assert expected <= set(listed), listed
            return listed

        ids = await eventually(all_listed)
        # Let each take its first steps (activities with their inputs and results); a
        # loaded CI machine may take a while, the loop ends as soon as they have.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            histories = [await fuzz_client.get_workflow_handle(i).fetch_history() for i in ids]
            if all(
                any(e.HasField("activity_task_completed_event_attributes") for e in h.events)
                for h in histories
            ):
                break
            await asyncio.sleep(0.5)
        for workflow_id in ids:
            with contextlib.suppress(RPCError):
                await fuzz_client.get_workflow_handle(workflow_id).terminate("test over")
    dumps = []
    for workflow_id in sorted(set(ids) | set(await workflow_ids(fuzz_client))):
        history = await fuzz_client.get_workflow_handle(workflow_id).fetch_history()
        dumps.append(history.to_json())
        dumps.append(b"".join(e.SerializeToString() for e in history.events).decode("latin-1"))
    text = "\n".join(dumps)
    assert "activity_task_completed" in text.lower() or "activityTaskCompleted" in text
    assert _leaks(text, secret_values(fuzz_settings)) == []
    assert _leaks(text, sent) == []


# --- regressions: what the fuzz found ---------------------------------------------------

FAR = 10**17  # epoch seconds / ms past year 9999


@pytest.mark.parametrize(
    ("provider", "event", "field"),
    [
        ("hubspot", [samples.hubspot_event(object_id="3008", occurred_at_ms=FAR)], "occurredAt"),
        ("stripe", {**samples.stripe_event(type="charge.refunded", customer_id="1001"),
                    "created": FAR}, "created"),
        ("zendesk", {**samples.zendesk_event(ticket_id="5001"),
                     "time": "9999-12-31T23:59:59+00:00"}, "time"),
        ("product", {**samples.product_event(customer_id="1001", type="share"),
                     "occurred_at": "9999-12-31T23:59:59Z"}, "occurred_at"),
        ("stripe", samples.stripe_event(type="customer.subscription.created",
                                        customer_id="1001", current_period_end=FAR),
         "current_period_end"),
        ("stripe", samples.stripe_event(type="customer.subscription.created",
                                        customer_id="1001", items="x", current_period_end=None),
         "current_period_end"),
        ("stripe", samples.stripe_event(type="invoice.payment_failed", customer_id=None,
                                        subscription_details="x", parent=[1]), None),
        ("zendesk", samples.zendesk_event(ticket_id="5001", type="ticket.comment_added",
                                          event={"comment": [1]}), None),
        ("zendesk", samples.zendesk_event(ticket_id="5001", type="ticket.comment_added",
                                          event={"comment": {"author": "x"}}), None),
        ("zendesk", samples.zendesk_event(ticket_id="5" * 2000), "ticket_id"),
        ("stripe", samples.stripe_event(type="invoice.payment_failed",
                                        customer_id="../../crm/v3/x"), "customer_id"),
        ("stripe", samples.stripe_event(type="invoice.paid", customer_id="1" * 2000),
         "customer_id"),
        ("product", None, "body"),
    ],
    ids=["hubspot-far-time", "stripe-far-created", "zendesk-far-time", "product-far-time",
         "stripe-far-period-end", "stripe-items-not-object", "stripe-details-not-objects",
         "zendesk-comment-not-object", "zendesk-author-not-object", "zendesk-long-ticket-id",
         "stripe-customer-id-path", "stripe-signal-long-customer-id", "product-null-body"],
)  # fmt: skip
async def test_signed_but_malformed_payloads_are_4xx_not_5xx(
    fuzz_api: Api, fuzz_client: Client, provider: str, event: Any, field: str | None
) -> None:
    resp = await fuzz_api.post(signed(fuzz_api, provider, event))
    assert resp.status_code in (200, 202, 422), resp.text
    if field is not None:
        if provider == "hubspot":
            assert field in resp.json()["results"][0]["detail"], resp.text
        else:
            assert resp.status_code == 422, resp.text
            assert field in resp.text, resp.text
    assert all(len(i) < 200 and ".." not in i for i in await workflow_ids(fuzz_client))


async def test_an_id_temporal_refuses_is_invalid_not_a_crash() -> None:
    class Refusing:
        async def start_workflow(self, *args: Any, **kwargs: Any) -> None:
            raise RPCError("WorkflowId length exceeds limit.", RPCStatusCode.INVALID_ARGUMENT, b"")

    event = CustomerEvent(
        event_id="e1",
        source=EventSource.ZENDESK,
        type="zendesk.ticket.created",
        occurred_at=datetime.now(UTC) - timedelta(minutes=1),
        data={"ticket_id": "5001", "status": "new", "priority": "high"},
    )
    route = route_for(event.type)
    assert route is not None
    result = await dispatch(Refusing(), "q", route, event)  # type: ignore[arg-type]
    assert result.outcome is DeliveryOutcome.INVALID
    assert "length exceeds" in (result.detail or "")
