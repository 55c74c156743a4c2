"""Payload encryption: AES-256-GCM with a key id in each payload, so keys can rotate.

Every payload a client or worker sends (workflow and activity inputs and results,
signals, queries, updates, memos, summaries, failure messages) is serialised by the
pydantic converter, then encrypted here with the *active* key. The encrypted payload
says which key it used (``encryption-key-id``), so decoding works with any key still
configured: add a new key, make it active, keep the old one until no open workflow
(and no history you still want to read) needs it.

Payloads that are not encrypted pass through ``decode`` untouched, so switching
encryption on for a running system works: old histories stay readable.
Search attributes are never encoded by a codec (the server indexes them).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from runtime.encryption_keys import KeyRing
from runtime.settings import Settings

ENCODING_KEY = "encoding"
ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_KEY = "encryption-key-id"
NONCE_BYTES = 12
TAG_BYTES = 16  # AES-GCM's authentication tag, after the ciphertext
# Binds each ciphertext to its format version and key id (GCM associated data).
_AAD_PREFIX = b"cshub-payload-v1:"


class PayloadDecryptionError(ValueError):
    """An encrypted payload cannot be decrypted: unknown key id, or wrong key / damaged."""


def _aad(key_id: str) -> bytes:
    return _AAD_PREFIX + key_id.encode()


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over the whole serialised payload (its metadata included).

    With ``keyring=None`` (encryption off) nothing is encrypted, and meeting an
    encrypted payload fails with a message saying which setting is missing, instead of
    the converter's "unknown encoding".
    """

    def __init__(self, keyring: KeyRing | None) -> None:
        self._keyring = keyring
        self._ciphers = {kid: AESGCM(key) for kid, key in (keyring.keys if keyring else {}).items()}

    @property
    def active_key_id(self) -> str | None:
        return self._keyring.active_key_id if self._keyring else None

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        if self._keyring is None:
            return payload
        kid = self._keyring.active_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[kid].encrypt(nonce, payload.SerializeToString(), _aad(kid))
        return Payload(
            metadata={ENCODING_KEY: ENCRYPTED_ENCODING, KEY_ID_KEY: kid.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get(ENCODING_KEY) != ENCRYPTED_ENCODING:
            return payload  # written before encryption was switched on
        kid = payload.metadata.get(KEY_ID_KEY, b"").decode(errors="replace")
        if self._keyring is None:
            raise PayloadDecryptionError(
                f"payload is encrypted (key id {kid!r}) but no encryption key is configured: "
                "set CSHUB_ENCRYPTION_KEYS or CSHUB_ENCRYPTION_KEYS_FILE (cshub dev keeps "
                "its key in .cshub/encryption-keys)"
            )
        cipher = self._ciphers.get(kid)
        if cipher is None:
            known = ", ".join(self._ciphers)
            raise PayloadDecryptionError(
                f"payload is encrypted with key id {kid!r}, which is not configured "
                f"(configured: {known}); add it back to CSHUB_ENCRYPTION_KEYS to read it"
            )
        data = payload.data
        if len(data) < NONCE_BYTES + TAG_BYTES:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {kid!r} is {len(data)} bytes, shorter than a "
                f"nonce and a tag ({NONCE_BYTES + TAG_BYTES}): it was truncated or altered"
            )
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], _aad(kid))
            inner = Payload()
            inner.ParseFromString(plain)
        except (InvalidTag, DecodeError):
            raise PayloadDecryptionError(
                f"payload encrypted with key id {kid!r} does not decrypt: the key configured "
                "under that id is a different key, or the payload was altered"
            ) from None
        return inner


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic converter, plus the encryption codec and encoded failure messages
    when keys are configured (exception messages can name a customer too)."""
    keyring = settings.encryption_keyring()
    codec = EncryptionCodec(keyring)
    if keyring is None:
        return dataclasses.replace(pydantic_data_converter, payload_codec=codec)
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
