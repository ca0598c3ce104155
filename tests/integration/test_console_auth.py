"""Console access control over real HTTP, one test per finding of the security review (issue 12) and the rules
around them: server-side sessions with idle logoff and an absolute lifetime, a cookie worthless after sign-out,
password change, disable or revoke; Argon2id with rehash of old scrypt hashes; the password policy; throttling
by address, name and device that answers alike for known and unknown names and trusts X-Forwarded-For only from
configured proxies; a strict CSP; no 500 on any query string.

The Temporal client is never reached by these paths (decided before the console would call it); resolving
through a real workflow is in test_stack_console.py. A clock is handed to the app, so no test waits."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from console.accounts import Role, SignInRefused, add_user, authenticate, set_disabled, set_password
from console.app import CSP, create_app
from console.passwords import PasswordRefused, check_password, hash_password, needs_rehash, verify_password
from console.sessions import COOKIE, DEVICE_COOKIE, SessionPolicy
from console.throttle import ThrottlePolicy, client_address, parse_proxies
from console.web import ConsoleOptions
from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from tests.support.dev_stack import dev_stack, free_port
from workers.stack import serve_asgi

PASSWORD = "correct horse battery"
SECRET = b"0123456789abcdef0123456789abcdef"


def _scrypt(password: str) -> str:
    """A hash as releases before Argon2id wrote them."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${2**14}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_passwords_are_argon2id_and_old_scrypt_hashes_still_verify() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and first != second and PASSWORD not in first
    assert verify_password(PASSWORD, first) and not verify_password(PASSWORD + "x", first)
    assert not needs_rehash(first)
    old = _scrypt(PASSWORD)
    assert verify_password(PASSWORD, old) and not verify_password("wrong", old) and needs_rehash(old)
    assert not verify_password(PASSWORD, "plain$" + PASSWORD)
    assert not verify_password("x" * 20_000_000, first)  # a 20 MB password is refused, never hashed


@pytest.mark.parametrize(
    ("password", "why"),
    [
        (" " * 12, "only spaces"),
        ("short pass", "at least 12"),
        ("x" * 129, "at most 128"),
        ("password1234", "too common"),
        ("Dragon!!!!!!", "too common"),
        ("qwertyqwerty", "too common"),
        ("123456789012", "too common"),
        ("annabelle-rocks-2024", "user name"),
    ],
)
def test_the_password_policy_refuses(password: str, why: str) -> None:
    with pytest.raises(PasswordRefused, match=why):
        check_password(password, username="annabelle")


def test_the_password_policy_accepts_a_passphrase() -> None:
    assert check_password("purple tractor mornings", username="ann") == "purple tractor mornings"


