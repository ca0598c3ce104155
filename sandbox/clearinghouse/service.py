"""The sandbox clearinghouse and its payers as one object: what the HTTP API and the drop folder both call.

Flow of a claim: ``submit_837`` reads the batch (domain.x12), answers a 999 at once (envelope and syntax),
runs each payer's front-end edits and files a 277CA per batch (A2 accepted, A3/A6/A7 rejected), and schedules
the accepted claims for adjudication ``adjudication_days`` sandbox days later. Claims to a payer that answers by
portal (``PORTAL_PAYERS``) are accepted (A2:20 with a payer claim number) but never adjudicated here: that payer
answers through its portal with EOB PDFs, so no 835 ever comes for them. ``release_due`` (run by the
scheduler, and before every mailbox read) adjudicates what is due and files one 835 per payer and payee,
with prompt-pay interest, reversals with corrections, recoupments and forward balances as PLB.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from domain.errors import DomainError, NotFound, ValidationError
from domain.remittance import Adjustment, ClaimPayment, ProviderAdjustment, Remittance
from domain.x12.envelope import X12Error
from sandbox.clearinghouse import wire
from sandbox.clearinghouse.adjudication import (
    FollowUp,
    adjudicate,
    initial_deductible_met,
    prompt_pay_interest,
    reversal_of,
    secondary,
)
from sandbox.clearinghouse.edits import front_end_edits
from sandbox.clearinghouse.model import (
    Member,
    SubmittedClaim,
    payment_from_json,
    payment_to_json,
    submitted_from_json,
    submitted_to_json,
)
from sandbox.clearinghouse.payers import PLANS, PORTAL_PAYERS, PayerPlan, answers_by_portal, plan_for
from sandbox.clearinghouse.state import ClearinghouseState, SandboxClock, StoredDocument

ACK_KINDS = ("999", "277CA")
REMITTANCE_KINDS = ("835",)


@dataclass(frozen=True)
class SubmissionReceipt:
    batch_id: str
    accepted: bool  # the 999 accepted at least one transaction set
    ack_999: str
    claims_accepted: int
    claims_rejected: int
    ack_277ca: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "accepted": self.accepted,
            "claims_accepted": self.claims_accepted,
            "claims_rejected": self.claims_rejected,
            "ack_999": self.ack_999,
            "ack_277ca": self.ack_277ca,
        }


class ClearinghouseService:
    def __init__(self, state_dir: Path, *, seed: int = 0, time_scale: float = 86400.0, random_mix: bool = True) -> None:
        self.state_dir = Path(state_dir)
        self.seed = seed
        # Off: only the documented forced rules decide (no seeded random denials, reversals or recoupments).
        self.random_mix = random_mix
        self.state = ClearinghouseState(self.state_dir / "clearinghouse.sqlite3")
        self.clock = SandboxClock(self.state, time_scale)

    def close(self) -> None:
        self.state.close()

    # --- 837P in: 999 and 277CA out ----------------------------------------------------------------

    def submit_837(self, text: str, *, channel: str = "http") -> SubmissionReceipt:
        """Take an 837P batch. Raises X12Error only when not even an envelope can be read (no 999 possible)."""
        now = self.clock.now()
        batch = wire.read_837_batch(text)
        with self.state.transaction() as db:
            batch_id = f"B{self.state.next_counter(db, 'batch'):08d}"
            ack = wire.write_999(batch, control=self._control(db), when=now)
            if channel == "drop":
                self._remember_drop_submitter(db, batch.sender_id)
            self.state.add_document(
                db, "999", ack, now, batch_id=batch_id, receiver=batch.sender_id, delivered=channel == "http"
            )
            outcomes: list[wire.ClaimAcknowledgment] = []
            for claim in (c for received in batch.sets if received.error is None for c in received.claims):
                outcomes.append(self._receive_claim(db, batch_id, batch.sender_id, claim, now))
            accepted_sets = [s for s in batch.sets if s.error is None]
            ack_277: str | None = None
            if outcomes:
                ack_277 = wire.write_277ca(outcomes, batch=batch, control=self._control(db), when=now)
                self.state.add_document(db, "277CA", ack_277, now, batch_id=batch_id, receiver=batch.sender_id)
            accepted_claims = sum(1 for o in outcomes if o.rejection is None)
            db.execute(
                "INSERT INTO submissions (id, received_at, channel, status, claims, accepted, x12) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    batch_id,
                    now.isoformat(),
                    channel,
                    "accepted" if accepted_sets else "rejected",
                    len(outcomes),
                    accepted_claims,
                    text,
                ),
            )
        return SubmissionReceipt(
            batch_id=batch_id,
            accepted=bool(accepted_sets),
            ack_999=ack,
            claims_accepted=accepted_claims,
            claims_rejected=len(outcomes) - accepted_claims,
            ack_277ca=ack_277,
        )

    def _receive_claim(
        self, db: sqlite3.Connection, batch_id: str, submitter: str, claim: SubmittedClaim, now: datetime
    ) -> wire.ClaimAcknowledgment:
        def known_icn(icn: str) -> bool:
            row = db.execute(
                "SELECT 1 FROM claims WHERE payer_claim_number = ? AND claim_id = ? AND payer_id = ?",
                (icn, claim.claim_id, claim.payer_id.upper()),
            ).fetchone()
            return row is not None

        rejection = front_end_edits(claim, self.state.member, now.date(), known_icn)
        plan = plan_for(claim.payer_id)
        icn: str | None = None
        due: datetime | None = None
        if rejection is None and plan is not None:
            icn = f"{plan.payer_id[3:]}{now:%y%j}{self.state.next_counter(db, f'icn:{plan.payer_id}'):07d}"
            due = self.clock.after_days(now, plan.adjudication_days)
        elif rejection is None and answers_by_portal(claim.payer_id):
            # Forwarded to a payer that answers by portal: accepted, but never due here (no 835 ever comes).
            payer = claim.payer_id.strip().upper()
            icn = f"{payer[3:]}{now:%y%j}{self.state.next_counter(db, f'icn:{payer}'):07d}"
        db.execute(
            "INSERT INTO claims (submission_id, claim_id, payer_id, member_id, frequency, charge_cents, service_date,"
            " status, rejection, payer_claim_number, received_at, due_at, submitted, follow_up)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                batch_id,
                claim.claim_id,
                claim.payer_id.upper(),
                claim.member_id,
                claim.frequency_code,
                claim.charge_cents,
                claim.first_service_date.isoformat() if claim.first_service_date else None,
                "rejected" if rejection else "accepted",
                json.dumps({"edit": rejection.edit, "stc": f"{rejection.category}:{rejection.status}"})
                if rejection
                else None,
                icn,
                now.isoformat(),
                due.isoformat() if due else None,
                json.dumps({**submitted_to_json(claim), "submitter": submitter}),
                None,
            ),
        )
        return wire.ClaimAcknowledgment(
            claim=claim,
            rejection=rejection,
            payer_claim_number=icn,
            received=now.date(),
            clearinghouse_trace=f"{batch_id}-{claim.claim_id}"[:50],
        )

    # --- adjudication and 835 release ----------------------------------------------------------------

    def release_due(self) -> list[str]:
        """Adjudicate every claim whose time has come and file the 835s; returns the new document ids."""
        now = self.clock.now()
        with self.state.transaction() as db:
            due = db.execute(
                "SELECT * FROM claims WHERE status = 'accepted' AND due_at <= ? ORDER BY due_at, id", (now.isoformat(),)
            ).fetchall()
            follow_ups = db.execute(
                "SELECT * FROM claims WHERE status = 'paid' AND follow_up IS NOT NULL AND follow_up_due_at <= ? "
                "ORDER BY follow_up_due_at, id",
                (now.isoformat(),),
            ).fetchall()
            if not due and not follow_ups:
                return []
            # (payer, payee npi, submitter) -> claims and provider adjustments of one 835
            batches: dict[tuple[str, str, str], _RemittanceDraft] = defaultdict(_RemittanceDraft)
            for row in due:
                self._adjudicate_row(db, row, now, batches)
            for row in follow_ups:
                self._follow_up_row(db, row, now, batches)
            return self._file_remittances(db, batches, now)

    def _adjudicate_row(
        self,
        db: sqlite3.Connection,
        row: sqlite3.Row,
        now: datetime,
        batches: dict[tuple[str, str, str], _RemittanceDraft],
    ) -> None:
        stored = json.loads(row["submitted"])
        claim = submitted_from_json(stored)
        plan = PLANS[row["payer_id"]]
        member = self.state.member(claim.payer_id, claim.member_id)
        received = datetime.fromisoformat(row["received_at"]).date()
        key = (plan.payer_id, claim.billing_npi, str(stored.get("submitter", "")))
        draft = batches[key]
        draft.payee_name = claim.billing_name
        if claim.frequency_code in ("7", "8"):
            original = db.execute(
                "SELECT * FROM claims WHERE payer_claim_number = ? AND status = 'paid' ORDER BY id DESC LIMIT 1",
                (claim.original_reference,),
            ).fetchone()
            if original is not None:
                draft.claims.append(reversal_of(payment_from_json(json.loads(original["payment"]))))
                db.execute("UPDATE claims SET status = 'reversed' WHERE id = ?", (original["id"],))
            if claim.frequency_code == "8":
                db.execute(
                    "UPDATE claims SET status = 'voided', released_at = ? WHERE id = ?", (now.isoformat(), row["id"])
                )
                return
        if member is None:
            # Removed from the roster after the 277CA accepted it: the payer denies for eligibility.
            member = Member(claim.payer_id, claim.member_id, birth_date=date.min, effective_from=date.max)
        duplicate = db.execute(
            "SELECT 1 FROM claims WHERE claim_id = ? AND payer_id = ? AND status IN ('accepted', 'paid', 'denied') "
            "AND frequency = '1' AND id < ?",
            (claim.claim_id, plan.payer_id, row["id"]),
        ).fetchone()
        plan_year = (claim.first_service_date or received).year
        deductible = plan.deductible_cents if member.deductible_cents is None else member.deductible_cents
        decision = adjudicate(
            claim,
            member,
            plan,
            seed=self.seed,
            received=received,
            payer_claim_number=row["payer_claim_number"],
            deductible_met_cents=initial_deductible_met(self.seed, member, deductible)
            + self.state.deductible_met(plan.payer_id, claim.member_id, plan_year),
            duplicate=duplicate is not None and claim.frequency_code == "1",
            random_mix=self.random_mix,
        )
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
        draft.claims.append(payment)
        interest = prompt_pay_interest(
            payment.paid_cents, received, received + timedelta(days=plan.adjudication_days), plan
        )
        if interest:
            # Negative: interest increases the payment (PLB amounts reduce it).
            draft.adjustments.append(ProviderAdjustment("L6", row["payer_claim_number"], -interest))
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

    def _follow_up_row(
        self,
        db: sqlite3.Connection,
        row: sqlite3.Row,
        now: datetime,
        batches: dict[tuple[str, str, str], _RemittanceDraft],
    ) -> None:
        follow = json.loads(row["follow_up"])
        stored = json.loads(row["submitted"])
        claim = submitted_from_json(stored)
        plan = PLANS[row["payer_id"]]
        original = payment_from_json(json.loads(row["payment"]))
        draft = batches[(plan.payer_id, claim.billing_npi, str(stored.get("submitter", "")))]
        draft.payee_name = claim.billing_name
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

    def _file_remittances(
        self, db: sqlite3.Connection, batches: dict[tuple[str, str, str], _RemittanceDraft], now: datetime
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
            text = wire.write_835(remittance, receiver_id=submitter, control=self._control(db), when=now)
            document_id = self.state.add_document(db, "835", text, now, payer_id=payer_id, receiver=submitter)
            for claim in draft.claims:
                if claim.status_code != "22":
                    db.execute(
                        "UPDATE claims SET remittance_id = ? WHERE payer_claim_number = ? AND payer_id = ?",
                        (document_id, claim.payer_claim_control_number, payer_id),
                    )
            documents.append(document_id)
        return documents

    def _control(self, db: sqlite3.Connection) -> wire.ControlNumbers:
        number = self.state.next_counter(db, "interchange")
        return wire.ControlNumbers(interchange=number, group=number)

    # --- real-time transactions: 270/271 and 276/277 -------------------------------------------------

    def eligibility(self, text: str) -> str:
        """Answer a 270 with a 271 (active, inactive, co-pay, deductible remaining, AAA errors)."""
        now = self.clock.now()
        inquiries = wire.read_270(text)
        answers: list[wire.EligibilityAnswer] = []
        for inquiry in inquiries:
            answers.append(self._eligibility_answer(inquiry, now.date()))
        with self.state.transaction() as db:
            return wire.write_271(inquiries, answers, control=self._control(db), when=now)

    def _eligibility_answer(self, inquiry: wire.EligibilityInquiry, today: date) -> wire.EligibilityAnswer:
        plan = plan_for(inquiry.payer_id)
        if plan is None:
            return wire.EligibilityAnswer(error="unknown_payer")
        if not inquiry.member_id.strip():
            return wire.EligibilityAnswer(error="missing_member_id")
        if inquiry.birth_date is None:
            return wire.EligibilityAnswer(error="missing_birth_date")
        member = self.state.member(plan.payer_id, inquiry.member_id)
        if member is None:
            return wire.EligibilityAnswer(error="member_not_found")
        if member.birth_date != inquiry.birth_date:
            return wire.EligibilityAnswer(error="birth_date_mismatch")
        day = inquiry.service_date or today
        deductible = plan.deductible_cents if member.deductible_cents is None else member.deductible_cents
        met = initial_deductible_met(self.seed, member, deductible) + self.state.deductible_met(
            plan.payer_id, member.member_id, day.year
        )
        return wire.EligibilityAnswer(
            active=member.covered_on(day),
            plan_name=f"{plan.name} {member.plan}".strip(),
            group_number=member.group_number,
            effective_from=member.effective_from,
            effective_to=member.effective_to,
            copay_cents=plan.copay_cents if member.copay_cents is None else member.copay_cents,
            coinsurance_bp=plan.coinsurance_bp if member.coinsurance_bp is None else member.coinsurance_bp,
            deductible_cents=deductible,
            deductible_remaining_cents=max(0, deductible - met),
            insurance_type=_insurance_type(plan),
        )

    def claim_status(self, text: str) -> str:
        """Answer a 276 with a 277: pending (P1), finalized paid/denied (F1/F2), rejected (A3) or not found."""
        now = self.clock.now()
        inquiries = wire.read_276(text)
        answers = [self._status_answer(inquiry) for inquiry in inquiries]
        with self.state.transaction() as db:
            return wire.write_277(inquiries, answers, control=self._control(db), when=now)

    def _status_answer(self, inquiry: wire.StatusInquiry) -> wire.StatusAnswer:
        rows = self.state.query(
            "SELECT * FROM claims WHERE claim_id = ? AND payer_id = ? ORDER BY id DESC LIMIT 1",
            (inquiry.claim_id, inquiry.payer_id.upper()),
        )
        if not rows and inquiry.payer_claim_number:
            rows = self.state.query(
                "SELECT * FROM claims WHERE payer_claim_number = ? ORDER BY id DESC LIMIT 1",
                (inquiry.payer_claim_number,),
            )
        if not rows:
            return wire.StatusAnswer(category="D0", status="35", entity="")
        row = rows[0]
        status = row["status"]
        payment = payment_from_json(json.loads(row["payment"])) if row["payment"] else None
        released = datetime.fromisoformat(row["released_at"]).date() if row["released_at"] else None
        common: dict[str, Any] = {
            "payer_claim_number": row["payer_claim_number"],
            "charge_cents": int(row["charge_cents"]),
        }
        if status == "rejected":
            stc = json.loads(row["rejection"])["stc"].split(":")
            return wire.StatusAnswer(category="A3", status=stc[1], entity="", **common)
        if status == "accepted":
            return wire.StatusAnswer(category="P1", status="20", entity="PR", **common)
        if status in ("voided", "reversed"):
            # Taken back by a void or replaced by a corrected claim: finalized, adjudication revised.
            return wire.StatusAnswer(category="F3", status="107", entity="PR", status_date=released, **common)
        if payment is None:
            return wire.StatusAnswer(category="P1", status="20", entity="PR", **common)
        remittance = self.state.document(row["remittance_id"]) if row["remittance_id"] else None
        trace, method = _payment_of(remittance)
        return wire.StatusAnswer(
            category="F2" if payment.status_code == "4" else "F1",
            status="107" if payment.status_code == "4" else "65",
            entity="PR",
            status_date=released,
            paid_cents=payment.paid_cents,
            remittance_trace=trace,
            payment_method=method,
            **common,
        )

    # --- mailbox ---------------------------------------------------------------------------------------

    def mailbox(
        self, kinds: tuple[str, ...], *, include_delivered: bool = False, limit: int | None = None
    ) -> list[StoredDocument]:
        """Documents for HTTP clients, oldest first (drop-folder submitters get theirs in the folder instead)."""
        if "835" in kinds:
            self.release_due()
        return self.state.documents(
            kinds, include_delivered=include_delivered, exclude_receivers=self.drop_submitters(), limit=limit
        )

    def drop_submitters(self) -> tuple[str, ...]:
        return tuple(json.loads(self.state.get_meta("drop_submitters", "[]") or "[]"))

    def _remember_drop_submitter(self, db: sqlite3.Connection, submitter: str) -> None:
        known = set(self.drop_submitters())
        if submitter not in known:
            self.state.set_meta(db, "drop_submitters", json.dumps(sorted(known | {submitter})))

    def confirm(self, document_ids: list[str]) -> int:
        return self.state.mark_delivered(document_ids, self.clock.now())

    def document(self, document_id: str) -> StoredDocument:
        found = self.state.document(document_id)
        if found is None:
            raise NotFound(f"no document {document_id}")
        return found

    # --- administration (the demo and the tests) --------------------------------------------------------

    def load_roster(self, entries: list[dict[str, Any]], *, replace_payers: bool = False) -> int:
        members = [Member.from_json(entry) for entry in entries]
        unknown = sorted({m.payer_id for m in members} - set(PLANS) - set(PORTAL_PAYERS))
        if unknown:
            raise ValidationError(f"roster names payers the sandbox does not run: {', '.join(unknown)}")
        return self.state.upsert_members(
            members, replace_payers={m.payer_id for m in members} if replace_payers else None
        )

    def advance(self, days: float) -> datetime:
        """Move sandbox time forward (never back) and release what became due."""
        if days < 0:
            raise ValidationError("sandbox time only moves forward")
        self.state.advance_clock(timedelta(days=days))
        self.release_due()
        return self.clock.now()

    def schedule_follow_up(self, claim_id: str, kind: str, share_bp: int | None = None) -> None:
        """Force a reversal-and-correction or a recoupment of a paid claim on the payer's next 835."""
        if kind not in ("reversal", "recoupment"):
            raise ValidationError("follow-up kind must be 'reversal' or 'recoupment'")
        rows = self.state.query(
            "SELECT id FROM claims WHERE claim_id = ? AND status = 'paid' ORDER BY id DESC LIMIT 1", (claim_id,)
        )
        if not rows:
            raise NotFound(f"no paid claim {claim_id} to follow up")
        follow = FollowUp(kind, share_bp if share_bp is not None else (10500 if kind == "reversal" else 1000))
        with self.state.transaction() as db:
            db.execute(
                "UPDATE claims SET follow_up = ?, follow_up_due_at = ? WHERE id = ?",
                (
                    json.dumps({"kind": follow.kind, "share_bp": follow.share_bp}),
                    self.clock.now().isoformat(),
                    rows[0]["id"],
                ),
            )

    def claims_overview(self) -> list[dict[str, Any]]:
        """Every claim the clearinghouse has seen, without PHI (for the admin page and tests)."""
        rows = self.state.query(
            "SELECT claim_id, payer_id, frequency, status, rejection, payer_claim_number, charge_cents, received_at,"
            " due_at, released_at, remittance_id, follow_up FROM claims ORDER BY id"
        )
        return [dict(row) for row in rows]

    def status(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "time_scale": self.clock.time_scale,
            "random_mix": self.random_mix,
            "now": self.clock.now().isoformat(),
            "members": self.state.member_count(),
            "payers": sorted(PLANS),
        }


@dataclass
class _RemittanceDraft:
    payee_name: str = ""

    def __post_init__(self) -> None:
        self.claims: list[ClaimPayment] = []
        self.adjustments: list[ProviderAdjustment] = []


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


def _insurance_type(plan: PayerPlan) -> str:
    return {"medicare": "MB", "medicaid": "MC"}.get(plan.kind, "PR")


def _payment_of(document: StoredDocument | None) -> tuple[str | None, str]:
    if document is None:
        return None, ""
    try:
        return wire.payments(document.x12)[0]
    except (X12Error, IndexError):
        return None, ""


__all__ = ["ACK_KINDS", "REMITTANCE_KINDS", "ClearinghouseService", "DomainError", "SubmissionReceipt"]
