"""Codec keys: ``kid:base64key`` pairs from CARECYCLE_CODEC_KEYS or a secrets file, with one active key.

Rotation: add a new key, make it active (CARECYCLE_CODEC_ACTIVE_KEY, or list it first), keep the old ones
so existing histories still decode; drop an old key only when no retained history uses it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from workers.settings import Settings

KEY_BYTES = 32  # AES-256


class CodecKeyError(Exception):
    """The configured codec keys are missing or malformed (messages never contain key material)."""


@dataclass(frozen=True)
class CodecKeys:
    keys: dict[str, bytes]
    active_key_id: str


def parse_keys(text: str, active: str | None = None) -> CodecKeys:
    """Parse ``kid:base64key`` entries separated by commas or new lines; ``#`` starts a comment line."""
    keys: dict[str, bytes] = {}
    order: list[str] = []
    entries = [e.strip() for line in text.splitlines() if not line.strip().startswith("#") for e in line.split(",")]
    for entry in filter(None, entries):
        kid, sep, encoded = entry.partition(":")
        kid = kid.strip()
        if not sep or not kid:
            raise CodecKeyError("a codec key entry must look like kid:base64key")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise CodecKeyError(f"codec key {kid!r} is not valid base64") from None
        if len(key) not in (16, 24, 32):
            raise CodecKeyError(f"codec key {kid!r} must be 16, 24 or 32 bytes, got {len(key)}")
        if kid in keys:
            raise CodecKeyError(f"codec key id {kid!r} appears twice")
        keys[kid] = key
        order.append(kid)
    if not keys:
        raise CodecKeyError("no codec keys configured")
    active_id = active or order[0]
    if active_id not in keys:
        raise CodecKeyError(f"the active codec key {active_id!r} is not among the configured keys")
    return CodecKeys(keys=keys, active_key_id=active_id)


def default_key_file(settings: Settings) -> Path:
    return settings.home / "secrets" / "codec-keys"


def new_key_entry(kid: str) -> str:
    return f"{kid}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def generate_key_file(path: Path, kid: str = "k1") -> None:
    """Write a fresh key file readable by the owner only (0600), never overwriting an existing one.

    Written whole or not at all (workers.files): a crash mid-write never leaves an empty key file behind. An
    existing file (another process's, made first) raises FileExistsError and is left as it is."""
    from workers.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = "# carecycle payload codec keys: kid:base64key, the first is active\n" + new_key_entry(kid) + "\n"
    atomic_write(path, text, mode=0o600, exclusive=True)


def load_keys(settings: Settings, *, create_if_missing: bool = False) -> CodecKeys:
    """Keys from the environment, else the configured file, else (embedded stack) the file under home."""
    if settings.codec_keys:
        return parse_keys(settings.codec_keys, settings.codec_active_key)
    path = Path(settings.codec_keys_file) if settings.codec_keys_file else default_key_file(settings)
    if not path.exists():
        if not create_if_missing or settings.codec_keys_file:
            raise CodecKeyError(
                f"no codec keys: set CARECYCLE_CODEC_KEYS or CARECYCLE_CODEC_KEYS_FILE (missing file {path})"
            )
        with contextlib.suppress(FileExistsError):  # another process made it a moment ago: use theirs
            generate_key_file(path)
    if path.stat().st_mode & 0o077:
        raise CodecKeyError(f"codec key file {path} must be readable by its owner only (chmod 600)")
    return parse_keys(path.read_text(), settings.codec_active_key)
