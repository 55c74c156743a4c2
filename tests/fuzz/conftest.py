"""Fixtures for the hostile-input tests: the real API served by uvicorn on 127.0.0.1,
its Temporal client on a namespace of its own (so "no workflow was started" can be
checked by listing the whole namespace), and settings whose every secret is a fresh,
distinctive random value (so finding one in a log line or a history means a leak)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from pydantic import SecretStr
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from runtime.encryption_keys import new_key_entry
from runtime.settings import Settings
from tests.webhooks.conftest import Api
from webhooks.app import create_app
from webhooks.server import serve_api

SECRET_FIELDS = (
    "hubspot_client_secret",
    "stripe_webhook_secret",
    "zendesk_webhook_secret",
    "product_webhook_secret",
    "survey_link_secret",
    "hubspot_access_token",
    "zendesk_token",
    "slack_bot_token",
    "cshub_codec_tokens",
    "cshub_api_tokens",
    "cshub_encryption_keys",
)
"""Every secret the API process holds (the sandbox ignores the connector tokens)."""


def random_secret(prefix: str = "") -> str:
    return f"{prefix}fuzzsecret{secrets.token_hex(16)}"


@pytest.fixture
def fuzz_settings(hub_settings: Settings, tmp_path: Path) -> Settings:
    """The test hub's settings with a namespace of their own and random secrets."""
    return hub_settings.model_copy(
        update={
            "cshub_api_db": tmp_path / "webhooks.db",
            "cshub_actions_db": tmp_path / "actions.db",
            "temporal_namespace": f"fuzz-{uuid.uuid4().hex[:10]}",
            "temporal_task_queue": f"fuzz-{uuid.uuid4().hex[:8]}",
            "hubspot_client_secret": SecretStr(random_secret()),
            "stripe_webhook_secret": SecretStr(random_secret("whsec_")),
            "zendesk_webhook_secret": SecretStr(random_secret()),
            "product_webhook_secret": SecretStr(random_secret()),
            "survey_link_secret": SecretStr(random_secret()),
            "hubspot_access_token": SecretStr(random_secret("pat-")),
            "zendesk_token": SecretStr(random_secret()),
            "slack_bot_token": SecretStr(random_secret("xoxb-")),
            "cshub_codec_tokens": SecretStr(f"{random_secret()},{random_secret()}"),
            "cshub_api_tokens": SecretStr(random_secret()),
            "cshub_encryption_keys": SecretStr(new_key_entry("fuzz1")),
        }
    )


def secret_values(settings: Settings) -> list[str]:
    """Each secret of ``settings`` as a string to look for (lists split, keys too)."""
    out: list[str] = []
    for name in SECRET_FIELDS:
        value = getattr(settings, name)
        if value is None:
            continue
        raw = value.get_secret_value()
        out.append(raw)
        for part in raw.split(","):
            out.append(part.strip())
            out.append(part.partition(":")[2].strip())  # the base64 of "kid:key"
    return sorted({v for v in out if len(v) >= 12})


async def namespace_client(env: WorkflowEnvironment, namespace: str) -> Client:
    """A client on ``namespace`` of the test dev server, registering it first."""
    await env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    return await Client.connect(
        env.client.service_client.config.target_host,
        namespace=namespace,
        data_converter=pydantic_data_converter,
    )


@asynccontextmanager
async def serve_on(settings: Settings, client: Client) -> AsyncIterator[Api]:
    async def connect() -> Client:
        return client

    server = await serve_api(create_app(settings, connect=connect), port=0)
    try:
        yield Api(server.url, settings)
    finally:
        await server.stop()


@pytest.fixture
async def fuzz_client(fuzz_settings: Settings, dev_server_env: WorkflowEnvironment) -> Client:
    return await namespace_client(dev_server_env, fuzz_settings.temporal_namespace)


@pytest.fixture
async def fuzz_api(fuzz_settings: Settings, fuzz_client: Client) -> AsyncIterator[Api]:
    async with serve_on(fuzz_settings, fuzz_client) as api:
        yield api


async def workflow_ids(client: Client) -> list[str]:
    return [w.id async for w in client.list_workflows()]
