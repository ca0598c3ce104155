"""A biller's claim correction (the ``correct_and_resubmit`` resolution): which fields, what values, which lines.

Pure: :func:`parse_claim_changes` is the one rule. The CLI, the console and the Claim workflow's Update validator
call it with the facts they know (none, or the claim's line count and today); the ``claims.correct`` activity
calls it again with every fact from the store (line count, diagnoses, the payer's claim number) and applies
exactly what it returns (:func:`domain.services.corrections.apply_claim_changes`), so a field the validator
accepts is a field that is applied, on the line it names.

Line fields apply to every line, or to one line with a ``line<N>.`` prefix (``line2.modifiers=25``); on a claim
of several lines, a procedure code or a charge must name its line. The billing provider is the practice (its
NPI, tax id and address go together on the 837P), so it is not a correctable field; the rendering provider is.
Messages state the rule and the value that broke it, except for values that could identify a patient (the
member id), which are never repeated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from domain.claim_status import ClaimStatus, check_transition
from domain.codes import validate_hcpcs, validate_icd10, validate_modifier, validate_npi, validate_place_of_service
from domain.coding import MAX_DIAGNOSES, MAX_MODIFIERS, MAX_POINTERS, positive_count, split_codes
from domain.errors import InvalidAmount, ValidationError
from domain.money import parse_cents

LINE_FIELDS = ("procedure_code", "modifiers", "units", "charge_cents", "diagnosis_pointers", "service_date")
CLAIM_FIELDS = (
    "diagnosis_codes",
    "place_of_service",
    "rendering_npi",
    "prior_authorization",
    "prior_auth",  # the same: the payer's prior authorization number (REF*G1)
    "member_id",
    "payer_id",
    "frequency_code",
    "original_claim_number",
)
CORRECTABLE_FIELDS = frozenset(LINE_FIELDS + CLAIM_FIELDS)
# The fields that must name their line on a claim of several lines (the same value on every line is a mistake).
LINE_SPECIFIC = frozenset({"procedure_code", "charge_cents"})
FREQUENCY_CODES = {"1": "original", "7": "replacement", "8": "void"}

_LINE_PREFIX = re.compile(r"line([0-9]{1,3})\.(.+)")
_MEMBER_ID = re.compile(r"[A-Za-z0-9-]{1,30}")
_PAYER_CODE = re.compile(r"[A-Za-z0-9]{1,20}")
_CLAIM_NUMBER = re.compile(r"[A-Za-z0-9-]{1,50}")
_AUTHORIZATION = re.compile(r"[A-Za-z0-9-]{1,50}")
MAX_CHARGE_CENTS = 10**10  # $100,000,000 on one line


def split_field(name: str) -> tuple[int | None, str]:
    """``"line2.units"`` -> ``(2, "units")``; ``"units"`` -> ``(None, "units")``. Refuses names it does not know."""
    line: int | None = None
    base = name
    matched = _LINE_PREFIX.fullmatch(name)
    if matched:
        line, base = int(matched.group(1)), matched.group(2)
        if base not in LINE_FIELDS:
            raise ValidationError(f"{name}: only line fields take a line number ({', '.join(LINE_FIELDS)})")
        if line < 1:
            raise ValidationError(f"{name}: lines are numbered from 1")
    if base not in CORRECTABLE_FIELDS:
        known = ", ".join(sorted(CORRECTABLE_FIELDS))
        raise ValidationError(f"the claim has no correctable field {name[:40]!r}; fields: {known}")
    return line, base


def is_correctable(name: str) -> bool:
    try:
        split_field(name)
    except ValidationError:
        return False
    return True


@dataclass(frozen=True)
class LineEdit:
    """What changes on a line (None: unchanged)."""

    procedure_code: str | None = None
    modifiers: tuple[str, ...] | None = None
    units: int | None = None
    charge_cents: int | None = None
    diagnosis_pointers: tuple[int, ...] | None = None
    service_date: date | None = None

    def over(self, base: LineEdit) -> LineEdit:
        """This line's own edit laid over the every-line edit."""
        values = {name: getattr(self, name) for name in LINE_FIELDS if getattr(self, name) is not None}
        return replace(base, **values)


@dataclass(frozen=True)
class ClaimChanges:
    diagnosis_codes: tuple[str, ...] | None = None
    place_of_service: str | None = None
    rendering_npi: str | None = None
    prior_authorization: str | None = None
    member_id: str | None = None
    payer_id: str | None = None
    frequency_code: str | None = None
    original_claim_number: str | None = None
    every_line: LineEdit = field(default_factory=LineEdit)
    lines: Mapping[int, LineEdit] = field(default_factory=dict)

    def line_edit(self, number: int) -> LineEdit:
        own = self.lines.get(number)
        return own.over(self.every_line) if own is not None else self.every_line

    @property
    def field_names(self) -> tuple[str, ...]:
        names = [name for name in CLAIM_FIELDS if name != "prior_auth" and getattr(self, name) is not None]
        edits = [self.every_line, *self.lines.values()]
        names += [name for name in LINE_FIELDS if any(getattr(edit, name) is not None for edit in edits)]
        return tuple(names)


