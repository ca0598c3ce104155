"""Licensure from the store (domain.services.licensure) and the 0002 migration's carry-over, on SQLite and
PostgreSQL: a provider's licenses are its staff member's state licenses; rows written before the migration get
a state, a staff NPI and an enrollment per payer-enrollment credential."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from domain.enums import CredentialKind
from domain.errors import NotFound
from domain.services.licensure import (
    provider_license_states,
    provider_licensed_in,
    providers_licensed_in,
)
from domain.store.engine import make_session_factory
from domain.store.migrate import upgrade
from domain.store.uow import UnitOfWork
from tests.support.staff import add_credential, add_staff
from workers.synthetic import seed_practice

DAY = date(2026, 3, 2)


def test_a_providers_licenses_answer_the_interstate_question(
    session_factory: sessionmaker[Session], uow: UnitOfWork
) -> None:
    factory = session_factory
    staff_id = add_staff(factory)
    add_credential(factory, staff_id, date(2027, 1, 1))  # OR Medical Board -> OR
    add_credential(factory, staff_id, date(2026, 1, 1), issuer="WA Medical Commission")  # lapsed before DAY
    add_credential(factory, staff_id, date(2027, 1, 1), issuer="Idaho board", state="ID", status="pending")
    with uow:
        practice = uow.session.query(m.Practice).one()
        provider = m.Provider(
            practice_id=practice.id,
            first_name="Test",
            last_name="Clinician",
            credential="MD",
            npi="1245319599",
            taxonomy="207Q00000X",
            staff_id=staff_id,
        )
        unlinked = m.Provider(
            practice_id=practice.id,
            first_name="No",
            last_name="Staff",
            credential="MD",
            npi="1679576722",
            taxonomy="207Q00000X",
        )
        uow.session.add_all([provider, unlinked])
        uow.session.commit()
        assert provider_licensed_in(uow.session, provider.id, "OR", DAY)
        assert not provider_licensed_in(uow.session, provider.id, "WA", DAY)
        assert provider_licensed_in(uow.session, provider.id, "WA", date(2025, 6, 1))
        assert not provider_licensed_in(uow.session, provider.id, "ID", DAY)  # pending
        assert provider_license_states(uow.session, provider.id, DAY) == ["OR"]
        assert not provider_licensed_in(uow.session, unlinked.id, "OR", DAY)
        assert providers_licensed_in(uow.session, practice.id, "OR", DAY) == [provider.id]
        with pytest.raises(NotFound):
            provider_licensed_in(uow.session, str(uuid.uuid4()), "OR", DAY)


def test_the_seeded_practice_licenses_some_providers_beyond_oregon(uow: UnitOfWork) -> None:
    with uow:
        seed_practice(uow.session, patients=5, seed=42, as_of=DAY)
        uow.commit()
    with uow:
        practice = uow.session.query(m.Practice).one()
        washington = providers_licensed_in(uow.session, practice.id, "WA", DAY)
        oregon = providers_licensed_in(uow.session, practice.id, "OR", DAY)
        assert washington and oregon and set(washington) != set(oregon)


# --- the migration's carry-over ---------------------------------------------------------------------------


def _insert_old_rows(engine: Engine) -> None:
    statements = [
        "INSERT INTO practices (id, name, npi, tax_id, taxonomy, address_line, city, state, postal_code, phone) "
        "VALUES ('pr', 'Clinic', '1234567893', '123456789', '207Q00000X', '1 Way', 'Salem', 'OR', '97301', '5')",
        "INSERT INTO staff (id, practice_id, first_name, last_name, role, email, hired_on, active) "
        "VALUES ('st', 'pr', 'A', 'B', 'physician', 'a@example.invalid', '2020-01-01', true)",
        "INSERT INTO providers (id, practice_id, first_name, last_name, credential, npi, taxonomy, staff_id) "
        "VALUES ('pv', 'pr', 'A', 'B', 'MD', '1245319599', '207Q00000X', 'st')",
        "INSERT INTO payers (id, payer_id, name, kind, routing, timely_filing_days, follow_up_days) "
        "VALUES ('py', 'SBXBM', 'Blue', 'commercial', 'clearinghouse', 180, 30)",
    ]
    credentials = [
        ("c1", CredentialKind.STATE_LICENSE, "OR Medical Board", "active"),
        ("c2", CredentialKind.STATE_LICENSE, "Medical Board of California", "active"),
        ("c3", CredentialKind.PAYER_ENROLLMENT, "SBXBM", "expired"),
        ("c4", CredentialKind.PAYER_ENROLLMENT, "NOSUCH", "active"),
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
        for credential_id, kind, issuer, status in credentials:
            conn.execute(
                text(
                    "INSERT INTO credentials (id, staff_id, kind, number, issuer, issued_on, expires_on, status) "
                    "VALUES (:id, 'st', :kind, 'N1', :issuer, '2024-02-01', '2027-02-01', :status)"
                ),
                {"id": credential_id, "kind": kind.value, "issuer": issuer, "status": status},
            )


def test_the_migration_carries_existing_rows_over(engine_at_revision: Callable[[str], Engine]) -> None:
    old_engine = engine_at_revision("0001")  # before credentialing
    _insert_old_rows(old_engine)
    upgrade(old_engine)
    with make_session_factory(old_engine)() as session:
        assert session.execute(text("SELECT npi FROM staff")).scalar_one() == "1245319599"
        states = {row[0]: row[1] for row in session.execute(text("SELECT id, state FROM credentials"))}
        assert states == {"c1": "OR", "c2": None, "c3": None, "c4": None}
        enrollments = session.execute(
            text("SELECT provider_id, payer_id, status, effective_from, effective_to FROM payer_enrollments")
        ).all()
        assert len(enrollments) == 1
        provider_id, payer_id, status, effective_from, effective_to = enrollments[0]
        assert (provider_id, payer_id, status, effective_to) == ("pv", "py", "active", None)
        assert str(effective_from) == "2024-02-01"
