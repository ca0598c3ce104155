"""Registration, eligibility and encounter activities: a patient's way from the front desk to a coded visit."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from temporalio import activity

from activities.clearinghouse.base import Clearinghouse
from activities.contracts import revenue as c
from activities.revenue.base import Envelope, StoreActivities, domain_errors_are_final
from domain import audit
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.coding import coding_lines, validate_coding
from domain.coverage_changes import parse_coverage_changes
from domain.duplicates import find_duplicate_patients, patient_facts
from domain.enums import AppointmentKind, AppointmentStatus, CoverageRank, PayerKind, PayerRouting
from domain.errors import NotFound, ValidationError
from domain.services.encounters import coverage_for
from domain.store.control_numbers import next_numbers
from domain.x12.eligibility import EligibilityInquiry, parse_271, write_270
from domain.x12.envelope import Party

# Claims in these states still need the revenue cycle; the others are settled history.
UNFINISHED_CLAIM_STATUSES = frozenset({ClaimStatus.DRAFT, ClaimStatus.READY, ClaimStatus.REJECTED})


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


class EligibilityActivities(StoreActivities):
    def __init__(
        self,
        session_factory: object,
        clearinghouse: Clearinghouse,
        envelope: Envelope,
        portal_payers: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(session_factory)  # type: ignore[arg-type]
        self._clearinghouse = clearinghouse
        self._envelope = envelope
        self._portal_payers = portal_payers  # portal payers we hold credentials for

    @activity.defn(name=c.ELIGIBILITY_CHECK)
    @domain_errors_are_final
    def check(self, ref: c.CoverageRef) -> c.EligibilityAnswer:
        """A real 270 to the clearinghouse, the 271 read back; the answer's amounts are kept on the coverage."""
        with self.uow() as uow:
            session = uow.session
            coverage = session.get(m.Coverage, ref.coverage_id)
            if coverage is None:
                raise NotFound(f"unknown coverage {ref.coverage_id}")
            payer = session.get(m.Payer, coverage.payer_id)
            patient = session.get(m.Patient, coverage.patient_id)
            practice = session.execute(select(m.Practice).limit(1)).scalar_one_or_none()
            if payer is None or patient is None or practice is None:
                raise NotFound(f"coverage {ref.coverage_id} lacks its payer, patient or practice")
            if payer.routing == PayerRouting.PORTAL and payer.payer_id in self._portal_payers:
                # No 270/271 route to this payer: the workflow asks its web portal instead.
                return c.EligibilityAnswer(ref.coverage_id, payer.payer_id, "unrouted", "portal")
            is_self = str(coverage.relationship_to_subscriber) == "self"
            inquiry = EligibilityInquiry(
                trace=coverage.id.replace("-", "")[:30],
                payer_name=payer.name.upper(),
                payer_id=payer.payer_id,
                provider_name=practice.name.upper(),
                provider_npi=practice.npi,
                member_id=coverage.member_id,
                subscriber_last_name=(patient.last_name if is_self else coverage.subscriber_last_name or "").upper(),
                subscriber_first_name=(patient.first_name if is_self else coverage.subscriber_first_name or "").upper(),
                subscriber_birth_date=patient.birth_date if is_self else coverage.subscriber_birth_date,
                service_date=_today(),
            )
            control = next_numbers(session)
            text = write_270(
                [inquiry],
                sender=Party("ZZ", self._envelope.sender_id),
                receiver=Party("ZZ", self._envelope.receiver_id),
                control=control,
                usage=self._envelope.usage,
            )
            uow.commit()  # the control numbers are spent once the 270 leaves
            payer_code = payer.payer_id
        answer_text = self._clearinghouse.eligibility(text)
        responses = parse_271(answer_text)
        if not responses:
            return c.EligibilityAnswer(
                ref.coverage_id, payer_code, "inconclusive", "clearinghouse", None, None, "no271"
            )
        response = responses[0]
        active = response.active
        status = "active" if active else ("inactive" if active is False else "inconclusive")
        reason = response.errors[0].code if response.errors else None
        with self.uow() as uow:
            coverage = uow.session.get(m.Coverage, ref.coverage_id)
            assert coverage is not None
            coverage.eligibility_checked_at = datetime.now(UTC)
            coverage.copay_cents = response.copay_cents
            coverage.deductible_remaining_cents = response.deductible_remaining_cents
            uow.commit()
        return c.EligibilityAnswer(
            ref.coverage_id,
            payer_code,
            status,
            "clearinghouse",
            response.copay_cents,
            response.deductible_remaining_cents,
            reason,
        )

    @activity.defn(name=c.ELIGIBILITY_RECORD)
    @domain_errors_are_final
    def record(self, data: c.EligibilityRecord) -> c.Nothing:
        with self.uow() as uow:
            coverage = uow.session.get(m.Coverage, data.coverage_id)
            if coverage is None:
                raise NotFound(f"unknown coverage {data.coverage_id}")
            coverage.eligibility_status = data.status
            audit.record(
                uow.session,
                actor=data.decided_by,
                action="coverage.eligibility",
                entity_type="coverage",
                entity_id=data.coverage_id,
                details={"status": data.status, **({"route": data.route} if data.route else {})},
            )
            uow.commit()
        return c.Nothing()

    @activity.defn(name=c.ELIGIBILITY_UPDATE_COVERAGE)
    @domain_errors_are_final
    def update_coverage(self, data: c.CoverageUpdate) -> c.Nothing:
        """A person's correction of the coverage (the values stay in the store; the audit names the fields)."""
        with self.uow() as uow:
            session = uow.session
            coverage = session.get(m.Coverage, data.coverage_id)
            if coverage is None:
                raise NotFound(f"unknown coverage {data.coverage_id}")
            changes = parse_coverage_changes(
                data.fields, current_from=coverage.effective_from, current_to=coverage.effective_to
            )
            if changes.payer_id is not None:
                payer = session.execute(select(m.Payer).where(m.Payer.payer_id == changes.payer_id)).scalar()
                if payer is None:
                    raise NotFound(f"payer_id {changes.payer_id}: no such payer")
                coverage.payer_id = payer.id
            if changes.member_id is not None:
                coverage.member_id = changes.member_id
            if changes.group_number is not None:
                coverage.group_number = changes.group_number
            if changes.effective_from is not None:
                coverage.effective_from = changes.effective_from
            if changes.effective_to is not None or changes.clear_effective_to:
                coverage.effective_to = changes.effective_to
            audit.record(
                session,
                actor=data.actor,
                action="coverage.updated",
                entity_type="coverage",
                entity_id=data.coverage_id,
                details={"fields": sorted(data.fields)},
            )
            uow.commit()
        return c.Nothing()


