"""Exclusion screening: the OIG LEIE and SAM exclusion files read as values, staff matched against them, and
the rule that an exclusion blocks billing for the excluded provider.

Files are read row by row from any iterable of text lines (an open file streams; the LEIE has about 80,000
rows and is never held in memory). The layouts are the published ones:

* OIG LEIE (``UPDATED.csv``): LASTNAME, FIRSTNAME, MIDNAME, BUSNAME, GENERAL, SPECIALTY, UPIN, NPI, DOB, ADDRESS,
  CITY, STATE, ZIP, EXCLTYPE, EXCLDATE, REINDATE, WAIVERDATE, WVRSTATE; dates ``YYYYMMDD``, ``00000000`` for none;
  NPI ``0000000000`` when the OIG has none.
* SAM exclusions public extract (V2): Classification, Name, Prefix, First, Middle, Last, Suffix, Address 1-4,
  City, State / Province, Country, Zip Code, Open Data Flag, Blank (Deprecated), Unique Entity ID, Exclusion
  Program, Excluding Agency, CT Code, Exclusion Type, Additional Comments, Active Date, Termination Date, Record
  Status, Cross-Reference, SAM Number, CAGE, NPI, Creation_Date; dates ``MM/DD/YYYY``, Termination Date
  ``Indefinite`` when open-ended. SAM gives no birth date.

A staff member matches a listed individual by NPI; failing that by first and last name (each part of a
hyphenated or two-word last name counts, as the OIG advises) and birth date. Names that agree where either side
has no birth date are a *possible* match (basis ``name``): a person decides, and it blocks nothing until then.
Differing birth dates are no match.

Pure: no I/O. Errors name line numbers and columns, never a name.
"""

from __future__ import annotations

import csv
import hashlib
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from domain.errors import ValidationError

OIG = "OIG"
SAM = "SAM"
SOURCES = (OIG, SAM)

LEIE_COLUMNS = (
    "LASTNAME",
    "FIRSTNAME",
    "MIDNAME",
    "BUSNAME",
    "GENERAL",
    "SPECIALTY",
    "UPIN",
    "NPI",
    "DOB",
    "ADDRESS",
    "CITY",
    "STATE",
    "ZIP",
    "EXCLTYPE",
    "EXCLDATE",
    "REINDATE",
    "WAIVERDATE",
    "WVRSTATE",
)
SAM_COLUMNS = (
    "Classification",
    "Name",
    "Prefix",
    "First",
    "Middle",
    "Last",
    "Suffix",
    "Address 1",
    "Address 2",
    "Address 3",
    "Address 4",
    "City",
    "State / Province",
    "Country",
    "Zip Code",
    "Open Data Flag",
    "Blank (Deprecated)",
    "Unique Entity ID",
    "Exclusion Program",
    "Excluding Agency",
    "CT Code",
    "Exclusion Type",
    "Additional Comments",
    "Active Date",
    "Termination Date",
    "Record Status",
    "Cross-Reference",
    "SAM Number",
    "CAGE",
    "NPI",
    "Creation_Date",
)

# How a match was made; ``name`` alone is a possible match that blocks nothing until a person confirms it.
BASIS_NPI = "npi"
BASIS_NAME_DOB = "name_dob"
BASIS_NAME = "name"

# ``exclusion_matches.status``: open until a person decides (confirmed: it is this person; cleared: it is not).
MATCH_OPEN = "open"
MATCH_CONFIRMED = "confirmed"
MATCH_CLEARED = "cleared"

# Audit actions.
MATCH_FOUND = "exclusion.match_found"
MATCH_DECIDED = "exclusion.match_decided"
SCREENING_COMPLETED = "exclusion.screening_completed"

# An exclusion match is urgent (billing is held): its item's SLA, in days.
ITEM_SLA_DAYS = 3

# A screening is good for a month: the LEIE and SAM are republished monthly and screening is expected monthly.
SCREENING_VALID_DAYS = 30


class ExclusionFileError(ValidationError):
    code = "exclusion_file"


@dataclass(frozen=True)
class ListedParty:
    """One record of an exclusion list, as matching needs it."""

    source: str
    list_key: str  # identifies the record across monthly files (SAM Number; a hash for the LEIE)
    individual: bool
    first_name: str
    last_name: str
    npi: str  # "" when the list has none
    birth_date: date | None
    exclusion_type: str
    excluded_on: date
    reinstated_on: date | None = None


@dataclass(frozen=True)
class StaffIdentity:
    staff_id: str
    first_name: str
    last_name: str
    birth_date: date | None = None
    npi: str = ""


@dataclass(frozen=True)
class Match:
    staff_id: str
    party: ListedParty
    basis: str


# --- reading the files ----------------------------------------------------------------------------------------


