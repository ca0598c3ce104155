"""The sandbox clearinghouse and its payers as one object: what the HTTP API and the drop folder both call.

Flow of a claim: ``submit_837`` reads the batch (domain.x12), answers a 999 at once (envelope and syntax),
runs each payer's front-end edits and files a 277CA per batch (A2 accepted, A3/A6/A7 rejected), and schedules
the accepted claims for adjudication ``adjudication_days`` sandbox days later. Claims to a payer that answers by
portal (``PORTAL_PAYERS``) are accepted (A2:20 with a payer claim number) but never adjudicated here: that payer
answers through its portal with EOB PDFs, so no 835 ever comes for them. ``release_due`` (run by the
scheduler, and before every mailbox read) adjudicates what is due and files one 835 per payer and payee,
with prompt-pay interest, reversals with corrections, recoupments and forward balances as PLB
(:mod:`sandbox.clearinghouse.release`); the 271 and 277 answers are :mod:`sandbox.clearinghouse.realtime`'s.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from domain.errors import DomainError, NotFound, ValidationError
from sandbox.clearinghouse import wire
from sandbox.clearinghouse.adjudication import FollowUp
from sandbox.clearinghouse.edits import front_end_edits
from sandbox.clearinghouse.model import Member, SubmittedClaim, submitted_to_json
from sandbox.clearinghouse.payers import PLANS, PORTAL_PAYERS, answers_by_portal, plan_for
from sandbox.clearinghouse.realtime import eligibility_answer, status_answer
from sandbox.clearinghouse.release import Release, control_numbers
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
            again = self._same_interchange(db, text)
            if again is not None:
                return again
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

    def _same_interchange(self, db: sqlite3.Connection, text: str) -> SubmissionReceipt | None:
        """A submitter that sends an interchange again (its answer was lost; it cannot tell whether the file
        arrived) gets the first receipt back, as clearinghouses answer a duplicate interchange control number:
        the claims in it are not received a second time (a payer would deny the copies as duplicates)."""
        row = db.execute(
            "SELECT id, status, claims, accepted FROM submissions WHERE x12 = ? ORDER BY id LIMIT 1", (text,)
        ).fetchone()
        if row is None:
            return None
        batch_id, status, claims, accepted = row
        answers = dict(
            db.execute("SELECT kind, x12 FROM documents WHERE batch_id = ? AND kind IN ('999', '277CA')", (batch_id,))
        )
        return SubmissionReceipt(
            batch_id=batch_id,
            accepted=status == "accepted",
            ack_999=answers["999"],
            claims_accepted=accepted,
            claims_rejected=claims - accepted,
            ack_277ca=answers.get("277CA"),
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
        return Release(self.state, self.clock, self.seed, self.random_mix).run()

    def _control(self, db: sqlite3.Connection) -> wire.ControlNumbers:
        return control_numbers(self.state, db)

    # --- real-time transactions: 270/271 and 276/277 -------------------------------------------------

    def eligibility(self, text: str) -> str:
        """Answer a 270 with a 271 (active, inactive, co-pay, deductible remaining, AAA errors)."""
        now = self.clock.now()
        inquiries = wire.read_270(text)
        answers: list[wire.EligibilityAnswer] = []
        for inquiry in inquiries:
            answers.append(eligibility_answer(self.state, self.seed, inquiry, now.date()))
        with self.state.transaction() as db:
            return wire.write_271(inquiries, answers, control=self._control(db), when=now)

    def claim_status(self, text: str) -> str:
        """Answer a 276 with a 277: pending (P1), finalized paid/denied (F1/F2), rejected (A3) or not found."""
        now = self.clock.now()
        inquiries = wire.read_276(text)
        answers = [status_answer(self.state, inquiry) for inquiry in inquiries]
        with self.state.transaction() as db:
            return wire.write_277(inquiries, answers, control=self._control(db), when=now)

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
        """Force a reversal-and-correction or a recoupment of a paid claim on the payer's next 835; or a reversal of a
        denied claim: the payer reprocesses it (the $0 denial reversed, then the claim adjudicated again under the
        roster and rules as they are then; ``share_bp`` reprices only a paid claim's correction)."""
        if kind not in ("reversal", "recoupment"):
            raise ValidationError("follow-up kind must be 'reversal' or 'recoupment'")
        statuses = ("paid", "denied") if kind == "reversal" else ("paid",)
        rows = self.state.query(
            f"SELECT id, status FROM claims WHERE claim_id = ? AND status IN ({', '.join('?' for _ in statuses)}) "
            "ORDER BY id DESC LIMIT 1",
            (claim_id, *statuses),
        )
        if not rows:
            raise NotFound(f"no {' or '.join(statuses)} claim {claim_id} to follow up")
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


__all__ = ["ACK_KINDS", "REMITTANCE_KINDS", "ClearinghouseService", "DomainError", "SubmissionReceipt"]