def test_sign_in_renews_an_old_scrypt_hash(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        add_user(session, "ann", Role.BILLER, PASSWORD)
        session.commit()
        row = session.execute(select(m.ConsoleUser).where(m.ConsoleUser.username == "ann")).scalar_one()
        session.execute(
            m.ConsoleUser.__table__.update().where(m.ConsoleUser.id == row.id).values(password_hash=_scrypt(PASSWORD))
        )
        session.commit()
    with session_factory() as session:
        with pytest.raises(SignInRefused):
            authenticate(session, "ann", "not the password")
        assert authenticate(session, "ann", PASSWORD).username == "ann"
        session.commit()
        stored = session.execute(select(m.ConsoleUser.password_hash)).scalar_one()
        assert stored.startswith("$argon2id$") and verify_password(PASSWORD, stored)
        actions = session.execute(select(m.AuditEvent.action).order_by(m.AuditEvent.seq)).scalars().all()
        assert "console_user.rehash" in actions and actions[-1] == "console_user.sign_in"
        set_disabled(session, "ann", True)
        session.commit()
        with pytest.raises(SignInRefused):
            authenticate(session, "ann", PASSWORD)
        with pytest.raises(SignInRefused):
            authenticate(session, "nobody", PASSWORD)


def test_client_address_believes_forwarded_for_only_from_trusted_proxies() -> None:
    trusted = parse_proxies("10.0.0.0/8, 127.0.0.1")
    assert client_address("203.0.113.9", "198.51.100.7", trusted) == "203.0.113.9"  # untrusted peer: ignored
    assert client_address("127.0.0.1", "198.51.100.7", trusted) == "198.51.100.7"
    assert client_address("127.0.0.1", "198.51.100.7, 10.1.2.3", trusted) == "198.51.100.7"  # proxies skipped
    assert client_address("127.0.0.1", "6.6.6.6, 198.51.100.7", trusted) == "198.51.100.7"  # a spoofed head
    assert client_address("127.0.0.1", "garbage", trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", "198.51.100.7", ()) == "127.0.0.1"  # nothing trusted by default


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Console:
    url: str
    clock: Clock
    store: sessionmaker[Session]


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


async def _serve(store: sessionmaker[Session], **options: Any) -> AsyncIterator[Console]:
    clock = Clock(datetime.now(UTC))
    app = create_app(
        cast(Client, object()),  # no Temporal server: every path here is decided before the console would call it
        store,
        session_secret=SECRET,
        options=ConsoleOptions(
            sessions=SessionPolicy(idle=timedelta(minutes=15), lifetime=timedelta(hours=8)),
            throttle=ThrottlePolicy(address_limit=8, account_limit=3, device_limit=3),
            **options,
        ),
        clock=clock,
    )
    port = free_port()
    async with serve_asgi(app, "127.0.0.1", port):
        yield Console(f"http://127.0.0.1:{port}", clock, store)


@pytest.fixture
async def console(store: sessionmaker[Session]) -> AsyncIterator[Console]:
    async for served in _serve(store):
        yield served


@pytest.fixture
async def behind_proxy(store: sessionmaker[Session]) -> AsyncIterator[Console]:
    async for served in _serve(store, trusted_proxies=parse_proxies("127.0.0.1")):
        yield served


async def sign_in(web: httpx.AsyncClient, name: str, password: str = PASSWORD, **extra: Any) -> httpx.Response:
    """As a browser does it: the form first (its CSRF token and cookie), then the post."""
    form = await web.get("/login")
    return await web.post("/login", data={"username": name, "password": password, "csrf": csrf_of(form.text)}, **extra)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def test_anonymous_visitors_are_sent_to_sign_in(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as web:
        for path in ("/queues", "/work-items/wi-1", "/processes", "/workflows/x", "/audit-log", "/admin/users"):
            response = await web.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")
        assert (await web.post("/work-items/wi-1/resolve", data={"action": "retry_now"})).status_code == 303
        forged = await web.get("/queues", headers={"Cookie": f"{COOKIE}=made-up-token"})
        assert forged.status_code == 303
        page = await web.get("/login?next=/work-items/wi-1")
        assert page.status_code == 200 and 'name="password"' in page.text and "Work queues" not in page.text
        assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
        assert (await web.get("/health")).status_code == 200


async def test_the_csp_allows_this_origin_only_and_pages_have_no_inline_code(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as web:
        assert (await sign_in(web, "aud")).status_code == 303
        for path in ("/login", "/queues", "/work-items/wi-1", "/audit-log", "/account"):
            page = await web.get(path)
            csp = page.headers["content-security-policy"]
            assert csp == CSP and "default-src 'self'" in csp and "unsafe-inline" not in csp
            assert "<script" not in page.text and "<style" not in page.text and " style=" not in page.text, path
            assert not re.search(r" on[a-z]+=", page.text), path  # no inline event handlers
        css = await web.get("/static/console.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


NASTY = ["\\", "\\x", '"', "'", "%00", "%ff", 'a"b\\c', "<script>", "1e999", "-1", "9" * 40, "%", "\u0000", "ü"]


@pytest.mark.temporal
async def test_no_query_string_gives_a_server_error(tmp_path: Path, store: sessionmaker[Session]) -> None:
    async with dev_stack(tmp_path / "home", "sqlite://", workers=False) as stack:
        app = create_app(stack.client, store, session_secret=SECRET)
        port = free_port()
        async with serve_asgi(app, "127.0.0.1", port):
            await _fuzz_query_strings(f"http://127.0.0.1:{port}")


async def _fuzz_query_strings(url: str) -> None:
    pages = {
        "/queues": ["queue", "reason", "assignee", "sort", "page", "overdue"],
        "/processes": ["stage"],
        "/work-items/wi-1": ["done"],
        "/audit-log": ["actor", "action", "since", "until", "page", "entity_id"],
        "/workflows": ["type", "status", "started_from", "Stage", "EntityId"],
        "/login": ["next", "reason"],
    }
    async with httpx.AsyncClient(base_url=url, timeout=30) as web:
        assert (await sign_in(web, "aud")).status_code == 303
        for path, names in pages.items():
            for name in names:
                for value in NASTY:
                    response = await web.get(path, params={name: value})
                    assert response.status_code < 500, (path, name, value, response.status_code)
        backslash = await web.get("/processes?stage=\\")
        assert backslash.status_code == 400 and "stage" in backslash.text


async def test_sign_in_form_needs_its_csrf_token(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as web, httpx.AsyncClient(base_url=console.url) as other:
        credentials = {"username": "ann", "password": PASSWORD}
        bare = await web.post("/login", data=credentials)  # a post from another site: no form, no cookie
        assert bare.status_code == 403 and COOKIE not in bare.cookies and "expired" in bare.text
        token = csrf_of((await other.get("/login")).text)  # a token without its cookie is worth nothing
        assert (await web.post("/login", data={**credentials, "csrf": token})).status_code == 403
        assert (await sign_in(web, "ann")).status_code == 303


async def test_a_session_ends_after_idling_and_at_its_absolute_lifetime(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as web:
        assert (await sign_in(web, "ann")).status_code == 303
        token = web.cookies.get(COOKIE)
        console.clock.advance(minutes=14)
        assert (await web.get("/queues")).status_code == 200  # active: each request restarts the idle clock
        console.clock.advance(minutes=14)
        assert (await web.get("/queues")).status_code == 200
        console.clock.advance(minutes=15, seconds=1)
        idle = await web.get("/queues")
        assert idle.status_code == 303 and "reason=idle" in idle.headers["location"]
        login = await web.get(idle.headers["location"])
        assert "signed out after a period of inactivity" in login.text
        console.clock.advance(minutes=1)
        async with httpx.AsyncClient(base_url=console.url, cookies={COOKIE: token or ""}) as again:
            assert (await again.get("/queues")).status_code == 303  # ended in the store, not only refused once

        assert (await sign_in(web, "ann")).status_code == 303
        for _ in range(8 * 6):  # busy all day: every 10 minutes
            console.clock.advance(minutes=10)
            response = await web.get("/queues")
            if response.status_code != 200:
                break
        assert response.status_code == 303 and "reason=expired" in response.headers["location"]
    with console.store() as session:
        reasons = session.execute(select(m.ConsoleSession.end_reason)).scalars().all()
        assert sorted(reasons) == ["expired", "idle"]


async def test_a_cookie_replayed_after_sign_out_is_refused(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as web:
        assert (await sign_in(web, "ann")).status_code == 303
        stolen = web.cookies.get(COOKIE)
        assert stolen and (await web.get("/queues")).status_code == 200
        page = await web.get("/queues")
        out = await web.post("/logout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/login"
    async with httpx.AsyncClient(base_url=console.url, cookies={COOKIE: stolen}) as thief:
        replayed = await thief.get("/queues")
        assert replayed.status_code == 303 and replayed.headers["location"].startswith("/login")
    with console.store() as session:
        row = session.execute(select(m.ConsoleSession)).scalar_one()
        assert row.end_reason == "signed_out" and row.id != stolen  # the store keeps a hash, not the token


async def test_password_change_disable_and_revoke_end_sessions_at_once(console: Console) -> None:
    async with (
        httpx.AsyncClient(base_url=console.url) as otto,
        httpx.AsyncClient(base_url=console.url) as aud,
        httpx.AsyncClient(base_url=console.url) as ann,
        httpx.AsyncClient(base_url=console.url) as ann_phone,
    ):
        for web, name in ((otto, "otto"), (aud, "aud"), (ann, "ann"), (ann_phone, "ann")):
            assert (await sign_in(web, name)).status_code == 303
        with console.store() as session:
            set_password(session, "aud", "a brand new password")
            session.commit()
        assert (await aud.get("/queues")).status_code == 303
        with console.store() as session:
            set_disabled(session, "otto", True)
            session.commit()
        assert (await otto.get("/queues")).status_code == 303
        with console.store() as session:
            add_user(session, "root", Role.ADMIN, PASSWORD)
            session.commit()
        async with httpx.AsyncClient(base_url=console.url) as admin:
            assert (await sign_in(admin, "root")).status_code == 303
            users = await admin.get("/admin/users")
            assert users.status_code == 200 and "ann" in users.text
            revoked = await admin.post("/admin/users/ann/revoke", data={"csrf": csrf_of(users.text)})
            assert revoked.status_code == 303
        assert (await ann.get("/queues")).status_code == 303 and (await ann_phone.get("/queues")).status_code == 303
        # The own password change, from the account page: the current password is checked, every session ends.
        assert (await sign_in(ann, "ann")).status_code == 303
        page = await ann.get("/account")
        new = {"new": "a new passphrase", "repeat": "a new passphrase"}
        wrong = await ann.post("/account/password", data={"csrf": csrf_of(page.text), "current": "nope", **new})
        assert wrong.status_code == 422 and "current password is wrong" in wrong.text
        common = await ann.post(
            "/account/password",
            data={"csrf": csrf_of(page.text), "current": PASSWORD, "new": "password1234", "repeat": "password1234"},
        )
        assert common.status_code == 422 and "too common" in common.text
        changed = await ann.post("/account/password", data={"csrf": csrf_of(page.text), "current": PASSWORD, **new})
        assert changed.status_code == 303 and (await ann.get("/queues")).status_code == 303
        assert (await sign_in(ann, "ann", "a new passphrase")).status_code == 303


def _answer(response: httpx.Response) -> tuple[int, str]:
    """What a visitor learns from a sign-in answer: the status and the message (not the per-form token)."""
    message = re.search(r'role="alert">([^<]*)<', response.text)
    return response.status_code, message.group(1) if message else ""


async def test_known_and_unknown_names_are_answered_alike(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as known, httpx.AsyncClient(base_url=console.url) as unknown:
        answers_known = [_answer(await sign_in(known, "ann", "not the password")) for _ in range(5)]
        answers_unknown = [_answer(await sign_in(unknown, "nobody-here", "not the password")) for _ in range(5)]
    assert answers_known == answers_unknown
    assert answers_known[0] == (401, "wrong user name or password")
    assert answers_known[-1] == (429, "too many failed sign-ins; try again later")


async def test_a_stranger_cannot_lock_a_user_out_of_their_own_browser(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as ann, httpx.AsyncClient(base_url=console.url) as mallory:
        assert (await sign_in(ann, "ann")).status_code == 303  # ann's browser becomes a known device
        assert DEVICE_COOKIE in ann.cookies
        page = await ann.get("/queues")
        await ann.post("/logout", data={"csrf": csrf_of(page.text)})
        for _ in range(3):
            assert (await sign_in(mallory, "ann", "guess")).status_code == 401
        assert (await sign_in(mallory, "ann", PASSWORD)).status_code == 429  # locked for new browsers
        assert (await sign_in(ann, "ann")).status_code == 303  # not for ann's own
        console.clock.advance(minutes=16)
        assert (await sign_in(mallory, "ann", PASSWORD)).status_code == 303  # and never for ever


async def test_a_throttled_address_waits_even_with_the_right_password(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as web:
        for index in range(8):  # address limit 8, spread over names so no account lock trips first
            assert (await sign_in(web, f"guess{index}", "wrong password")).status_code == 401
        assert (await sign_in(web, "aud", PASSWORD)).status_code == 429
        console.clock.advance(minutes=16)
        assert (await sign_in(web, "aud", PASSWORD)).status_code == 303


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as web:
        for index in range(8):  # a new X-Forwarded-For each time does not give a fresh address
            headers = {"X-Forwarded-For": f"198.51.100.{index}"}
            assert (await sign_in(web, f"guess{index}", "wrong password", headers=headers)).status_code == 401
        fresh = {"X-Forwarded-For": "203.0.113.50"}
        assert (await sign_in(web, "aud", PASSWORD, headers=fresh)).status_code == 429


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(behind_proxy: Console) -> None:
    async with httpx.AsyncClient(base_url=behind_proxy.url) as web:
        for index in range(8):
            headers = {"X-Forwarded-For": "198.51.100.1"}
            assert (await sign_in(web, f"guess{index}", "wrong password", headers=headers)).status_code == 401
        assert (await sign_in(web, "aud", headers={"X-Forwarded-For": "198.51.100.1"})).status_code == 429
        assert (await sign_in(web, "aud", headers={"X-Forwarded-For": "198.51.100.2"})).status_code == 303


async def test_roles_decide_what_a_user_may_do(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as otto, httpx.AsyncClient(base_url=console.url) as aud:
        signed = await otto.post(
            "/login",
            data={
                "username": "otto",
                "password": PASSWORD,
                "csrf": csrf_of((await otto.get("/login")).text),
                "next": "/work-items/wi-1",
            },
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/work-items/wi-1"
        set_cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie
        queues = await otto.get("/queues")
        assert queues.status_code == 200 and "/work-items/wi-1" in queues.text and "otto (operations)" in queues.text
        item = await otto.get("/work-items/wi-1")
        assert item.status_code == 200 and "Send resolution" not in item.text and "a biller resolves" in item.text
        refused = await otto.post(
            "/work-items/wi-1/resolve", data={"action": "retry_now", "note": "", "csrf": csrf_of(item.text)}
        )
        assert refused.status_code == 403 and "may not use this page" in refused.text
        assert (await otto.get("/workflows/workitem-claim-x")).status_code == 403
        assert (await otto.get("/audit-log")).status_code == 403

        assert (await sign_in(aud, "aud")).status_code == 303
        assert (await aud.get("/queues")).status_code == 200
        assert (await aud.post("/work-items/wi-1/resolve", data={"csrf": csrf_of(item.text)})).status_code == 403
        assert (await aud.get("/admin/users")).status_code == 403

    with console.store() as session:
        row = session.get(m.WorkItem, "wi-1")
        assert row is not None and row.state == "open" and row.resolved_by is None


async def test_biller_form_needs_its_csrf_token_and_is_checked_like_the_validator(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as ann:
        assert (await sign_in(ann, "ann")).status_code == 303
        item = await ann.get("/work-items/wi-1")
        assert "Send resolution" in item.text and "as ann" in item.text and 'name="by"' not in item.text
        assert 'id="action-write_off"' in item.text and 'name="f.reason_code"' in item.text
        form: dict[str, Any] = {"action": "write_off", "note": ""}
        missing = await ann.post("/work-items/wi-1/resolve", data=form)
        assert missing.status_code == 403 and "form has expired" in missing.text
        forged = await ann.post("/work-items/wi-1/resolve", data={**form, "csrf": "forged"})
        assert forged.status_code == 403
        # With its token the form reaches the resolution rules (an invalid one is refused before Temporal),
        # and the message is shown in the action's own form.
        checked = await ann.post("/work-items/wi-1/resolve", data={**form, "csrf": csrf_of(item.text)})
        assert checked.status_code == 422 and "write_off needs the field(s): reason_code" in checked.text
        assert 'aria-invalid="true"' in checked.text
        dollars = await ann.post(
            "/work-items/wi-1/resolve",
            data={"action": "bill_patient", "f.amount_cents": "12.345", "note": "", "csrf": csrf_of(item.text)},
        )
        assert dollars.status_code == 422 and "type dollars and cents" in dollars.text

        assert (await ann.post("/logout", data={})).status_code == 403  # logout needs the token too


async def test_sign_in_never_redirects_off_site(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.url) as web:
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            form = await web.get("/login")
            signed = await web.post(
                "/login", data={"username": "aud", "password": PASSWORD, "csrf": csrf_of(form.text), "next": target}
            )
            assert signed.status_code == 303 and signed.headers["location"] == "/dashboard", target
