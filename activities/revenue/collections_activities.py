"""Collections activities: a guarantor's balance, the practice's collections policy in force, statements (PDF
through the messaging outbox), write-offs, the agency hand-off (with the bad-debt write-off) and payment plans.

Statements and the agency placement are the adapters of ``activities.patient_collections`` (the PDF renderer, the outbox
messenger, the agency file): this is their running path. Due dates come from the collections policy.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from activities.contracts import revenue as c
from activities.documents.store import DocumentStore
from activities.patient_collections.agency import AgencyHandoff
from activities.patient_collections.messaging import OutboxMessenger
from activities.patient_collections.statements import StatementSender
from activities.revenue.base import StoreActivities, domain_errors_are_final
from domain import audit
from domain import models as m
from domain.actors import acting_as
from domain.collections_policy import CollectionsPolicy, payment_plan, plan_installments, policy_settings
from domain.collections_policy_store import current_policy
from domain.enums import PaymentPlanStatus
from domain.errors import NotFound, ValidationError
from domain.ledger.adjustments import write_off_patient_balance
from domain.ledger.store import guarantor_balance


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"statement: {name} must be a date (YYYY-MM-DD), not {text[:12]!r}") from None


async def notify_collections(client: Client, task_queue: str, data: c.BalanceNotice) -> None:
    """Signal-with-start the guarantor's PatientCollections (one workflow per guarantor, woken on change)."""
    await client.start_workflow(
        "PatientCollections",
        c.CollectionsInput(data.guarantor_id, data.policy),
        id=f"collections-{data.guarantor_id}",
        task_queue=task_queue,
        start_signal="balance_changed",
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


class CollectionsActivities(StoreActivities):
    def __init__(
        self,
        session_factory: object,
        documents: DocumentStore,
        client: Client | None = None,
        messenger: OutboxMessenger | None = None,
    ) -> None:
        super().__init__(session_factory)  # type: ignore[arg-type]
        self._documents = documents
        self._client = client
        self._messenger = messenger

    @activity.defn(name=c.COLLECTIONS_NOTIFY)
    async def notify_balance(self, data: c.BalanceNotice) -> c.Nothing:
        """Signal-with-start the guarantor's PatientCollections: one workflow per guarantor, woken on change."""
        client = self._client or activity.client()
        with acting_as("system", f"activity:{c.COLLECTIONS_NOTIFY}"):  # the start carries who: the system
            await notify_collections(client, activity.info().task_queue, data)
        return c.Nothing()

    @activity.defn(name=c.COLLECTIONS_BALANCE)
    @domain_errors_are_final
    def balance(self, ref: c.GuarantorRef) -> c.GuarantorBalance:
        with self.uow() as uow:
            return c.GuarantorBalance(ref.guarantor_id, guarantor_balance(uow.session, ref.guarantor_id))

    @activity.defn(name=c.COLLECTIONS_POLICY)
    @domain_errors_are_final
    def policy(self, _: c.Nothing) -> c.CollectionsPolicyInForce:
        """The practice's collections policy in force (the newest stored version, or the defaults)."""
        with self.uow() as uow:
            stored = current_policy(uow.session)
        return c.CollectionsPolicyInForce(stored.version, policy_settings(stored.policy))

    @activity.defn(name=c.COLLECTIONS_SEND_STATEMENT)
    @domain_errors_are_final
    def send_statement(self, data: c.StatementRequest) -> c.StatementSent:
        """A statement once per cycle key: the PDF in the document store, the letter through the outbox, the
        ``statements`` row, due on the date the collections policy gives."""
        statement_on = _day(data.statement_on, "statement_on") or datetime.now(UTC).date()
        due_on = _day(data.due_on, "due_on")
        if due_on is None:
            with self.uow() as uow:
                rules = current_policy(uow.session).policy
            days = rules.installment_grace_days if data.kind == "plan_reminder" else rules.statement_interval_days
            due_on = statement_on + timedelta(days=days)
        sender = StatementSender(self._session_factory, self._documents, self._messenger_or_default())
        sent = sender.send(data.guarantor_id, data.kind, data.cycle_key, due_date=due_on, statement_date=statement_on)
        return c.StatementSent(sent.statement_id, sent.balance_cents, sent.document_key)

    def _messenger_or_default(self) -> OutboxMessenger:
        if self._messenger is None:
            raise ValidationError("statements need a messaging outbox: the composition root passes one")
        return self._messenger

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
        """The agency's placement file for this guarantor, once per key, and the placed balance written off as bad
        debt on the ledger (balanced; a recovery posts later as a payment)."""
        placed = AgencyHandoff(self._session_factory, self._documents).hand_off(
            data.guarantor_id, data.key, actor="workflow:collections"
        )
        return c.AgencyResult(data.guarantor_id, placed.document_key)

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
