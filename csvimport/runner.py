"""Importing a CSV file through the intake module: each row one intake transaction (all of it or none), a report
of every row (row, column, reason), and nothing imported twice (intake keys rows by their MRN / appointment id,
so a re-run reports ``unchanged``).

A dry run applies each row the same way and rolls it back: the same checks, nothing written, nothing started.
Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csvimport.columns import LAYOUTS
from csvimport.layouts import READERS, CellProblem, Options
from domain.errors import DomainError, DuplicatePatient, InvalidNPI, UnknownPayer
from intake import Actor, Change, Intake, IntakeUnit, Outcome

MAX_BYTES = 50 * 1024 * 1024


class ImportFileError(Exception):
    """The file as a whole cannot be imported (unreadable, wrong columns): one line, nothing imported."""


@dataclass(frozen=True)
class RowResult:
    row: int
    status: str  # created, updated, unchanged, failed (a dry run: would be created/updated/unchanged)
    id: str | None = None  # our id of the record
    column: str | None = None  # the column at fault, when one is
    reason: str | None = None  # codes and column names, never a value of the file

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ImportReport:
    kind: str
    file: str
    dry_run: bool
    rows: list[RowResult] = field(default_factory=list)
    start_ids: list[str] = field(default_factory=list)  # process starts queued by the imported rows

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def failed(self) -> int:
        return self.count("failed")

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "dry_run": self.dry_run,
            "rows": len(self.rows),
            **{status: self.count(status) for status in ("created", "updated", "unchanged", "failed")},
            "results": [r.as_dict() for r in self.rows],
        }


class _Rollback(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__("dry run")
        self.outcome = outcome


def read_rows(path: Path, kind: str) -> list[dict[str, str]]:
    """The file's rows as column -> text; the header must name known columns and every required one."""
    columns = LAYOUTS[kind]
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ImportFileError(f"{path.name} is larger than {MAX_BYTES // (1024 * 1024)} MB: split it")
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ImportFileError(f"no such file: {path}") from None
    except UnicodeDecodeError:
        raise ImportFileError(f"{path.name} is not UTF-8 text (save it as CSV UTF-8)") from None
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
        if not header:
            raise ImportFileError(f"{path.name} is empty: the first line must name the columns")
        known = {c.name for c in columns}
        unknown = [name for name in header if name not in known]
        if unknown:
            raise ImportFileError(
                f"unknown column {unknown[0]!r} for {kind}; columns: {', '.join(c.name for c in columns)}"
            )
        missing = [c.name for c in columns if c.required and c.name not in header]
        if missing:
            raise ImportFileError(f"the {kind} file needs the column {missing[0]!r}")
        reader.fieldnames = header
        return [{k: (v or "") for k, v in row.items() if k is not None} for row in reader]
    except csv.Error as exc:
        raise ImportFileError(f"{path.name} is not well-formed CSV (line {reader.line_num}: {exc})") from None


def column_of(error: DomainError, kind: str) -> str | None:
    """The column an intake refusal is about, where the error says (its message names fields, never values)."""
    if isinstance(error, UnknownPayer):
        return "payer_id"
    if isinstance(error, InvalidNPI):
        return "provider_npi"
    if isinstance(error, DuplicatePatient):
        return None  # name, birth date and member id together: the reason says so
    message = str(error).lower()
    for word, column in (
        ("provider", "provider_npi"),
        ("payer", "payer_id"),
        ("member", "member_id"),
        ("patient", "mrn"),
        ("appointment", "appointment_id"),
    ):
        if word in message and any(c.name == column for c in LAYOUTS[kind]):
            return column
    for candidate in LAYOUTS[kind]:
        if candidate.name.replace("_", " ") in message:
            return candidate.name
    return None


def import_rows(
    intake: Intake,
    kind: str,
    rows: Sequence[Mapping[str, str]],
    *,
    options: Options,
    actor: Actor,
    dry_run: bool = False,
    file: str = "",
) -> ImportReport:
    report = ImportReport(kind, file, dry_run)
    reader = READERS[kind]
    for index, row in enumerate(rows):
        number = index + 2
        try:
            command = reader(row, options)
        except CellProblem as problem:
            report.rows.append(RowResult(number, "failed", column=problem.column, reason=problem.reason))
            continue

        def work(unit: IntakeUnit) -> Outcome:
            outcome = unit.handle(command)  # noqa: B023 - run at once, inside this iteration
            if dry_run:
                raise _Rollback(outcome)
            return outcome

        try:
            applied = intake.run(actor, work)
        except _Rollback as rolled_back:
            report.rows.append(_result(number, rolled_back.outcome))
            continue
        except DomainError as error:
            report.rows.append(
                RowResult(number, "failed", column=column_of(error, kind), reason=f"{error.code}: {error}"[:300])
            )
            continue
        report.rows.append(_result(number, applied.result))
        report.start_ids.extend(applied.start_ids)
    return report


def _result(number: int, outcome: Outcome) -> RowResult:
    changed = outcome.change
    if changed is Change.UNCHANGED and any(o.changed for o in outcome.related):
        changed = Change.UPDATED  # a patient whose coverage changed
    return RowResult(number, changed.value, id=outcome.id)
