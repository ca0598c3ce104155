"""Console sign-in over real HTTP: anonymous visitors go to the sign-in page, wrong passwords are refused and
then throttled, roles decide what a user may do, forms that change something need their CSRF token, and a
disabled account is out at once. Accounts (hashing, lock) run on SQLite and PostgreSQL.

The Temporal client is never reached by these paths (an operations user is refused before the Update, a
missing CSRF token too); the resolve through a real workflow is in test_stack_console.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from console.accounts import (
    Role,
    SignInRefused,
    SignInThrottled,
    add_user,
    authenticate,
    hash_password,
    set_disabled,
    set_password,
    verify_password,
)
from console.app import create_app
from console.sessions import COOKIE, FailureBrake, SessionSigner
from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from tests.support.dev_stack import free_port
from workers.stack import serve_asgi

PASSWORD = "correct horse battery"
SECRET = b"0123456789abcdef0123456789abcdef"


def test_password_hash_is_salted_scrypt_and_verifies() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("scrypt$") and first != second and PASSWORD not in first
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + "x", first)
    assert not verify_password(PASSWORD, "plain$" + PASSWORD)


def test_sign_in_locks_after_repeated_failures(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        add_user(session, "ann", Role.BILLER, PASSWORD)
        session.commit()
    now = datetime.now(UTC)
    with session_factory() as session:
        for _ in range(3):
            with pytest.raises(SignInRefused):
                authenticate(session, "ann", "wrong password!", now=now, max_failures=3)
            session.commit()
        with pytest.raises(SignInThrottled):  # locked: even the right password is refused for now
            authenticate(session, "ann", PASSWORD, now=now + timedelta(minutes=1), max_failures=3)
        user = authenticate(session, "ann", PASSWORD, now=now + timedelta(minutes=16), max_failures=3)
        session.commit()
        assert user.username == "ann" and user.role is Role.BILLER
        row = session.execute(select(m.ConsoleUser).where(m.ConsoleUser.username == "ann")).scalar_one()
        assert row.failed_attempts == 0 and row.locked_until is None and PASSWORD not in row.password_hash
        trail = session.execute(
            select(m.AuditEvent.actor, m.AuditEvent.action).where(m.AuditEvent.entity_id == user.id)
        ).all()
        actions = sorted(action for _, action in trail)
        assert actions == sorted(
            ["console_user.add"] + ["console_user.sign_in_failed"] * 3 + ["console_user.locked", "console_user.sign_in"]
        )
        assert ("ann", "console_user.sign_in") in trail
        set_disabled(session, "ann", True)
        session.commit()
        with pytest.raises(SignInRefused):
            authenticate(session, "ann", PASSWORD)
        with pytest.raises(SignInRefused):
            authenticate(session, "nobody", PASSWORD)


def test_session_cookie_is_signed_and_expires() -> None:
    signer = SessionSigner(SECRET, ttl_seconds=60)
    cookie, data = signer.issue("user-1", now=1000.0)
    assert signer.read(cookie, now=1001.0) == data
    assert signer.read(cookie, now=1061.0) is None
    body, _, mac = cookie.partition(".")
    assert signer.read(f"{body[:-2]}xx.{mac}", now=1001.0) is None
    assert SessionSigner(b"another secret of 32 bytes......", 60).read(cookie, now=1001.0) is None
    assert signer.csrf_ok(data, signer.csrf_token(data)) and not signer.csrf_ok(data, "")


@pytest.fixture
def store(sqlite_url: str) -> sessionmaker[Session]:
    factory = make_session_factory(make_engine(sqlite_url))
    with factory() as session:
        for name, role in (("ann", Role.BILLER), ("otto", Role.OPERATIONS), ("aud", Role.AUDITOR)):
            add_user(session, name, role, PASSWORD)
        session.add(
            m.WorkItem(
                id="wi-1",
                queue="denials",
                reason_code="claim_denied",
                summary="CO-16 N290",
                entity_type="claim",
                entity_id=str(uuid.uuid4()),
                workflow_id="workitem-claim-x",
                dedupe_key="wi-1",
                sla_due_at=datetime.now(UTC) + timedelta(days=1),
            )
        )
        session.commit()
    return factory


@pytest.fixture
async def console_url(store: sessionmaker[Session]) -> AsyncIterator[str]:
    # No Temporal server: every path exercised here is decided before the console would call it.
    app = create_app(
        cast(Client, object()), store, session_secret=SECRET, max_failed_sign_ins=3, brake=FailureBrake(limit=6)
    )
    port = free_port()
    async with serve_asgi(app, "127.0.0.1", port):
        yield f"http://127.0.0.1:{port}"


async def sign_in(web: httpx.AsyncClient, name: str, password: str = PASSWORD, **extra: str) -> httpx.Response:
    """As a browser does it: the form first (its CSRF token and cookie), then the post."""
    form = await web.get("/login")
    return await web.post("/login", data={"username": name, "password": password, "csrf": csrf_of(form.text), **extra})


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def test_anonymous_visitors_are_sent_to_sign_in(console_url: str) -> None:
    async with httpx.AsyncClient(base_url=console_url) as web:
        for path in ("/queues", "/work-items/wi-1", "/processes", "/audit/x"):
            response = await web.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")
        assert (await web.post("/work-items/wi-1/resolve", data={"action": "retry_now"})).status_code == 303
        forged = await web.get("/queues", headers={"Cookie": f"{COOKIE}=eyJ1IjoiYSJ9.AAAA"})
        assert forged.status_code == 303
        page = await web.get("/login?next=/work-items/wi-1")
        assert page.status_code == 200 and 'name="password"' in page.text and "Work queues" not in page.text
        assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
        assert (await web.get("/health")).status_code == 200


async def test_sign_in_form_needs_its_csrf_token(console_url: str) -> None:
    async with httpx.AsyncClient(base_url=console_url) as web, httpx.AsyncClient(base_url=console_url) as other:
        credentials = {"username": "ann", "password": PASSWORD}
        bare = await web.post("/login", data=credentials)  # a post from another site: no form, no cookie
        assert bare.status_code == 403 and COOKIE not in bare.cookies and "expired" in bare.text
        token = csrf_of((await other.get("/login")).text)  # a token without its cookie is worth nothing
        assert (await web.post("/login", data={**credentials, "csrf": token})).status_code == 403
        assert (await sign_in(web, "ann")).status_code == 303


async def test_wrong_password_is_refused_then_throttled(console_url: str) -> None:
    async with httpx.AsyncClient(base_url=console_url) as web:
        for _ in range(3):
            refused = await sign_in(web, "ann", "not the password")
            assert refused.status_code == 401 and "wrong user name or password" in refused.text
            assert COOKIE not in refused.cookies
        locked = await sign_in(web, "ann", PASSWORD)  # the account is locked now, right password or not
        assert locked.status_code == 429 and "too many failed sign-ins" in locked.text
        assert (await web.get("/queues")).status_code == 303
        # Three more failures from this address on any names: the address itself is braked (limit 6).
        for name in ("otto", "aud", "nobody"):
            assert (await sign_in(web, name, "not the password")).status_code == 401
        assert (await sign_in(web, "otto", PASSWORD)).status_code == 429


async def test_roles_decide_what_a_user_may_do(console_url: str, store: sessionmaker[Session]) -> None:
    async with httpx.AsyncClient(base_url=console_url) as otto, httpx.AsyncClient(base_url=console_url) as aud:
        signed = await sign_in(otto, "otto", PASSWORD, next="/work-items/wi-1")
        assert signed.status_code == 303 and signed.headers["location"] == "/work-items/wi-1"
        set_cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie
        queues = await otto.get("/queues")
        assert queues.status_code == 200 and "/work-items/wi-1" in queues.text and "otto (operations)" in queues.text
        item = await otto.get("/work-items/wi-1")
        assert item.status_code == 200 and "Send resolution" not in item.text and "a biller resolves" in item.text
        refused = await otto.post(
            "/work-items/wi-1/resolve",
            data={"action": "retry_now", "note": "", "fields": "", "csrf": csrf_of(item.text)},
        )
        assert refused.status_code == 403 and "may not resolve" in refused.text
        assert (await otto.get("/audit/workitem-claim-x")).status_code == 403
        assert 'name="workflow_id"' not in queues.text  # no audit search for operations

        assert (await sign_in(aud, "aud")).status_code == 303
        assert (await aud.get("/queues")).status_code == 200
        assert (await aud.post("/work-items/wi-1/resolve", data={"csrf": csrf_of(item.text)})).status_code == 403

        assert (await aud.get("/queues")).status_code == 200
        with store() as session:  # a password change ends the sessions made before it
            set_password(session, "aud", "a brand new password")
            session.commit()
        assert (await aud.get("/queues")).status_code == 303

        with store() as session:  # a disabled account's session ends at once
            set_disabled(session, "otto", True)
            session.commit()
        assert COOKIE in otto.cookies and (await otto.get("/queues")).status_code == 303

    with store() as session:
        row = session.get(m.WorkItem, "wi-1")
        assert row is not None and row.state == "open" and row.resolved_by is None


async def test_biller_form_needs_its_csrf_token_and_names_the_user(console_url: str) -> None:
    async with httpx.AsyncClient(base_url=console_url) as ann:
        assert (await sign_in(ann, "ann")).status_code == 303
        item = await ann.get("/work-items/wi-1")
        assert "Send resolution" in item.text and "as ann" in item.text and 'name="by"' not in item.text
        form: dict[str, Any] = {"action": "write_off", "fields": "", "note": ""}
        missing = await ann.post("/work-items/wi-1/resolve", data=form)
        assert missing.status_code == 403 and "form has expired" in missing.text
        forged = await ann.post("/work-items/wi-1/resolve", data={**form, "csrf": "forged"})
        assert forged.status_code == 403
        # With its token the form reaches the resolution rules (an invalid one is refused before Temporal).
        checked = await ann.post("/work-items/wi-1/resolve", data={**form, "csrf": csrf_of(item.text)})
        assert checked.status_code == 422 and "reason_code" in checked.text

        assert (await ann.post("/logout", data={})).status_code == 403  # logout needs the token too
        out = await ann.post("/logout", data={"csrf": csrf_of(item.text)})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        ann.cookies.clear()
        assert (await ann.get("/queues")).status_code == 303


async def test_sign_in_never_redirects_off_site(console_url: str) -> None:
    async with httpx.AsyncClient(base_url=console_url) as web:
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            signed = await sign_in(web, "aud", PASSWORD, next=target)
            assert signed.status_code == 303 and signed.headers["location"] == "/queues", target
