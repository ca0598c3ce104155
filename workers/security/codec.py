"""AES-GCM payload codec with key ids: every Temporal payload leaves the process encrypted.

Encoded payload: metadata ``encoding=binary/encrypted`` and ``encryption-key-id=<kid>``; data is
``nonce(12) || AES-GCM(serialized original Payload)`` with the key id as associated data, so a payload
cannot be relabelled to another key. Decoding accepts any known key id (rotation); encoding always uses
the active key. Payloads that are not encrypted pass through decode unchanged (histories written before
encryption was turned on stay readable).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from workers.security.keys import CodecKeys

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12


class PayloadDecryptionError(Exception):
    pass


class AesGcmCodec(PayloadCodec):
    def __init__(self, keys: CodecKeys) -> None:
        self._keys = keys
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.keys.items()}

    @property
    def active_key_id(self) -> str:
        return self._keys.active_key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encode_one(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decode_one(p) for p in payloads]

    def encode_one(self, payload: Payload) -> Payload:
        kid = self._keys.active_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[kid].encrypt(nonce, payload.SerializeToString(), kid.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: kid.encode()},
            data=nonce + sealed,
        )

    def decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        kid = payload.metadata.get(KEY_ID_METADATA, b"").decode()
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise PayloadDecryptionError(f"payload encrypted with unknown key id {kid!r}")
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], kid.encode())
        except InvalidTag:
            raise PayloadDecryptionError(f"payload does not authenticate under key {kid!r}") from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def encrypted_data_converter(keys: CodecKeys) -> DataConverter:
    """The default converter plus the codec; failure messages and stack traces are encoded too."""
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=AesGcmCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
