"""Posting and collections activities: remittances in, charges and adjustments on the ledger, the patient's share.

Posting goes through ``domain.posting.service.post_remittance`` (idempotent by payer + trace number + claim +
line) and the ledger services; statements and agency exports are files in the document store.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from activities.clearinghouse.base import Clearinghouse
from activities.contracts import revenue as c
from activities.documents.records import store_and_record
from activities.documents.store import DocumentStore
from activities.revenue.base import StoreActivities, domain_errors_are_final
from activities.revenue.remittances import (
    EOB_REMITTANCE_KEY_PREFIX,
    delivery_key,
    document_key,
    keep_delivery,
    read_report,
    write_report,
)
from domain import audit
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.collections_policy import CollectionsPolicy, payment_plan, plan_installments
from domain.enums import PaymentPlanStatus
from domain.errors import NotFound, ValidationError
from domain.ledger.service import (
    adjust_claim_balance,
    post_charge,
    post_patient_charge,
    write_off_patient_balance,
)
from domain.ledger.store import guarantor_balance
from domain.money import format_cents
from domain.posting.service import post_remittance
from domain.services.denials import explain
from domain.x12.remit835 import parse_835


class PostingActivities(StoreActivities):
    def __init__(self, session_factory: object, clearinghouse: Clearinghouse, documents: DocumentStore) -> None:
        super().__init__(session_factory)  # type: ignore[arg-type]
        self._clearinghouse = clearinghouse
        self._documents = documents

    @activity.defn(name=c.POSTING_FETCH_REMITTANCES)
    @domain_errors_are_final
    def fetch_remittances(self, _: c.Nothing) -> c.FetchedRemittances:
        """New 835s from the clearinghouse, stored in the document store first, then confirmed (at least once).

        Each is kept under its business key (the payments it carries), so a re-delivered 835 maps to the posting
        that already ran: the intake starts nothing new for it."""
        documents = self._clearinghouse.fetch_remittances()
        keys: list[str] = []
        with self.uow() as uow:
            for document in documents:
                key = delivery_key(document.x12, document.id)
                keep_delivery(self._documents, uow, key, document.x12)
                if key not in keys:
                    keys.append(key)
            uow.commit()
        if documents:
            self._clearinghouse.confirm([d.id for d in documents])
        return c.FetchedRemittances(tuple(keys))

    @activity.defn(name=c.POSTING_POST_REMITTANCE)
    @domain_errors_are_final
    def post_remittance(self, ref: c.RemittanceRef) -> c.PostingResult:
        """Post every remittance of the stored 835 once; a re-run posts nothing and says so."""
        key = document_key(ref.remittance_key)
        remittances = parse_835(self._documents.get(key).decode("ascii", errors="replace"))
        reports: list[dict[str, object]] = []
        outcomes: list[c.ClaimOutcome] = []
        unmatched: list[str] = []
        guarantors: set[str] = set()
        secondaries: list[str] = []
        posted_cents = 0
        already = True
        payer_id = ""
        for remittance in remittances:
            if ref.remittance_key.startswith(EOB_REMITTANCE_KEY_PREFIX):
                remittance = replace(remittance, source="eob_pdf")  # the 835 is our transcript of a payer's EOB
            with self.uow() as uow:
                result = post_remittance(uow.session, remittance, source_document_key=key, actor="workflow:posting")
                uow.commit()
            reports.append(result.as_dict() | {"posted_total_cents": result.posted_total_cents})
            payer_id = result.payer_id
            already = already and result.already_posted
            posted_cents += result.paid_cents
            guarantors.update(result.guarantors_with_balance)
            secondaries.extend(result.secondary_claims_created)
            for posted in result.claims:
                if posted.outcome in ("unmatched", "ambiguous", "exception"):
                    if not posted.work_item_id:  # posting opens its own item with the candidates
                        unmatched.append(posted.patient_control_number[:38])
                    continue
                if posted.claim_id is None or not posted.posted:
                    continue
                outcomes.append(
                    c.ClaimOutcome(
                        claim_id=posted.claim_id,
                        remittance_key=ref.remittance_key,
                        status=posted.outcome,
                        paid_cents=posted.paid_cents,
                        patient_responsibility_cents=posted.patient_responsibility_cents,
                        adjustment_codes=posted.adjustment_codes,
                        remark_codes=posted.remark_codes,
                        explanation=explain(posted.adjustment_codes, posted.remark_codes)
                        if posted.outcome == "denied"
                        else (),
                    )
                )
        if not (already and remittances) or read_report(self._documents, ref.remittance_key) is None:
            # What this posting did, for `remit post` (a retried attempt that posts nothing keeps the first report).
            write_report(self._documents, ref.remittance_key, reports)
        return c.PostingResult(
            remittance_key=ref.remittance_key,
            already_posted=already and bool(remittances),
            payer_id=payer_id,
            posted_cents=posted_cents,
            claims=tuple(outcomes),
            unmatched=tuple(unmatched),
            guarantors_with_balance=tuple(sorted(guarantors)),
            secondary_claims=tuple(secondaries),
        )

    @activity.defn(name=c.POSTING_CHARGE)
    @domain_errors_are_final
    def charge(self, data: c.PatientCharge) -> c.ChargeResult:
        """The visit's charge on the ledger: to the payer's AR when a claim exists, else to the guarantor's."""
        with self.uow() as uow:
            session = uow.session
            encounter = session.get(m.Encounter, data.encounter_id)
            if encounter is None:
                raise NotFound(f"unknown encounter {data.encounter_id}")
            patient = session.get(m.Patient, encounter.patient_id)
            assert patient is not None
            claim_id = session.execute(
                select(m.Claim.id).where(
                    m.Claim.encounter_id == encounter.id, m.Claim.rank == "primary", m.Claim.status != "void"
                )
            ).scalar()
            if claim_id is not None:
                posting = post_charge(session, claim_id)
                guarantor_id = patient.guarantor_id
            else:
                guarantor_id, posting = post_patient_charge(session, encounter.id, actor=data.actor)
            uow.commit()
            total = sum(line.charge_cents * line.units for line in encounter.service_lines)
            return c.ChargeResult(data.encounter_id, guarantor_id, posting.amount_cents or total)

    @activity.defn(name=c.POSTING_ADJUST)
    @domain_errors_are_final
    def adjust(self, data: c.ClaimAdjustment) -> c.AdjustmentResult:
        """A biller's write-off or rebill of what the payer still owes; the claim closes."""
        with self.uow() as uow:
            session = uow.session
            moved = adjust_claim_balance(
                session,
                data.claim_id,
                data.kind,
                data.reason,
                key=f"{data.claim_id}:{data.kind}",
                actor=data.actor,
            )
            claim = session.get(m.Claim, data.claim_id)
            assert claim is not None
            target = ClaimStatus.WRITTEN_OFF if data.kind == "write_off" else ClaimStatus.CLOSED
            current = ClaimStatus(claim.status)
            if current != target:
                if current in (
                    ClaimStatus.SUBMITTED,
                    ClaimStatus.ACKNOWLEDGED,
                    ClaimStatus.ACCEPTED,
                    ClaimStatus.READY,
                ):
                    # Never adjudicated: the payer's silence counts as a denial for the lifecycle.
                    if current == ClaimStatus.READY:
                        claim.transition(ClaimStatus.VOID)
                        target = ClaimStatus.VOID
                    else:
                        claim.transition(ClaimStatus.DENIED)
                if target == ClaimStatus.CLOSED and ClaimStatus(claim.status) == ClaimStatus.REJECTED:
                    target = ClaimStatus.WRITTEN_OFF
                if ClaimStatus(claim.status) != target:
                    claim.transition(target)
                audit.record(
                    session,
                    actor=data.actor,
                    action="claim.status",
                    entity_type="claim",
                    entity_id=claim.id,
                    details={"from": current.value, "to": target.value, "reason": data.reason},
                )
            uow.commit()
            return c.AdjustmentResult(data.claim_id, moved.amount_cents, moved.guarantor_id)


