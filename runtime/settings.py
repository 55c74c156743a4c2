"""Configuration from environment variables and an optional ``.env`` file.

The default (``CSHUB_ENV=sandbox``) points every connector at the local emulators that
``cshub dev`` starts, so a fresh clone runs with nothing set. ``CSHUB_ENV=production``
drops those defaults: the real services' credentials become required and a missing one
stops start-up with a message naming the variable.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from runtime.dev_runtime import RuntimeFileError, active_runtime
from runtime.encryption_keys import KeyFormatError, KeyRing, parse_keys


class Environment(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


SANDBOX_HTTP = "http://127.0.0.1:8025"
# Known secrets so a person can sign test events locally; never used in production.
SANDBOX_WEBHOOK_SECRETS = {
    "hubspot_client_secret": "sandbox-hubspot-client-secret",
    "stripe_webhook_secret": "whsec_sandbox",
    "zendesk_webhook_secret": "sandbox-zendesk-webhook-secret",
    "product_webhook_secret": "sandbox-product-webhook-secret",
    "survey_link_secret": "sandbox-survey-link-secret",
    "inbound_email_signing_key": "sandbox-inbound-email-signing-key",
    "slack_signing_secret": "sandbox-slack-signing-secret",
}
WEBHOOK_SECRET_FIELDS = tuple(SANDBOX_WEBHOOK_SECRETS)
HMAC_KEY_FIELDS = WEBHOOK_SECRET_FIELDS
"""Keys the hub signs or verifies with: in production each needs 32 bytes or more."""
MIN_HMAC_KEY_BYTES = 32
MIN_TOKEN_CHARS = 16
COMMA_SEPARATED_FIELDS = ("cshub_api_tokens", "cshub_codec_tokens")
"""Comma-separated bearer tokens: each needs MIN_TOKEN_CHARS characters."""
CREDENTIAL_FIELDS = (
    "hubspot_access_token",
    "zendesk_token",
    "slack_bot_token",
    "smtp_password",
    "temporal_api_key",
)
"""The outside services' credentials: their format is the vendor's, but never blank."""
SANDBOX_DEFAULT_VALUES = frozenset({"sandbox", "xoxb-sandbox", *SANDBOX_WEBHOOK_SECRETS.values()})
"""Values anyone can read in this repository: refused in production."""


class DevRuntimeSource(PydanticBaseSettingsSource):
    """The values a running ``cshub dev`` wrote into its data folder
    (``runtime.dev_runtime``): after the environment and ``.env``, sandbox only."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        state = self.current_state
        if str(state.get("cshub_env") or Environment.SANDBOX) != Environment.SANDBOX.value:
            return {}
        data_dir = state.get("cshub_data_dir") or DEFAULT_DATA_DIR
        try:
            runtime = active_runtime(data_dir)
        except RuntimeFileError as exc:
            raise SettingsError(f"{exc} (CSHUB_DATA_DIR names the folder)") from None
        if runtime is None:
            return {}
        fields = self.settings_cls.model_fields
        return {k: v for k, v in runtime.settings.items() if k in fields}


DEFAULT_DATA_DIR = Path(".cshub")


