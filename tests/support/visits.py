"""A tiny synthetic clinic for the visit and telehealth tests: a practice, a location, licensed providers, patients.

Constant, obviously fake values (no Faker: the tests read them back); ids are fresh UUIDs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from domain.enums import CoverageRank, CredentialKind, PayerKind, PayerRouting, SubscriberRelationship


@dataclass
class Clinic:
    practice_id: str
    location_id: str
    payer_id: str  # the payer row id
    providers: dict[str, str] = field(default_factory=dict)  # name -> provider id
    patients: dict[str, str] = field(default_factory=dict)  # name -> patient id


def _npi(n: int) -> str:
    from domain.codes import is_valid_npi

    base = f"1{n:08d}"
    for check in range(10):
        if is_valid_npi(base + str(check)):
            return base + str(check)
    raise AssertionError("no NPI check digit")


def make_clinic(factory: sessionmaker[Session]) -> Clinic:
    with factory() as session:
        practice = m.Practice(
            name="Synthetic Family Clinic",
            npi=_npi(1),
            tax_id="123456789",
            taxonomy="207Q00000X",
            address_line="1 Example Way",
            city="Portland",
            state="OR",
            postal_code="97201",
            phone="5035550100",
        )
        session.add(practice)
        session.flush()
        location = m.Location(
            practice_id=practice.id,
            name="Main Street Clinic",
            address_line="10 Main St",
            city="Portland",
            state="OR",
            postal_code="97201",
        )
        payer = session.execute(select(m.Payer).where(m.Payer.payer_id == "SBXBM")).scalar_one_or_none()
        if payer is None:
            payer = m.Payer(
                payer_id="SBXBM",
                name="Sandbox Blue Mutual",
                kind=PayerKind.COMMERCIAL,
                routing=PayerRouting.CLEARINGHOUSE,
            )
        session.add_all([location, payer])
        session.commit()
        return Clinic(practice.id, location.id, payer.id)


def add_provider(
    factory: sessionmaker[Session], clinic: Clinic, name: str, licensed_in: tuple[str, ...] = ("OR",)
) -> str:
    """A physician (staff member) with an active state license in each of ``licensed_in``."""
    with factory() as session:
        staff = m.Staff(
            practice_id=clinic.practice_id,
            first_name=name.title(),
            last_name="Clinician",
            role="physician",
            email=f"{name}@example.invalid",
            hired_on=date(2020, 1, 6),
        )
        session.add(staff)
        session.flush()
        provider = m.Provider(
            practice_id=clinic.practice_id,
            first_name=name.title(),
            last_name="Clinician",
            credential="MD",
            npi=_npi(100 + len(clinic.providers) + abs(hash(name)) % 1000),
            taxonomy="207Q00000X",
            staff_id=staff.id,
        )
        session.add(provider)
        today = datetime.now(UTC).date()
        for state in licensed_in:
            session.add(
                m.Credential(
                    staff_id=staff.id,
                    kind=CredentialKind.STATE_LICENSE,
                    number=f"MD{uuid.uuid4().hex[:6].upper()}",
                    issuer=f"{state} Medical Board",
                    state=state,
                    issued_on=today - timedelta(days=365),
                    expires_on=today + timedelta(days=365),
                )
            )
        session.commit()
        clinic.providers[name] = provider.id
        return provider.id


def add_patient(
    factory: sessionmaker[Session],
    clinic: Clinic,
    name: str,
    *,
    state: str = "OR",
    phone: str = "5035550142",
    email: str | None = "patient@example.invalid",
    coverage: bool = True,
) -> str:
    with factory() as session:
        guarantor = m.Guarantor(
            account_number=f"G{uuid.uuid4().hex[:10]}",
            first_name=name.title(),
            last_name="Testpatient",
            birth_date=date(1980, 5, 17),
            address_line="2 Example Ave",
            city="Portland",
            state=state,
            postal_code="97202",
            phone=phone,
            email=email,
        )
        session.add(guarantor)
        session.flush()
        patient = m.Patient(
            practice_id=clinic.practice_id,
            account_number=f"P{uuid.uuid4().hex[:10]}",
            first_name=name.title(),
            last_name="Testpatient",
            birth_date=date(1980, 5, 17),
            sex="F",
            address_line="2 Example Ave",
            city="Portland",
            state=state,
            postal_code="97202",
            phone=phone,
            email=email,
            guarantor_id=guarantor.id,
        )
        session.add(patient)
        session.flush()
        if coverage:
            session.add(
                m.Coverage(
                    patient_id=patient.id,
                    payer_id=clinic.payer_id,
                    rank=CoverageRank.PRIMARY,
                    relationship_to_subscriber=SubscriberRelationship.SELF,
                    member_id=f"M{uuid.uuid4().hex[:9].upper()}",
                    effective_from=date(2024, 1, 1),
                )
            )
        session.commit()
        clinic.patients[name] = patient.id
        return patient.id
