"""Console users: roles and what each may do, sign-in, user management.

Passwords are Argon2id (console.passwords); a hash of an older kind is renewed at the next sign-in. Throttling
of failed sign-ins is console.throttle's (keyed by address, typed name and device, so that it answers alike
for names that exist and names that do not). A password change, a disable and an admin's revoke end the user's
sessions at once (console.sessions). Every change to an account and every sign-in and failed sign-in of a known
account is an audit event (``audit_events``, hash-chained) naming who acted. The CLI (``carecycle users``) and
the console share this module; it touches only the store.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.passwords import DUMMY_HASH, check_password, hash_password, needs_rehash, verify_password
from console.sessions import end_user_sessions, open_session_count
from domain import models as m
from domain.audit import record
from domain.errors import DomainError, NotFound, ValidationError


class Role(StrEnum):
    OPERATIONS = "operations"  # the dashboard, queues, work items, processes: no patient data
    BILLER = "biller"  # + claims and patient accounts, resolve work items
    AUDITOR = "auditor"  # + workflow histories (decoded), the audit log, replay
    ADMIN = "admin"  # everything, and users and API clients
    COORDINATOR = "coordinator"  # the telehealth coordinator: the dashboard, queues and the telehealth page


class Permission(StrEnum):
    VIEW = "view"  # dashboard, queues, work items, running processes
    PHI = "phi"  # claim and patient account pages
    RESOLVE = "resolve"  # send a resolution
    AUDIT = "audit"  # workflow browser, timelines, replay, export, the audit log
    ADMIN = "admin"  # users, API clients
    TEMPORAL_UI = "temporal_ui"  # decode payloads in the Temporal Web UI
    TELEHEALTH = "telehealth"  # the day's virtual visits and their actions (cancel, resend invite, reassign)
    FRONT_DESK = "front_desk"  # register a patient and book a visit (through intake: their processes start)


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATIONS: frozenset({Permission.VIEW, Permission.TEMPORAL_UI}),  # no patient data: not the front desk
    Role.BILLER: frozenset({Permission.VIEW, Permission.PHI, Permission.RESOLVE}),
    Role.AUDITOR: frozenset({Permission.VIEW, Permission.PHI, Permission.AUDIT, Permission.TEMPORAL_UI}),
    Role.ADMIN: frozenset(Permission),
    Role.COORDINATOR: frozenset({Permission.VIEW, Permission.TELEHEALTH, Permission.FRONT_DESK}),
}

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")


class AccountError(ValidationError):
    """A user name, role or password that cannot be accepted (never contains the password)."""


class SignInRefused(DomainError):
    """Wrong user name or password, or the account is disabled: deliberately not saying which."""


@dataclass(frozen=True)
class ConsoleUserView:
    id: str
    username: str
    role: Role
    disabled: bool
    last_sign_in_at: datetime | None
    created_at: datetime | None = None
    password_changed_at: datetime | None = None
    open_sessions: int = 0

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


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _view(row: m.ConsoleUser, open_sessions: int = 0) -> ConsoleUserView:
    return ConsoleUserView(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        disabled=row.disabled,
        last_sign_in_at=_aware(row.last_sign_in_at),
        created_at=_aware(row.created_at),
        password_changed_at=_aware(row.password_changed_at),
        open_sessions=open_sessions,
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
    check_password(password, username=username)
    if _find(session, username) is not None:
        raise AccountError(f"console user {username!r} already exists")
    now = datetime.now(UTC)
    row = m.ConsoleUser(username=username, role=role.value, password_hash=hash_password(password))
    row.disabled, row.created_at, row.password_changed_at = False, now, now
    session.add(row)
    session.flush()
    _audit(session, row, actor, "add", role=role.value)
    return _view(row)


def set_password(session: Session, username: str, password: str, *, actor: str = "system") -> ConsoleUserView:
    """A new password; every session of the user ends (a stolen session does not survive the change)."""
    row = _get(session, username)
    row.password_hash = hash_password(check_password(password, username=username))
    row.password_changed_at = datetime.now(UTC)
    ended = end_user_sessions(session, row.id, reason="password")
    _audit(session, row, actor, "password", sessions_ended=str(ended))
    return _view(row)


def set_role(session: Session, username: str, role: Role, *, actor: str = "system") -> ConsoleUserView:
    row = _get(session, username)
    before = row.role
    row.role = role.value
    _audit(session, row, actor, "role", role=role.value, previous=before)
    return _view(row)


def set_disabled(session: Session, username: str, disabled: bool, *, actor: str = "system") -> ConsoleUserView:
    row = _get(session, username)
    row.disabled = disabled
    ended = end_user_sessions(session, row.id, reason="disabled") if disabled else 0
    _audit(session, row, actor, "disable" if disabled else "enable", sessions_ended=str(ended))
    return _view(row)


def revoke_sessions(session: Session, username: str, *, actor: str = "system") -> int:
    """End every open session of the user now (an admin's revoke); returns how many ended."""
    row = _get(session, username)
    ended = end_user_sessions(session, row.id, reason="revoked")
    _audit(session, row, actor, "revoke_sessions", sessions_ended=str(ended))
    return ended


def list_users(session: Session) -> list[ConsoleUserView]:
    rows = session.execute(select(m.ConsoleUser).order_by(m.ConsoleUser.username)).scalars().all()
    return [_view(r, open_session_count(session, r.id)) for r in rows]


def find_user(session: Session, username: str) -> ConsoleUserView | None:
    row = _find(session, username)
    return None if row is None else _view(row, open_session_count(session, row.id))


def count_users(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(m.ConsoleUser)).scalar_one())


def active_user(session: Session, user_id: str) -> ConsoleUserView | None:
    """The user behind a session, if the account still exists and is enabled (a disable takes effect at once)."""
    row = session.get(m.ConsoleUser, user_id)
    return None if row is None or row.disabled else _view(row)


def authenticate(session: Session, username: str, password: str, *, now: datetime | None = None) -> ConsoleUserView:
    """Check a sign-in and record it (audit); renew an old-style hash. The caller commits either way.

    Throttling is the caller's (console.throttle): this never says whether a name exists."""
    now = now or datetime.now(UTC)
    row = _find(session, username)
    if row is None:
        verify_password(password, DUMMY_HASH)
        raise SignInRefused("wrong user name or password")
    if not verify_password(password, row.password_hash) or row.disabled:
        _audit(session, row, row.username, "sign_in_failed")
        raise SignInRefused("wrong user name or password")
    if needs_rehash(row.password_hash):
        row.password_hash = hash_password(password)
        _audit(session, row, "system", "rehash", scheme="argon2id")
    row.last_sign_in_at = now
    _audit(session, row, row.username, "sign_in")
    return _view(row)


def change_own_password(
    session: Session, username: str, current: str, new: str, *, now: datetime | None = None
) -> ConsoleUserView:
    """A signed-in user's own change: the current password is checked first; every session ends."""
    row = _get(session, username)
    if not verify_password(current, row.password_hash):
        _audit(session, row, username, "password_change_refused")
        raise SignInRefused("the current password is wrong")
    return set_password(session, username, new, actor=username)
