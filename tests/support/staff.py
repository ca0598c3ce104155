"""Synthetic staff rows for the staff-workflow tests and replay scenarios (opaque ids, Faker-free constants)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from domain.enums import CredentialKind
from domain.licensure import state_of_issuer


def add_staff(factory: sessionmaker[Session], *, role: str = "physician", hired_on: date | None = None) -> str:
    """A practice (if none) and one active staff member; returns the staff id."""
    with factory() as session:
        practice = session.query(m.Practice).first()
        if practice is None:
            practice = m.Practice(
                id=str(uuid.uuid4()),
                name="Synthetic Clinic",
                npi="1234567893",
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
        staff = m.Staff(
            practice_id=practice.id,
            first_name="Test",
            last_name="Clinician",
            role=role,
            email="clinician@example.invalid",
            hired_on=hired_on or date(2020, 1, 6),
            active=True,
        )
        session.add(staff)
        session.commit()
        return staff.id


def add_credential(
    factory: sessionmaker[Session],
    staff_id: str,
    expires_on: date,
    *,
    kind: CredentialKind = CredentialKind.STATE_LICENSE,
    issuer: str = "OR Medical Board",
    status: str = "active",
    state: str | None = None,
    issued_on: date | None = None,
) -> str:
    """A credential; a state license gets the state its issuer names (``state`` overrides it)."""
    if state is None and kind == CredentialKind.STATE_LICENSE:
        state = state_of_issuer(issuer) or None
    with factory() as session:
        credential = m.Credential(
            staff_id=staff_id,
            kind=kind,
            number="MD000001",
            issuer=issuer,
            issued_on=issued_on or expires_on - timedelta(days=730),
            expires_on=expires_on,
            status=status,
            state=state,
        )
        session.add(credential)
        session.commit()
        return credential.id


def add_training(
    factory: sessionmaker[Session],
    staff_id: str,
    completed_on: date,
    *,
    code: str = "HIPAA",
    renewal_days: int = 365,
    roles: list[str] | None = None,
) -> str:
    """A training requirement (created once per code) and one completion; returns the requirement id."""
    with factory() as session:
        requirement = session.query(m.TrainingRequirement).filter_by(code=code).one_or_none()
        if requirement is None:
            requirement = m.TrainingRequirement(
                code=code, name=f"{code} annual training", roles=roles or [], renewal_days=renewal_days
            )
            session.add(requirement)
            session.flush()
        session.add(
            m.TrainingRecord(
                staff_id=staff_id,
                requirement_id=requirement.id,
                completed_on=completed_on,
                expires_on=completed_on + timedelta(days=requirement.renewal_days),
            )
        )
        session.commit()
        return requirement.id


def deactivate(factory: sessionmaker[Session], staff_id: str) -> None:
    with factory() as session:
        staff = session.get(m.Staff, staff_id)
        assert staff is not None
        staff.active = False
        session.commit()
