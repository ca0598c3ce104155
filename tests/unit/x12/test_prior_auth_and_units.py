"""837P prior authorization (REF*G1, 2300 and 2400) and decimal units (SV104): writer, parser, mapper, edits."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import models as m
from domain.catalog import prior_authorization_codes, requires_prior_authorization
from domain.claim_edits import ScrubContext, scrub
from domain.x12.claim837 import (
    PayerParty,
    ProfessionalClaim,
    ServiceLine,
    parse_837p,
    units_text,
    units_value,
    write_837p,
)
from domain.x12.envelope import X12Error
from domain.x12.from_models import professional_claim
from tests.unit.x12.helpers import CONTROL, RECEIVER, SENDER, SUBMITTER, WHEN, dependent_secondary_claim, self_claim
from tests.unit.x12.pyx12_check import pyx12_errors
from tests.unit.x12.test_claim837 import _rows

SUMMIT = PayerParty("SUMMIT MUTUAL INSURANCE", "SBXSM")


def _write(claims: list[ProfessionalClaim]) -> str:
    return write_837p(
        claims, sender=SENDER, receiver=RECEIVER, control=CONTROL, submitter=SUBMITTER, receiver_name="CH", when=WHEN
    )


def _evaluation(claim_id: str = "c-bh", *, authorization: str | None = None) -> ProfessionalClaim:
    base = self_claim(claim_id)
    line = ServiceLine("90791", 22000, Decimal(1), (), (1,), date(2026, 1, 6), None, f"{claim_id}-l1")
    return replace(
        base,
        payer=SUMMIT,
        lines=(line,),
        total_charge_cents=22000,
        diagnoses=("F411",),
        prior_authorization=authorization,
    )


# --- REF*G1 ---------------------------------------------------------------------------------------------


def test_claim_level_prior_authorization_round_trips_and_validates() -> None:
    claim = _evaluation(authorization="AUTH-77431")
    text = _write([claim])
    assert "REF*G1*AUTH-77431~HI*ABK:F411~" in text  # 2300: before HI, as the guide orders it
    assert parse_837p(text) == [claim]
    assert pyx12_errors(text) == []


def test_line_level_prior_authorization_only_when_it_differs() -> None:
    claim = self_claim(pos="11")
    claim = replace(
        claim,
        prior_authorization="CLAIMAUTH1",
        lines=(replace(claim.lines[0], prior_authorization="LINEAUTH22"), claim.lines[1]),
    )
    text = _write([claim])
    assert text.count("REF*G1*") == 2
    assert "DTP*472*D8*20260106~REF*G1*LINEAUTH22~REF*6R*c-self-l1~" in text  # 2400: G1 before 6R
    (parsed,) = parse_837p(text)
    assert parsed == claim
    assert parsed.authorization_for(parsed.lines[0]) == "LINEAUTH22"
    assert parsed.authorization_for(parsed.lines[1]) == "CLAIMAUTH1"
    assert pyx12_errors(text) == []
    same = replace(claim, lines=(replace(claim.lines[0], prior_authorization="CLAIMAUTH1"), claim.lines[1]))
    assert _write([same]).count("REF*G1*") == 1


def test_prior_authorization_on_a_replacement_claim_comes_before_ref_f8() -> None:
    claim = replace(dependent_secondary_claim(), prior_authorization="A1")
    text = _write([claim])
    assert "REF*G1*A1~REF*F8*PCN-ORIGINAL-1~" in text
    assert parse_837p(text) == [claim]
    assert pyx12_errors(text) == []


def test_an_overlong_authorization_number_is_refused() -> None:
    with pytest.raises(X12Error, match="prior authorization"):
        _write([_evaluation(authorization="X" * 51)])


# --- units --------------------------------------------------------------------------------------------


def test_decimal_units_are_kept_exactly_and_whole_units_written_as_integers() -> None:
    claim = self_claim()
    claim = replace(
        claim,
        lines=(replace(claim.lines[0], units=Decimal("2")), replace(claim.lines[1], units=Decimal("1.5"))),
    )
    text = _write([claim])
    assert "*UN*2***1:2~" in text and "*UN*1.5***1~" in text
    (parsed,) = parse_837p(text)
    assert [line.units for line in parsed.lines] == [Decimal("2"), Decimal("1.5")]
    assert all(isinstance(line.units, Decimal) for line in parsed.lines)
    assert pyx12_errors(text) == []


def test_sv104_is_not_truncated() -> None:
    text = _write([self_claim()]).replace("SV1*HC:36415*15*UN*1*", "SV1*HC:36415*15*UN*1.755*")
    assert parse_837p(text)[0].lines[1].units == Decimal("1.755")


@pytest.mark.parametrize("bad", ["1.2345", "-1", "1e3", "abc", "NaN", "٣"])
def test_malformed_units_are_a_typed_error_at_sv104(bad: str) -> None:
    text = _write([self_claim()]).replace("SV1*HC:36415*15*UN*1*", f"SV1*HC:36415*15*UN*{bad}*")
    with pytest.raises(X12Error, match="SV104"):
        parse_837p(text)


def test_units_helpers() -> None:
    assert units_text(Decimal("3.000")) == "3" and units_text(Decimal("0.25")) == "0.25"
    assert units_value("1.5") == Decimal("1.500")
    with pytest.raises(X12Error):
        units_value(Decimal("0.0001"))


units = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("9999.999"), places=3)
references = st.one_of(st.none(), st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=50))


@settings(max_examples=40, deadline=None)
@given(first=units, second=units, claim_auth=references, line_auth=references)
def test_837_round_trip_property(
    first: Decimal, second: Decimal, claim_auth: str | None, line_auth: str | None
) -> None:
    claim = self_claim()
    if line_auth == claim_auth:
        line_auth = None  # the guide's rule: a line repeats no authorization the claim already gives
    claim = replace(
        claim,
        prior_authorization=claim_auth,
        lines=(
            replace(claim.lines[0], units=first, prior_authorization=line_auth),
            replace(claim.lines[1], units=second),
        ),
    )
    assert parse_837p(_write([claim])) == [claim]


# --- the payer rule and the claim edit ------------------------------------------------------------------


def test_the_payer_rule_is_in_the_catalog() -> None:
    assert requires_prior_authorization("SBXSM", "90791") and requires_prior_authorization(" sbxsm", "90791")
    assert not requires_prior_authorization("SBXBM", "90791")
    assert prior_authorization_codes("UNKNOWN") == frozenset()


def test_claim_edit_prior_auth_missing() -> None:
    context = ScrubContext(today=date(2026, 2, 1), timely_filing_days=90)
    (failure,) = scrub(_evaluation(), context)
    assert failure.code == "PRIOR_AUTH_MISSING" and failure.line == 1
    assert "SBXSM" in failure.message and "90791" in failure.message and "prior_auth" in failure.fix_hint
    assert scrub(_evaluation(authorization="AUTH1"), context) == []
    line_only = _evaluation()
    line_only = replace(line_only, lines=(replace(line_only.lines[0], prior_authorization="L1"),))
    assert scrub(line_only, context) == []
    other_payer = replace(_evaluation(), payer=PayerParty("BLUE MEADOW", "SBXBM"))
    assert scrub(other_payer, context) == []


# --- the mapper ---------------------------------------------------------------------------------------


def _bh_rows(*authorizations: m.PriorAuthorization) -> dict[str, object]:
    rows = _rows()
    claim = rows["claim"]
    payer = rows["payer"]
    patient = rows["patient"]
    assert isinstance(claim, m.Claim) and isinstance(payer, m.Payer) and isinstance(patient, m.Patient)
    payer.payer_id = "SBXSM"
    claim.lines[0].procedure_code = "90791"
    claim.lines[0].charge_cents = 22000
    claim.total_charge_cents = 25000
    patient.prior_authorizations = list(authorizations)
    return rows


def _authorization(number: str, valid_from: date, valid_to: date, **extra: object) -> m.PriorAuthorization:
    fields: dict[str, object] = {"patient_id": "pt", "payer_id": "py", "procedure_codes": ["90791"], **extra}
    return m.PriorAuthorization(number=number, valid_from=valid_from, valid_to=valid_to, **fields)


def _map(rows: dict[str, object]) -> ProfessionalClaim:
    claim = rows.pop("claim")
    return professional_claim(claim, **rows)  # type: ignore[arg-type]


def test_mapper_puts_the_covering_authorization_on_the_claim() -> None:
    value = _map(_bh_rows(_authorization("AUTH-OK", date(2025, 12, 1), date(2026, 3, 1))))
    assert value.prior_authorization == "AUTH-OK"
    assert [line.prior_authorization for line in value.lines] == [None, None]
    assert all(isinstance(line.units, Decimal) for line in value.lines)
    text = _write([value])
    assert "REF*G1*AUTH-OK~" in text and pyx12_errors(text) == []
    assert scrub(value, ScrubContext(today=date(2026, 2, 1))) == []


@pytest.mark.parametrize(
    "authorization",
    [
        _authorization("EXPIRED", date(2025, 6, 1), date(2026, 1, 4)),  # ended the day before the visit
        _authorization("OTHERCODE", date(2025, 12, 1), date(2026, 3, 1), procedure_codes=["90834"]),
        _authorization("OTHERPAYER", date(2025, 12, 1), date(2026, 3, 1), payer_id="another-payer"),
    ],
)
def test_mapper_leaves_out_an_authorization_that_does_not_cover_the_line(authorization: m.PriorAuthorization) -> None:
    value = _map(_bh_rows(authorization))
    assert value.prior_authorization is None
    assert [f.code for f in scrub(value, ScrubContext(today=date(2026, 2, 1)))] == ["PRIOR_AUTH_MISSING"]


def test_mapper_respects_authorized_units_and_gives_a_line_its_own_number() -> None:
    rows = _bh_rows(
        _authorization("ONEUNIT", date(2025, 12, 1), date(2026, 3, 1), units_authorized=1),
        m.PriorAuthorization(
            patient_id="pt",
            payer_id="py",
            number="LAB-AUTH",
            procedure_codes=["87880"],
            valid_from=date(2026, 1, 1),
            valid_to=date(2026, 1, 31),
        ),
    )
    value = _map(rows)
    assert value.prior_authorization == "ONEUNIT"
    assert value.lines[1].prior_authorization == "LAB-AUTH"
    rows = _bh_rows(_authorization("ONEUNIT", date(2025, 12, 1), date(2026, 3, 1), units_authorized=1))
    claim = rows["claim"]
    assert isinstance(claim, m.Claim)
    claim.lines[0].units = 2
    assert _map(rows).prior_authorization is None


def test_837_json_carries_exact_units_and_authorizations() -> None:
    import json

    from domain.x12.documents import parse_document, parsed_to_json

    claim = self_claim()
    claim = replace(
        claim,
        prior_authorization="PA-1",
        lines=(replace(claim.lines[0], units=Decimal("1.5"), prior_authorization="PA-2"), claim.lines[1]),
    )
    data = json.loads(json.dumps(parsed_to_json(parse_document(_write([claim])))))
    (entry,) = data["transaction_sets"][0]["claims"]
    assert entry["prior_authorization"] == "PA-1"
    assert [(line["units"], line["prior_authorization"]) for line in entry["service_lines"]] == [
        ("1.5", "PA-2"),
        ("1", None),
    ]
