"""Reading the OIG LEIE and SAM layouts and matching staff against them (domain.exclusions)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date

import pytest

from domain.exclusions import (
    LEIE_COLUMNS,
    SAM_COLUMNS,
    ExclusionFileError,
    ListedParty,
    ScreeningIndex,
    StaffIdentity,
    last_name_keys,
    name_basis,
    read_leie,
    read_list,
    read_sam,
)


def _csv(columns: tuple[str, ...], rows: list[dict[str, str]]) -> list[str]:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue().splitlines(keepends=True)


def _leie(**row: str) -> dict[str, str]:
    base = {
        "NPI": "0000000000",
        "DOB": "00000000",
        "EXCLTYPE": "1128a1",
        "EXCLDATE": "20250115",
        "REINDATE": "00000000",
    }
    return {**base, **row}


STAFF = [
    StaffIdentity("s-npi", "Avery", "Quill", date(1980, 1, 2), "1245319599"),
    StaffIdentity("s-dob", "Maria", "García-López", date(1975, 6, 7)),
    StaffIdentity("s-nodob", "John", "O'Neil"),
    StaffIdentity("s-other", "Maria", "Lopez", date(1990, 1, 1)),
]


def test_the_leie_layout_is_read_row_by_row() -> None:
    lines = _csv(
        LEIE_COLUMNS,
        [
            _leie(LASTNAME="QUILL", FIRSTNAME="AVERY", NPI="1245319599", DOB="19800102"),
            _leie(BUSNAME="SYNTHETIC PHARMACY LLC", EXCLTYPE="1128b8", REINDATE="20260101"),
        ],
    )
    people = list(read_leie(iter(lines)))
    assert [p.individual for p in people] == [True, False]
    assert people[0].npi == "1245319599" and people[0].birth_date == date(1980, 1, 2)
    assert people[0].excluded_on == date(2025, 1, 15) and people[0].reinstated_on is None
    assert people[1].npi == "" and people[1].reinstated_on == date(2026, 1, 1)
    assert people[0].list_key != people[1].list_key and len(people[0].list_key) == 40
    assert next(read_leie(iter(lines))).list_key == people[0].list_key  # the same record, the same key


def test_the_sam_layout_is_read_row_by_row() -> None:
    lines = _csv(
        SAM_COLUMNS,
        [
            {"Classification": "Individual", "First": "John", "Last": "O'Neil", "SAM Number": "S4MR3R7ST",
             "Exclusion Type": "Ineligible (Proceedings Completed)", "Active Date": "03/04/2024",
             "Termination Date": "Indefinite"},
            {"Classification": "Firm", "Name": "SYNTHETIC SUPPLY CO", "SAM Number": "S4MR3R7SU",
             "Active Date": "2024-05-06", "Termination Date": "05/06/2027", "NPI": "1245319599"},
        ],
    )  # fmt: skip
    people = list(read_sam(lines))
    assert people[0] == ListedParty(
        "SAM", "S4MR3R7ST", True, "John", "O'Neil", "", None, "Ineligible (Proceedings Completed)", date(2024, 3, 4)
    )
    assert not people[1].individual and people[1].first_name == "" and people[1].npi == "1245319599"
    assert people[1].reinstated_on == date(2027, 5, 6)


@pytest.mark.parametrize(
    ("source", "lines", "message"),
    [
        ("OIG", [], "the OIG LEIE file is empty"),
        ("OIG", ["LASTNAME,FIRSTNAME\n"], "not the OIG LEIE layout: missing column(s) MIDNAME"),
        ("SAM", _csv(LEIE_COLUMNS, []), "not the SAM exclusions extract layout: missing column(s) Classification"),
        ("OIG", _csv(LEIE_COLUMNS, [_leie(LASTNAME="X", EXCLDATE="2025-01-15")]), "line 2: EXCLDATE is not a date"),
        ("OIG", _csv(LEIE_COLUMNS, [_leie(LASTNAME="X", EXCLDATE="00000000")]), "line 2: EXCLDATE is missing"),
        ("SAM", _csv(SAM_COLUMNS, [{"Classification": "Individual", "Active Date": "soon"}]), "Active Date"),
        ("XYZ", [], "unknown exclusion list"),
    ],
)
def test_a_file_that_is_not_the_layout_is_refused_by_line(source: str, lines: list[str], message: str) -> None:
    with pytest.raises(ExclusionFileError) as refused:
        list(read_list(source, lines))
    assert message in str(refused.value)


def _party(first: str, last: str, *, npi: str = "", dob: date | None = None, individual: bool = True) -> ListedParty:
    return ListedParty("OIG", "k", individual, first, last, npi, dob, "1128a1", date(2025, 1, 15))


def test_staff_are_matched_by_npi_then_name_and_birth_date() -> None:
    index = ScreeningIndex(STAFF)
    assert index.size == 4

    def matched(party: ListedParty) -> list[tuple[str, str]]:
        return sorted((m.staff_id, m.basis) for m in index.matches(party))

    assert matched(_party("SOMEONE", "ELSE", npi="1245319599")) == [("s-npi", "npi")]
    assert matched(_party("", "", npi="1245319599", individual=False)) == [("s-npi", "npi")]  # an entity by NPI
    assert matched(_party("AVERY", "QUILL", npi="1245319599", dob=date(1980, 1, 2))) == [("s-npi", "npi")]
    assert matched(_party("MARIA", "GARCIA", dob=date(1975, 6, 7))) == [("s-dob", "name_dob")]  # one part counts
    assert matched(_party("MARIA", "GARCIA LOPEZ", dob=date(1975, 6, 7))) == [("s-dob", "name_dob")]
    assert matched(_party("MARIA", "LOPEZ", dob=date(1975, 6, 7))) == [("s-dob", "name_dob")]  # not s-other's DOB
    assert matched(_party("MARIA", "LOPEZ")) == [("s-dob", "name"), ("s-other", "name")]  # no DOB: possible
    assert matched(_party("JOHN", "ONEIL", dob=date(1960, 1, 1))) == [("s-nodob", "name")]  # ours unknown
    assert matched(_party("JON", "ONEIL")) == []
    assert matched(_party("MARIA", "GARCIA", dob=date(1975, 6, 8))) == []  # birth dates differ: not her
    assert matched(_party("AVERY", "QUILL", individual=False)) == []  # a business name is never a person


def test_name_rules() -> None:
    assert last_name_keys("García-López") == {"GARCIALOPEZ", "GARCIA", "LOPEZ"}
    assert last_name_keys("O'Neil") == {"ONEIL"}
    assert last_name_keys("") == set()
    assert name_basis(None, date(2000, 1, 1)) == "name"
    assert name_basis(date(2000, 1, 1), date(2000, 1, 1)) == "name_dob"
    assert name_basis(date(2000, 1, 1), date(2000, 1, 2)) == ""


def test_a_long_file_streams() -> None:
    """80,000 rows are matched without building a list of them (a generator in, one match out)."""

    def rows() -> Iterator[str]:
        yield ",".join(LEIE_COLUMNS) + "\n"
        for number in range(80_000):
            yield f"PERSON{number},TEST,,,,,,0000000000,19700101,,,,,1128a1,20200101,00000000,,\n"
        yield "QUILL,AVERY,,,,,,0000000000,19800102,,,,,1128a1,20200101,00000000,,\n"

    index = ScreeningIndex(STAFF)
    found = [m for party in read_leie(rows()) for m in index.matches(party)]
    assert [(m.staff_id, m.basis) for m in found] == [("s-npi", "name_dob")]