def _date(name: str, text: str, today: date | None) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{name} must be a date (YYYY-MM-DD), not {text.strip()[:12]!r}") from None
    if today is not None and day > today:
        raise ValidationError(f"{name} {day.isoformat()} is in the future")
    return day


def _charge(name: str, text: str) -> int:
    try:
        cents = parse_cents(text)
    except InvalidAmount as exc:
        raise ValidationError(f"{name}: {exc.message}") from None
    if cents > MAX_CHARGE_CENTS:
        raise ValidationError(f"{name}: more than {MAX_CHARGE_CENTS} cents on one line")
    return cents


def _pointers(name: str, text: str) -> tuple[int, ...]:
    parts = split_codes(text)
    if not 1 <= len(parts) <= MAX_POINTERS:
        raise ValidationError(f"{name}: one to {MAX_POINTERS} diagnosis pointers, not {len(parts)}")
    pointers = []
    for part in parts:
        if not (part.isascii() and part.isdigit()) or len(part) > 2 or not 1 <= int(part) <= MAX_DIAGNOSES:
            raise ValidationError(
                f"{name}: a pointer is a diagnosis number from 1 to {MAX_DIAGNOSES}, not {part[:6]!r}"
            )
        pointers.append(int(part))
    return tuple(pointers)


def _line_value(name: str, base: str, text: str, today: date | None) -> object:
    if base == "procedure_code":
        return validate_hcpcs(text)
    if base == "modifiers":
        modifiers = tuple(validate_modifier(x) for x in split_codes(text))
        if len(modifiers) > MAX_MODIFIERS:
            raise ValidationError(f"{name}: at most {MAX_MODIFIERS} modifiers, not {len(modifiers)}")
        return modifiers
    if base == "units":
        return positive_count(name, text)
    if base == "charge_cents":
        return _charge(name, text)
    if base == "diagnosis_pointers":
        return _pointers(name, text)
    return _date(name, text, today)


def _claim_value(base: str, text: str) -> object:
    value = text.strip()
    if base == "diagnosis_codes":
        codes = tuple(validate_icd10(x) for x in split_codes(value))
        if not 1 <= len(codes) <= MAX_DIAGNOSES:
            raise ValidationError(f"diagnosis_codes: one to {MAX_DIAGNOSES} diagnoses, not {len(codes)}")
        return codes
    if base == "place_of_service":
        return validate_place_of_service(value)
    if base == "rendering_npi":
        return validate_npi(value)
    if base in ("prior_authorization", "prior_auth"):
        if not _AUTHORIZATION.fullmatch(value):
            raise ValidationError(f"{base} must be 1 to 50 letters, digits or dashes, not {value[:20]!r}")
        return value
    if base == "member_id":
        if not _MEMBER_ID.fullmatch(value):
            raise ValidationError("member_id must be 1 to 30 letters, digits or dashes")  # never echo a member id
        return value
    if base == "payer_id":
        if not _PAYER_CODE.fullmatch(value):
            raise ValidationError(f"payer_id must be a payer code of 1 to 20 letters or digits, not {value[:24]!r}")
        return value.upper()
    if base == "frequency_code":
        if value not in FREQUENCY_CODES:
            raise ValidationError(
                f"frequency_code must be 1 (original), 7 (replacement) or 8 (void), not {value[:4]!r}"
            )
        return value
    if not _CLAIM_NUMBER.fullmatch(value):
        raise ValidationError(f"original_claim_number must be 1 to 50 letters, digits or dashes, not {value[:24]!r}")
    return value


