"""Builds 837P batches for the sandbox tests with domain.x12's writer (synthetic data only)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from domain.codes import make_npi
from domain.x12.claim837 import (
    Address,
    PayerParty,
    Person,
    ProfessionalClaim,
    ProviderParty,
    ServiceLine,
    Submitter,
    Subscriber,
    write_837p,
)
from domain.x12.envelope import ControlNumbers, Party

BILLING_NPI = make_npi("123456789")
RENDERING_NPI = make_npi("198765432")
SUBMITTER_ID = "RIVERBEND01"
PAYER_NAMES = {
    "SBXBM": "Blue Meadow Health Plan",
    "SBXSM": "Summit Mutual Insurance",
    "SBXMC": "Medicare Part B Sandbox Jurisdiction",
    "SBXMD": "State Medicaid Sandbox Program",
}
BIRTH = date(1980, 4, 2)


def member(payer: str = "SBXBM", member_id: str = "BM100000001", **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "payer_id": payer,
        "member_id": member_id,
        "birth_date": BIRTH.isoformat(),
        "effective_from": "2020-01-01",
        "effective_to": None,
        "last_name": "TESTPERSON",
        "first_name": "ALEX",
    }
    entry.update(overrides)
    return entry


def claim(
    claim_id: str = "CLM0001",
    *,
    payer: str = "SBXBM",
    member_id: str = "BM100000001",
    lines: tuple[tuple[str, int], ...] = (("99213", 13500),),
    diagnoses: tuple[str, ...] = ("I10",),
    service_date: date | None = None,
    birth: date | None = BIRTH,
    place: str = "11",
    modifiers: tuple[str, ...] = (),
    billing_npi: str = BILLING_NPI,
    rendering_npi: str | None = RENDERING_NPI,
    **overrides: Any,
) -> ProfessionalClaim:
    day = service_date or (date.today() - timedelta(days=3))
    service_lines = tuple(
        ServiceLine(
            procedure=code,
            charge_cents=charge,
            modifiers=modifiers,
            service_date=day,
            line_control_number=f"{claim_id}-L{index + 1}",
        )
        for index, (code, charge) in enumerate(lines)
    )
    address = Address("1 MAIN ST", "BEND", "OR", "97701")
    value = ProfessionalClaim(
        claim_id=claim_id,
        total_charge_cents=sum(line.charge_cents for line in service_lines),
        place_of_service=place,
        billing_provider=ProviderParty(
            billing_npi, "RIVERBEND FAMILY MEDICINE", tax_id="931234567", taxonomy="207Q00000X", address=address
        ),
        subscriber=Subscriber(
            member_id=member_id,
            person=Person("TESTPERSON", "ALEX", birth_date=birth, sex="F", address=address),
            claim_filing_indicator={"SBXMC": "MB", "SBXMD": "MC"}.get(payer, "CI"),
        ),
        payer=PayerParty(PAYER_NAMES.get(payer, "UNKNOWN PAYER"), payer),
        diagnoses=diagnoses,
        lines=service_lines,
        rendering_provider=ProviderParty(rendering_npi, "DOCTOR", "DANA", entity_type="1", taxonomy="207Q00000X")
        if rendering_npi
        else None,
    )
    if overrides.get("patient") is not None:
        # A patient loop (2000C) is written for a dependant only.
        overrides["subscriber"] = replace(value.subscriber, relationship="child")
    return replace(value, **overrides) if overrides else value


def batch(*claims: ProfessionalClaim, control: int = 1) -> str:
    return write_837p(
        list(claims),
        sender=Party("ZZ", SUBMITTER_ID),
        receiver=Party("ZZ", "SBXCLEARING"),
        control=ControlNumbers(control, control),
        submitter=Submitter("RIVERBEND FAMILY MEDICINE", SUBMITTER_ID),
        receiver_name="SANDBOX CLEARINGHOUSE",
        when=datetime.now(),
    )
