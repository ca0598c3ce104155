"""Registration: a patient's record checked again (missing data, possible duplicates, the coverages to verify)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from temporalio import activity

from activities.contracts import revenue as c
from activities.revenue.base import StoreActivities, domain_errors_are_final
from domain import models as m
from domain.duplicates import find_duplicate_patients, patient_facts
from domain.enums import CoverageRank
from domain.errors import NotFound


def _today() -> date:
    return datetime.now(UTC).date()


class RegistrationActivities(StoreActivities):
    @activity.defn(name=c.REGISTRATION_VALIDATE)
    @domain_errors_are_final
    def validate(self, ref: c.PatientRef) -> c.RegistrationCheck:
        """The patient's record checked again: missing data, possible duplicates, the coverages to verify."""
        with self.uow() as uow:
            session = uow.session
            patient = session.get(m.Patient, ref.patient_id)
            if patient is None:
                raise NotFound(f"unknown patient {ref.patient_id}")
            problems = [
                name
                for name, value in (
                    ("address", patient.address_line),
                    ("postal_code", patient.postal_code),
                    ("phone", patient.phone),
                )
                if not (value or "").strip()
            ]
            duplicates = tuple(find_duplicate_patients(session, patient_facts(patient), exclude_patient_id=patient.id))
            today = _today()
            coverages = sorted(
                (cov for cov in patient.coverages if cov.is_active_on(today)),
                key=lambda cov: list(CoverageRank).index(CoverageRank(cov.rank)),
            )
            return c.RegistrationCheck(
                patient_id=patient.id,
                guarantor_id=patient.guarantor_id,
                coverage_ids=tuple(cov.id for cov in coverages),
                problems=tuple(problems),
                duplicate_of=duplicates,
            )