class EncounterActivities(StoreActivities):
    @activity.defn(name=c.ENCOUNTER_LIST_BILLABLE)
    @domain_errors_are_final
    def list_billable(self, ref: c.PatientRef) -> c.BillableAppointments:
        """Completed visits not billed yet: no encounter, not coded, no claim, or a claim not yet accepted."""
        with self.uow() as uow:
            session = uow.session
            appointments = session.execute(
                select(m.Appointment)
                .where(m.Appointment.patient_id == ref.patient_id, m.Appointment.status == AppointmentStatus.FULFILLED)
                .order_by(m.Appointment.starts_at)
            ).scalars()
            billable: list[str] = []
            for appointment in appointments:
                encounter = session.execute(
                    select(m.Encounter).where(m.Encounter.appointment_id == appointment.id)
                ).scalar_one_or_none()
                if encounter is None or not encounter.coded:
                    billable.append(appointment.id)
                    continue
                claims = list(
                    session.execute(
                        select(m.Claim.status).where(m.Claim.encounter_id == encounter.id, m.Claim.rank == "primary")
                    ).scalars()
                )
                if claims:
                    if any(ClaimStatus(s) in UNFINISHED_CLAIM_STATUSES for s in claims):
                        billable.append(appointment.id)
                    continue
                charged = session.execute(
                    select(m.JournalEntry.id).where(m.JournalEntry.idempotency_key == f"patient_charge:{encounter.id}")
                ).first()
                if charged is None:
                    billable.append(appointment.id)
            return c.BillableAppointments(tuple(billable))

    @activity.defn(name=c.ENCOUNTER_PREPARE)
    @domain_errors_are_final
    def prepare(self, ref: c.AppointmentRef) -> c.PreparedEncounter:
        """The appointment's encounter (created, uncoded, when the visit left none) and whom to bill."""
        with self.uow() as uow:
            session = uow.session
            appointment = session.get(m.Appointment, ref.appointment_id)
            if appointment is None:
                raise NotFound(f"unknown appointment {ref.appointment_id}")
            if appointment.status != AppointmentStatus.FULFILLED:
                raise ValidationError(f"appointment {ref.appointment_id} is {appointment.status}, not fulfilled")
            encounter = session.execute(
                select(m.Encounter).where(m.Encounter.appointment_id == appointment.id)
            ).scalar_one_or_none()
            if encounter is None:
                location = session.get(m.Location, appointment.location_id)
                telehealth = appointment.kind == AppointmentKind.TELEHEALTH
                encounter = m.Encounter(
                    appointment_id=appointment.id,
                    patient_id=appointment.patient_id,
                    provider_id=appointment.provider_id,
                    location_id=appointment.location_id,
                    date_of_service=appointment.starts_at.date(),
                    place_of_service="10" if telehealth else (location.place_of_service if location else "11"),
                    diagnosis_codes=[],
                    coded=False,
                )
                session.add(encounter)
                session.flush()
                uow.commit()
            return _prepared(session, encounter)

    @activity.defn(name=c.ENCOUNTER_RECORD_CODES)
    @domain_errors_are_final
    def record_codes(self, data: c.RecordCodes) -> c.PreparedEncounter:
        """A coder's diagnoses and procedures, validated, become the encounter's service lines."""
        with self.uow() as uow:
            session = uow.session
            encounter = session.get(m.Encounter, data.encounter_id)
            if encounter is None:
                raise NotFound(f"unknown encounter {data.encounter_id}")
            lines = coding_lines(
                data.diagnosis_codes,
                data.procedure_codes,
                data.modifiers,
                data.units,
                encounter.telehealth_modifier,
            )
            diagnoses = validate_coding(data.diagnosis_codes, lines, encounter.place_of_service)
            encounter.diagnosis_codes = diagnoses
            if encounter.service_lines:  # lines captured without diagnoses: the coder's lines replace them
                encounter.service_lines.clear()
                session.flush()
            encounter.service_lines = [
                m.ServiceLine(
                    line_number=number,
                    procedure_code=line.procedure_code,
                    modifiers=list(line.modifiers),
                    units=line.units,
                    charge_cents=line.charge_cents,
                    diagnosis_pointers=list(line.diagnosis_pointers),
                )
                for number, line in enumerate(lines, start=1)
            ]
            encounter.coded = True
            session.flush()
            audit.record(
                session,
                actor=data.actor,
                action="encounter.coded",
                entity_type="encounter",
                entity_id=encounter.id,
                details={"lines": len(lines), "diagnoses": len(diagnoses)},
            )
            uow.commit()
            return _prepared(session, encounter)


