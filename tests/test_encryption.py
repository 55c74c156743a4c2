"""Payload encryption (runtime.codec), its settings, the API's codec endpoint, and a real
workflow on the dev server whose history holds no customer's personal data in clear."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf.message import Message
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload, SearchAttributes
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    ListWorkflowExecutionsRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cshub.dev import DevSettings, start_temporal_dev_server
from cshub.dev_encryption import prepare_dev_encryption
from cshub.temporal_process import free_port
from domain.onboarding import OnboardingInput
from runtime.codec import (
    ENCRYPTED_ENCODING,
    EncryptionCodec,
    PayloadDecryptionError,
    data_converter,
)
from runtime.encryption_keys import KeyRing, new_key_entry
from runtime.settings import Settings, describe_validation_error
from sandbox.demo_data import load_demo_data
from sandbox.server import SandboxHandle
from tests.conftest import outbox
from webhooks.app import create_app
from webhooks.codec_routes import SESSION_COOKIE, new_session_cookie, session_valid
from webhooks.server import serve_api
from wiring.connectors import build_connectors
from worker import create_worker
from workflows.onboarding import OnboardingWorkflow

KEY_1 = new_key_entry("k1")
KEY_2 = new_key_entry("k2")
TOKEN = "codec-token-for-tests-0123456789"
UI_ORIGIN = "http://127.0.0.1:8233"


def keyring(*entries: str, active: str | None = None) -> KeyRing | None:
    s = Settings(cshub_encryption_keys=",".join(entries), cshub_encryption_key_id=active)
    return s.encryption_keyring()


def payload(text: str, encoding: bytes = b"json/plain") -> Payload:
    return Payload(metadata={"encoding": encoding}, data=text.encode())


def config_error(**values: Any) -> str:
    with pytest.raises(ValidationError) as err:
        Settings(**values)
    return describe_validation_error(err.value)


# ------------------------------------------------------------------------ the codec


async def test_payloads_are_encrypted_with_the_active_key_and_decrypt_back() -> None:
    codec = EncryptionCodec(keyring(KEY_1))
    original = payload('{"email": "ana.lopez@brightleaf.example.com"}')
    (sealed,) = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCRYPTED_ENCODING
    assert sealed.metadata["encryption-key-id"] == b"k1"
    assert b"ana.lopez" not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()  # metadata is inside too
    (again,) = await codec.encode([original])
    assert again.data != sealed.data  # a fresh nonce every time
    assert await codec.decode([sealed]) == [original]


async def test_keys_rotate_old_payloads_stay_readable_new_ones_use_the_new_key() -> None:
    old = EncryptionCodec(keyring(KEY_1))
    (written_before,) = await old.encode([payload('"before"')])
    rotated = EncryptionCodec(keyring(KEY_2, KEY_1))  # the first listed is active
    (written_after,) = await rotated.encode([payload('"after"')])
    assert written_after.metadata["encryption-key-id"] == b"k2"
    assert [p.data for p in await rotated.decode([written_before, written_after])] == [
        b'"before"',
        b'"after"',
    ]
    explicit = EncryptionCodec(keyring(KEY_2, KEY_1, active="k1"))
    assert (await explicit.encode([payload("1")]))[0].metadata["encryption-key-id"] == b"k1"
    # Once k1 is dropped, what it encrypted fails clearly, naming the key id.
    with pytest.raises(PayloadDecryptionError, match=r"key id 'k1'.*not configured"):
        await EncryptionCodec(keyring(KEY_2)).decode([written_before])


async def test_a_different_key_under_the_same_id_or_a_changed_payload_fails_clearly() -> None:
    (sealed,) = await EncryptionCodec(keyring(KEY_1)).encode([payload('"x"')])
    impostor = EncryptionCodec(keyring(new_key_entry("k1")))
    with pytest.raises(PayloadDecryptionError, match="does not decrypt"):
        await impostor.decode([sealed])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.metadata["encryption-key-id"] = b"k1"
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError):
        await EncryptionCodec(keyring(KEY_1)).decode([tampered])


async def test_unencrypted_payloads_pass_through_so_encryption_can_be_switched_on() -> None:
    plain = payload('{"a": 1}')
    assert await EncryptionCodec(keyring(KEY_1)).decode([plain]) == [plain]
    off = EncryptionCodec(None)
    assert await off.encode([plain]) == [plain]
    (sealed,) = await EncryptionCodec(keyring(KEY_1)).encode([plain])
    with pytest.raises(PayloadDecryptionError, match="CSHUB_ENCRYPTION_KEYS"):
        await off.decode([sealed])


async def test_the_converter_encrypts_values_and_failure_messages_only_with_keys() -> None:
    on = data_converter(Settings(cshub_encryption_keys=KEY_1))
    (sealed,) = await on.encode(["grace.kim@northwind.example.com"])
    assert sealed.metadata["encoding"] == ENCRYPTED_ENCODING
    assert await on.decode([sealed], [str]) == ["grace.kim@northwind.example.com"]
    failure = Failure()
    await on.encode_failure(RuntimeError("mail to grace.kim@northwind failed"), failure)
    assert b"grace" not in failure.SerializeToString()
    assert failure.message == "Encoded failure"
    off = data_converter(Settings())
    assert off.payload_converter is not None
    (clear,) = await off.encode(["x"])
    assert clear.metadata["encoding"] == b"json/plain"


# --------------------------------------------------------------------- the settings


def test_bad_keys_stop_start_up_with_the_variable_named() -> None:
    assert "CSHUB_ENCRYPTION_KEYS: key 'k1' is not valid base64" in config_error(
        cshub_encryption_keys="k1:not*base64"
    )
    short = base64.b64encode(b"x" * 16).decode()
    assert "CSHUB_ENCRYPTION_KEYS: key 'k1' is 16 bytes; AES-256 needs 32" in config_error(
        cshub_encryption_keys=f"k1:{short}"
    )
    assert "CSHUB_ENCRYPTION_KEYS: entry 1 is not 'key-id:base64-key'" in config_error(
        cshub_encryption_keys=base64.b64encode(b"x" * 32).decode()
    )
    assert "CSHUB_ENCRYPTION_KEY_ID: 'k9' is not one of the configured key ids (k1, k2)" in (
        config_error(cshub_encryption_keys=f"{KEY_1},{KEY_2}", cshub_encryption_key_id="k9")
    )
    assert "listed twice" in config_error(cshub_encryption_keys=f"{KEY_1},{KEY_1}")
    assert "CSHUB_ENCRYPTION_KEY_ID is set but no key is" in config_error(
        cshub_encryption_key_id="k1"
    )
    assert "CSHUB_CODEC_TOKENS: every token needs at least 16 characters" in config_error(
        cshub_codec_tokens="short"
    )
    assert "CSHUB_CODEC_CORS_ORIGINS" in config_error(cshub_codec_cors_origins="*")
    assert "CSHUB_CODEC_DEV_TOKEN" in config_error(
        cshub_env="production",
        hubspot_access_token="x",
        zendesk_subdomain="x",
        zendesk_email="x@x",
        zendesk_token="x",
        slack_bot_token="x",
        smtp_host="x",
        smtp_sender="x@x",
        cshub_codec_dev_token="d" * 20,
    )
    # No key material in any message.
    bad = f"k1:{base64.b64encode(b'secret-key-bytes').decode()}"
    assert base64.b64encode(b"secret-key-bytes").decode() not in config_error(
        cshub_encryption_keys=bad
    )


def test_keys_can_come_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# comment\n{KEY_2}\n{KEY_1}\n")
    ring = Settings(cshub_encryption_keys_file=path).encryption_keyring()
    assert ring is not None and list(ring.keys) == ["k2", "k1"] and ring.active_key_id == "k2"
    assert "CSHUB_ENCRYPTION_KEYS_FILE: cannot read" in config_error(
        cshub_encryption_keys_file=tmp_path / "missing"
    )
    assert "not both" in config_error(cshub_encryption_keys=KEY_1, cshub_encryption_keys_file=path)


# -------------------------------------------------------------- the codec endpoint


@pytest.fixture
def codec_settings(hub_settings: Settings, tmp_path: Path) -> Settings:
    return hub_settings.model_copy(
        update={
            "cshub_api_db": tmp_path / "webhooks.db",
            "cshub_encryption_keys": Settings(cshub_encryption_keys=KEY_1).cshub_encryption_keys,
            "cshub_codec_tokens": Settings(cshub_codec_tokens=TOKEN).cshub_codec_tokens,
        }
    )


@asynccontextmanager
async def codec_api(settings: Settings) -> AsyncIterator[str]:
    async def no_temporal() -> Client:
        raise RuntimeError("not needed")

    server = await serve_api(create_app(settings, connect=no_temporal), port=0)
    try:
        yield server.url
    finally:
        await server.stop()


def payloads_json(*items: Payload) -> dict[str, Any]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in items
        ]
    }


def data_of(body: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(p.get("data", "")) for p in body["payloads"]]


async def test_the_codec_endpoint_decodes_only_with_valid_auth(codec_settings: Settings) -> None:
    secret = payload('{"email": "maya.johnson@cobalthealth.example.com"}')
    (sealed,) = await EncryptionCodec(codec_settings.encryption_keyring()).encode([secret])
    body = payloads_json(sealed)
    async with codec_api(codec_settings) as url, httpx.AsyncClient(timeout=10) as http:
        refused = [
            await http.post(f"{url}/codec/decode", json=body),
            await http.post(
                f"{url}/codec/decode", json=body, headers={"Authorization": "Bearer wrong-token"}
            ),
            await http.post(
                f"{url}/codec/decode", json=body, headers={"Authorization": f"Basic {TOKEN}"}
            ),
        ]
        for resp in refused:
            assert resp.status_code == 401, resp.text
            assert b"maya" not in resp.content
        auth = {"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"}
        ok = await http.post(f"{url}/codec/decode", json=body, headers=auth)
        assert ok.status_code == 200, ok.text
        assert data_of(ok.json()) == [secret.data]
        assert base64.b64decode(ok.json()["payloads"][0]["metadata"]["encoding"]) == b"json/plain"
        # Round trip: what /encode returns, /decode (and the workers' codec) reads back.
        enc = await http.post(f"{url}/codec/encode", json=payloads_json(secret), headers=auth)
        assert enc.status_code == 200
        assert b"maya" not in enc.content
        (encoded,) = enc.json()["payloads"]
        assert base64.b64decode(encoded["metadata"]["encoding"]) == ENCRYPTED_ENCODING
        back = await http.post(f"{url}/codec/decode", json=enc.json(), headers=auth)
        assert data_of(back.json()) == [secret.data]
        # An endpoint configured with a trailing slash (…/codec/ + "/decode") works too.
        slash = await http.post(f"{url}/codec//decode", json=body, headers=auth)
        assert slash.status_code == 200 and data_of(slash.json()) == [secret.data]
        # Unencrypted payloads come back as they are.
        plain = await http.post(
            f"{url}/codec/decode", json=payloads_json(payload('"x"')), headers=auth
        )
        assert data_of(plain.json()) == [b'"x"']
        # Another namespace's payloads are not this codec's business.
        other = await http.post(
            f"{url}/codec/decode", json=body, headers={**auth, "X-Namespace": "billing"}
        )
        assert other.status_code == 403
        json_type = {"Content-Type": "application/json"}
        broken = await http.post(f"{url}/codec/decode", content=b"{", headers={**auth, **json_type})
        assert broken.status_code == 400
        # JSON only (a form or text/plain POST needs no CORS preflight).
        for media_type in ("text/plain", "application/x-www-form-urlencoded", None):
            sent = {**auth, "Content-Type": media_type} if media_type else auth
            plain = await http.post(
                f"{url}/codec/decode", content=b'{"payloads": []}', headers=sent
            )
            assert plain.status_code == 415, media_type
        # A ciphertext too short to hold a nonce and a tag is a 422, not a 500.
        short = payloads_json(
            Payload(
                metadata={"encoding": b"binary/encrypted", "encryption-key-id": b"k1"},
                data=b"abc",
            )
        )
        cut = await http.post(f"{url}/codec/decode", json=short, headers=auth)
        assert cut.status_code == 422 and "shorter" in cut.json()["detail"]
        assert cut.headers["x-content-type-options"] == "nosniff"
        # An unknown key id is reported, not guessed at.
        (foreign,) = await EncryptionCodec(keyring(KEY_2)).encode([secret])
        unknown = await http.post(f"{url}/codec/decode", json=payloads_json(foreign), headers=auth)
        assert unknown.status_code == 422 and "'k2'" in unknown.json()["detail"]
        # The dev path token is not accepted: none is configured here.
        dev = await http.post(f"{url}/codec/t/{TOKEN}/decode", json=body)
        assert dev.status_code == 401


async def test_cors_preflight_is_answered_for_the_ui_origin_only(codec_settings: Settings) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    async with codec_api(codec_settings) as url, httpx.AsyncClient(timeout=10) as http:
        ok = await http.options(f"{url}/codec/decode", headers={"Origin": UI_ORIGIN, **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == UI_ORIGIN
        assert ok.headers["access-control-allow-credentials"] == "true"
        allowed = ok.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "x-namespace"} <= {
            h.strip() for h in allowed.split(",")
        }
        assert "POST" in ok.headers["access-control-allow-methods"]
        evil = await http.options(
            f"{url}/codec/decode", headers={"Origin": "https://evil.example", **preflight}
        )
        assert evil.status_code >= 400
        assert "access-control-allow-origin" not in evil.headers
        # The actual request carries the headers for the UI (also when refused, so the
        # UI can tell "not signed in" from "unreachable"), and none for another origin.
        refused = await http.post(
            f"{url}/codec/decode", json={"payloads": []}, headers={"Origin": UI_ORIGIN}
        )
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == UI_ORIGIN
        other = await http.post(
            f"{url}/codec/decode",
            json={"payloads": []},
            headers={"Origin": "https://evil.example", "Authorization": f"Bearer {TOKEN}"},
        )
        assert "access-control-allow-origin" not in other.headers
        # The webhooks themselves are not opened to browsers.
        hook = await http.options(
            f"{url}/webhooks/stripe", headers={"Origin": UI_ORIGIN, **preflight}
        )
        assert "access-control-allow-origin" not in hook.headers


async def test_a_person_signs_in_once_and_the_ui_sends_the_session_cookie(
    codec_settings: Settings,
) -> None:
    (sealed,) = await EncryptionCodec(codec_settings.encryption_keyring()).encode([payload("1")])
    async with codec_api(codec_settings) as url, httpx.AsyncClient(timeout=10) as http:
        form = await http.get(f"{url}/codec/session")
        assert form.status_code == 200 and "<form" in form.text
        wrong = await http.post(f"{url}/codec/session", data={"token": "not-the-token-at-all"})
        assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.cookies
        signed_in = await http.post(f"{url}/codec/session", data={"token": TOKEN})
        assert signed_in.status_code == 200
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Path=/codec" in cookie and "samesite=lax" in cookie.lower()
        value = signed_in.cookies[SESSION_COOKIE]
        assert TOKEN not in value
        ok = await http.post(
            f"{url}/codec/decode",
            json=payloads_json(sealed),
            headers={"Origin": UI_ORIGIN, "Cookie": f"{SESSION_COOKIE}={value}"},
        )
        assert ok.status_code == 200 and data_of(ok.json()) == [b"1"]
        forged = value.split(".")[0] + "." + "0" * 64
        bad = await http.post(
            f"{url}/codec/decode",
            json=payloads_json(sealed),
            headers={"Cookie": f"{SESSION_COOKIE}={forged}"},
        )
        assert bad.status_code == 401
    # Revoking the token ends the sessions it signed.
    rotated = codec_settings.model_copy(
        update={
            "cshub_codec_tokens": Settings(
                cshub_codec_tokens="another-codec-token-0123456789"
            ).cshub_codec_tokens
        }
    )
    async with codec_api(rotated) as url, httpx.AsyncClient(timeout=10) as http:
        gone = await http.post(
            f"{url}/codec/decode",
            json=payloads_json(sealed),
            headers={"Cookie": f"{SESSION_COOKIE}={value}"},
        )
        assert gone.status_code == 401


def test_a_session_cookie_lasts_no_longer_than_the_session_hours_now_allow() -> None:
    now = 1_800_000_000.0
    day = new_session_cookie(TOKEN, 24 * 3600, now=now)
    assert session_valid(day, [TOKEN], now=now, max_ttl=24 * 3600)
    # CSHUB_CODEC_SESSION_HOURS shortened to 1 h: the day-long cookie is no longer good.
    assert not session_valid(day, [TOKEN], now=now, max_ttl=3600)
    assert session_valid(new_session_cookie(TOKEN, 3600, now=now), [TOKEN], now=now, max_ttl=3600)


async def test_the_codec_endpoint_is_off_without_keys_or_without_tokens(
    codec_settings: Settings,
) -> None:
    no_keys = codec_settings.model_copy(update={"cshub_encryption_keys": None})
    no_tokens = codec_settings.model_copy(update={"cshub_codec_tokens": None})
    for settings, why in ((no_keys, "encryption is off"), (no_tokens, "CSHUB_CODEC_TOKENS")):
        async with codec_api(settings) as url, httpx.AsyncClient(timeout=10) as http:
            resp = await http.post(
                f"{url}/codec/decode",
                json={"payloads": []},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert resp.status_code == 404 and why in resp.json()["detail"]


async def test_the_sandbox_dev_token_works_in_the_path(codec_settings: Settings) -> None:
    dev_token = "dev-token-" + uuid.uuid4().hex
    settings = codec_settings.model_copy(
        update={
            "cshub_codec_tokens": None,
            "cshub_codec_dev_token": Settings(
                cshub_codec_dev_token=dev_token
            ).cshub_codec_dev_token,
        }
    )
    (sealed,) = await EncryptionCodec(settings.encryption_keyring()).encode([payload("7")])
    async with codec_api(settings) as url, httpx.AsyncClient(timeout=10) as http:
        # As UI 2.54 builds it from an endpoint ending in "/": `${endpoint}/decode?…`.
        ok = await http.post(
            f"{url}/codec/t/{dev_token}//decode?preserveStorageRefs=true",
            json=payloads_json(sealed),
        )
        assert ok.status_code == 200 and data_of(ok.json()) == [b"7"]
        wrong = await http.post(f"{url}/codec/t/{dev_token}x/decode", json=payloads_json(sealed))
        assert wrong.status_code == 401
        bearer = await http.post(
            f"{url}/codec/decode",
            json=payloads_json(sealed),
            headers={"Authorization": f"Bearer {dev_token}"},
        )
        assert bearer.status_code == 401  # the dev token is for the URL only


# ------------------------------------------------- a real workflow on the dev server


def _children(value: Any) -> Iterator[Message]:
    """The messages inside a field value: a message, a repeated field or a map."""
    if isinstance(value, Message):
        yield value
        return
    items = value.values() if hasattr(value, "values") else value
    for item in items:
        if isinstance(item, Message):
            yield item


def _strip_search_attributes(msg: Message) -> None:
    """Search attributes are not encrypted (the server indexes them): the hub keeps
    business identifiers there (CompanyName, CsmOwner), never contact details."""
    for field, value in msg.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.full_name == SearchAttributes.DESCRIPTOR.full_name:
            msg.ClearField(field.name)
            continue
        for child in _children(value):
            _strip_search_attributes(child)


def _payloads_in(msg: Message) -> Iterator[Payload]:
    if isinstance(msg, Payload):
        yield msg
        return
    for field, value in msg.ListFields():
        if field.message_type is not None:
            for child in _children(value):
                yield from _payloads_in(child)


async def raw_histories(client: Client, workflow_id: str) -> list[Any]:
    """Every run's history straight from the frontend service: no SDK decoding at all."""
    runs = await client.workflow_service.list_workflow_executions(
        ListWorkflowExecutionsRequest(
            namespace=client.namespace, query=f"WorkflowId = '{workflow_id}'"
        )
    )
    histories = []
    for run in runs.executions:
        token = b""
        while True:
            page = await client.workflow_service.get_workflow_execution_history(
                GetWorkflowExecutionHistoryRequest(
                    namespace=client.namespace,
                    execution=run.execution,
                    next_page_token=token,
                )
            )
            histories.append(page.history)
            token = page.next_page_token
            if not token:
                break
    return histories


