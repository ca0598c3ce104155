"""Console users: roles and what each may do, password hashing, sign-in with throttling, user management.

Passwords are hashed with scrypt (standard library) and a per-user random salt; the stored string names its
parameters (``scrypt$n$r$p$salt$hash``), so they can be raised later without invalidating old hashes.
Consecutive failed sign-ins lock the account for a while; an unknown user name costs the same work as a
known one, so timing does not tell which names exist. Every change to an account and every sign-in, failed
sign-in and lock of a known account is an audit event (``audit_events``, append-only) naming who acted.
The CLI (``carecycle users``) and the console share this module; it touches only the store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import models as m
from domain.audit import record
from domain.errors import DomainError, NotFound, ValidationError


class Role(StrEnum):
    OPERATIONS = "operations"  # read-only: queues, work items, processes
    BILLER = "biller"  # operations + resolve work items
    AUDITOR = "auditor"  # operations + audit timelines and replay
    ADMIN = "admin"  # everything


class Permission(StrEnum):
    VIEW = "view"
    RESOLVE = "resolve"
    AUDIT = "audit"


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATIONS: frozenset({Permission.VIEW}),
    Role.BILLER: frozenset({Permission.VIEW, Permission.RESOLVE}),
    Role.AUDITOR: frozenset({Permission.VIEW, Permission.AUDIT}),
    Role.ADMIN: frozenset(Permission),
}

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")
MIN_PASSWORD_LENGTH = 12
MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)

# scrypt at n=2**14, r=8, p=1 (16 MiB, tens of milliseconds): OWASP's floor for interactive sign-in.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class AccountError(ValidationError):
    """A user name, role or password that cannot be accepted (never contains the password)."""


class SignInRefused(DomainError):
    """Wrong user name or password, or the account is disabled: deliberately not saying which."""


class SignInThrottled(DomainError):
    """Too many failed sign-ins in a row: the account is locked until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__("too many failed sign-ins; try again later")
        self.until = until


@dataclass(frozen=True)
class ConsoleUserView:
    id: str
    username: str
    role: Role
    disabled: bool
    locked_until: datetime | None
    last_sign_in_at: datetime | None
    # Changes with the password: a session made before a password change is no longer accepted.
    credential_stamp: str = ""

    def can(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise AccountError(f"unknown role {text!r}; one of {', '.join(r.value for r in Role)}") from None


def check_username(name: str) -> str:
    if not USERNAME.match(name):
        raise AccountError("a user name is 2-60 characters: lower-case letters, digits, '.', '_' or '-'")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    encode = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


# Verified against when the user name is unknown, so that both answers take the same time.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _view(row: m.ConsoleUser) -> ConsoleUserView:
    return ConsoleUserView(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        disabled=row.disabled,
        locked_until=_aware(row.locked_until),
        last_sign_in_at=_aware(row.last_sign_in_at),
        credential_stamp=hashlib.sha256(row.password_hash.encode()).hexdigest()[:16],
    )


def _find(session: Session, username: str) -> m.ConsoleUser | None:
    return session.execute(select(m.ConsoleUser).where(m.ConsoleUser.username == username)).scalar_one_or_none()


def _get(session: Session, username: str) -> m.ConsoleUser:
    row = _find(session, username)
    if row is None:
        raise NotFound(f"no console user {username!r}")
    return row


def _audit(session: Session, row: m.ConsoleUser, actor: str, action: str, **details: str) -> None:
    record(
        session,
        actor=actor[:60],
        action=f"console_user.{action}",
        entity_type="console_user",
        entity_id=row.id,
        details={"username": row.username, **details},
    )


def add_user(session: Session, username: str, role: Role, password: str, *, actor: str = "system") -> ConsoleUserView:
    check_username(username)
    check_password(password)
    if _find(session, username) is not None:
        raise AccountError(f"console user {username!r} already exists")
    row = m.ConsoleUser(username=username, role=role.value, password_hash=hash_password(password))
    row.disabled, row.failed_attempts = False, 0
    session.add(row)
    session.flush()
    _audit(session, row, actor, "add", role=role.value)
    return _view(row)


def set_password(session: Session, username: str, password: str, *, actor: str = "system") -> ConsoleUserView:
    row = _get(session, username)
    row.password_hash = hash_password(check_password(password))
    row.failed_attempts, row.locked_until = 0, None
    _audit(session, row, actor, "password")
    return _view(row)


def set_disabled(session: Session, username: str, disabled: bool, *, actor: str = "system") -> ConsoleUserView:
    row = _get(session, username)
    row.disabled = disabled
    if not disabled:
        row.failed_attempts, row.locked_until = 0, None
    _audit(session, row, actor, "disable" if disabled else "enable")
    return _view(row)


def list_users(session: Session) -> list[ConsoleUserView]:
    return [_view(r) for r in session.execute(select(m.ConsoleUser).order_by(m.ConsoleUser.username)).scalars()]


def count_users(session: Session) -> int:
    return len(session.execute(select(m.ConsoleUser.id)).all())


def active_user(session: Session, user_id: str) -> ConsoleUserView | None:
    """The user behind a session, if the account still exists and is enabled (a disable takes effect at once)."""
    row = session.get(m.ConsoleUser, user_id)
    return None if row is None or row.disabled else _view(row)


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    now: datetime | None = None,
    max_failures: int = MAX_FAILED_ATTEMPTS,
    lockout: timedelta = LOCKOUT,
) -> ConsoleUserView:
    """Check a sign-in; record the failure or success on the row. The caller commits either way."""
    now = now or datetime.now(UTC)
    row = _find(session, username)
    if row is None:
        verify_password(password, _DUMMY_HASH)
        raise SignInRefused("wrong user name or password")
    locked_until = _aware(row.locked_until)
    if locked_until is not None and locked_until > now:
        raise SignInThrottled(locked_until)
    if not verify_password(password, row.password_hash) or row.disabled:
        row.failed_attempts = (row.failed_attempts or 0) + 1
        _audit(session, row, row.username, "sign_in_failed")
        if row.failed_attempts >= max_failures:
            row.locked_until, row.failed_attempts = now + lockout, 0
            _audit(session, row, "system", "locked", until=row.locked_until.isoformat())
        raise SignInRefused("wrong user name or password")
    row.failed_attempts, row.locked_until, row.last_sign_in_at = 0, None, now
    _audit(session, row, row.username, "sign_in")
    return _view(row)
