"""The ledger side of a visit and a claim: the visit's charge, and a biller's write-off or rebill of what the payer
still owes (the claim closes)."""

from __future__ import annotations

from sqlalchemy import select
from temporalio import activity

from activities.contracts import revenue as c
from activities.revenue.base import StoreActivities, domain_errors_are_final
from domain import audit
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.errors import NotFound
from domain.ledger.adjustments import adjust_claim_balance
from domain.ledger.service import post_charge, post_patient_charge


class LedgerActivities(StoreActivities):
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
            if current == ClaimStatus.VOID and target == ClaimStatus.WRITTEN_OFF:
                target = ClaimStatus.VOID  # a claim never sent, voided by this write-off already: a retry is done
            if current != target:
                if current in (
                    ClaimStatus.SUBMITTED,
                    ClaimStatus.ACKNOWLEDGED,
                    ClaimStatus.ACCEPTED,
                    ClaimStatus.READY,
                    ClaimStatus.DRAFT,
                ):
                    # Never adjudicated: the payer's silence counts as a denial for the lifecycle; a claim never
                    # sent (draft: its edits failed; ready) is voided (draft -> written_off is no transition, and
                    # refusing it here looped: the Claim workflow asked again and the same write-off came back).
                    if current in (ClaimStatus.READY, ClaimStatus.DRAFT):
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
            return c.AdjustmentResult(data.claim_id, moved.amount_cents, moved.guarantor_id, str(claim.status))
