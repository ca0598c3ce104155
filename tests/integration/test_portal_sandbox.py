"""The sandbox portal over plain HTTP (no browser), one-time codes, and the portal credentials source."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from activities.portals.credentials import PortalCredentials
from activities.portals.errors import PortalCredentialsMissing
from domain.totp import InvalidTotpSecret, new_secret, totp, verify_totp
from sandbox.portal.app import create_app
from sandbox.portal.serve import PortalServer
from sandbox.portal.state import PortalState


def test_totp_matches_rfc_6238_vectors() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert [totp(secret, t, 8) for t in (59, 1111111109, 1234567890, 2000000000)] == [
        "94287082",
        "07081804",
        "89005924",
        "69279037",
    ]
    assert verify_totp(secret, totp(secret, 1000), 1000 + 30)  # one step of clock drift is fine
    assert not verify_totp(secret, totp(secret, 1000), 1000 + 120)
    with pytest.raises(InvalidTotpSecret):
        totp("not base32 !!", 0)


def test_credentials_from_env_and_file(tmp_path: Path) -> None:
    secrets_file = tmp_path / "portal.json"
    secrets_file.write_text(json.dumps({"SBXCC": {"username": "u", "password": "file-pw", "url": "http://p"}}))
    creds = PortalCredentials.from_sources(
        {"CARECYCLE_PORTAL_SBXCC_PASSWORD": "env-pw", "CARECYCLE_PORTAL_URL": "ignored"}, secrets_file
    )
    account = creds.account("SBXCC", "cascade")
    assert (account.username, account.password, account.base_url) == ("u", "env-pw", "http://p")
    assert "env-pw" not in repr(account) and "env-pw" not in str(account)
    with pytest.raises(PortalCredentialsMissing, match="SBXHH"):
        creds.account("SBXHH", "harbor")
    secrets_file.write_text("{not json")
    with pytest.raises(PortalCredentialsMissing, match="cannot be read"):
        PortalCredentials.from_sources({}, secrets_file)


@pytest.fixture
def server() -> Iterator[PortalServer]:
    with PortalServer(create_app(PortalState(seed=2, session_ttl_seconds=1.0), admin_token="tok")) as running:
        yield running


def _call(
    server: PortalServer, path: str, payload: object | None = None, token: str | None = "tok"
) -> tuple[int, dict[str, object]]:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(server.base_url + path, data, {"Content-Type": "application/json"})
    if token:
        request.add_header("X-Sandbox-Admin", token)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_admin_api_refuses_bad_input(server: PortalServer) -> None:
    assert _call(server, "/admin/payers/SBXCC/members", [], token=None)[0] == 403
    assert _call(server, "/admin/payers/SBXCC/members", [], token="wrong")[0] == 403
    assert _call(server, "/admin/payers/SBXCC/members", [{"member_id": "M1"}])[0] == 400
    assert _call(server, "/admin/payers/SBXCC/members", [{"member_id": "M1", "birth_date": "1990-13-01"}])[0] == 400
    assert _call(server, "/admin/payers/SBXCC/accounts", {"username": "u", "password": "p", "otp": "totp"})[0] == 400
    assert _call(server, "/admin/payers/NOPE/claims", [])[0] == 400
    assert _call(server, "/admin/payers/SBXCC/claims", [{"claim_number": "C"}])[0] == 400
    assert _call(server, "/admin/layout/nope", {"revision": 2})[0] == 400
    assert _call(server, "/admin/payers/SBXCC/eobs", {}) == (200, {"issued": False})
    assert _call(server, "/admin/payers/SBXCC/outbox/u")[0] == 404


def test_sign_in_codes_and_session_expiry_over_http(server: PortalServer) -> None:
    secret = new_secret()
    assert _call(server, "/admin/payers/SBXCC/accounts", {"username": "u", "password": "p", "totp_secret": secret})[0]
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def post(path: str, form: dict[str, str]) -> tuple[str, str]:
        with opener.open(server.base_url + path, urllib.parse.urlencode(form).encode()) as response:
            return response.url, response.read().decode()

    url, page = post("/cascade/login", {"username": "u", "password": "wrong"})
    assert "Invalid username or password" in page
    url, page = post("/cascade/login", {"username": "u", "password": "p"})
    assert url.endswith("/cascade/verify")
    url, page = post("/cascade/verify", {"code": "000000" if totp(secret, time.time()) != "000000" else "111111"})
    assert "not valid" in page
    url, page = post("/cascade/verify", {"code": totp(secret, time.time())})
    assert url.endswith("/cascade/home") and 'id="welcome"' in page
    time.sleep(1.2)  # the session expires after one idle second here
    with opener.open(server.base_url + "/cascade/eligibility") as response:
        assert "/cascade/login?expired=1" in response.url and "session has expired" in response.read().decode()
    with pytest.raises(urllib.error.HTTPError) as refused:  # no PDF without a live session
        opener.open(server.base_url + "/cascade/eob/eob000001.pdf")
    assert refused.value.code == 401
    refused.value.close()
