"""`carecycle api-clients add|list|revoke`: the token is printed once and stored hashed; mistakes get one line."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from api.clients import authenticate
from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from tests.support.dev_stack import run_cli
from tests.support.environ import environ_without_ours


def test_api_clients_add_list_revoke(tmp_path: Path, sqlite_url: str) -> None:
    env = environ_without_ours()
    env.update(CARECYCLE_HOME=str(tmp_path / "home"), CARECYCLE_DATABASE_URL=sqlite_url)

    added = run_cli(env, "api-clients", "add", "epic-prod", "--scopes", "intake,read", "--json")
    assert added.returncode == 0, added.stderr
    printed = json.loads(added.stdout)
    assert set(printed) == {"name", "token"} and printed["name"] == "epic-prod"
    token = printed["token"]
    text = run_cli(env, "api-clients", "add", "reporting", "--scopes", "read")
    assert text.returncode == 0 and "token: ccapi_" in text.stdout

    listed = json.loads(run_cli(env, "api-clients", "list", "--json").stdout)["clients"]
    assert [(c["name"], c["scopes"], c["active"]) for c in listed] == [
        ("epic-prod", ["intake", "read"], True),
        ("reporting", ["read"], True),
    ]
    assert token not in json.dumps(listed)

    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    with factory() as session:
        stored = session.execute(select(m.ApiClient.token_hash).where(m.ApiClient.name == "epic-prod")).scalar_one()
        assert token not in stored
        principal = authenticate(session, token)
        assert principal is not None and principal.scopes == {"intake", "read"}

    duplicate = run_cli(env, "api-clients", "add", "epic-prod", "--scopes", "read")
    assert duplicate.returncode == 1 and duplicate.stderr.count("\n") == 1
    bad_scope = run_cli(env, "api-clients", "add", "other", "--scopes", "admin")
    assert bad_scope.returncode == 2 and "Traceback" not in bad_scope.stderr
    bad_name = run_cli(env, "api-clients", "add", "Bad Name", "--scopes", "read")
    assert bad_name.returncode == 1

    revoked = run_cli(env, "api-clients", "revoke", "epic-prod", "--json")
    assert revoked.returncode == 0 and json.loads(revoked.stdout)["revoked"] is True
    with factory() as session:
        assert authenticate(session, token) is None
    assert run_cli(env, "api-clients", "revoke", "nobody").returncode == 1
    engine.dispose()
