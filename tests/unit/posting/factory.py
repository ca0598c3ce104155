"""A tiny synthetic practice for ledger and posting tests: payers, patients, submitted claims, remittances.

Synthetic values only (no Faker needed: fixed made-up names); used by the unit, integration and bench code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import count

from sqlalchemy.orm import Session

from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import CoverageRank, PayerKind, PayerRouting, SubscriberRelationship
from domain.remittance import Adjustment, ClaimPayment, ProviderAdjustment, Remittance, ServiceLinePayment

DOS = date(2026, 3, 2)
_numbers = count(1)


@dataclass
class Practice:
    practice_id: str
    provider_id: str
    location_id: str
    payers: dict[str, str] = field(default_factory=dict)  # payer code -> row id


def make_practice(session: Session, payer_codes: Sequence[str] = ("PAYA", "PAYB")) -> Practice:
    practice = m.Practice(
        name="Synthetic Clinic",
        npi="1234567893",
        tax_id="123456789",
        taxonomy="207Q00000X",
        address_line="1 Test Way",
        city="Springfield",
        state="IL",
        postal_code="62701",
        phone="5550100",
    )
    session.add(practice)
    session.flush()
    location = m.Location(
        practice_id=practice.id,
        name="Main",
        address_line="1 Test Way",
        city="Springfield",
        state="IL",
        postal_code="62701",
    )
    provider = m.Provider(
        practice_id=practice.id,
        first_name="Ada",
        last_name="Synth",
        credential="MD",
        npi=f"{next(_numbers) % 10**9:09d}3"[-10:],
        taxonomy="207Q00000X",
    )
    session.add_all([location, provider])
    session.flush()
    result = Practice(practice.id, provider.id, location.id)
    for code in payer_codes:
        payer = m.Payer(
            payer_id=code, name=f"Payer {code}", kind=PayerKind.COMMERCIAL, routing=PayerRouting.CLEARINGHOUSE
        )
        session.add(payer)
        session.flush()
        result.payers[code] = payer.id
    session.flush()
    return result


@dataclass
class PatientIds:
    patient_id: str
    guarantor_id: str
    account_number: str


def make_patient(
    session: Session,
    practice: Practice,
    *,
    primary: str | None = "PAYA",
    secondary: str | None = None,
    member_id: str | None = None,
    guarantor_id: str | None = None,
) -> PatientIds:
    n = next(_numbers)
    if guarantor_id is None:
        guarantor = m.Guarantor(
            account_number=f"G{n:08d}",
            first_name="Sam",
            last_name=f"Guarantor{n}",
            birth_date=date(1980, 1, 1),
            address_line="2 Test Way",
            city="Springfield",
            state="IL",
            postal_code="62701",
            phone="5550101",
        )
        session.add(guarantor)
        session.flush()
        guarantor_id = guarantor.id
    patient = m.Patient(
        practice_id=practice.practice_id,
        account_number=f"P{n:08d}",
        first_name="Pat",
        last_name=f"Synthetic{n}",
        birth_date=date(1990, 1, 1),
        sex="F",
        address_line="2 Test Way",
        city="Springfield",
        state="IL",
        postal_code="62701",
        phone="5550101",
        guarantor_id=guarantor_id,
    )
    session.add(patient)
    session.flush()
    for rank, code in ((CoverageRank.PRIMARY, primary), (CoverageRank.SECONDARY, secondary)):
        if code is None:
            continue
        session.add(
            m.Coverage(
                patient_id=patient.id,
                payer_id=practice.payers[code],
                rank=rank,
                relationship_to_subscriber=SubscriberRelationship.SELF,
                member_id=member_id or f"M{n:08d}{rank.value[0]}",
                effective_from=date(2025, 1, 1),
            )
        )
    session.flush()
    return PatientIds(patient.id, guarantor_id, patient.account_number)


@dataclass
class ClaimIds:
    claim_id: str
    line_ids: list[str]
    charges: list[int]
    procedures: list[str]


def make_claim(
    session: Session,
    practice: Practice,
    patient: PatientIds,
    *,
    payer: str = "PAYA",
    charges: Sequence[int] = (10000, 5000),
    procedures: Sequence[str] = ("99213", "85025"),
    status: ClaimStatus = ClaimStatus.SUBMITTED,
    day: date = DOS,
) -> ClaimIds:
    encounter = m.Encounter(
        patient_id=patient.patient_id,
        provider_id=practice.provider_id,
        location_id=practice.location_id,
        date_of_service=day,
        place_of_service="11",
        diagnosis_codes=["J209"],
        coded=True,
    )
    encounter.service_lines = [
        m.ServiceLine(
            line_number=i + 1, procedure_code=procedures[i], units=1, charge_cents=charge, diagnosis_pointers=[1]
        )
        for i, charge in enumerate(charges)
    ]
    session.add(encounter)
    session.flush()
    claim = m.Claim(
        encounter_id=encounter.id,
        patient_id=patient.patient_id,
        payer_id=practice.payers[payer],
        billing_provider_id=practice.provider_id,
        rank=CoverageRank.PRIMARY,
        status=status,
        date_of_service=day,
        total_charge_cents=sum(charges),
    )
    claim.lines = [
        m.ClaimLine(
            service_line_id=encounter.service_lines[i].id,
            line_number=i + 1,
            procedure_code=procedures[i],
            modifiers=[],
            units=1,
            charge_cents=charge,
            diagnosis_pointers=[1],
            date_of_service=day,
        )
        for i, charge in enumerate(charges)
    ]
    session.add(claim)
    session.flush()
    return ClaimIds(claim.id, [line.id for line in claim.lines], list(charges), list(procedures))


def paid_claim(
    claim: ClaimIds,
    *,
    paid_ratio: tuple[int, int] = (60, 100),
    pr_cents: Sequence[int] | None = None,
    status_code: str = "1",
    pcn: str | None = None,
    with_line_ids: bool = True,
    payer_claim_number: str | None = None,
    member_id: str | None = None,
) -> ClaimPayment:
    """A balanced claim payment: each line paid a share, the patient a share, the rest contractual (CO-45)."""
    lines = []
    pr = list(pr_cents) if pr_cents is not None else [0] * len(claim.charges)
    for i, charge in enumerate(claim.charges):
        paid = charge * paid_ratio[0] // paid_ratio[1]
        responsibility = min(pr[i], charge - paid)
        adjustments = []
        if charge - paid - responsibility:
            adjustments.append(Adjustment("CO", "45", charge - paid - responsibility))
        if responsibility:
            adjustments.append(Adjustment("PR", "1", responsibility))
        lines.append(
            ServiceLinePayment(
                procedure=claim.procedures[i],
                modifiers=(),
                charge_cents=charge,
                paid_cents=paid,
                line_control_number=claim.line_ids[i] if with_line_ids else None,
                service_date=DOS,
                adjustments=tuple(adjustments),
            )
        )
    return ClaimPayment(
        patient_control_number=pcn if pcn is not None else claim.claim_id,
        status_code=status_code,
        charge_cents=sum(claim.charges),
        paid_cents=sum(line.paid_cents for line in lines),
        patient_responsibility_cents=sum(a.amount_cents for line in lines for a in line.adjustments if a.group == "PR"),
        payer_claim_control_number=payer_claim_number,
        service_lines=tuple(lines),
        service_date=DOS,
        patient_member_id=member_id,
    )


def negate(payment: ClaimPayment) -> ClaimPayment:
    """The payer's reversal (CLP02=22) of a claim payment: every amount negated."""
    return ClaimPayment(
        patient_control_number=payment.patient_control_number,
        status_code="22",
        charge_cents=-payment.charge_cents,
        paid_cents=-payment.paid_cents,
        patient_responsibility_cents=-payment.patient_responsibility_cents,
        payer_claim_control_number=payment.payer_claim_control_number,
        adjustments=tuple(Adjustment(a.group, a.reason, -a.amount_cents) for a in payment.adjustments),
        service_lines=tuple(
            ServiceLinePayment(
                procedure=s.procedure,
                modifiers=s.modifiers,
                charge_cents=-s.charge_cents,
                paid_cents=-s.paid_cents,
                line_control_number=s.line_control_number,
                service_date=s.service_date,
                adjustments=tuple(Adjustment(a.group, a.reason, -a.amount_cents) for a in s.adjustments),
            )
            for s in payment.service_lines
        ),
        service_date=payment.service_date,
    )


def remittance(
    payer: str,
    trace: str,
    claims: Sequence[ClaimPayment],
    provider_adjustments: Sequence[ProviderAdjustment] = (),
    *,
    method: str = "ACH",
) -> Remittance:
    plb = tuple(provider_adjustments)
    amount = sum(c.paid_cents for c in claims) - sum(p.amount_cents for p in plb)
    return Remittance(
        payer_id=payer,
        payer_name=f"Payer {payer}",
        payee_name="Synthetic Clinic",
        payee_id="1234567893",
        payment_method=method,
        payment_amount_cents=amount,
        trace_number=trace,
        payment_date=date(2026, 3, 20),
        claims=tuple(claims),
        provider_adjustments=plb,
    )
