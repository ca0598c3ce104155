"""docs/cli.md is generated from the parser: it must match the code."""

from __future__ import annotations

from pathlib import Path

from workers.cli.docgen import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_up_to_date() -> None:
    assert DOC.read_text() == render(), "regenerate: .venv/bin/python -m workers.cli.docgen > docs/cli.md"
