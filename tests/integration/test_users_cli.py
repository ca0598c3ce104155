"""`carecycle users` as an administrator runs it: add with a password on stdin, list, disable, enable, passwd;
mistakes get one line and exit code 1 or 2, and the password never appears in the output or the store."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from console.accounts import authenticate
from domain import models as m
from domain.store.engine import make_engine, make_session_factory
from tests.support.dev_stack import CliResult, run_cli
from tests.support.environ import environ_without_ours

CARECYCLE = str(Path(sys.executable).parent / "carecycle")
PASSWORD = "a long console password"


def carecycle(env: dict[str, str], *args: str, stdin: str = "") -> CliResult:
    """In this process (each interpreter start costs seconds on a busy machine); one real run is below."""
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        return run_cli(env, *args)
    finally:
        sys.stdin = saved


def test_users_add_list_disable_enable_passwd(tmp_path: Path, sqlite_url: str) -> None:
    env = environ_without_ours()
    env.update(CARECYCLE_HOME=str(tmp_path / "home"), CARECYCLE_DATABASE_URL=sqlite_url)

    added = carecycle(env, "users", "add", "ann", "--role", "biller", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added console user ann (biller)" and PASSWORD not in added.stdout
    again = carecycle(env, "users", "add", "ann", "--role", "biller", "--password-stdin", stdin=PASSWORD + "\n")
    assert again.returncode == 1 and again.stderr.strip() == "error: console user 'ann' already exists"
    short = carecycle(env, "users", "add", "bob", "--role", "auditor", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 12 characters" in short.stderr and "short" not in short.stdout
    role = carecycle(env, "users", "add", "bob", "--role", "boss", "--password-stdin", stdin=PASSWORD + "\n")
    assert role.returncode == 1 and "unknown role 'boss'" in role.stderr
    no_tty = carecycle(env, "users", "add", "bob", "--role", "auditor")
    assert no_tty.returncode == 1 and "--password-stdin" in no_tty.stderr
    assert carecycle(env, "users", "add", "bob").returncode == 2  # --role is required
    assert "Traceback" not in short.stderr + role.stderr + no_tty.stderr

    real = subprocess.run(  # the real executable, as a script would pipe a password in
        [CARECYCLE, "users", "add", "ann", "--role", "biller", "--password-stdin"],
        env=env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert real.returncode == 1 and real.stderr == "error: console user 'ann' already exists\n"

    listed = json.loads(carecycle(env, "users", "list", "--json").stdout)
    assert listed["users"] == [
        {"username": "ann", "role": "biller", "disabled": False, "open_sessions": 0, "last_sign_in_at": None}
    ]
    factory = make_session_factory(make_engine(sqlite_url))
    with factory() as session:
        stored = session.execute(select(m.ConsoleUser.password_hash)).scalar_one()
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert authenticate(session, "ann", PASSWORD).username == "ann"

    assert carecycle(env, "users", "disable", "ann").stdout.strip() == "ann (biller): disabled"
    assert "disabled" in carecycle(env, "users", "list").stdout
    missing = carecycle(env, "users", "disable", "nobody")
    assert missing.returncode == 1 and missing.stderr.strip() == "error: no console user 'nobody'"
    assert carecycle(env, "users", "enable", "ann").stdout.strip() == "ann (biller): enabled"
    changed = carecycle(env, "users", "passwd", "ann", "--password-stdin", stdin="another long password\n")
    assert changed.returncode == 0 and changed.stdout.strip() == "ann (biller): password changed"
    with factory() as session:
        assert authenticate(session, "ann", "another long password").username == "ann"
        session.commit()
        trail = session.execute(
            select(m.AuditEvent.actor, m.AuditEvent.action)
            .where(m.AuditEvent.entity_type == "console_user")
            .order_by(m.AuditEvent.occurred_at)
        ).all()
    actions = [action for _, action in trail]
    assert actions[0] == "console_user.add" and trail[0][0].startswith("cli:")
    for action in ("console_user.disable", "console_user.enable", "console_user.password", "console_user.sign_in"):
        assert action in actions
    assert trail[-1] == ("ann", "console_user.sign_in")
