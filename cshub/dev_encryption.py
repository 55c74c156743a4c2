"""How ``cshub dev`` demonstrates payload encryption.

With ``CSHUB_DEV_ENCRYPTION=true`` (or ``CSHUB_ENCRYPTION_KEYS`` / ``_FILE`` set) the
first start writes a key (unless keys are set) to ``<data dir>/encryption-keys`` and every later start
uses it, so the dev server's history stays readable across restarts. The dev Web UI is
pointed at the API's codec endpoint with a per-start dev token in the path
(``--ui-codec-endpoint http://127.0.0.1:<api>/codec/t/<token>/``): the dev UI has no
login and cannot send an ``Authorization`` header, so on this loopback sandbox whoever
can open the UI may read decoded payloads, as before encryption.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.encryption_keys import new_key_entry
from runtime.settings import Environment, Settings

KEYS_FILE_NAME = "encryption-keys"


@dataclass
class DevEncryption:
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    ui_codec_endpoint: str | None = None
    notes: list[str] = field(default_factory=list)

    def banner(self) -> str:
        return "\n".join(self.notes)


def ensure_dev_key_file(data_dir: Path) -> Path:
    """``<data dir>/encryption-keys`` with one fresh key, created once (mode 0600)."""
    path = data_dir / KEYS_FILE_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("# cshub dev payload key (kid:base64). Keep it with temporal.db.\n")
            f.write(new_key_entry("dev1") + "\n")
    return path.resolve()


def prepare_dev_encryption(
    base: Settings, data_dir: Path, *, api_port: int, ui_port: int, enabled: bool = True
) -> DevEncryption:
    """Settings overrides for the dev hub, the UI's codec endpoint and a banner note."""
    out = DevEncryption()
    keyring = base.encryption_keyring()
    if keyring is None and not enabled:
        out.notes.append(
            "Encryption        off (CSHUB_DEV_ENCRYPTION=true to encrypt payloads and wire "
            "the UI to the codec endpoint)"
        )
        return out
    if keyring is None:
        key_file = ensure_dev_key_file(data_dir)
        out.settings_overrides["cshub_encryption_keys_file"] = key_file
        source = f"dev key in {key_file}"
        cli_hint = (
            f"find it through {data_dir / 'dev-runtime.json'} while this runs "
            f"(else: export CSHUB_ENCRYPTION_KEYS_FILE={key_file})"
        )
    else:
        source = f"your keys (active {keyring.active_key_id})"
        cli_hint = "keep the same CSHUB_ENCRYPTION_KEYS for other cshub commands"
    ui_origins = [f"http://127.0.0.1:{ui_port}", f"http://localhost:{ui_port}"]
    origins = base.codec_cors_origins + [o for o in ui_origins if o not in base.codec_cors_origins]
    out.settings_overrides["cshub_codec_cors_origins"] = ",".join(origins)
    api = f"http://127.0.0.1:{api_port}"
    if base.cshub_env is Environment.SANDBOX:
        token = (
            base.cshub_codec_dev_token.get_secret_value()
            if base.cshub_codec_dev_token is not None
            else secrets.token_urlsafe(24)
        )
        out.settings_overrides["cshub_codec_dev_token"] = token
        out.ui_codec_endpoint = f"{api}/codec/t/{token}/"
    out.notes.append(f"Encryption        on, AES-256-GCM, {source}")
    if out.ui_codec_endpoint:
        out.notes.append(f"  Web UI decodes through {api}/codec/ (dev token in the URL)")
        out.notes.append(f"  temporal CLI: --codec-endpoint {out.ui_codec_endpoint.rstrip('/')}")
    out.notes.append(f"  other cshub commands: {cli_hint}")
    return out
