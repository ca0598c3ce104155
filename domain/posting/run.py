"""One posting's working state, the rows it stores for the remittance, and its bulk write-out.

A posting decides everything in memory first (entries, remittance rows, work items, claim changes), then writes
it all with one bulk insert per table and one bulk update of the changed claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain import models as m
from domain.ledger import accounts as acc
from domain.ledger.accounts import AccountRef
from domain.ledger.entries import EntryDraft, EntryKind, build_entry
from domain.ledger.store import IdPool, WriteResult, write_entries
from domain.posting import rules
from domain.posting.claims import ClaimState, save_claims
from domain.posting.matching import ClaimMatch
from domain.posting.results import ClaimPosted
from domain.posting.work import WorkItemDraft
from domain.remittance import Adjustment, ClaimPayment, Remittance, trace_key
from domain.store.bulk import bulk_insert


@dataclass
class PostingRun:
    """Everything one posting accumulates before the bulk writes."""

    remittance: Remittance
    remittance_id: str
    now: datetime
    drafts: list[EntryDraft] = field(default_factory=list)
    work: list[tuple[int, WorkItemDraft]] = field(default_factory=list)  # (claim sequence or -1, draft)
    outcomes: list[ClaimPosted] = field(default_factory=list)
    claim_rows: list[dict[str, Any]] = field(default_factory=list)
    line_rows: list[dict[str, Any]] = field(default_factory=list)
    adjustment_rows: list[dict[str, Any]] = field(default_factory=list)
    new_claims: list[dict[str, Any]] = field(default_factory=list)
    new_claim_lines: list[dict[str, Any]] = field(default_factory=list)
    guarantors: set[str] = field(default_factory=set)
    new_id: IdPool = field(default_factory=IdPool)
    touched: dict[str, ClaimState] = field(default_factory=dict)  # the claims whose row changed
    claim_balances: dict[str, int] = field(default_factory=dict)  # claim id -> insurance AR, kept current
    # Where a payment's money comes from: the bank, or unapplied cash when a person applies a parked payment.
    source_account: AccountRef = acc.CASH
    # The remittance row was inserted by this posting: no entry key of it can be in the store yet.
    new_remittance: bool = True
    entries_written: int = 0
    work_items_opened: list[str] = field(default_factory=list)
    # A reversal followed in this remittance by the payer's correction of the same claim: claim id -> the
    # correction (``corrections``, known before posting); once a crossed-over primary's reversal posted, the
    # share that stays with the secondary claim (``kept_crossovers``), for the correction to move again.
    corrections: dict[str, ClaimPayment] = field(default_factory=dict)
    kept_crossovers: dict[str, int] = field(default_factory=dict)

    @property
    def key_prefix(self) -> str:
        """Every entry key of this remittance starts so (its row is unique by payer and trace number)."""
        return f"era:{self.remittance.payer_id}:{self.remittance.trace_number}:"

    def base_key(self, claim_id: str, sequence: int) -> str:
        return f"{self.key_prefix}{claim_id}:{sequence}"

    def dedupe(self, sequence: int, problem: str) -> str:
        return f"posting:{self.remittance.payer_id}:{self.remittance.trace_number}:{sequence}:{problem}"

    def apply(self, payment: ClaimPayment, match: ClaimMatch, claim: ClaimState, pr_delta: int) -> None:
        """The payment's amounts on the claim and its matched lines (written back by :meth:`write`)."""
        self.touched[claim.id] = claim
        claim.paid_cents += payment.paid_cents
        claim.patient_responsibility_cents += pr_delta
        if payment.payer_claim_control_number and not claim.payer_claim_control_number:
            claim.payer_claim_control_number = payment.payer_claim_control_number[:50]
        claim.adjudicated_at = self.now
        lines = {line.id: line for line in claim.lines}
        for remitted, line_id in zip(payment.service_lines, match.line_ids, strict=False):
            if line_id is not None and line_id in lines:
                lines[line_id].paid_cents += remitted.paid_cents

    def write(self, session: Session, drafts: list[EntryDraft]) -> WriteResult:
        """Secondary claims, entries and the remittance's rows, one bulk insert per table; then the claims."""
        if self.new_claims:
            bulk_insert(session, m.Claim, self.new_claims)
            bulk_insert(session, m.ClaimLine, self.new_claim_lines)
        # Entry keys of a new remittance cannot be in the store yet: only the others (charges) are looked up.
        new_prefix = self.key_prefix if self.new_remittance else None
        written = write_entries(session, drafts, now=self.now, new_prefix=new_prefix)
        bulk_insert(session, m.RemittanceClaim, self.claim_rows)
        bulk_insert(session, m.RemittanceServiceLine, self.line_rows)
        bulk_insert(session, m.RemittanceAdjustment, self.adjustment_rows)
        save_claims(session, list(self.touched.values()))
        return written