async def test_no_personal_data_in_clear_in_the_history_of_an_encrypted_workflow(
    dev_server_env: WorkflowEnvironment,
    clean_sandbox: SandboxHandle,
    hub_settings: Settings,
    tmp_path: Path,
) -> None:
    customer = "1005"  # Helios Logistics: contacts Camille Durand and Hugo Bernard
    demo = load_demo_data()
    company = next(c for c in demo.companies if c.id == customer)
    csm = next(o for o in demo.owners if o.id == company.owner_id)
    contact_needles = [c.email for c in company.contacts] + [
        f"{c.first_name} {c.last_name}" for c in company.contacts
    ]
    business_needles = [company.name, csm.email, f"{csm.first_name} {csm.last_name}"]
    settings = hub_settings.model_copy(
        update={
            "temporal_task_queue": f"enc-{uuid.uuid4().hex[:8]}",
            "worker_max_concurrent_activities": 8,
            "cshub_encryption_keys": Settings(cshub_encryption_keys=KEY_1).cshub_encryption_keys,
        }
    )
    plain = dev_server_env.client
    encrypting = await Client.connect(
        plain.service_client.config.target_host,
        namespace=plain.namespace,
        data_converter=data_converter(settings),
    )
    workflow_id = f"onboarding-encrypted-{uuid.uuid4().hex[:8]}"
    primary = company.contacts[0]
    with ThreadPoolExecutor(max_workers=8) as pool:
        worker = create_worker(encrypting, settings, build_connectors(settings), executor=pool)
        async with worker:
            handle = await encrypting.start_workflow(
                OnboardingWorkflow.run,
                OnboardingInput(customer_id=customer),
                id=workflow_id,
                task_queue=settings.temporal_task_queue,
                static_summary=f"Onboarding · {company.name} · CSM {csm.first_name} {csm.last_name}",
                memo={"primary_contact": primary.email},
            )
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                box = await outbox(clean_sandbox)
                if any(primary.email in e["to"] for e in box["emails"]):
                    break
                await asyncio.sleep(0.2)
            else:
                pytest.fail("the welcome e-mail did not go out")
            # The workflow's own answers decode for a client that has the key...
            # (the first run's: the test server suggests continue-as-new at 60 events, and
            # a later run is started by the workflow, without the starter's summary)
            first_run = encrypting.get_workflow_handle(
                workflow_id, run_id=handle.first_execution_run_id
            )
            summary = await (await first_run.describe()).static_summary()
            assert summary is not None and company.name in summary
            await handle.terminate("test done")

    histories = await raw_histories(plain, workflow_id)
    assert histories
    raw = b"".join(h.SerializeToString() for h in histories)
    for needle in contact_needles:
        assert needle.encode() not in raw, f"{needle!r} is in the history in clear"
    stripped = []
    for h in histories:
        copy = type(h)()
        copy.CopyFrom(h)
        _strip_search_attributes(copy)
        stripped.append(copy)
    raw_without_search_attributes = b"".join(h.SerializeToString() for h in stripped)
    for needle in business_needles:
        assert needle.encode() not in raw_without_search_attributes, needle
    # Every payload is encrypted but the SDK's own patch markers (workflow.patched ids).
    payloads = [
        p
        for h in stripped
        for event in h.events
        if event.marker_recorded_event_attributes.marker_name != "core_patch"
        for p in _payloads_in(event)
    ]
    clear = [p for p in payloads if p.metadata.get("encoding") != ENCRYPTED_ENCODING]
    assert payloads and not clear, clear

    # ...and through the codec, the same history reads in full.
    codec = EncryptionCodec(settings.encryption_keyring())
    decoded = b"".join(p.data for p in await codec.decode(payloads))
    assert primary.email.encode() in decoded  # the memo
    # The workflow's own data (the CRM profile its activities returned) was encrypted too.
    activity_results = [
        p
        for h in stripped
        for event in h.events
        if event.HasField("activity_task_completed_event_attributes")
        for p in _payloads_in(event)
    ]
    from_activities = b"".join(p.data for p in await codec.decode(activity_results))
    for needle in business_needles:
        assert needle.encode() in from_activities, needle
    # A client without the key is told what is missing instead of seeing garbage.
    with pytest.raises(PayloadDecryptionError, match="no encryption key is configured"):
        await data_converter(Settings()).decode(payloads[:1], [object])
    # The plain test converter would just see an unknown encoding: nothing leaks.
    with pytest.raises(KeyError, match="binary/encrypted"):
        pydantic_data_converter.payload_converter.from_payloads(payloads[:1], [str])
    # The same payloads through the API's codec endpoint, as the Web UI asks.
    api_settings = settings.model_copy(
        update={
            "cshub_codec_tokens": Settings(cshub_codec_tokens=TOKEN).cshub_codec_tokens,
            "cshub_api_db": tmp_path / "webhooks.db",
        }
    )
    async with codec_api(api_settings) as url, httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(
            f"{url}/codec/decode",
            content=json.dumps(payloads_json(*payloads)),
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/json",
                "X-Namespace": plain.namespace,
            },
        )
        assert resp.status_code == 200
        assert primary.email.encode() in b"".join(data_of(resp.json()))
        unauthorised = await http.post(f"{url}/codec/decode", json=payloads_json(*payloads[:3]))
        assert unauthorised.status_code == 401