def _rows(lines: Iterable[str], columns: tuple[str, ...], kind: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(iter(lines))
    try:
        header = next(reader)
    except StopIteration:
        raise ExclusionFileError(f"the {kind} file is empty") from None
    header = [name.strip().lstrip("\ufeff") for name in header]
    missing = [name for name in columns if name not in header]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ExclusionFileError(f"not the {kind} layout: missing column(s) {shown}")
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        yield number, {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}


def _digits_date(year: str, month: str, day: str) -> date:
    """A date from its digit strings (strptime is ten times slower, and a file has 80,000 rows)."""
    if not (year.isdigit() and month.isdigit() and day.isdigit()):
        raise ValueError("not digits")
    return date(int(year), int(month), int(day))


def _leie_date(text: str, line: int, column: str, *, required: bool = False) -> date | None:
    if text.strip("0 ") == "":
        if required:
            raise ExclusionFileError(f"line {line}: {column} is missing")
        return None
    try:
        if len(text) != 8:
            raise ValueError("not YYYYMMDD")
        return _digits_date(text[:4], text[4:6], text[6:])
    except ValueError:
        raise ExclusionFileError(f"line {line}: {column} is not a date (YYYYMMDD)") from None


def _npi(text: str) -> str:
    digits = text.strip()
    return digits if len(digits) == 10 and digits.isdigit() and digits.strip("0") else ""


def _key(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:40]


def read_leie(lines: Iterable[str]) -> Iterator[ListedParty]:
    """The records of an OIG LEIE file (``UPDATED.csv``), one at a time."""
    for line, row in _rows(lines, LEIE_COLUMNS, "OIG LEIE"):
        excluded_on = _leie_date(row["EXCLDATE"], line, "EXCLDATE", required=True)
        assert excluded_on is not None
        yield ListedParty(
            source=OIG,
            list_key=_key(
                *(row[c].upper() for c in ("LASTNAME", "FIRSTNAME", "MIDNAME", "BUSNAME", "NPI", "DOB")),
                row["EXCLTYPE"].upper(),
                row["EXCLDATE"],
            ),
            individual=bool(row["LASTNAME"]),
            first_name=row["FIRSTNAME"],
            last_name=row["LASTNAME"],
            npi=_npi(row["NPI"]),
            birth_date=_leie_date(row["DOB"], line, "DOB"),
            exclusion_type=row["EXCLTYPE"][:80],
            excluded_on=excluded_on,
            reinstated_on=_leie_date(row["REINDATE"], line, "REINDATE"),
        )


def _sam_date(text: str, line: int, column: str) -> date | None:
    if not text or text.lower() in ("indefinite", "n/a"):
        return None
    try:
        if len(text) == 10 and text[2] == "/" and text[5] == "/":
            return _digits_date(text[6:], text[:2], text[3:5])
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            return _digits_date(text[:4], text[5:7], text[8:])
        raise ValueError("no known layout")
    except ValueError:
        raise ExclusionFileError(f"line {line}: {column} is not a date (MM/DD/YYYY)") from None


def read_sam(lines: Iterable[str]) -> Iterator[ListedParty]:
    """The records of a SAM exclusions public extract, one at a time."""
    for line, row in _rows(lines, SAM_COLUMNS, "SAM exclusions extract"):
        excluded_on = _sam_date(row["Active Date"], line, "Active Date") or _sam_date(
            row["Creation_Date"], line, "Creation_Date"
        )
        if excluded_on is None:
            raise ExclusionFileError(f"line {line}: Active Date is missing")
        individual = row["Classification"].lower() == "individual"
        yield ListedParty(
            source=SAM,
            list_key=row["SAM Number"][:64]
            or _key(row["Name"].upper(), row["First"].upper(), row["Last"].upper(), row["Active Date"]),
            individual=individual,
            first_name=row["First"] if individual else "",
            last_name=row["Last"] if individual else "",
            npi=_npi(row["NPI"]),
            birth_date=None,
            exclusion_type=row["Exclusion Type"][:80],
            excluded_on=excluded_on,
            reinstated_on=_sam_date(row["Termination Date"], line, "Termination Date"),
        )


def read_list(source: str, lines: Iterable[str]) -> Iterator[ListedParty]:
    if source == OIG:
        return read_leie(lines)
    if source == SAM:
        return read_sam(lines)
    raise ExclusionFileError(f"unknown exclusion list {source!r}; known: {', '.join(SOURCES)}")


# --- matching ---------------------------------------------------------------------------------------------------


# Every ASCII character that is not a letter becomes a space (str.translate runs in C).
_NOT_LETTERS = {code: " " for code in range(128) if not chr(code).isalpha()}


def name_key(text: str) -> str:
    """Upper-case letters only, accents dropped, other characters as single spaces: ``"O'Neil-Smith"`` ->
    ``"O NEIL SMITH"``."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(text.upper().translate(_NOT_LETTERS).split())


def last_name_keys(last_name: str) -> set[str]:
    """The whole last name (spaces dropped) and, for a hyphenated or two-word one, each of its parts."""
    parts = name_key(last_name.replace("'", "")).split()
    if not parts:
        return set()
    return {"".join(parts), *parts}


def first_name_key(first_name: str) -> str:
    return "".join(name_key(first_name.replace("'", "")).split())


class ScreeningIndex:
    """The staff to screen, indexed by NPI and by (first name, last name part): each list record is looked up in
    constant time, so a file of any length is matched in one pass."""

    def __init__(self, staff: Iterable[StaffIdentity]) -> None:
        self._by_npi: dict[str, list[StaffIdentity]] = {}
        self._by_name: dict[tuple[str, str], list[StaffIdentity]] = {}
        self.size = 0
        for person in staff:
            self.size += 1
            if _npi(person.npi):
                self._by_npi.setdefault(person.npi, []).append(person)
            first = first_name_key(person.first_name)
            for last in last_name_keys(person.last_name):
                if first:
                    self._by_name.setdefault((first, last), []).append(person)

    def matches(self, party: ListedParty) -> list[Match]:
        found: dict[str, Match] = {}
        if party.npi:
            for person in self._by_npi.get(party.npi, []):
                found[person.staff_id] = Match(person.staff_id, party, BASIS_NPI)
        if party.individual:
            first = first_name_key(party.first_name)
            candidates: dict[str, StaffIdentity] = {}
            for last in last_name_keys(party.last_name):
                for person in self._by_name.get((first, last), []):
                    candidates[person.staff_id] = person
            for staff_id, person in candidates.items():
                if staff_id in found:
                    continue
                basis = name_basis(person.birth_date, party.birth_date)
                if basis:
                    found[staff_id] = Match(staff_id, party, basis)
        return list(found.values())


def name_basis(staff_birth_date: date | None, listed_birth_date: date | None) -> str:
    """Names agree: ``name_dob`` when both birth dates are known and equal, ``name`` (possible) when one is
    unknown, ``""`` (no match) when they differ."""
    if staff_birth_date is None or listed_birth_date is None:
        return BASIS_NAME
    return BASIS_NAME_DOB if staff_birth_date == listed_birth_date else ""


# --- what a match means for billing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExclusionPeriod:
    """A recorded match as the billing rule sees it."""

    source: str
    basis: str
    status: str
    excluded_on: date
    reinstated_on: date | None = None

    def blocks(self, day: date) -> bool:
        """Services on ``day`` may not be billed: a match not cleared (a possible one only once confirmed) whose
        exclusion had begun and not yet ended (reinstatement or SAM termination) on that day."""
        if self.status == MATCH_CLEARED or (self.status == MATCH_OPEN and self.basis == BASIS_NAME):
            return False
        return self.excluded_on <= day and (self.reinstated_on is None or day < self.reinstated_on)


def blocking_period(periods: Iterable[ExclusionPeriod], day: date) -> ExclusionPeriod | None:
    return next((p for p in sorted(periods, key=lambda p: p.excluded_on) if p.blocks(day)), None)


def screening_expires_on(screened_on: date) -> date:
    return screened_on + timedelta(days=SCREENING_VALID_DAYS)


def match_summary(source: str, basis: str, excluded_on: date) -> str:
    """The work item's summary: codes and dates only (no name from the list)."""
    kind = "possible match (names agree, no birth date to compare)" if basis == BASIS_NAME else f"match by {basis}"
    return f"{source} exclusion list {kind}, excluded from {excluded_on.isoformat()}"


def match_context(match_id: str, staff_id: str, source: str, basis: str, excluded_on: date) -> dict[str, str]:
    return {
        "match_id": match_id,
        "staff_id": staff_id,
        "source": source,
        "basis": basis,
        "excluded_on": excluded_on.isoformat(),
    }


def exclusion_item_key(match_id: str) -> str:
    """The dedupe key of the one ``exclusion_match`` work item per recorded match (screening and workflow)."""
    return f"exclusion-match:{match_id}"


__all__ = [
    "BASIS_NAME",
    "BASIS_NAME_DOB",
    "BASIS_NPI",
    "LEIE_COLUMNS",
    "OIG",
    "SAM",
    "SAM_COLUMNS",
    "ExclusionFileError",
    "ExclusionPeriod",
    "ListedParty",
    "Match",
    "ScreeningIndex",
    "StaffIdentity",
    "blocking_period",
    "exclusion_item_key",
    "match_context",
    "match_summary",
    "name_basis",
    "read_leie",
    "read_list",
    "read_sam",
    "screening_expires_on",
]