def remittance_row(
    remittance: Remittance, payer_row_id: str, row_id: str, document_key: str | None, at: datetime
) -> dict[str, Any]:
    return {
        "id": row_id,
        "payer_id": payer_row_id,
        "trace_number": remittance.trace_number,
        "trace_key": trace_key(remittance.trace_number),
        "payment_method": remittance.payment_method[:3],
        "payment_amount_cents": remittance.payment_amount_cents,
        "payment_date": remittance.payment_date,
        "source": remittance.source[:10],
        "document_key": document_key,
        "received_at": at,
        "deposit_line_id": None,
    }


def provider_adjustment_rows(remittance: Remittance, remittance_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": m.new_id(),
            "remittance_id": remittance_id,
            "reason_code": p.reason[:5],
            "reference": p.reference[:50],
            "amount_cents": p.amount_cents,
        }
        for p in remittance.provider_adjustments
    ]


def store_remittance_claim(run: PostingRun, payment: ClaimPayment, match: ClaimMatch, claim_id: str | None) -> str:
    """The claim payment as the payer sent it (with its lines and adjustments), linked to the claim it posted to."""
    row_id = run.new_id()
    run.claim_rows.append(
        {
            "id": row_id,
            "remittance_id": run.remittance_id,
            "claim_id": claim_id,
            "patient_control_number": payment.patient_control_number.strip()[:38],
            "status_code": payment.status_code[:2],
            "charge_cents": payment.charge_cents,
            "paid_cents": payment.paid_cents,
            "patient_responsibility_cents": payment.patient_responsibility_cents,
            "payer_claim_control_number": (payment.payer_claim_control_number or None),
            "remark_codes": list(payment.remarks),
            "match_confidence": match.confidence if claim_id else 0,
        }
    )
    for adjustment in payment.adjustments:
        run.adjustment_rows.append(adjustment_row(run.new_id(), row_id, None, adjustment))
    for position, line in enumerate(payment.service_lines):
        line_row_id = run.new_id()
        line_id = match.line_ids[position] if claim_id and position < len(match.line_ids) else None
        run.line_rows.append(
            {
                "id": line_row_id,
                "remittance_claim_id": row_id,
                "claim_line_id": line_id,
                "procedure_code": line.procedure[:5],
                "modifiers": list(line.modifiers),
                "charge_cents": line.charge_cents,
                "paid_cents": line.paid_cents,
                "line_control_number": line.line_control_number,
                "remark_codes": list(line.remarks),
            }
        )
        for adjustment in line.adjustments:
            run.adjustment_rows.append(adjustment_row(run.new_id(), row_id, line_row_id, adjustment))
    return row_id


def adjustment_row(row_id: str, claim_row_id: str, line_row_id: str | None, adjustment: Adjustment) -> dict[str, Any]:
    return {
        "id": row_id,
        "remittance_claim_id": claim_row_id,
        "remittance_service_line_id": line_row_id,
        "group_code": adjustment.group if adjustment.group in rules.GROUP_CODES else "OA",
        "reason_code": adjustment.reason[:5],
        "amount_cents": adjustment.amount_cents,
        "quantity": adjustment.quantity,
    }


def provider_adjustment_drafts(run: PostingRun) -> list[EntryDraft]:
    """PLB: positive amounts were withheld (recoupment WO/72, forward balance FB): they settle what we owed the
    payer; negative amounts were added (interest L6): income."""
    drafts: list[EntryDraft] = []
    remittance = run.remittance
    for position, item in enumerate(remittance.provider_adjustments):
        other = acc.INTEREST_INCOME if item.reason == "L6" else acc.PAYER_OFFSETS
        draft = build_entry(
            f"{run.key_prefix}plb:{position}",
            EntryKind.PROVIDER_ADJUSTMENT,
            [(acc.CASH, -item.amount_cents), (other, item.amount_cents)],
            remittance_id=run.remittance_id,
            memo=f"PLB {item.reason}",
        )
        if draft is not None:
            drafts.append(draft)
    return drafts