def parse_claim_changes(
    fields: Mapping[str, str],
    *,
    line_count: int | None = None,
    diagnosis_count: int | None = None,
    has_original_number: bool | None = None,
    today: date | None = None,
    line_pointers: Sequence[int] = (),
) -> ClaimChanges:
    """The correction's fields, checked against the facts the caller knows (None: not known here; the activity,
    which knows them all, checks again). ``line_pointers``: each line's highest diagnosis pointer now (a line the
    correction leaves alone must still point at a diagnosis). Raises :class:`ValidationError` naming the field, the
    rule and the value."""
    if not fields:
        raise ValidationError("a correction needs at least one field (--set name=value)")
    claim_values: dict[str, object] = {}
    every: dict[str, object] = {}
    per_line: dict[int, dict[str, object]] = {}
    for name, text in sorted(fields.items()):
        line, base = split_field(name)
        if line is None and base in CLAIM_FIELDS:
            claim_values["prior_authorization" if base == "prior_auth" else base] = _claim_value(base, text)
            continue
        if line is not None and line_count is not None and line > line_count:
            raise ValidationError(f"{name}: the claim has {line_count} line(s)")
        if line is None and base in LINE_SPECIFIC and line_count is not None and line_count > 1:
            raise ValidationError(f"{name}: the claim has {line_count} lines; say which one, e.g. line2.{base}")
        (every if line is None else per_line.setdefault(line, {}))[base] = _line_value(name, base, text, today)
    changes = ClaimChanges(
        **claim_values,  # type: ignore[arg-type]
        every_line=LineEdit(**every),  # type: ignore[arg-type]
        lines={number: LineEdit(**values) for number, values in sorted(per_line.items())},  # type: ignore[arg-type]
    )
    _check_together(fields, changes, diagnosis_count, has_original_number, line_pointers)
    return changes


def _check_together(
    fields: Mapping[str, str],
    changes: ClaimChanges,
    diagnosis_count: int | None,
    has_original_number: bool | None,
    line_pointers: Sequence[int],
) -> None:
    both = {"prior_auth", "prior_authorization"}
    if both <= set(fields) and fields["prior_auth"].strip() != fields["prior_authorization"].strip():
        raise ValidationError("prior_auth and prior_authorization name the same number: give one")
    diagnoses = len(changes.diagnosis_codes) if changes.diagnosis_codes is not None else diagnosis_count
    if diagnoses is not None:
        for edit in (changes.every_line, *changes.lines.values()):
            for pointer in edit.diagnosis_pointers or ():
                if pointer > diagnoses:
                    raise ValidationError(
                        f"diagnosis_pointers: pointer {pointer} points at no diagnosis (the claim has {diagnoses})"
                    )
        for number, highest in enumerate(line_pointers, start=1):
            if changes.line_edit(number).diagnosis_pointers is None and highest > diagnoses:
                raise ValidationError(
                    f"line {number} points at diagnosis {highest} and the claim would have {diagnoses}: "
                    f"correct line{number}.diagnosis_pointers too"
                )
    if changes.frequency_code in ("7", "8") and changes.original_claim_number is None and has_original_number is False:
        kind = FREQUENCY_CODES[changes.frequency_code]
        raise ValidationError(
            f"frequency_code {changes.frequency_code} ({kind}) needs the payer's original claim number: "
            "set original_claim_number (the payer never acknowledged this claim with one)"
        )
    if changes.frequency_code == "1" and changes.original_claim_number is not None:
        raise ValidationError("original_claim_number goes with frequency_code 7 (replacement) or 8 (void), not 1")


def may_resubmit(submissions: int, max_resubmissions: int) -> bool:
    """The policy's limit on corrections: after ``max_resubmissions`` resubmissions a claim is written off or
    appealed, not corrected again."""
    return submissions <= max_resubmissions


@dataclass(frozen=True)
class ClaimFacts:
    """What the Claim workflow knows of its claim when a person resolves one of its items (0/None: not known)."""

    status: str
    submissions: int
    max_resubmissions: int
    lines: int = 0
    diagnoses: int = 0
    today: date | None = None
    line_pointers: tuple[int, ...] = ()  # each line's highest diagnosis pointer


def check_claim_resolution(action: str, fields: Mapping[str, str], facts: ClaimFacts) -> None:
    """The rules a claim resolution must meet to be carried out, with the facts the workflow has: the Update
    validator of the Claim workflow runs this; the activities it leads to apply the same rules (the resubmission
    limit, the claim lifecycle of :mod:`domain.claim_status`, :func:`parse_claim_changes`)."""
    status = _status(facts.status)
    if action == "correct_and_resubmit":
        if not may_resubmit(facts.submissions, facts.max_resubmissions):
            raise ValidationError(
                f"the claim was submitted {facts.submissions} times, the most the policy allows "
                f"(max_resubmissions {facts.max_resubmissions}): write it off, appeal or bill the patient"
            )
        if status is not None and status not in (ClaimStatus.DRAFT, ClaimStatus.READY):
            check_transition(status, ClaimStatus.READY)
        parse_claim_changes(
            fields,
            line_count=facts.lines or None,
            diagnosis_count=facts.diagnoses or None,
            today=facts.today,
            line_pointers=facts.line_pointers,
        )
    elif action == "appeal" and status is not None:
        check_transition(status, ClaimStatus.APPEALED)


def _status(text: str) -> ClaimStatus | None:
    try:
        return ClaimStatus(text)
    except ValueError:
        return None
