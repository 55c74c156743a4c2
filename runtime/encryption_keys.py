"""Payload encryption keys as the settings give them: ``kid:base64key`` entries separated
by commas or new lines (``CSHUB_ENCRYPTION_KEYS`` or the file ``CSHUB_ENCRYPTION_KEYS_FILE``).

Standard library only, so the settings module can validate keys without loading the
cipher. The codec itself is ``runtime.codec``.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

KEY_BYTES = 32  # AES-256
KEY_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


class KeyFormatError(ValueError):
    """A key entry is malformed; the message says which entry and why (never the key)."""


@dataclass(frozen=True)
class KeyRing:
    """Every configured key by id, and the one new payloads are encrypted with."""

    keys: dict[str, bytes]
    active_key_id: str

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active_key_id]


def parse_keys(text: str, *, variable: str = "CSHUB_ENCRYPTION_KEYS") -> dict[str, bytes]:
    """``"k2:BASE64,k1:BASE64"`` (or one entry a line) → ``{"k2": key, "k1": key}`` in
    the order given. Raises KeyFormatError naming ``variable`` and the entry."""
    keys: dict[str, bytes] = {}
    entries = [e.strip() for e in re.split(r"[,\n]", text)]
    for n, entry in enumerate((e for e in entries if e and not e.startswith("#")), start=1):
        kid, sep, encoded = entry.partition(":")
        kid = kid.strip()
        if not sep or not kid:
            raise KeyFormatError(
                f"{variable}: entry {n} is not 'key-id:base64-key' "
                f'(generate one with: python -c "{GENERATE_ONE_LINER}")'
            )
        if not re.fullmatch(KEY_ID_PATTERN, kid):
            raise KeyFormatError(
                f"{variable}: key id {kid[:70]!r} must be 1-64 letters, digits, '.', '_' or '-'"
            )
        if kid in keys:
            raise KeyFormatError(f"{variable}: key id {kid!r} is listed twice")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyFormatError(f"{variable}: key {kid!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise KeyFormatError(
                f"{variable}: key {kid!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES} "
                f"(base64 of 32 random bytes)"
            )
        keys[kid] = key
    if not keys:
        raise KeyFormatError(f"{variable}: no key given")
    return keys


def new_key_entry(key_id: str | None = None) -> str:
    """A fresh ``kid:base64key`` entry (32 random bytes)."""
    kid = key_id or f"k{datetime.now(UTC):%Y%m%d}"
    return f"{kid}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


GENERATE_ONE_LINER = (
    "import base64,os,time;"
    "print(time.strftime('k%Y%m%d')+':'+base64.b64encode(os.urandom(32)).decode())"
)
