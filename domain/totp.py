"""One-time codes (RFC 6238 TOTP over RFC 4226 HOTP, SHA-1, 6 digits, 30 s): pure, stdlib only.

Shared by the sandbox portal (which checks codes) and the portal automation (which makes them from a
configured secret), so both sides agree by construction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct

from domain.errors import ValidationError

STEP_SECONDS = 30
DIGITS = 6


class InvalidTotpSecret(ValidationError):
    code = "invalid_totp_secret"


def new_secret() -> str:
    """A random base32 secret (160 bits), as authenticator apps take it."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret_b32: str) -> bytes:
    cleaned = secret_b32.replace(" ", "").upper()
    try:
        return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (ValueError, TypeError):
        raise InvalidTotpSecret("the one-time-code secret is not valid base32") from None


def hotp(key: bytes, counter: int, digits: int = DIGITS) -> str:
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp(secret_b32: str, at: float, digits: int = DIGITS) -> str:
    return hotp(_key(secret_b32), int(at) // STEP_SECONDS, digits)


def verify_totp(secret_b32: str, code: str, at: float, window: int = 1) -> bool:
    """True if ``code`` is the code of the step at ``at`` or of ``window`` steps either side (clock drift)."""
    key = _key(secret_b32)
    step = int(at) // STEP_SECONDS
    return any(hmac.compare_digest(hotp(key, step + delta), code) for delta in range(-window, window + 1))
