"""Validate X12 text with pyx12's own validator (its Python API, not the `x12valid` exit code)."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pyx12.params
import pyx12.x12n_document


def pyx12_errors(text: str) -> list[dict[str, Any]]:
    """pyx12's error list for the document; empty means the file validated against its implementation guide."""
    # pyx12 reports some errors only through its logger (and then returns False with an empty error tree).
    logger = logging.getLogger("pyx12")
    capture = _Capture()
    logger.addHandler(capture)
    logger.propagate = False
    param = pyx12.params.params()
    source = io.StringIO(text)
    errors_out = io.StringIO()
    try:
        ok = pyx12.x12n_document.x12n_document(param, source, fd_997=None, fd_html=None, fd_json=errors_out)
    finally:
        logger.removeHandler(capture)
    raw = errors_out.getvalue().strip()
    errors: list[dict[str, Any]] = []
    if raw:
        _collect(json.loads(raw), errors)
    errors += [{"message": message} for message in capture.messages]
    if not ok and not errors:
        errors = [{"message": "pyx12 rejected the document without details"}]
    return errors


def _collect(node: Any, found: list[dict[str, Any]]) -> None:
    """pyx12's JSON nests errors at every level (interchange, group, set, segment, element): flatten them."""
    if isinstance(node, list):
        for item in node:
            _collect(item, found)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "errors" and isinstance(value, list):
                found.extend(v for v in value if isinstance(v, dict))
            else:
                _collect(value, found)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
