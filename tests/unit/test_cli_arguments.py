"""Every command of the parser, driven with generated bad arguments: never a traceback, always the documented
exit code (2 for a value the command cannot take, 1 for a file it cannot use, one line on stderr).

The commands are discovered from the parser itself, so a command another module registers is covered as soon
as it exists. Values come from the argument types of ``workers.cli.args`` (each lists what it must refuse);
plain text arguments get odd text; file arguments get a folder and a binary file. A command that serves until
stopped (``set_defaults(serves=True)``) only gets values that must be refused before it starts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import FrameType

import pytest

from tests.support.environ import OURS
from tests.support.ports import free_port
from workers.cli import build_parser, run
from workers.cli.args import bad_examples

ODD_TEXT = ("", "   ", "x" * 3000, "\u00e9\u0661/../\x01;'--", "-5")
RAW_TYPES = {int: "int", float: "float", date.fromisoformat: "date.fromisoformat"}
SECONDS_PER_RUN = 120  # a watchdog: a command that never returns is a failure of this test, not a hang


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    parser: argparse.ArgumentParser

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def serves(self) -> bool:
        return bool(self.parser.get_default("serves"))

    def arguments(self) -> list[argparse.Action]:
        return [
            a
            for a in self.parser._actions
            if not isinstance(a, argparse._HelpAction | argparse._VersionAction) and a.dest != argparse.SUPPRESS
        ]


def commands() -> list[Command]:
    found: list[Command] = []

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers:
            found.append(Command(path, parser))
            return
        for name, child in subparsers[0].choices.items():
            walk(child, (*path, name))

    walk(build_parser(), ())
    return found


COMMANDS = commands()


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


class Watchdog(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Watchdog(f"still running after {SECONDS_PER_RUN} s")


def invoke(argv: list[str]) -> Outcome:
    """One command in this process; an exception escaping ``run`` is what a user would see as a traceback."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS_PER_RUN)
    try:
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            _stdin(""),
        ):
            code = run(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    out.flush()
    return Outcome(code, out.buffer.getvalue().decode("utf-8", "replace"), err.getvalue())  # type: ignore[attr-defined]


@contextlib.contextmanager
def _stdin(text: str) -> Iterator[None]:
    import sys

    saved, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A migrated empty store, a Temporal address where nothing listens, and files of each kind."""
    for name in list(__import__("os").environ):
        if name.startswith(OURS):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CARECYCLE_HOME", str(home))
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CARECYCLE_TEMPORAL_PORT", str(free_port()))
    monkeypatch.setenv("CARECYCLE_CODEC_KEYS", "k1:" + "A" * 43 + "=")
    text = tmp_path / "input.txt"
    text.write_text("hello\n")
    binary = tmp_path / "input.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    return {"text": text, "binary": binary, "folder": folder, "tmp": tmp_path}


def _value_for(action: argparse.Action, world: dict[str, Path]) -> str:
    """A value the argument accepts (the baseline each case varies one argument of)."""
    if action.choices:
        return str(next(iter(action.choices)))
    good = getattr(action.type, "good_example", None)
    if good is not None:
        return str(good)
    if action.type is Path:
        return str(world["text"])
    return "x"


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _argv(command: Command, world: dict[str, Path], override: dict[str, str | None]) -> list[str]:
    """The command with every required argument (and the overridden ones); ``None`` leaves one out."""
    positionals: list[str] = []
    options: list[str] = []
    for action in command.arguments():
        if not _takes_value(action):
            continue
        if action.dest in override:
            value = override[action.dest]
            if value is None:
                continue
        elif action.option_strings and not action.required:
            continue
        else:
            value = _value_for(action, world)
        if action.option_strings:
            options.append(f"{action.option_strings[-1]}={value}")  # also carries "" and "-5" as values
        else:
            positionals.append(value)
    return [*command.path, *positionals, *options]


def _one_line(outcome: Outcome) -> bool:
    """One error line on stderr; or (exit 1 of a checker such as `edi validate`) the problems it found, on stdout."""
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    if not lines and outcome.code == 1 and outcome.stdout.strip():
        return True
    return len(lines) == 1 and lines[0].startswith(("error:", "interrupted")) and "Traceback" not in outcome.stderr


def _cases(command: Command, world: dict[str, Path]) -> Iterator[tuple[str, list[str], set[int]]]:
    """(what, argv, allowed exit codes) for one command."""
    yield "an unknown option", [*_argv(command, world, {}), "--no-such-option"], {2}
    yield "an extra argument", [*_argv(command, world, {}), "unexpected-extra"], {2}
    for action in command.arguments():
        if not _takes_value(action):
            continue
        label = action.option_strings[-1] if action.option_strings else action.dest
        if action.required or (not action.option_strings and action.nargs not in ("?", "*")):
            yield f"{label} left out", _argv(command, world, {action.dest: None}), {2}
        if action.choices:
            yield f"{label} NOSUCHCHOICE", _argv(command, world, {action.dest: "NOSUCHCHOICE"}), {2}
            continue
        for bad in bad_examples(action.type):
            yield f"{label} {bad[:20]!r}", _argv(command, world, {action.dest: bad}), {2}
        if command.serves or bad_examples(action.type):
            continue
        if action.type is Path:
            yield f"{label} a folder", _argv(command, world, {action.dest: str(world["folder"])}), {1, 2}
            yield f"{label} a binary file", _argv(command, world, {action.dest: str(world["binary"])}), {0, 1, 2}
            continue
        for odd in ODD_TEXT:
            yield f"{label} {odd[:12]!r}", _argv(command, world, {action.dest: odd}), {0, 1, 2}


def test_every_command_is_found() -> None:
    names = {command.name for command in COMMANDS}
    assert {"patients list", "payments record", "tasks show", "edi validate", "up", "demo"} <= names
    assert len(COMMANDS) >= 43


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_numbers_and_dates_use_the_checked_types(command: Command) -> None:
    """``type=int`` and friends accept values that overflow a column, a timer or a date: use workers.cli.args."""
    raw = [
        f"{a.option_strings[-1] if a.option_strings else a.dest}: type={RAW_TYPES[a.type]}"
        for a in command.arguments()
        if a.type in RAW_TYPES
    ]
    assert raw == [], f"{command.name}: use a checked type from workers.cli.args"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_reporting_command_accepts_json(command: Command) -> None:
    if command.serves and command.name != "up":  # a server (worker, API, listener) reports nothing; up says it is up
        return
    assert any("--json" in a.option_strings for a in command.arguments()), f"{command.name} has no --json"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_generated_bad_arguments_never_give_a_traceback(command: Command, world: dict[str, Path]) -> None:
    failures: list[str] = []
    for what, argv, allowed in _cases(command, world):
        try:
            outcome = invoke(argv)
        except Watchdog as exc:
            failures.append(f"{what}: {exc} (a command that serves until stopped needs serves=True)")
            continue
        except BaseException as exc:  # what a person would see as a traceback
            failures.append(f"{what}: TRACEBACK {type(exc).__name__}: {str(exc)[:200]}")
            continue
        if outcome.code not in allowed:
            failures.append(f"{what}: exit {outcome.code}, expected {sorted(allowed)}: {outcome.stderr[:200]!r}")
        elif outcome.code != 0 and not _one_line(outcome):
            failures.append(f"{what}: exit {outcome.code} without exactly one error line: {outcome.stderr[:300]!r}")
    assert failures == [], f"carecycle {command.name}:\n  " + "\n  ".join(failures)


def test_version() -> None:
    outcome = invoke(["--version"])
    assert outcome.code == 0 and outcome.stdout.startswith("carecycle ")