def _prepared(session: object, encounter: m.Encounter) -> c.PreparedEncounter:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    patient = session.get(m.Patient, encounter.patient_id)
    assert patient is not None
    claim_id = session.execute(
        select(m.Claim.id)
        .where(m.Claim.encounter_id == encounter.id, m.Claim.rank == "primary", m.Claim.status != ClaimStatus.VOID)
        .order_by(m.Claim.created_at.desc())
    ).scalar()
    coded = bool(encounter.coded and encounter.service_lines)
    missing = (
        ()
        if coded
        else tuple(
            x for x, ok in (("diagnoses", encounter.diagnosis_codes), ("procedures", encounter.service_lines)) if not ok
        )
    )
    if claim_id is not None:
        bill_to = "payer"
    else:
        coverage = coverage_for(session, encounter.patient_id, encounter.date_of_service, CoverageRank.PRIMARY)
        payer = session.get(m.Payer, coverage.payer_id) if coverage else None
        insured = (
            coverage is not None
            and payer is not None
            and payer.kind != PayerKind.SELF_PAY
            and coverage.eligibility_status != "inactive"
        )
        bill_to = "payer" if insured else "patient"
    return c.PreparedEncounter(
        encounter_id=encounter.id,
        patient_id=encounter.patient_id,
        guarantor_id=patient.guarantor_id,
        coded=coded,
        claim_id=claim_id,
        bill_to=bill_to,
        missing=missing,
    )
