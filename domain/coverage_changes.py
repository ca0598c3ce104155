"""A person's correction of a coverage (the ``update_coverage`` resolution): the one rule its fields must meet.

Pure: the CLI, the console and the EligibilityCheck workflow's validator call :func:`parse_coverage_changes`; the
``eligibility.update_coverage`` activity calls it again with the coverage's current dates and applies exactly what
it returns. A payer code that names no payer is a store fact the activity alone can refuse. Messages never repeat
a member id or a group number (they identify a patient).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from domain.errors import ValidationError

COVERAGE_FIELDS = ("member_id", "payer_id", "group_number", "effective_from", "effective_to")
_MEMBER_ID = re.compile(r"[A-Za-z0-9-]{1,30}")
_GROUP = re.compile(r"[A-Za-z0-9 -]{1,30}")
_PAYER_CODE = re.compile(r"[A-Za-z0-9]{1,20}")


@dataclass(frozen=True)
class CoverageChanges:
    member_id: str | None = None
    payer_id: str | None = None  # the payer's code
    group_number: str | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    clear_effective_to: bool = False  # "effective_to=open": the coverage has no end


def _day(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{name} must be a date (YYYY-MM-DD), not {text.strip()[:12]!r}") from None


def parse_coverage_changes(
    fields: Mapping[str, str], *, current_from: date | None = None, current_to: date | None = None
) -> CoverageChanges:
    """The fields, checked; with the coverage's current dates (the activity), the resulting period is checked too."""
    unknown = sorted(set(fields) - set(COVERAGE_FIELDS))
    if unknown:
        raise ValidationError(f"coverage has no field {unknown[0][:30]!r}; fields: {', '.join(COVERAGE_FIELDS)}")
    values: dict[str, object] = {}
    if "member_id" in fields:
        if not _MEMBER_ID.fullmatch(fields["member_id"].strip()):
            raise ValidationError("member_id must be 1 to 30 letters, digits or dashes")
        values["member_id"] = fields["member_id"].strip()
    if "group_number" in fields:
        if not _GROUP.fullmatch(fields["group_number"].strip()):
            raise ValidationError("group_number must be 1 to 30 letters, digits, blanks or dashes")
        values["group_number"] = fields["group_number"].strip()
    if "payer_id" in fields:
        code = fields["payer_id"].strip()
        if not _PAYER_CODE.fullmatch(code):
            raise ValidationError(f"payer_id must be a payer code of 1 to 20 letters or digits, not {code[:24]!r}")
        values["payer_id"] = code.upper()
    if "effective_from" in fields:
        values["effective_from"] = _day("effective_from", fields["effective_from"])
    if "effective_to" in fields:
        if fields["effective_to"].strip().lower() == "open":
            values["clear_effective_to"] = True
        else:
            values["effective_to"] = _day("effective_to", fields["effective_to"])
    changes = CoverageChanges(**values)  # type: ignore[arg-type]
    start = changes.effective_from or current_from
    end = None if changes.clear_effective_to else (changes.effective_to or current_to)
    if start is not None and end is not None and end < start:
        raise ValidationError(f"effective_to {end.isoformat()} is before effective_from {start.isoformat()}")
    return changes
