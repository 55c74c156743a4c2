"""Connect to Temporal the way the settings say (local dev server, self-hosted with mTLS,
or Temporal Cloud with an API key), always with the pydantic data converter, which
encrypts payloads when keys are configured (runtime.codec)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RetryConfig, TLSConfig

from runtime.codec import data_converter
from runtime.settings import Settings


def tls_config(settings: Settings) -> TLSConfig | bool:
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        return TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
            server_root_ca_cert=(
                settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None
            ),
        )
    # An API key (Temporal Cloud) always travels over TLS.
    return settings.temporal_tls or settings.temporal_api_key is not None


# Webhook senders wait a few seconds at most: give up early and answer 503 instead.
FAIL_FAST = RetryConfig(
    initial_interval_millis=100, max_interval_millis=1000, max_elapsed_time_millis=3000
)


async def connect(
    settings: Settings, *, retry_config: RetryConfig | None = None, runtime: Runtime | None = None
) -> Client:
    """``runtime``: the process's runtime (metrics, see runtime.metrics); the SDK's default
    runtime when None."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=api_key,
        tls=tls_config(settings),
        data_converter=data_converter(settings),
        retry_config=retry_config,
        runtime=runtime,
    )