class CollectionsActivities(StoreActivities):
    def __init__(self, session_factory: object, documents: DocumentStore, client: Client | None = None) -> None:
        super().__init__(session_factory)  # type: ignore[arg-type]
        self._documents = documents
        self._client = client

    @activity.defn(name=c.COLLECTIONS_NOTIFY)
    async def notify_balance(self, data: c.BalanceNotice) -> c.Nothing:
        """Signal-with-start the guarantor's PatientCollections: one workflow per guarantor, woken on change."""
        client = self._client or activity.client()
        await client.start_workflow(
            "PatientCollections",
            c.CollectionsInput(data.guarantor_id, data.policy),
            id=f"collections-{data.guarantor_id}",
            task_queue=activity.info().task_queue,
            start_signal="balance_changed",
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return c.Nothing()

    @activity.defn(name=c.COLLECTIONS_BALANCE)
    @domain_errors_are_final
    def balance(self, ref: c.GuarantorRef) -> c.GuarantorBalance:
        with self.uow() as uow:
            return c.GuarantorBalance(ref.guarantor_id, guarantor_balance(uow.session, ref.guarantor_id))

    @activity.defn(name=c.COLLECTIONS_SEND_STATEMENT)
    @domain_errors_are_final
    def send_statement(self, data: c.StatementRequest) -> c.StatementSent:
        """A statement (once per cycle key): the row, the document in the store, sent through the outbox."""
        with self.uow() as uow:
            session = uow.session
            existing = session.execute(
                select(m.Statement).where(
                    m.Statement.guarantor_id == data.guarantor_id, m.Statement.cycle_key == data.cycle_key[:80]
                )
            ).scalar_one_or_none()
            if existing is not None:
                return c.StatementSent(existing.id, existing.balance_cents, existing.document_key)
            guarantor = session.get(m.Guarantor, data.guarantor_id)
            if guarantor is None:
                raise NotFound(f"unknown guarantor {data.guarantor_id}")
            patient_id = session.execute(
                select(m.Patient.id).where(m.Patient.guarantor_id == guarantor.id).order_by(m.Patient.account_number)
            ).scalar()
            if patient_id is None:
                raise ValidationError(f"guarantor {data.guarantor_id} has no patient")
            balance = guarantor_balance(session, guarantor.id)
            today = datetime.now(UTC).date()
            statement = m.Statement(
                guarantor_id=guarantor.id,
                patient_id=patient_id,
                cycle_key=data.cycle_key[:80],
                kind=data.kind,
                statement_date=today,
                due_date=today + timedelta(days=30),
                balance_cents=balance,
                sent_at=datetime.now(UTC),
            )
            session.add(statement)
            session.flush()
            # The statement itself (it carries the guarantor's name and address: it lives in the store only).
            text = (
                f"STATEMENT {data.kind.upper()} #{data.sequence}\n"
                f"Account {guarantor.account_number}\n"
                f"{guarantor.first_name} {guarantor.last_name}\n{guarantor.address_line}\n"
                f"{guarantor.city}, {guarantor.state} {guarantor.postal_code}\n"
                f"Statement date {today.isoformat()}  Due {statement.due_date.isoformat()}\n"
                f"Balance due: {format_cents(balance)}\n"
            )
            key = f"statements/{guarantor.id}/{statement.id}.txt"
            store_and_record(
                self._documents,
                uow,
                key,
                text.encode("utf-8"),
                "text/plain",
                "statement",
                entity_type="guarantor",
                entity_id=guarantor.id,
            )
            statement.document_key = key
            audit.record(
                session,
                actor="workflow:collections",
                action="statement.sent",
                entity_type="guarantor",
                entity_id=guarantor.id,
                details={"kind": data.kind, "balance_cents": balance, "statement": statement.id},
            )
            uow.commit()
            return c.StatementSent(statement.id, balance, key)

    @activity.defn(name=c.COLLECTIONS_WRITE_OFF)
    @domain_errors_are_final
    def write_off(self, data: c.CollectionsWriteOff) -> c.Nothing:
        with self.uow() as uow:
            write_off_patient_balance(
                uow.session, data.guarantor_id, data.amount_cents, data.reason, key=data.key, actor="workflow"
            )
            uow.commit()
        return c.Nothing()

    @activity.defn(name=c.COLLECTIONS_AGENCY)
    @domain_errors_are_final
    def agency_handoff(self, data: c.AgencyHandoff) -> c.AgencyResult:
        """The agency's placement file for this guarantor (CSV in the document store), once per key."""
        with self.uow() as uow:
            session = uow.session
            guarantor = session.get(m.Guarantor, data.guarantor_id)
            if guarantor is None:
                raise NotFound(f"unknown guarantor {data.guarantor_id}")
            key = f"agency/{guarantor.id}/{data.key.replace('/', '_')[-60:]}.csv"
            if not self._documents.exists(key):
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                writer.writerow(["account", "last_name", "first_name", "address", "city", "state", "zip", "balance"])
                writer.writerow(
                    [
                        guarantor.account_number,
                        guarantor.last_name,
                        guarantor.first_name,
                        guarantor.address_line,
                        guarantor.city,
                        guarantor.state,
                        guarantor.postal_code,
                        format_cents(data.amount_cents),
                    ]
                )
                store_and_record(
                    self._documents,
                    uow,
                    key,
                    buffer.getvalue().encode("utf-8"),
                    "text/csv",
                    "agency_export",
                    entity_type="guarantor",
                    entity_id=guarantor.id,
                )
                audit.record(
                    session,
                    actor="workflow:collections",
                    action="collections.agency",
                    entity_type="guarantor",
                    entity_id=guarantor.id,
                    details={"amount_cents": data.amount_cents},
                )
                uow.commit()
            return c.AgencyResult(data.guarantor_id, key)

    @activity.defn(name=c.COLLECTIONS_CREATE_PLAN)
    @domain_errors_are_final
    def create_payment_plan(self, data: c.PaymentPlanRequest) -> c.PaymentPlanCreated:
        """The guarantor's PaymentPlan over the whole balance, once per key (the row id derives from it)."""
        plan_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"carecycle:payment-plan:{data.key}"))
        policy = CollectionsPolicy(
            min_installment_cents=data.min_installment_cents,
            max_installments=data.max_installments,
            installment_interval_days=data.interval_days,
        )
        today = datetime.now(UTC).date()
        with self.uow() as uow:
            session = uow.session
            plan = session.get(m.PaymentPlan, plan_id)
            if plan is None:
                patient_id = session.execute(
                    select(m.Patient.id)
                    .where(m.Patient.guarantor_id == data.guarantor_id)
                    .order_by(m.Patient.account_number)
                ).scalar()
                if patient_id is None:
                    raise NotFound(f"unknown guarantor {data.guarantor_id} or no patient")
                total = guarantor_balance(session, data.guarantor_id)
                installments = payment_plan(policy, total, data.installments, data.first_due, today)
                first_due = installments[0].due_on
                plan = m.PaymentPlan(
                    id=plan_id,
                    patient_id=patient_id,
                    guarantor_id=data.guarantor_id,
                    total_cents=total,
                    installment_cents=installments[0].amount_cents,
                    interval_days=data.interval_days,
                    start_date=first_due,
                    paid_cents=0,
                    missed_installments=0,
                    status=PaymentPlanStatus.ACTIVE,
                )
                session.add(plan)
                audit.record(
                    session,
                    actor="workflow:collections",
                    action="payment_plan.created",
                    entity_type="guarantor",
                    entity_id=data.guarantor_id,
                    details={"plan": plan_id, "total_cents": total, "installments": data.installments},
                )
                uow.commit()
            else:
                installments = plan_installments(policy, plan.total_cents, data.installments, plan.start_date)
            return c.PaymentPlanCreated(
                plan_id,
                plan.total_cents,
                tuple(i.amount_cents for i in installments),
                max(0, (plan.start_date - today).days),
                plan.interval_days,
            )

    @activity.defn(name=c.COLLECTIONS_CHECK_PLAN)
    @domain_errors_are_final
    def check_payment_plan(self, data: c.PaymentPlanCheck) -> c.PaymentPlanStanding:
        """What the guarantor paid toward the plan: the ledger balance's fall since the plan began."""
        with self.uow() as uow:
            session = uow.session
            plan = session.get(m.PaymentPlan, data.plan_id)
            if plan is None:
                raise NotFound(f"unknown payment plan {data.plan_id}")
            balance = guarantor_balance(session, plan.guarantor_id)
            paid = min(plan.total_cents, max(0, plan.total_cents - balance))
            completed = paid >= plan.total_cents
            if paid != plan.paid_cents or (completed and plan.status != PaymentPlanStatus.COMPLETED):
                plan.paid_cents = paid
                if completed:
                    plan.status = PaymentPlanStatus.COMPLETED
                uow.commit()
            return c.PaymentPlanStanding(plan.id, paid, max(0, data.due_cents - paid), completed)

    @activity.defn(name=c.COLLECTIONS_UPDATE_PLAN)
    @domain_errors_are_final
    def update_payment_plan(self, data: c.PaymentPlanUpdate) -> c.Nothing:
        """Record misses and a broken plan (assignments, so a retried call changes nothing)."""
        status = PaymentPlanStatus(data.status)
        with self.uow() as uow:
            session = uow.session
            plan = session.get(m.PaymentPlan, data.plan_id)
            if plan is None:
                raise NotFound(f"unknown payment plan {data.plan_id}")
            if plan.status != status or plan.missed_installments != data.missed_installments:
                plan.status = status
                plan.missed_installments = data.missed_installments
                audit.record(
                    session,
                    actor="workflow:collections",
                    action=f"payment_plan.{status.value}",
                    entity_type="guarantor",
                    entity_id=plan.guarantor_id,
                    details={"plan": plan.id, "missed": data.missed_installments},
                )
                uow.commit()
        return c.Nothing()
