"""The revenue activities for real: a seeded SQLite store and the sandbox clearinghouse service in-process.

Real 270/271, 837P with its 999/277CA, 835 and 276/277 are written by our activities, read by the sandbox's
payers and read back; posting goes through the ledger. The adapter below is the Clearinghouse port over the
sandbox service without HTTP (the HTTP adapter has its own tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError

from activities.clearinghouse.base import InboundDocument, SubmissionResult
from activities.contracts import revenue as c
from activities.documents.local import LocalDocumentStore
from activities.patient_collections.messaging import OutboxMessenger
from activities.revenue import (
    ClaimActivities,
    CollectionsActivities,
    EligibilityActivities,
    EncounterActivities,
    Envelope,
    LedgerActivities,
    PostingActivities,
    RegistrationActivities,
)
from activities.revenue.remittances import read_fan_out
from domain import models as m
from domain.enums import PayerRouting
from domain.ledger.checks import run_ledger_checks
from sandbox.clearinghouse.service import ClearinghouseService
from tests.support.practice import roster_entries, todays_visits
from workers.composition import Container
from workers.settings import Settings
from workers.synthetic import seed_practice


class InProcessClearinghouse:
    """The Clearinghouse port straight onto the sandbox service."""

    def __init__(self, service: ClearinghouseService) -> None:
        self.service = service

    def submit_837(self, x12: str) -> SubmissionResult:
        receipt = self.service.submit_837(x12)
        return SubmissionResult(receipt.batch_id, receipt.accepted, receipt.ack_999, receipt.ack_277ca)

    def _documents(self, kinds: tuple[str, ...]) -> list[InboundDocument]:
        return [InboundDocument(d.id, d.kind, d.x12, d.created_at) for d in self.service.mailbox(kinds)]

    def fetch_acknowledgments(self) -> list[InboundDocument]:
        return self._documents(("999", "277CA"))

    def fetch_remittances(self) -> list[InboundDocument]:
        return self._documents(("835",))

    def confirm(self, document_ids: Sequence[str]) -> None:
        self.service.confirm(list(document_ids))

    def eligibility(self, x12_270: str) -> str:
        return self.service.eligibility(x12_270)

    def claim_status(self, x12_276: str) -> str:
        return self.service.claim_status(x12_276)


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> tuple[Container, InProcessClearinghouse, LocalDocumentStore]:
    container = Container(Settings(home=tmp_path, database_url=sqlite_url))
    with container.uow() as uow:
        seed_practice(uow.session, patients=14, seed=3)
        uow.session.flush()
        todays_visits(uow.session, 3)
        uow.commit()
    service = ClearinghouseService(tmp_path / "sandbox", seed=3, time_scale=0.0, random_mix=False)
    service.load_roster(roster_entries(container))
    return container, InProcessClearinghouse(service), LocalDocumentStore(tmp_path / "documents")


def test_a_visit_goes_from_eligibility_to_a_posted_remittance(
    world: tuple[Container, InProcessClearinghouse, LocalDocumentStore],
) -> None:
    container, clearinghouse, documents = world
    factory = container.session_factory
    envelope = Envelope()
    registration = RegistrationActivities(factory)
    eligibility = EligibilityActivities(factory, clearinghouse, envelope)
    encounters = EncounterActivities(factory)
    claims = ClaimActivities(factory, clearinghouse, envelope, documents)
    posting = PostingActivities(factory, clearinghouse, documents)
    ledger = LedgerActivities(factory)
    collections = CollectionsActivities(
        factory, documents, messenger=OutboxMessenger(container.settings.home / "outbox")
    )
    with container.uow() as uow:
        # A patient with a clearinghouse payer's primary coverage and yesterday's coded visit.
        rows = uow.session.execute(
            select(m.Patient.id)
            .join(m.Coverage, m.Coverage.patient_id == m.Patient.id)
            .join(m.Payer, m.Payer.id == m.Coverage.payer_id)
            .where(m.Payer.routing == PayerRouting.CLEARINGHOUSE, m.Coverage.effective_to.is_(None))
            .order_by(m.Patient.account_number)
        ).scalars()
        candidates = list(dict.fromkeys(rows))
    submitted: list[c.SubmitResult] = []
    for patient_id in candidates:
        check = registration.validate(c.PatientRef(patient_id))
        answer = eligibility.check(c.CoverageRef(check.coverage_ids[0]))
        assert answer.status == "active" and answer.route == "clearinghouse"
        eligibility.record(c.EligibilityRecord(answer.coverage_id, "active", "payer"))
        for appointment_id in encounters.list_billable(c.PatientRef(patient_id)).appointment_ids:
            prepared = encounters.prepare(c.AppointmentRef(appointment_id))
            if not prepared.coded or prepared.bill_to != "payer":
                continue
            created = claims.create(c.EncounterRef(prepared.encounter_id))
            assert created.claim_id is not None
            assert claims.create(c.EncounterRef(prepared.encounter_id)).claim_id == created.claim_id  # once
            ledger.charge(c.PatientCharge(prepared.encounter_id, "test"))
            scrubbed = claims.scrub(c.ClaimRef(created.claim_id))
            if not scrubbed.passed:
                continue
            result = claims.submit(c.ClaimCorrection(created.claim_id, {}, "1", "test"))
            again = claims.submit(c.ClaimCorrection(created.claim_id, {}, "1", "test"))
            assert again.batch_key == result.batch_key  # a retried submit does not send twice
            ack = claims.acknowledgments(c.AckQuery(created.claim_id, result.batch_key))
            if ack.state == "accepted":
                submitted.append(result)
        if len(submitted) >= 2:
            break
    assert submitted, "no clean claim reached the payer"
    with container.uow() as uow:
        before = uow.session.get(m.Claim, submitted[0].claim_id).status  # type: ignore[union-attr]
    terms = claims.terms(c.ClaimRef(submitted[0].claim_id))  # for a reopened claim: reads, changes nothing
    assert terms.passed and not terms.edits and terms.follow_up_days > 0 and terms.route == "clearinghouse"
    with container.uow() as uow:
        assert uow.session.get(m.Claim, submitted[0].claim_id).status == before  # type: ignore[union-attr]
    inquiry = claims.status_inquiry(c.ClaimRef(submitted[0].claim_id))
    assert inquiry.route == "clearinghouse" and inquiry.category
    with container.uow() as uow:
        (asked,) = uow.session.scalars(
            select(m.AuditEvent).where(
                m.AuditEvent.action == "claim.status_inquiry", m.AuditEvent.entity_id == submitted[0].claim_id
            )
        )
        assert asked.details == {"route": "clearinghouse", "category": inquiry.category, "status": inquiry.status_code}
    fetched = posting.fetch_remittances(c.FetchRemittances(confirm=False))
    assert fetched.remittance_keys and len(fetched.document_ids) >= len(fetched.remittance_keys)
    # An attempt lost before RemittanceIntake confirmed them: the next fetch hands back the same 835s.
    refetched = posting.fetch_remittances(c.FetchRemittances(confirm=False))
    assert (refetched.remittance_keys, refetched.document_ids) == (fetched.remittance_keys, fetched.document_ids)
    posting.confirm_remittances(c.ConfirmRemittances(fetched.document_ids))
    posting.confirm_remittances(c.ConfirmRemittances(fetched.document_ids))  # at least once: a repeat is harmless
    assert posting.fetch_remittances(c.FetchRemittances(confirm=False)) == c.FetchedRemittances((), ())
    outcomes = {}
    for number, key in enumerate(fetched.remittance_keys):
        # The first 835 as a large one (carry nothing): its outcomes are kept beside it for posting.tell.
        limit = 0 if number == 0 else -1
        result = posting.post_remittance(c.RemittanceRef(key, carry_limit=limit))
        assert not result.already_posted
        kept = read_fan_out(documents, key)
        if limit == 0:
            assert kept is not None and result.claims == () and result.guarantors_with_balance == ()
            assert result.kept == len(kept) and result.kept_claims == len(kept.outcomes) > 0
        else:
            assert kept is None and result.kept == 0
        outcomes.update({o.claim_id: o for o in (kept.outcomes if kept else result.claims)})
        again = posting.post_remittance(c.RemittanceRef(key, carry_limit=limit))
        assert again.already_posted  # posting twice posts nothing
        assert again.kept == result.kept  # a retried attempt finds what the first one kept
    assert {s.claim_id for s in submitted} <= set(outcomes)
    assert all(o.status in ("paid", "partially_paid", "denied") for o in outcomes.values())
    with container.uow() as uow:
        assert run_ledger_checks(uow.session).ok
        guarantor = uow.session.get(m.Patient, uow.session.get(m.Claim, submitted[0].claim_id).patient_id).guarantor_id  # type: ignore[union-attr]
    balance = collections.balance(c.GuarantorRef(guarantor))
    if balance.balance_cents > 0:
        first = collections.send_statement(c.StatementRequest(guarantor, "first", 1, f"collections-{guarantor}/1"))
        again = collections.send_statement(c.StatementRequest(guarantor, "first", 1, f"collections-{guarantor}/1"))
        assert first.statement_id == again.statement_id and first.document_key
        assert documents.exists(first.document_key)


def test_domain_errors_leave_as_non_retryable_failures(
    world: tuple[Container, InProcessClearinghouse, LocalDocumentStore],
) -> None:
    container, clearinghouse, documents = world
    claims = ClaimActivities(container.session_factory, clearinghouse, Envelope(), documents)
    with pytest.raises(ApplicationError) as raised:
        claims.create(c.EncounterRef("00000000-0000-4000-8000-000000000000"))
    assert raised.value.non_retryable and raised.value.type == "not_found"


def test_a_claim_never_sent_is_voided_by_its_write_off_not_refused(
    world: tuple[Container, InProcessClearinghouse, LocalDocumentStore],
) -> None:
    """A draft claim (its edits failed, never sent) that a biller writes off: the charge is written off and the
    claim voided. It was refused (draft -> written_off), and the Claim workflow asked again for ever."""
    container, clearinghouse, documents = world
    factory = container.session_factory
    encounters = EncounterActivities(factory)
    claims = ClaimActivities(factory, clearinghouse, Envelope(), documents)
    ledger = LedgerActivities(factory)
    with container.uow() as uow:
        patient_ids = list(
            dict.fromkeys(uow.session.execute(select(m.Patient.id).order_by(m.Patient.account_number)).scalars())
        )
    for patient_id in patient_ids:
        for appointment_id in encounters.list_billable(c.PatientRef(patient_id)).appointment_ids:
            prepared = encounters.prepare(c.AppointmentRef(appointment_id))
            if not prepared.coded or prepared.bill_to != "payer":
                continue
            created = claims.create(c.EncounterRef(prepared.encounter_id))
            assert created.claim_id is not None
            ledger.charge(c.PatientCharge(prepared.encounter_id, "test"))
            with factory() as session:
                claim = session.get(m.Claim, created.claim_id)
                assert claim is not None and claim.status == "draft"
            result = ledger.adjust(c.ClaimAdjustment(created.claim_id, "write_off", "administrative", "biller"))
            assert result.claim_status == "void" and result.amount_cents > 0
            again = ledger.adjust(c.ClaimAdjustment(created.claim_id, "write_off", "administrative", "biller"))
            assert again.claim_status == "void" and again.amount_cents == 0  # written off once: a retry moves nothing
            return
    raise AssertionError("no billable visit in the seeded practice")
