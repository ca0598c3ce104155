"""Who may sign in to the operations console: users, their sessions and the sign-in throttle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, utcnow, uuid_pk


class ConsoleUser(Base):
    """Who may sign in to the operations console, with one role (operations, biller, auditor, admin).

    ``password_hash`` is a self-describing KDF string (Argon2id ``$argon2id$...``; older ``scrypt$n$r$p$salt$hash``
    ones are rehashed at the next sign-in), never the password. Failed sign-ins are throttled in
    ``sign_in_throttles``, keyed by the typed name whether or not it exists.
    """

    __tablename__ = "console_users"
    id: Mapped[str] = uuid_pk()
    username: Mapped[str] = mapped_column(String(60), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"), default=None)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(default=None)
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None)


class ConsoleSession(Base):
    """A signed-in browser. The cookie holds a random token; the row holds its SHA-256 (``id``), so a copy of the
    table cannot be replayed. A session ends (``ended_at``) at sign-out, after ``idle`` minutes without a request,
    at ``expires_at``, or when the user's password changes, the user is disabled or an admin revokes it."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_user_open", "user_id", "ended_at"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("console_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str | None] = mapped_column(String(20), default=None)
    client_address: Mapped[str] = mapped_column(String(64), default="")


class SignInThrottle(Base):
    """Failed sign-ins per key: a client address, a typed user name (known or not), a known device.

    ``key`` is an HMAC of the scope and the value, never the typed text (people type passwords into the name
    field). ``failures`` counts within the window that started at ``window_started_at``; ``locked_until`` is set
    when they reach the scope's limit."""

    __tablename__ = "sign_in_throttles"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(default=None, index=True)
