"""Console passwords: Argon2id hashing (argon2-cffi), the scrypt hashes of older releases, and the policy.

Hashes are Argon2id with argon2-cffi's RFC 9106 "low memory" profile (t=3, m=64 MiB, p=4), self-describing
(``$argon2id$v=19$m=...``), so a later change of parameters shows up as :func:`needs_rehash` and the hash is
renewed at the user's next sign-in, as are the ``scrypt$n$r$p$salt$hash`` hashes written before Argon2id.

Policy (NIST SP 800-63B): 12 to 128 characters, not one of the 30,000 most common passwords (also not with
digits or symbols only added around one, nor one repeated), not built from the user name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

from domain.errors import ValidationError

MIN_LENGTH = 12
MAX_LENGTH = 128
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt"

_HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


class PasswordRefused(ValidationError):
    """A password the policy does not accept (the message never contains the password)."""


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _is_common(lowered: str) -> bool:
    common = common_passwords()
    if lowered in common:
        return True
    core = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", lowered)  # "password2024!" -> "password"
    if core in common or core == "":
        return True
    for size in range(1, len(lowered) // 2 + 1):  # "qwertyqwerty", "abcabcabcabc", "aaaaaaaaaaaa"
        unit = lowered[:size]
        if len(lowered) % size == 0 and unit * (len(lowered) // size) == lowered:
            return True
    return False


def check_password(password: str, *, username: str = "") -> str:
    """Return the password if the policy accepts it; raise :class:`PasswordRefused` saying why otherwise."""
    if len(password) < MIN_LENGTH:
        raise PasswordRefused(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordRefused(f"a password has at most {MAX_LENGTH} characters")
    if not password.strip():
        raise PasswordRefused("a password cannot be only spaces")
    lowered = password.lower()
    if _is_common(lowered) or _is_common(lowered.replace(" ", "")):
        raise PasswordRefused("that password is too common: choose one that is not on lists of leaked passwords")
    name = username.lower()
    if name and (lowered == name or (len(name) >= 4 and name in lowered)):
        raise PasswordRefused("a password must not contain the user name")
    return password


def hash_password(password: str) -> str:
    if len(password) > MAX_LENGTH:  # never spend the work on a megabyte of input
        raise PasswordRefused(f"a password has at most {MAX_LENGTH} characters")
    return _HASHER.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or int(n) > 2**20:
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (Argon2id, or a scrypt hash of an older release)."""
    if len(password) > MAX_LENGTH:
        return False
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True for a hash not made with today's Argon2id parameters (a scrypt one, or older Argon2 settings)."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


# Verified against when the user name is unknown, so that both answers take the same time.
DUMMY_HASH = _HASHER.hash("carecycle: no such user, same work")