# --------------------------------------------------------------------- cshub dev


def test_dev_makes_a_key_once_and_wires_the_ui_to_the_codec_endpoint(tmp_path: Path) -> None:
    first = prepare_dev_encryption(Settings(), tmp_path, api_port=8100, ui_port=8300)
    key_file = tmp_path / "encryption-keys"
    assert first.settings_overrides["cshub_encryption_keys_file"] == key_file.resolve()
    assert key_file.stat().st_mode & 0o777 == 0o600
    settings = Settings(**first.settings_overrides)
    ring = settings.encryption_keyring()
    assert ring is not None and ring.active_key_id == "dev1"
    token = settings.cshub_codec_dev_token
    assert token is not None
    assert first.ui_codec_endpoint == f"http://127.0.0.1:8100/codec/t/{token.get_secret_value()}/"
    assert "http://127.0.0.1:8300" in settings.codec_cors_origins
    assert "http://localhost:8300" in settings.codec_cors_origins
    again = prepare_dev_encryption(Settings(), tmp_path, api_port=8100, ui_port=8300)
    assert Settings(**again.settings_overrides).encryption_keyring() == ring  # same key
    # Keys of one's own win; the switch turns the demo key off.
    own = prepare_dev_encryption(
        Settings(cshub_encryption_keys=KEY_2), tmp_path / "b", api_port=1, ui_port=2
    )
    assert "cshub_encryption_keys_file" not in own.settings_overrides
    assert own.ui_codec_endpoint is not None
    off = prepare_dev_encryption(Settings(), tmp_path / "c", api_port=1, ui_port=2, enabled=False)
    assert off.ui_codec_endpoint is None and not (tmp_path / "c").exists()


async def test_the_dev_server_ui_is_given_the_codec_endpoint(tmp_path: Path) -> None:
    dev = DevSettings(
        cshub_temporal_port=free_port(), cshub_ui_port=free_port(), cshub_data_dir=tmp_path
    )
    endpoint = "http://127.0.0.1:8000/codec/t/some-dev-token-0123456789/"
    proc = await start_temporal_dev_server(dev, endpoint)
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(100):
                try:
                    resp = await http.get(f"http://127.0.0.1:{dev.cshub_ui_port}/api/v1/settings")
                    if resp.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                pytest.fail("the dev server's UI did not come up")
        assert resp.json()["Codec"]["Endpoint"] == endpoint
    finally:
        proc.terminate()
        await proc.wait()
