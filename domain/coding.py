"""Coding an encounter: the rule that diagnoses and procedures must meet before they become service lines.

Pure (no store, no clock): the ``encounter.record_codes`` activity, the ``add_codes`` resolution's check (the CLI,
the console and the Encounter workflow's Update validator) and ``record_encounter`` all call these functions, so a
coder is refused up front with the same message the activity would give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.catalog import PROCEDURES_BY_CODE
from domain.claim_edits import TELEHEALTH_EM_MODIFIERS, is_evaluation_and_management
from domain.codes import validate_hcpcs, validate_icd10, validate_modifier, validate_place_of_service
from domain.errors import InvalidAmount, InvalidCode, ValidationError

MAX_DIAGNOSES = 12  # a professional claim (837P HI) carries at most 12
MAX_MODIFIERS = 4
MAX_POINTERS = 4


@dataclass(frozen=True)
class ServiceLineInput:
    procedure_code: str
    charge_cents: int
    units: int = 1
    modifiers: tuple[str, ...] = ()
    diagnosis_pointers: tuple[int, ...] = (1,)


@dataclass(frozen=True)
class Coding:
    """What a coder's ``add_codes`` resolution says, checked: the diagnoses and the service lines."""

    diagnosis_codes: tuple[str, ...]
    lines: tuple[ServiceLineInput, ...]


def split_codes(text: str) -> tuple[str, ...]:
    """``"I10, E11.9;Z23"`` -> ``("I10", "E11.9", "Z23")``: commas or semicolons, blanks ignored."""
    return tuple(part.strip() for part in text.replace(";", ",").split(",") if part.strip())


def validate_coding(
    diagnosis_codes: Sequence[str], lines: Sequence[ServiceLineInput], place_of_service: str | None
) -> list[str]:
    """Check every code and amount; returns the diagnoses normalised. Raises the first problem found.

    ``place_of_service`` None: not known to the caller (a resolution's check); the activity passes the encounter's."""
    if place_of_service is not None:
        validate_place_of_service(place_of_service)
    if not diagnosis_codes:
        raise ValidationError("an encounter needs at least one diagnosis")
    if len(diagnosis_codes) > MAX_DIAGNOSES:
        raise ValidationError(f"a professional claim carries at most {MAX_DIAGNOSES} diagnoses")
    diagnoses = [validate_icd10(code) for code in diagnosis_codes]
    if not lines:
        raise ValidationError("an encounter needs at least one service line")
    for number, line in enumerate(lines, start=1):
        validate_hcpcs(line.procedure_code)
        for modifier in line.modifiers:
            validate_modifier(modifier)
        if len(line.modifiers) > MAX_MODIFIERS:
            raise ValidationError(f"line {number}: at most {MAX_MODIFIERS} modifiers")
        if line.charge_cents < 0:
            raise InvalidAmount(f"line {number}: charge must not be negative")
        if line.units <= 0:
            raise ValidationError(f"line {number}: units must be positive")
        if not line.diagnosis_pointers or len(line.diagnosis_pointers) > MAX_POINTERS:
            raise ValidationError(f"line {number}: one to {MAX_POINTERS} diagnosis pointers are required")
        for pointer in line.diagnosis_pointers:
            if not 1 <= pointer <= len(diagnoses):
                raise ValidationError(f"line {number}: diagnosis pointer {pointer} points at no diagnosis")
    return diagnoses


def positive_count(name: str, text: str) -> int:
    """A count a person typed (units, installments): ASCII digits, 1 to 9999."""
    cleaned = text.strip()
    if not (cleaned.isascii() and cleaned.isdigit()) or len(cleaned) > 4 or not 1 <= int(cleaned) <= 9999:
        raise ValidationError(f"{name} must be a positive whole number (1 to 9999), not {cleaned[:12]!r}")
    return int(cleaned)


def with_telehealth_modifier(
    procedure: str, modifiers: tuple[str, ...], telehealth_modifier: str | None
) -> tuple[str, ...]:
    """A virtual visit's E/M line carries the modifier of how it happened (95 video, 93 audio only): what the
    VirtualVisit recorded on the encounter replaces whichever telehealth modifier the coder typed."""
    if telehealth_modifier is None or not is_evaluation_and_management(procedure):
        return modifiers
    kept = tuple(mod for mod in modifiers if mod not in TELEHEALTH_EM_MODIFIERS)
    return (*kept, telehealth_modifier)[:MAX_MODIFIERS]


def requested_units(text: str) -> tuple[int, ...]:
    """The units a coder typed, as the ``encounter.record_codes`` request carries them: a part that is not plain
    ASCII digits becomes 0, which :func:`validate_coding` refuses (as the resolution's validator did)."""
    return tuple(int(part) if part.isascii() and part.isdigit() and len(part) <= 4 else 0 for part in split_codes(text))


def coding_lines(
    diagnosis_codes: Sequence[str],
    procedure_codes: Sequence[str],
    modifiers: Sequence[str] = (),
    units: Sequence[int] = (),
    telehealth_modifier: str | None = None,
) -> tuple[ServiceLineInput, ...]:
    """Service lines from a coder's codes: one per procedure at the fee schedule's charge; the first line carries the
    modifiers and points at the first diagnoses (up to four), the others at the first diagnosis. ``units``: one
    number for every line, or one per procedure. ``telehealth_modifier``: the encounter's (a virtual visit's), put
    on its E/M lines."""
    if units and len(units) not in (1, len(procedure_codes)):
        raise ValidationError(f"units: give one number, or one per procedure ({len(procedure_codes)})")
    pointers = tuple(range(1, min(len(diagnosis_codes), MAX_POINTERS) + 1)) or (1,)
    lines: list[ServiceLineInput] = []
    for number, code in enumerate(procedure_codes, start=1):
        procedure = PROCEDURES_BY_CODE.get(code.strip().upper())
        if procedure is None:
            raise InvalidCode(f"procedure {code.strip()[:12]!r} is not in the practice's fee schedule")
        count = units[0] if len(units) == 1 else (units[number - 1] if units else 1)
        lines.append(
            ServiceLineInput(
                procedure.code,
                procedure.charge_cents,
                count,
                with_telehealth_modifier(procedure.code, tuple(modifiers) if number == 1 else (), telehealth_modifier),
                pointers if number == 1 else (1,),
            )
        )
    return tuple(lines)


def coding_from_fields(fields: Mapping[str, str], place_of_service: str | None = None) -> Coding:
    """The ``add_codes`` resolution's fields (procedure_code, diagnosis_codes, modifiers, units), checked."""
    diagnoses = split_codes(fields.get("diagnosis_codes", ""))
    procedures = split_codes(fields.get("procedure_code", ""))
    if not procedures:
        raise ValidationError("procedure_code needs at least one procedure code")
    units = tuple(positive_count("units", x) for x in split_codes(fields.get("units", "")))
    lines = coding_lines(diagnoses, procedures, split_codes(fields.get("modifiers", "")), units)
    return Coding(tuple(validate_coding(diagnoses, lines, place_of_service)), lines)