class Settings(BaseSettings):
    """Every setting the hub reads. Field name = environment variable (upper case).

    Read in this order, the first that has a value wins: arguments, the environment,
    ``.env``, the runtime file of a ``cshub dev`` running on ``CSHUB_DATA_DIR``, the
    defaults (in the sandbox, derived from ``cshub dev``'s port variables)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            DevRuntimeSource(settings_cls),
            file_secret_settings,
        )

    cshub_env: Environment = Environment.SANDBOX

    # `cshub dev`'s data folder and ports: every command derives the sandbox addresses
    # from them (and finds a running `cshub dev` through the data folder).
    cshub_data_dir: Path = DEFAULT_DATA_DIR
    cshub_temporal_port: int | None = Field(default=None, ge=1, le=65535)
    cshub_sandbox_port: int = Field(default=8025, ge=1, le=65535)
    cshub_smtp_port: int | None = Field(default=None, ge=1, le=65535)

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "cshub"
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None

    # Schedules (`cshub schedules apply`): cron expressions, in health_schedule_timezone
    health_sweep_cron: str = "0 6 * * *"
    health_digest_cron: str = "0 8 * * 1"
    health_schedule_timezone: str = "UTC"
    health_sweep_max_calls_per_10s: float = Field(default=80, gt=0)

    # HubSpot
    hubspot_access_token: SecretStr | None = None
    hubspot_base_url: str | None = None
    hubspot_portal_id: str | None = None
    hubspot_task_association_type_id: int = 192
    hubspot_note_association_type_id: int = 190

    # Zendesk
    zendesk_subdomain: str | None = None
    zendesk_email: str | None = None
    zendesk_token: SecretStr | None = None
    zendesk_base_netloc: str | None = None
    zendesk_scheme: str = Field(default="https", pattern="^https?$")

    # Stripe (API reads: the customer behind an event; webhooks: STRIPE_WEBHOOK_SECRET)
    stripe_api_key: SecretStr | None = None  # sk_… or a restricted rk_… (read customers, subs)
    stripe_base_url: str | None = None
    stripe_customer_property: str = "cshub_stripe_customer_id"
    """The CRM company property that holds the company's Stripe customer id (cus_…)."""

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_base_url: str | None = None
    slack_alerts_channel: str = "C0CSALERTS"
    slack_ops_channel: str = "C0OPS"
    """Where ops hear of failed workflows and of steps that failed past their retries."""

    # SMTP
    smtp_host: str | None = None
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str | None = None
    smtp_use_tls: bool = False
    smtp_starttls: bool | None = None

    # Webhook ingress (cshub api)
    cshub_api_host: str = "127.0.0.1"
    cshub_api_port: int = Field(default=8000, ge=1, le=65535)
    cshub_api_db: Path = Path(".cshub/webhooks.db")  # default: CSHUB_DATA_DIR/webhooks.db
    cshub_dedup_days: int = Field(default=30, ge=1)
    # Slow clients (webhooks/server.py, webhooks/limits.py): the headers within this many
    # seconds, then the whole body within that many, at most so many connections and
    # requests at once.
    cshub_api_header_timeout_s: float = Field(default=10, gt=0, le=600)
    cshub_api_body_timeout_s: float = Field(default=15, gt=0, le=600)
    cshub_api_limit_concurrency: int = Field(default=500, ge=1)
    hubspot_client_secret: SecretStr | None = None
    hubspot_webhook_url: str | None = None
    hubspot_closed_won_stages: str | None = None
    """Override: comma-separated deal stage ids that mean "won". Unset: every stage of
    every deal pipeline that is closed with probability 1.0, read from HubSpot."""
    hubspot_stages_refresh_s: float = Field(default=600, gt=0)
    stripe_webhook_secret: SecretStr | None = None
    zendesk_webhook_secret: SecretStr | None = None
    product_webhook_secret: SecretStr | None = None
    inbound_email_signing_key: SecretStr | None = None
    """Mailgun-style inbound parse: HMAC-SHA256 of timestamp + token (webhooks/inbound_mail.py)."""
    slack_signing_secret: SecretStr | None = None
    """Slack app's signing secret: POST /slack/interactivity (webhooks/slack_interactivity.py)."""
    cshub_database_url: str | None = None
    """``postgresql://user:password@host/db``: the hub's own state (intake queue, delivery
    ledger, dead letters, action store) in that PostgreSQL database, shared by every API,
    forwarder and worker. Unset: SQLite files (``CSHUB_API_DB``, ``CSHUB_ACTIONS_DB``)."""
    cshub_forwarder: Literal["embedded", "off"] = "embedded"
    """embedded: the API process forwards the deliveries it stores (an asyncio loop);
    off: only ``cshub forwarder`` processes do."""
    cshub_intake_answer_wait_s: float = Field(default=0, ge=0, le=30)
    """How long the API may wait for the embedded forwarder's first attempt so its answer
    names the outcome (customer_not_found, ignored …); 0: answer as soon as stored."""
    cshub_forward_lease_s: float = Field(default=30, gt=0)
    cshub_forward_max_backoff_s: float = Field(default=15, gt=0)
    cshub_forward_batch: int = Field(default=64, ge=1, le=1000)

    # Consent and exit-survey links
    cshub_suppression_file: Path | None = None
    cshub_public_api_url: str = "http://127.0.0.1:8000"
    survey_link_secret: SecretStr | None = None
    # Rotation: the secrets links were signed with before, comma-separated, still
    # accepted by the API (the current SURVEY_LINK_SECRET signs and is tried first).
    survey_link_previous_secrets: SecretStr | None = None

    # What customers see in e-mails
    cshub_sender_name: str = "cshub"
    cshub_app_url: str = "https://app.example.com"
    cshub_unsubscribe_url: str = "https://app.example.com/email-preferences"
    cshub_survey_url: str = "https://app.example.com/survey"
    # How Slack alerts write money, counts and dates (the text stays English): en-US,
    # en-GB, es-ES … E-mails follow each contact's own language tag from the CRM.
    cshub_team_locale: str = "en-US"

    @field_validator("cshub_team_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(value.strip().replace("-", "_"))
        except (UnknownLocaleError, ValueError) as exc:
            raise ValueError(
                f"unknown locale {value!r} (use a tag like en-US, en-GB, es-ES)"
            ) from exc
        return value.strip()

    # Worker tuning
    worker_max_concurrent_activities: int = Field(default=50, ge=1)
    worker_workflow_task_pollers: int = Field(default=10, ge=1)
    # ~300 KB a cached workflow on a ~145 MB worker (make bench): 400 keeps a worker under
    # 300 MB RSS (500 came within 1 % of it); an evicted workflow replays its (short,
    # continued-as-new) history when it next wakes.
    worker_max_cached_workflows: int = Field(default=400, ge=0)

    # Metrics and logs (runtime/metrics.py, runtime/logs.py)
    cshub_worker_metrics_address: str = "127.0.0.1:9464"  # Prometheus; empty: off
    # GET /metrics, and /docs + /openapi.json, on the API: on in the sandbox, off in
    # production unless set (the published port should answer the signed endpoints only).
    cshub_api_metrics: bool | None = None
    cshub_api_docs: bool | None = None
    cshub_log_format: str = Field(default="text", pattern="^(text|json)$")
    cshub_log_level: str = Field(default="INFO", pattern="^(?i:debug|info|warning|error|critical)$")

    # Payload encryption (runtime/codec.py) and the API's codec endpoint (/codec)
    cshub_encryption_keys: SecretStr | None = None  # "kid:base64key,kid2:base64key"
    cshub_encryption_keys_file: Path | None = None  # the same, one entry a line
    cshub_encryption_key_id: str | None = None  # active key; default: the first listed
    cshub_codec_tokens: SecretStr | None = None  # bearer tokens, comma-separated
    cshub_codec_dev_token: SecretStr | None = None  # sandbox only: /codec/t/<token>/
    cshub_codec_cors_origins: str = "http://127.0.0.1:8233,http://localhost:8233"
    cshub_codec_session_hours: float = Field(default=12, gt=0, le=24 * 30)

    # Action record (activities/action_log.py): per-customer timeline and idempotency
    cshub_actions_db: Path = Path(".cshub/actions.db")  # default: CSHUB_DATA_DIR/actions.db
    cshub_actions_retention_days: int = Field(default=400, ge=1)
    cshub_api_tokens: SecretStr | None = None  # bearer tokens for GET /customers/*/timeline

    @model_validator(mode="after")
    def _derive_from_dev_settings(self) -> Settings:
        """Defaults that follow ``cshub dev``'s variables, so a command run beside it
        with the same environment finds its stack."""
        given = self.model_fields_set
        if "cshub_api_db" not in given:
            self.cshub_api_db = self.cshub_data_dir / "webhooks.db"
        if "cshub_actions_db" not in given:
            self.cshub_actions_db = self.cshub_data_dir / "actions.db"
        if self.cshub_env is Environment.SANDBOX:
            if "temporal_address" not in given and self.cshub_temporal_port is not None:
                self.temporal_address = f"127.0.0.1:{self.cshub_temporal_port}"
            if "smtp_port" not in given and self.cshub_smtp_port is not None:
                self.smtp_port = self.cshub_smtp_port
            if "cshub_public_api_url" not in given:
                self.cshub_public_api_url = f"http://127.0.0.1:{self.cshub_api_port}"
        return self

    @property
    def sandbox_http(self) -> str:
        """Where ``cshub dev`` serves the emulators (``CSHUB_SANDBOX_PORT``)."""
        return f"http://127.0.0.1:{self.cshub_sandbox_port}"

    @model_validator(mode="after")
    def _fill_sandbox_defaults_or_require_real_ones(self) -> Settings:
        if self.cshub_env is Environment.SANDBOX:
            self.hubspot_access_token = self.hubspot_access_token or SecretStr("sandbox")
            self.hubspot_base_url = self.hubspot_base_url or self.sandbox_http
            self.zendesk_subdomain = self.zendesk_subdomain or "sandbox"
            self.zendesk_email = self.zendesk_email or "agent@sandbox.example"
            self.zendesk_token = self.zendesk_token or SecretStr("sandbox")
            if not self.zendesk_base_netloc:
                self.zendesk_base_netloc = self.sandbox_http.removeprefix("http://")
                self.zendesk_scheme = "http"
            self.stripe_api_key = self.stripe_api_key or SecretStr("sk_test_sandbox")
            self.stripe_base_url = self.stripe_base_url or self.sandbox_http
            self.slack_bot_token = self.slack_bot_token or SecretStr("xoxb-sandbox")
            self.slack_base_url = self.slack_base_url or f"{self.sandbox_http}/api/"
            self.smtp_host = self.smtp_host or "127.0.0.1"
            self.smtp_sender = self.smtp_sender or "success@cshub.example"
            for name, value in SANDBOX_WEBHOOK_SECRETS.items():
                if getattr(self, name) is None:
                    setattr(self, name, SecretStr(value))
            return self
        missing = [
            name
            for name in (
                "hubspot_access_token",
                "zendesk_subdomain",
                "zendesk_email",
                "zendesk_token",
                "slack_bot_token",
                "smtp_host",
                "smtp_sender",
            )
            if not getattr(self, name)
        ]
        if missing:
            names = ", ".join(n.upper() for n in missing)
            raise ValueError(f"CSHUB_ENV=production needs these variables set: {names}")
        weak = self.weak_secrets()
        if weak:
            raise ValueError(
                "CSHUB_ENV=production refuses weak secrets:"
                + "".join(f"\n    {name}: {why}" for name, why in weak)
            )
        if bool(self.temporal_tls_cert) != bool(self.temporal_tls_key):
            raise ValueError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together")
        return self

    @model_validator(mode="after")
    def _check_encryption(self) -> Settings:
        self.encryption_keyring()  # each error names its variable
        if self.cshub_codec_dev_token is not None and self.cshub_env is not Environment.SANDBOX:
            raise ValueError(
                "CSHUB_CODEC_DEV_TOKEN puts a token in URLs and is for CSHUB_ENV=sandbox only; "
                "use CSHUB_CODEC_TOKENS"
            )
        if any(len(t) < 16 for t in self.codec_tokens):
            raise ValueError("CSHUB_CODEC_TOKENS: every token needs at least 16 characters")
        if self.cshub_codec_dev_token is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{16,128}", self.cshub_codec_dev_token.get_secret_value()
        ):
            raise ValueError("CSHUB_CODEC_DEV_TOKEN: 16-128 letters, digits, '_' or '-'")
        for origin in self.codec_cors_origins:
            if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
                raise ValueError(
                    f"CSHUB_CODEC_CORS_ORIGINS: {origin[:80]!r} is not an origin like "
                    "https://temporal.example.com (scheme, host, optional port; no path, no '*')"
                )
        return self

    def encryption_keyring(self) -> KeyRing | None:
        """The payload keys and the active one, or None when encryption is off."""
        if self.cshub_encryption_keys is not None and self.cshub_encryption_keys_file:
            raise ValueError("set CSHUB_ENCRYPTION_KEYS or CSHUB_ENCRYPTION_KEYS_FILE, not both")
        try:
            if self.cshub_encryption_keys is not None:
                keys = parse_keys(self.cshub_encryption_keys.get_secret_value())
            elif self.cshub_encryption_keys_file:
                path = self.cshub_encryption_keys_file
                try:
                    text = path.read_text(encoding="utf-8")
                except OSError as err:
                    raise ValueError(
                        f"CSHUB_ENCRYPTION_KEYS_FILE: cannot read {path}: {err.strerror}"
                    ) from None
                keys = parse_keys(text, variable="CSHUB_ENCRYPTION_KEYS_FILE")
            else:
                if self.cshub_encryption_key_id:
                    raise ValueError(
                        "CSHUB_ENCRYPTION_KEY_ID is set but no key is: set CSHUB_ENCRYPTION_KEYS"
                    )
                return None
        except KeyFormatError as err:
            raise ValueError(str(err)) from None
        active = self.cshub_encryption_key_id or next(iter(keys))
        if active not in keys:
            raise ValueError(
                f"CSHUB_ENCRYPTION_KEY_ID: {active[:70]!r} is not one of the configured key "
                f"ids ({', '.join(keys)})"
            )
        return KeyRing(keys=keys, active_key_id=active)

    def weak_secrets(self) -> list[tuple[str, str]]:
        """(VARIABLE, why) for each secret that is set but blank, a sandbox default, too
        short, or padded with whitespace. The value itself is never part of the answer."""
        found: list[tuple[str, str]] = []
        for name in (*HMAC_KEY_FIELDS, *CREDENTIAL_FIELDS, *COMMA_SEPARATED_FIELDS):
            secret: SecretStr | None = getattr(self, name)
            if secret is None:
                continue
            raw = secret.get_secret_value()
            values = raw.split(",") if name in COMMA_SEPARATED_FIELDS else [raw]
            why = None
            if not raw.strip() or any(not v.strip() for v in values):
                why = "is empty or whitespace"
            elif any(v != v.strip() for v in values):
                why = "has leading or trailing whitespace"
            elif any(v in SANDBOX_DEFAULT_VALUES for v in values):
                why = "is the sandbox's published default"
            elif name in HMAC_KEY_FIELDS and len(raw.encode()) < MIN_HMAC_KEY_BYTES:
                why = (
                    f"is {len(raw.encode())} bytes; an HMAC key needs at least "
                    f"{MIN_HMAC_KEY_BYTES} (python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))')"
                )
            elif name in COMMA_SEPARATED_FIELDS and any(len(v) < MIN_TOKEN_CHARS for v in values):
                why = f"every token needs at least {MIN_TOKEN_CHARS} characters"
            if why:
                found.append((name.upper(), why))
        return found

    @property
    def codec_tokens(self) -> list[str]:
        raw = self.cshub_codec_tokens.get_secret_value() if self.cshub_codec_tokens else ""
        return [t.strip() for t in raw.split(",") if t.strip()]

    @property
    def api_tokens(self) -> list[str]:
        raw = self.cshub_api_tokens.get_secret_value() if self.cshub_api_tokens else ""
        return [t.strip() for t in raw.split(",") if t.strip()]

    @property
    def codec_cors_origins(self) -> list[str]:
        return [
            o.strip().rstrip("/") for o in self.cshub_codec_cors_origins.split(",") if o.strip()
        ]

    def require_webhook_secrets(self) -> None:
        """The API refuses to start without every sender's secret (any environment: a
        blank one would make every request to its endpoint fail)."""
        missing = [
            n.upper()
            for n in WEBHOOK_SECRET_FIELDS
            if getattr(self, n) is None or not getattr(self, n).get_secret_value().strip()
        ]
        if missing:
            raise SettingsError(
                f"cshub api needs these webhook secrets set (not blank): {', '.join(missing)}"
            )

    @property
    def api_metrics_on(self) -> bool:
        if self.cshub_api_metrics is None:
            return self.cshub_env is Environment.SANDBOX
        return self.cshub_api_metrics

    @property
    def api_docs_on(self) -> bool:
        if self.cshub_api_docs is None:
            return self.cshub_env is Environment.SANDBOX
        return self.cshub_api_docs

    @property
    def survey_link_secrets(self) -> list[str]:
        """The secrets survey links are verified with: SURVEY_LINK_SECRET (which signs)
        first, then SURVEY_LINK_PREVIOUS_SECRETS; empty when no secret is set."""
        if self.survey_link_secret is None or not self.survey_link_secret.get_secret_value():
            return []
        previous = self.survey_link_previous_secrets
        older = previous.get_secret_value().split(",") if previous else []
        return [
            self.survey_link_secret.get_secret_value(),
            *(s.strip() for s in older if s.strip()),
        ]

    @property
    def closed_won_stages(self) -> frozenset[str] | None:
        """The override, or None: discover them from the CRM's deal pipelines."""
        raw = self.hubspot_closed_won_stages
        stages = frozenset(s.strip() for s in (raw or "").split(",") if s.strip())
        return stages or None

    @property
    def hubspot_url(self) -> str:
        return self.hubspot_base_url or "https://api.hubapi.com"

    @property
    def slack_url(self) -> str:
        return self.slack_base_url or "https://slack.com/api/"


class SettingsError(Exception):
    """Start-up configuration is wrong; the message names each bad variable."""


def describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        name = loc.upper() if loc else "configuration"
        lines.append(f"  {name}: {str(err['msg']).removeprefix('Value error, ')}")
    return "invalid configuration:\n" + "\n".join(lines)


def load_settings() -> Settings:
    """Read the settings, turning validation errors into one readable SettingsError."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
