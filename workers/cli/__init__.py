"""The ``carecycle`` command line.

Each area registers its sub-commands from its own module (``register(subparsers)``); modules import their
heavy dependencies inside the handlers so that ``carecycle --help`` stays fast. Handlers return an exit code.

Exit codes: 0 success, 1 failure (a domain rule, a problem found, a file that cannot be used, bad configuration),
2 usage error, 130 interrupted, 141 the output pipe was closed (``carecycle tasks list | head``).
A user's mistake prints one line on stderr, never a traceback.

Arguments are checked by the shared types of :mod:`workers.cli.args` (ranges, dates, amounts, text) and files
by its readers and writers; every reporting command takes ``--json`` (``args.add_json``). The generated-arguments
test walks this parser, so a new command is covered as soon as it registers. A command that serves until stopped
(``up``, ``worker``, a web service) says so with ``set_defaults(serves=True)``: that test then only gives it
arguments that must be refused.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from workers.cli.args import non_negative_int, positive_int

COMMAND_MODULES = (
    "workers.cli.db",
    "workers.cli.patients",
    "workers.cli.claims",
    "workers.cli.edi",
    "workers.cli.remit",
    "workers.cli.ledger",
    "workers.cli.ar",
    "workers.cli.policy",
    "workers.cli.payments",
    "workers.cli.tasks",
    "workers.cli.stack",
    "workers.cli.audit",
    "workers.cli.demo",
    "workers.cli.documents",
    "workers.cli.batch",
    "workers.cli.schedules",
    "workers.cli.users",
    "workers.cli.staff",
    "workers.cli.api",
    "workers.cli.hl7",
    "workers.cli.imports",
    "workers.cli.visits",
    "workers.cli.telehealth",
    "workers.cli.webhooks",
    "workers.cli.deployment",
)

__all__ = ["CommandFailed", "UsageError", "build_parser", "main", "non_negative_int", "positive_int", "run"]

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """The command line itself is wrong: exit code 2."""


class CommandFailed(Exception):
    """The command ran and failed for a reason the user can act on: exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="carecycle",
        description="carecycle: durable back-office automation for a medical practice.",
    )
    parser.add_argument("--version", action="version", version=f"carecycle {package_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # an area not built yet
            raise
        module.register(subparsers)
    return parser


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("carecycle")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def run(argv: Sequence[str] | None = None) -> int:
    """Parse and run one command; returns its exit code. Used in-process by the tests."""
    from sqlalchemy.exc import OperationalError

    from domain.errors import DomainError
    from workers.composition import StoreNotReady
    from workers.settings import SettingsError

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        handler: Handler = args.handler
        return handler(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (DomainError, CommandFailed, SettingsError, StoreNotReady) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unknown reason"
        print(f"error: the store cannot be used: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _pipe_closed()
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else 0


def _pipe_closed() -> int:
    """The reader of our output went away (``| head``): stop quietly, as a program killed by SIGPIPE would."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
    except (OSError, ValueError, AttributeError):  # stdout is not a file (tests capture it)
        pass
    return 141


_AT_EXIT: list[Callable[[], None]] = []


def at_exit(callback: Callable[[], None]) -> None:
    """Run ``callback`` when the ``carecycle`` process ends (``main`` leaves through ``os._exit``, which skips the
    interpreter's own exit handlers): a child a command started, such as Prefect's ephemeral server, is stopped.
    In-process callers of :func:`run` (the tests) keep such a child for the next command instead."""
    if callback not in _AT_EXIT:
        _AT_EXIT.append(callback)


def main() -> NoReturn:
    code = run()
    for callback in _AT_EXIT:
        try:
            callback()
        except Exception as exc:  # stopping a helper must not turn a success into a traceback
            print(f"warning: {type(exc).__name__} while stopping: {exc}", file=sys.stderr)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = _pipe_closed()
    try:
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    # The Temporal SDK's native threads can abort the interpreter's own shutdown (exit 134);
    # everything is flushed and closed by now, so leave without running it.
    os._exit(code)
