"""The payers' side of the sandbox clearinghouse: adjudicate the claims that are due, follow up paid ones
(reversal and correction, recoupment) and file one 835 per payer, payee and submitter.

``ClearinghouseService.release_due`` runs a :class:`Release` in one state transaction; the seeded draws happen
in the order of the rows (due claims by due time, then follow-ups), so a seed gives the same 835s.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from domain.remittance import Adjustment, ClaimPayment, ProviderAdjustment, Remittance
from sandbox.clearinghouse import wire
from sandbox.clearinghouse.adjudication import (
    Decision,
    adjudicate,
    initial_deductible_met,
    prompt_pay_interest,
    reversal_of,
    secondary,
)
from sandbox.clearinghouse.model import (
    Member,
    SubmittedClaim,
    payment_from_json,
    payment_to_json,
    submitted_from_json,
)
from sandbox.clearinghouse.payers import PLANS, PayerPlan
from sandbox.clearinghouse.state import ClearinghouseState, SandboxClock

# (payer, payee npi, submitter): the claims and provider adjustments of one 835
_DraftKey = tuple[str, str, str]


def control_numbers(state: ClearinghouseState, db: sqlite3.Connection) -> wire.ControlNumbers:
    """The next interchange (and group) control number of everything the clearinghouse writes."""
    number = state.next_counter(db, "interchange")
    return wire.ControlNumbers(interchange=number, group=number)


@dataclass
class _RemittanceDraft:
    payee_name: str = ""

    def __post_init__(self) -> None:
        self.claims: list[ClaimPayment] = []
        self.adjustments: list[ProviderAdjustment] = []


@dataclass(frozen=True)
class Release:
    state: ClearinghouseState
    clock: SandboxClock
    seed: int
    random_mix: bool

    def run(self) -> list[str]:
        """Adjudicate every claim whose time has come and file the 835s; returns the new document ids."""
        now = self.clock.now()
        with self.state.transaction() as db:
            due = db.execute(
                "SELECT * FROM claims WHERE status = 'accepted' AND due_at <= ? ORDER BY due_at, id", (now.isoformat(),)
            ).fetchall()
            follow_ups = db.execute(
                "SELECT * FROM claims WHERE status IN ('paid', 'denied') AND follow_up IS NOT NULL "
                "AND follow_up_due_at <= ? "
                "ORDER BY follow_up_due_at, id",
                (now.isoformat(),),
            ).fetchall()
            if not due and not follow_ups:
                return []
            batches: dict[_DraftKey, _RemittanceDraft] = defaultdict(_RemittanceDraft)
            for row in due:
                self._adjudicate_row(db, row, now, batches)
            for row in follow_ups:
                self._follow_up_row(db, row, now, batches)
            return self._file_remittances(db, batches, now)

    # --- a claim that is due -------------------------------------------------------------------------------

    def _adjudicate_row(
        self,
        db: sqlite3.Connection,
        row: sqlite3.Row,
        now: datetime,
        batches: dict[_DraftKey, _RemittanceDraft],
    ) -> None:
        stored = json.loads(row["submitted"])
        claim = submitted_from_json(stored)
        plan = PLANS[row["payer_id"]]
        received = datetime.fromisoformat(row["received_at"]).date()
        draft = batches[(plan.payer_id, claim.billing_npi, str(stored.get("submitter", "")))]
        draft.payee_name = claim.billing_name
        if claim.frequency_code in ("7", "8"):
            _reverse_original(db, claim, draft)
            if claim.frequency_code == "8":
                db.execute(
                    "UPDATE claims SET status = 'voided', released_at = ? WHERE id = ?", (now.isoformat(), row["id"])
                )
                return
        payment, decision = self._adjudicated(db, row, claim, plan)
        draft.claims.append(payment)
        interest = prompt_pay_interest(
            payment.paid_cents, received, received + timedelta(days=plan.adjudication_days), plan
        )
        if interest:
            # Negative: interest increases the payment (PLB amounts reduce it).
            draft.adjustments.append(ProviderAdjustment("L6", row["payer_claim_number"], -interest))
        self._record_decision(db, row, now, plan, payment, decision)

    def _adjudicated(
        self,
        db: sqlite3.Connection,
        row: sqlite3.Row,
        claim: SubmittedClaim,
        plan: PayerPlan,
        random_mix: bool | None = None,
    ) -> tuple[ClaimPayment, Decision]:
        """The payer's decision on a claim as things stand now, as its 835 carries it; the deductible it applied is
        recorded."""
        member = self.state.member(claim.payer_id, claim.member_id)
        if member is None:
            # Removed from the roster after the 277CA accepted it: the payer denies for eligibility.
            member = Member(claim.payer_id, claim.member_id, birth_date=date.min, effective_from=date.max)
        received = datetime.fromisoformat(row["received_at"]).date()
        plan_year = (claim.first_service_date or received).year
        decision = self._decide(db, row, claim, member, plan, received, plan_year, random_mix)
        payment = replace(
            decision.payment,
            received_date=received,
            rendering_provider_npi=claim.rendering_npi,
            facility_code=claim.place_of_service,
            frequency_code=claim.frequency_code,
        )
        if claim.payer_responsibility != "P":
            payment = secondary(payment)
        if decision.deductible_applied_cents:
            self.state.add_deductible(db, plan.payer_id, claim.member_id, plan_year, decision.deductible_applied_cents)
        return payment, decision

    def _decide(
        self,
        db: sqlite3.Connection,
        row: sqlite3.Row,
        claim: SubmittedClaim,
        member: Member,
        plan: PayerPlan,
        received: date,
        plan_year: int,
        random_mix: bool | None = None,
    ) -> Decision:
        duplicate = db.execute(
            "SELECT 1 FROM claims WHERE claim_id = ? AND payer_id = ? AND status IN ('accepted', 'paid', 'denied') "
            "AND frequency = '1' AND id < ?",
            (claim.claim_id, plan.payer_id, row["id"]),
        ).fetchone()
        deductible = plan.deductible_cents if member.deductible_cents is None else member.deductible_cents
        return adjudicate(
            claim,
            member,
            plan,
            seed=self.seed,
            received=received,
            payer_claim_number=row["payer_claim_number"],
            deductible_met_cents=initial_deductible_met(self.seed, member, deductible)
            + self.state.deductible_met(plan.payer_id, claim.member_id, plan_year),
            duplicate=duplicate is not None and claim.frequency_code == "1",
            random_mix=self.random_mix if random_mix is None else random_mix,
        )

    def _record_decision(
        self,
        db: sqlite3.Connection,
        row: sqlite3.Row,
        now: datetime,
        plan: PayerPlan,
        payment: ClaimPayment,
        decision: Decision,
    ) -> None:
        status = "denied" if payment.status_code == "4" else "paid"
        follow_up = decision.follow_up if status == "paid" else None
        db.execute(
            "UPDATE claims SET status = ?, released_at = ?, payment = ?, follow_up = ?, follow_up_due_at = ? "
            "WHERE id = ?",
            (
                status,
                now.isoformat(),
                json.dumps(payment_to_json(payment)),
                json.dumps({"kind": follow_up.kind, "share_bp": follow_up.share_bp}) if follow_up else None,
                self.clock.after_days(now, plan.adjudication_days).isoformat() if follow_up else None,
                row["id"],
            ),
        )

    # --- a paid claim's follow-up ------------------------------------------------------------------------

    def _follow_up_row(
        self,
        db: sqlite3.Connection,
        row: sqlite3.Row,
        now: datetime,
        batches: dict[_DraftKey, _RemittanceDraft],
    ) -> None:
        follow = json.loads(row["follow_up"])
        stored = json.loads(row["submitted"])
        claim = submitted_from_json(stored)
        plan = PLANS[row["payer_id"]]
        original = payment_from_json(json.loads(row["payment"]))
        draft = batches[(plan.payer_id, claim.billing_npi, str(stored.get("submitter", "")))]
        draft.payee_name = claim.billing_name
        if original.status_code == "4":
            self._reprocess_denial(db, row, claim, plan, original, draft)
            return
        if follow["kind"] == "recoupment":
            amount = max(100, original.paid_cents * int(follow["share_bp"]) // 10000)
            draft.adjustments.append(ProviderAdjustment("WO", original.payer_claim_control_number or "", amount))
            db.execute("UPDATE claims SET follow_up = NULL, follow_up_due_at = NULL WHERE id = ?", (row["id"],))
            return
        # Reversal and correction: take the whole payment back, then pay the repriced claim anew.
        member = self.state.member(claim.payer_id, claim.member_id) or Member(
            claim.payer_id, claim.member_id, date.min, date.min
        )
        corrected = adjudicate(
            claim,
            member,
            plan,
            seed=self.seed,
            received=datetime.fromisoformat(row["received_at"]).date(),
            payer_claim_number=original.payer_claim_control_number or "",
            deductible_met_cents=0,
            allowed_share_bp=int(follow["share_bp"]),
            random_mix=False,
        ).payment
        # The correction keeps the original cost sharing: only the payer's side is repriced.
        corrected = _keep_patient_share(original, corrected)
        corrected = replace(
            corrected,
            received_date=original.received_date,
            rendering_provider_npi=original.rendering_provider_npi,
            facility_code=original.facility_code,
            frequency_code=original.frequency_code,
        )
        draft.claims.append(reversal_of(original))
        draft.claims.append(corrected)
        db.execute(
            "UPDATE claims SET payment = ?, follow_up = NULL, follow_up_due_at = NULL WHERE id = ?",
            (json.dumps(payment_to_json(corrected)), row["id"]),
        )

    def _reprocess_denial(
        self,
        db: sqlite3.Connection,
        row: sqlite3.Row,
        claim: SubmittedClaim,
        plan: PayerPlan,
        original: ClaimPayment,
        draft: _RemittanceDraft,
    ) -> None:
        """The payer reprocesses a denied claim (its roster or its decision corrected): the $0 denial reversed, then
        the claim adjudicated anew as it would be now (the member's deductible so far; no random outcome)."""
        corrected, _ = self._adjudicated(db, row, claim, plan, random_mix=False)
        draft.claims.append(reversal_of(original))
        draft.claims.append(corrected)
        db.execute(
            "UPDATE claims SET status = ?, payment = ?, follow_up = NULL, follow_up_due_at = NULL WHERE id = ?",
            ("denied" if corrected.status_code == "4" else "paid", json.dumps(payment_to_json(corrected)), row["id"]),
        )

    # --- the 835s ----------------------------------------------------------------------------------------

    def _file_remittances(
        self, db: sqlite3.Connection, batches: dict[_DraftKey, _RemittanceDraft], now: datetime
    ) -> list[str]:
        documents: list[str] = []
        for (payer_id, payee_npi, submitter), draft in sorted(batches.items()):
            plan = PLANS[payer_id]
            if not draft.claims and not draft.adjustments:
                continue
            carry_key = f"forward_balance:{payer_id}:{payee_npi}"
            carried = int(self.state.get_meta(carry_key, "0") or 0)
            adjustments = list(draft.adjustments)
            if carried:
                adjustments.append(ProviderAdjustment("FB", "CARRIED", carried))
            total = sum(c.paid_cents for c in draft.claims) - sum(a.amount_cents for a in adjustments)
            new_carry = 0
            if total < 0:
                # A payer never sends a negative payment: it zeroes this one and carries the rest forward.
                adjustments.append(ProviderAdjustment("FB", "FORWARD", total))
                new_carry = -total
                total = 0
            self.state.set_meta(db, carry_key, str(new_carry))
            sequence = self.state.next_counter(db, f"trace:{payer_id}")
            method = "NON" if total == 0 else ("CHK" if plan.kind == "medicaid" else "ACH")
            remittance = Remittance(
                payer_id=payer_id,
                payer_name=plan.name,
                payee_name=draft.payee_name,
                payee_id=payee_npi,
                payment_method=method,
                payment_amount_cents=total,
                trace_number=f"{plan.tax_id[-4:]}{now:%y%m%d}{sequence:06d}",
                payment_date=now.date(),
                claims=tuple(draft.claims),
                provider_adjustments=tuple(adjustments),
                production_date=now.date(),
            )
            text = wire.write_835(remittance, receiver_id=submitter, control=control_numbers(self.state, db), when=now)
            document_id = self.state.add_document(db, "835", text, now, payer_id=payer_id, receiver=submitter)
            for claim in draft.claims:
                if claim.status_code != "22":
                    db.execute(
                        "UPDATE claims SET remittance_id = ? WHERE payer_claim_number = ? AND payer_id = ?",
                        (document_id, claim.payer_claim_control_number, payer_id),
                    )
            documents.append(document_id)
        return documents


def _reverse_original(db: sqlite3.Connection, claim: SubmittedClaim, draft: _RemittanceDraft) -> None:
    """A replacement (7) or void (8) takes back the paid claim it names, if the payer paid one."""
    original = db.execute(
        "SELECT * FROM claims WHERE payer_claim_number = ? AND status = 'paid' ORDER BY id DESC LIMIT 1",
        (claim.original_reference,),
    ).fetchone()
    if original is not None:
        draft.claims.append(reversal_of(payment_from_json(json.loads(original["payment"]))))
        db.execute("UPDATE claims SET status = 'reversed' WHERE id = ?", (original["id"],))


def _keep_patient_share(original: ClaimPayment, corrected: ClaimPayment) -> ClaimPayment:
    """Reprice only the payer's part: the corrected line pays its allowed amount minus the original PR."""
    lines = []
    for before, after in zip(original.service_lines, corrected.service_lines, strict=True):
        if after.allowed_cents is None or before.allowed_cents is None:
            lines.append(after)
            continue
        patient = [a for a in before.adjustments if a.group == "PR"]
        share = sum(a.amount_cents for a in patient)
        paid = max(0, after.allowed_cents - share)
        contractual = after.charge_cents - after.allowed_cents
        if share > after.allowed_cents:
            # The repriced allowed amount no longer covers the patient's share: shrink it from the last.
            excess = share - after.allowed_cents
            trimmed: list[Adjustment] = []
            for item in reversed(patient):
                cut = min(excess, item.amount_cents)
                excess -= cut
                if item.amount_cents - cut:
                    trimmed.append(replace(item, amount_cents=item.amount_cents - cut))
            patient = list(reversed(trimmed))
        adjustments = ((Adjustment("CO", "45", contractual),) if contractual else ()) + tuple(patient)
        lines.append(replace(after, paid_cents=paid, adjustments=adjustments))
    return replace(
        corrected,
        status_code=original.status_code,
        service_lines=tuple(lines),
        paid_cents=sum(line.paid_cents for line in lines),
        patient_responsibility_cents=sum(a.amount_cents for line in lines for a in line.adjustments if a.group == "PR"),
    )
