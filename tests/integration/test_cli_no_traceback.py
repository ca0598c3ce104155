"""The mistaken invocations that ended in a traceback (issue 11): each now gives one line and the documented exit
code (2: the command line is wrong; 1: a file, the configuration or the environment cannot be used), and a closed
pipe ends quietly."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.store.engine import make_engine, make_session_factory
from domain.store.uow import UnitOfWork
from tests.support.dev_stack import free_port
from tests.support.environ import environ_without_ours
from tests.unit.posting.factory import make_patient, make_practice
from workers.cli import run

CARECYCLE = str(Path(sys.executable).parent / "carecycle")
HUGE = "9" * 30


@pytest.fixture
def store(sqlite_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CARECYCLE_TEMPORAL_PORT", str(free_port()))  # nothing listens there
    engine = make_engine(sqlite_url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        practice = make_practice(uow.session)
        for _ in range(30):
            make_patient(uow.session, practice)
        uow.commit()
    engine.dispose()
    return sqlite_url


def one_line(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = run(list(argv))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return code, err


@pytest.mark.parametrize(
    "argv",
    [
        ("patients", "list", "--limit", HUGE),
        ("patients", "list", "--offset", HUGE),
        ("patients", "list", "--offset", "-5"),
        ("payments", "record", "--patient", "P1", "--amount", HUGE + ".00", "--method", "cash"),
        (
            "tasks",
            "open",
            "--reason",
            "manual_task",
            "--entity-type",
            "claim",
            "--entity-id",
            "c1",
            "--summary",
            "s",
            "--sla-hours",
            HUGE,
        ),
        ("tasks", "open", "--reason", "", "--entity-type", "", "--entity-id", "", "--summary", ""),
        ("ar", "aging", "--as-of", "0001-01-01"),
        ("tasks", "list", "--queue", "NOSUCHQUEUE"),
    ],
    ids=["limit", "offset", "negative-offset", "amount", "sla-hours", "empty-strings", "as-of", "queue"],
)
def test_out_of_range_values_are_usage_errors(store: str, capsys: pytest.CaptureFixture[str], argv: tuple[str]) -> None:
    code, _ = one_line(capsys, *argv)
    assert code == 2


def test_a_directory_or_a_binary_file_to_import_bank(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = one_line(capsys, "payments", "import-bank", str(tmp_path))
    assert code == 1 and "is a directory" in err
    binary = tmp_path / "bank.bai"
    binary.write_bytes(bytes(range(256)))
    code, err = one_line(capsys, "payments", "import-bank", str(binary))
    assert code == 1 and "binary" in err


def test_audit_export_to_an_existing_file_or_an_unwritable_place(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "histories.json"
    existing.write_text("{}")
    code, err = one_line(capsys, "audit", "export", "--to", str(existing))
    assert code == 1 and "is a file, not a folder" in err
    code, err = one_line(capsys, "audit", "export", "--to", "/proc/carecycle-histories")
    assert code == 1 and "cannot create the folder" in err


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mongodb://db.example/carecycle", "does not support"),
        ("postgresql://user:pw@:::/carecycle", "not a database URL"),
        ("not a url at all", "not a database URL"),
        ("postgresql+asyncpg://db.example/carecycle", "driver 'asyncpg' is not supported"),
    ],
)
def test_a_bad_database_url_names_the_variable(
    carecycle_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, words: str
) -> None:
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", url)
    code, err = one_line(capsys, "patients", "list")
    assert code == 1 and "CARECYCLE_DATABASE_URL" in err and words in err and "pw" not in err


def test_a_home_that_is_a_file_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CARECYCLE_DATABASE_URL", raising=False)
    not_a_folder = tmp_path / "home"
    not_a_folder.write_text("")
    monkeypatch.setenv("CARECYCLE_HOME", str(not_a_folder))
    code, err = one_line(capsys, "db", "upgrade")
    assert code == 1 and "CARECYCLE_HOME" in err and "is a file" in err


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp folders are the owner's only)."""
    folder = Path(tempfile.mkdtemp(prefix="carecycle-ro-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def reachable_checkout() -> Iterator[None]:
    """The checkout and its interpreter can be reached by another user for the test's length: a clean clone made
    in ``mktemp -d`` sits in a folder only its owner may enter (0700), so `nobody` could not even start
    ``carecycle``. Each such folder above them gets search permission for others (not read), then its mode back."""
    changed: dict[Path, int] = {}
    for start in (Path(CARECYCLE), Path(os.path.realpath(sys.executable))):
        for folder in start.parents:
            mode = folder.stat().st_mode
            if folder not in changed and not mode & stat.S_IXOTH:
                changed[folder] = stat.S_IMODE(mode)
                folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
    try:
        yield
    finally:
        for folder, mode in changed.items():
            folder.chmod(mode)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to run as another user")
@pytest.mark.parametrize("command", ["up", "demo"])
@pytest.mark.usefixtures("reachable_checkout")
def test_a_read_only_home_for_up_and_demo(shared_folder: Path, command: str) -> None:
    home = shared_folder / "home"
    home.mkdir()
    home.chmod(0o555)
    env = environ_without_ours()
    env.update(CARECYCLE_HOME=str(home), CARECYCLE_TEMPORAL_PORT=str(free_port()))
    done = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", CARECYCLE, command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "CARECYCLE_HOME" in done.stderr and "Traceback" not in done.stderr


def test_a_closed_pipe_ends_quietly(store: str, carecycle_home: Path) -> None:
    """Output into a pipe nobody reads any more (`carecycle ... | head` after head exits): no BrokenPipeError."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        done = subprocess.run(
            [CARECYCLE, "patients", "list", "--json"], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write_end)
    assert done.stderr == "" and done.returncode == 141
    shell = subprocess.run(
        f"{CARECYCLE} patients list --limit 30 | head -n 1", shell=True, capture_output=True, text=True, timeout=120
    )
    assert shell.stdout.startswith("account") and shell.stderr == ""


def test_version_works() -> None:
    done = subprocess.run([CARECYCLE, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("carecycle ") and done.stderr == ""
