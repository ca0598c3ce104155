"""Write the CLI reference (docs/cli.md) from the parser itself, so it cannot drift from the code.

.venv/bin/python -m workers.cli.docgen > docs/cli.md
"""

from __future__ import annotations

import argparse
import os
import sys

from workers.cli import build_parser

INTRO = """# carecycle command reference

Generated from the command line's own parser by `python -m workers.cli.docgen > docs/cli.md`; a test fails
when this file and the code disagree.

Conventions: every command that reports results accepts `--json` (one JSON object on stdout). A mistake in
the command line prints one line on stderr and exits with 2; a failure the user can act on (a domain rule,
an integrity problem, a store without schema) prints one line and exits with 1; success exits with 0.
State lives under `CARECYCLE_HOME` (default `./var`); see docs/operations.md for the environment variables.
"""


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _walk(parser: argparse.ArgumentParser, path: list[str], out: list[str]) -> None:
    children = _subparsers(parser)
    if path:
        level = "#" * min(len(path) + 1, 4)
        out.append(f"\n{level} `carecycle {' '.join(path)}`\n")
        if parser.description:
            out.append(parser.description + "\n")
        out.append("```\n" + parser.format_help().rstrip() + "\n```\n")
    for name, child in children.items():
        _walk(child, [*path, name], out)


def render() -> str:
    os.environ["COLUMNS"] = "110"  # stable wrapping whatever the terminal
    parser = build_parser()
    out = [INTRO, "\n## `carecycle`\n", "```\n" + parser.format_help().rstrip() + "\n```\n"]
    _walk(parser, [], out)
    return "".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
