"""A seeded practice's store-side helpers for activity tests: yesterday's visits written straight into the store
(charge-captured at checkout) and the payers' roster read back from the store.

The demo itself sends its patients through the FHIR API (workers/demo_fhir.py); these seed stores directly, for
tests of the activities that run after intake.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from domain import models as m
from domain.enums import PayerRouting
from workers.composition import Container


def todays_visits(session: Any, seed: int) -> int:
    """Yesterday's clinic day: one completed visit per patient, charge-captured at checkout (a few left uncoded
    for the coders), so every journey has a fresh claim or patient bill to carry through the cycle."""
    import random
    from datetime import time as clock
    from datetime import timedelta

    from domain.catalog import ANCILLARY, DIAGNOSES, EVALUATION_AND_MANAGEMENT, PROCEDURES_BY_CODE
    from domain.enums import AppointmentKind, AppointmentStatus
    from domain.services.encounters import EncounterInput, ServiceLineInput, record_encounter

    rng = random.Random(f"visits|{seed}")
    day = datetime.now(UTC).date() - timedelta(days=1)
    providers = list(session.execute(select(m.Provider).order_by(m.Provider.npi)).scalars())
    locations = list(session.execute(select(m.Location).order_by(m.Location.name)).scalars())
    patients = list(session.execute(select(m.Patient).order_by(m.Patient.account_number)).scalars())
    for index, patient in enumerate(patients):
        telehealth = rng.random() < 0.2
        provider, location = rng.choice(providers), rng.choice(locations)
        appointment = m.Appointment(
            patient_id=patient.id,
            provider_id=provider.id,
            location_id=location.id,
            kind=AppointmentKind.TELEHEALTH if telehealth else AppointmentKind.IN_PERSON,
            status=AppointmentStatus.COMPLETED,
            starts_at=datetime.combine(day, clock(8 + index % 9, 20 * (index % 3)), tzinfo=UTC),
        )
        session.add(appointment)
        session.flush()
        if rng.random() < 0.1:
            continue  # left for the coders: the Encounter workflow opens a coding work item
        diagnoses = tuple(rng.sample(sorted(set(DIAGNOSES) - {"Z0000"}), k=rng.choice([1, 1, 2])))
        codes = [rng.choice(EVALUATION_AND_MANAGEMENT)]
        roll = rng.random()
        if roll < 0.12:
            # A problem visit coded with the wellness-exam diagnosis first: payers deny it (CO-50).
            diagnoses = ("Z0000", *diagnoses[:1])
        elif roll < 0.24 and not telehealth:
            codes += ["36415", "85025"]  # venipuncture with a lab panel: some payers bundle it (CO-97)
        elif not telehealth:
            codes += rng.sample(ANCILLARY, k=rng.choice([0, 1, 1]))
        # Now and then the telehealth modifier is forgotten at checkout: the claim edits catch it.
        telehealth_modifier: tuple[str, ...] = ("95",) if rng.random() < 0.6 else ()
        lines = tuple(
            ServiceLineInput(
                code,
                PROCEDURES_BY_CODE[code].charge_cents,
                1,
                telehealth_modifier if telehealth else (("25",) if number == 1 and len(codes) > 1 else ()),
                tuple(range(1, len(diagnoses) + 1)) if number == 1 else (1,),
            )
            for number, code in enumerate(codes, start=1)
        )
        record_encounter(
            session,
            EncounterInput(
                patient_id=patient.id,
                provider_id=provider.id,
                location_id=location.id,
                date_of_service=day,
                place_of_service="10" if telehealth else location.place_of_service,
                diagnosis_codes=diagnoses,
                service_lines=lines,
                appointment_id=appointment.id,
            ),
            actor="demo:checkout",
        )
    return len(patients)


def roster_entries(container: Container) -> list[dict[str, Any]]:
    """The payers' enrollment, as the sandbox clearinghouse loads it (stays between our two processes).

    Portal payers are on it too: the clearinghouse forwards their claims (front-end edits, 277CA) though they
    answer by portal."""
    entries: list[dict[str, Any]] = []
    with container.uow() as uow:
        rows = uow.session.execute(
            select(m.Coverage, m.Payer, m.Patient)
            .join(m.Payer, m.Payer.id == m.Coverage.payer_id)
            .join(m.Patient, m.Patient.id == m.Coverage.patient_id)
            .where(m.Payer.routing.in_([PayerRouting.CLEARINGHOUSE, PayerRouting.PORTAL]))
        ).all()
        for coverage, payer, patient in rows:
            is_self = str(coverage.relationship_to_subscriber) == "self"
            birth = patient.birth_date if is_self else coverage.subscriber_birth_date
            if birth is None:
                continue
            entries.append(
                {
                    "payer_id": payer.payer_id,
                    "member_id": coverage.member_id,
                    "birth_date": birth.isoformat(),
                    "effective_from": coverage.effective_from.isoformat(),
                    "effective_to": coverage.effective_to.isoformat() if coverage.effective_to else None,
                    "group_number": coverage.group_number,
                    "last_name": patient.last_name if is_self else coverage.subscriber_last_name,
                    "first_name": patient.first_name if is_self else coverage.subscriber_first_name,
                }
            )
    return entries
