"""Posting a remittance (an 835 or an EOB PDF's extraction): match, check, post, once.

One call posts one Remittance in the caller's transaction. The remittance row is unique by payer and trace
number, and every journal entry's key is ``era:<payer>:<trace>:<claim>:<sequence>:<kind>``, so posting the same
835 again writes nothing and says ``already_posted``. Claim payments that match no claim, match several, or fail
a check (not balanced, overpaid, negative, illegal status) post nothing to any claim: their money waits in
unapplied cash and a work item names the problem and the candidates. All reads are batched (one query per
lookup kind, chunked) and all writes are bulk inserts plus one flush of the changed claims.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.orm import Session, selectinload

from domain import audit
from domain import models as m
from domain.claim_status import ClaimStatus, can_transition
from domain.enums import AccountKind, CoverageRank
from domain.errors import ConcurrencyConflict, NotFound, ValidationError
from domain.ledger import accounts as acc
from domain.ledger.accounts import AccountRef
from domain.ledger.entries import Amount, EntryDraft, EntryKind, build_entry, reversal_of, transfer
from domain.ledger.service import missing_charges
from domain.ledger.store import COPY_THRESHOLD, IdPool, bulk_insert, claim_insurance_balances, select_in, write_entries
from domain.posting import rules
from domain.posting.matching import ClaimCandidate, ClaimMatch, LineCandidate, MatchIndex, match_claim, match_lines
from domain.posting.work import WorkItemDraft, open_work_items
from domain.remittance import Adjustment, ClaimPayment, Remittance, ServiceLinePayment
from domain.workitems import Reason, WorkQueue

POSTED_KINDS = (
    EntryKind.INSURANCE_PAYMENT,
    EntryKind.CONTRACTUAL,
    EntryKind.TRANSFER_TO_PATIENT,
    EntryKind.TRANSFER_TO_SECONDARY,
)


@dataclass(frozen=True)
class ClaimPosted:
    """One claim payment of the remittance, as posted (or why not)."""

    sequence: int
    patient_control_number: str
    status_code: str
    outcome: str  # paid, partially_paid, denied, reversed, unmatched, ambiguous, exception, already_posted
    claim_id: str | None
    paid_cents: int
    patient_responsibility_cents: int
    contractual_cents: int
    confidence: int
    rule: str
    adjustment_codes: tuple[str, ...] = ()
    remark_codes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    secondary_claim_id: str | None = None
    work_item_id: str | None = None

    @property
    def posted(self) -> bool:
        return self.outcome in ("paid", "partially_paid", "denied", "reversed")


@dataclass(frozen=True)
class PostingResult:
    payer_id: str  # the payer's code as the remittance names it
    trace_number: str
    already_posted: bool
    payer_known: bool
    remittance_id: str | None
    payment_amount_cents: int  # BPR02
    provider_adjustment_cents: int  # sum of PLB amounts (positive reduced the payment)
    paid_cents: int  # claim payments posted to claims
    unapplied_cents: int  # claim payments parked in unapplied cash (unmatched or in exception)
    contractual_cents: int
    patient_responsibility_cents: int
    entries_written: int
    claims: tuple[ClaimPosted, ...] = ()
    work_items_opened: tuple[str, ...] = ()
    secondary_claims_created: tuple[str, ...] = ()
    guarantors_with_balance: tuple[str, ...] = ()

    @property
    def claims_matched(self) -> int:
        return sum(1 for c in self.claims if c.posted or (c.outcome == "already_posted" and c.claim_id))

    @property
    def claims_unmatched(self) -> int:
        return sum(1 for c in self.claims if c.outcome in ("unmatched", "ambiguous"))

    @property
    def claims_in_exception(self) -> int:
        return sum(1 for c in self.claims if c.outcome == "exception")

    @property
    def posted_total_cents(self) -> int:
        """Every claim payment's money, posted or parked: equals BPR02 plus the PLB amounts."""
        return self.paid_cents + self.unapplied_cents

    def as_dict(self) -> dict[str, Any]:
        return {
            "payer_id": self.payer_id,
            "trace_number": self.trace_number,
            "already_posted": self.already_posted,
            "payer_known": self.payer_known,
            "remittance_id": self.remittance_id,
            "payment_amount_cents": self.payment_amount_cents,
            "provider_adjustment_cents": self.provider_adjustment_cents,
            "claims_matched": self.claims_matched,
            "claims_unmatched": self.claims_unmatched,
            "claims_in_exception": self.claims_in_exception,
            "paid_cents": self.paid_cents,
            "unapplied_cents": self.unapplied_cents,
            "contractual_cents": self.contractual_cents,
            "patient_responsibility_cents": self.patient_responsibility_cents,
            "entries_written": self.entries_written,
            "work_items_opened": list(self.work_items_opened),
            "secondary_claims_created": list(self.secondary_claims_created),
            "claims": [
                {
                    "sequence": c.sequence,
                    "patient_control_number": c.patient_control_number,
                    "status_code": c.status_code,
                    "outcome": c.outcome,
                    "claim_id": c.claim_id,
                    "paid_cents": c.paid_cents,
                    "patient_responsibility_cents": c.patient_responsibility_cents,
                    "contractual_cents": c.contractual_cents,
                    "confidence": c.confidence,
                    "rule": c.rule,
                    "adjustment_codes": list(c.adjustment_codes),
                    "problems": list(c.problems),
                    "candidates": list(c.candidates),
                    "secondary_claim_id": c.secondary_claim_id,
                    "work_item_id": c.work_item_id,
                }
                for c in self.claims
            ],
        }


def _looks_like_id(text: str) -> bool:
    return len(text) == 36 and text.count("-") == 4


def _in(session: Session, column: Any, values: Sequence[Any], stmt: Any) -> list[Any]:
    return select_in(session, column, values, stmt)


def load_candidates(
    session: Session, remittance: Remittance, payer_row_id: str
) -> tuple[MatchIndex, dict[str, m.Claim]]:
    """Every claim any rule could match, with its lines, in a few batched queries."""
    pcns = [c.patient_control_number.strip() for c in remittance.claims]
    claim_ids: set[str] = {p for p in pcns if _looks_like_id(p)}
    payer_numbers = [c.payer_claim_control_number for c in remittance.claims if c.payer_claim_control_number]
    if payer_numbers:
        stmt = select(m.Claim.id).where(m.Claim.payer_id == payer_row_id)
        claim_ids.update(r[0] for r in _in(session, m.Claim.payer_claim_control_number, payer_numbers, stmt))
    line_numbers = [s.line_control_number for c in remittance.claims for s in c.service_lines if s.line_control_number]
    line_numbers = [n for n in line_numbers if _looks_like_id(n)]
    if line_numbers:
        claim_ids.update(r[0] for r in _in(session, m.ClaimLine.id, line_numbers, select(m.ClaimLine.claim_id)))
    # Fallback keys: the patient's account number (some payers echo it in CLP01) or member id with this payer.
    patient_ids: set[str] = set()
    accounts = [p for p in pcns if not _looks_like_id(p)]
    if accounts:
        patient_ids.update(r[0] for r in _in(session, m.Patient.account_number, accounts, select(m.Patient.id)))
    members: dict[str, list[str]] = {}
    member_ids = [c.patient_member_id for c in remittance.claims if c.patient_member_id]
    if member_ids:
        members_stmt = select(m.Coverage.patient_id, m.Coverage.member_id).where(m.Coverage.payer_id == payer_row_id)
        for patient_id, member_id in _in(session, m.Coverage.member_id, member_ids, members_stmt):
            patient_ids.add(patient_id)
            members.setdefault(patient_id, []).append(member_id)
    if patient_ids:
        stmt = select(m.Claim.id).where(m.Claim.payer_id == payer_row_id)
        claim_ids.update(r[0] for r in _in(session, m.Claim.patient_id, list(patient_ids), stmt))
    claims: dict[str, m.Claim] = {}
    account_of: dict[str, str] = {}
    claims_stmt = (
        select(m.Claim, m.Patient.account_number)
        .join(m.Patient, m.Patient.id == m.Claim.patient_id)
        .options(selectinload(m.Claim.lines))
    )
    for claim, account in _in(session, m.Claim.id, list(claim_ids), claims_stmt):
        claims[claim.id] = claim
        account_of[claim.id] = account
    candidates = [
        ClaimCandidate(
            id=claim.id,
            payer_row_id=claim.payer_id,
            patient_id=claim.patient_id,
            patient_account=account_of[claim.id],
            total_charge_cents=claim.total_charge_cents,
            date_of_service=claim.date_of_service,
            payer_claim_control_number=claim.payer_claim_control_number,
            lines=tuple(
                LineCandidate(
                    line.id,
                    line.line_number,
                    line.procedure_code,
                    tuple(line.modifiers or ()),
                    line.charge_cents,
                    line.date_of_service,
                )
                for line in claim.lines
            ),
            member_ids=tuple(members.get(claim.patient_id, ())),
        )
        for claim in claims.values()
    ]
    return MatchIndex.build(payer_row_id, candidates), claims


@dataclass
class _Run:
    """Everything one posting accumulates before the bulk writes."""

    session: Session
    remittance: Remittance
    payer: m.Payer
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
    touched: set[str] = field(default_factory=set)  # claim ids whose row changed
    claim_balances: dict[str, int] = field(default_factory=dict)  # claim id -> insurance AR, kept current
    # Where a payment's money comes from: the bank, or unapplied cash when a person applies a parked payment.
    source_account: AccountRef = acc.CASH

    def base_key(self, claim_id: str, sequence: int) -> str:
        return f"era:{self.remittance.payer_id}:{self.remittance.trace_number}:{claim_id}:{sequence}"

    def dedupe(self, sequence: int, problem: str) -> str:
        return f"posting:{self.remittance.payer_id}:{self.remittance.trace_number}:{sequence}:{problem}"


def post_remittance(
    session: Session,
    remittance: Remittance,
    *,
    source_document_key: str | None = None,
    actor: str = "system:posting",
    now: datetime | None = None,
) -> PostingResult:
    """Post one remittance exactly once; see the module docstring. The caller commits."""
    at = now or datetime.now(UTC)
    payer = session.execute(select(m.Payer).where(m.Payer.payer_id == remittance.payer_id)).scalar_one_or_none()
    plb_total = sum(p.amount_cents for p in remittance.provider_adjustments)
    if payer is None:
        return _unknown_payer(session, remittance, plb_total, at)
    existing = session.execute(
        select(m.Remittance).where(
            m.Remittance.payer_id == payer.id, m.Remittance.trace_number == remittance.trace_number
        )
    ).scalar_one_or_none()
    if existing is not None:
        return _already_posted(session, remittance, existing, plb_total)

    with session.no_autoflush:
        return _post_new(session, remittance, payer, plb_total, source_document_key, actor, at)


def _post_new(
    session: Session,
    remittance: Remittance,
    payer: m.Payer,
    plb_total: int,
    source_document_key: str | None,
    actor: str,
    at: datetime,
) -> PostingResult:
    index, claims = load_candidates(session, remittance, payer.id)
    run = _Run(session, remittance, payer, m.new_id(), at)
    bulk_insert(
        session,
        m.Remittance,
        [
            {
                "id": run.remittance_id,
                "payer_id": payer.id,
                "trace_number": remittance.trace_number,
                "payment_method": remittance.payment_method[:3],
                "payment_amount_cents": remittance.payment_amount_cents,
                "payment_date": remittance.payment_date,
                "source": remittance.source[:10],
                "document_key": source_document_key,
                "received_at": at,
                "deposit_line_id": None,
            }
        ],
    )
    matches = [match_claim(payment, index) for payment in remittance.claims]
    postable_ids = sorted({mt.claim_id for mt in matches if mt.postable and mt.claim_id})
    charges = missing_charges(session, [claims[i] for i in postable_ids])
    run.drafts.extend(charges)
    # What each payer still owes per claim, before this remittance: a payment may not resolve more than that
    # (a duplicate remittance under another trace, or a payment beyond the charge, would otherwise post twice).
    run.claim_balances = claim_insurance_balances(session, postable_ids)
    for charge in charges:
        if charge.claim_id is not None:
            run.claim_balances[charge.claim_id] = run.claim_balances.get(charge.claim_id, 0) + charge.debit_total
    reversal_ids = sorted(
        {mt.claim_id for mt, p in zip(matches, remittance.claims, strict=True) if mt.claim_id and p.is_reversal}
    )
    originals = _originals(session, reversal_ids)
    secondaries = _secondary_setup(session, [claims[i] for i in postable_ids])

    for sequence, (payment, match) in enumerate(zip(remittance.claims, matches, strict=True)):
        _post_claim(run, sequence, payment, match, claims, originals, secondaries)

    drafts = run.drafts + _provider_adjustment_drafts(run)
    if remittance.payment_amount_cents != remittance.expected_payment_cents():
        run.work.append(
            (
                -1,
                WorkItemDraft(
                    WorkQueue.POSTING,
                    Reason.POSTING_EXCEPTION,
                    f"remittance {remittance.trace_number}: BPR02 {remittance.payment_amount_cents} cents differs "
                    f"from claims minus PLB {remittance.expected_payment_cents()} cents",
                    "remittance",
                    run.remittance_id,
                    run.dedupe(-1, "payment_total_mismatch"),
                    {
                        "problem": "payment_total_mismatch",
                        "payment_amount_cents": remittance.payment_amount_cents,
                        "expected_cents": remittance.expected_payment_cents(),
                    },
                ),
            )
        )

    if run.new_claims:
        bulk_insert(session, m.Claim, run.new_claims)
        bulk_insert(session, m.ClaimLine, run.new_claim_lines)
    written = write_entries(session, drafts, now=at)
    if run.claim_rows:
        bulk_insert(session, m.RemittanceClaim, run.claim_rows)
    if run.line_rows:
        bulk_insert(session, m.RemittanceServiceLine, run.line_rows)
    if run.adjustment_rows:
        bulk_insert(session, m.RemittanceAdjustment, run.adjustment_rows)
    if remittance.provider_adjustments:
        bulk_insert(
            session,
            m.ProviderAdjustment,
            [
                {
                    "id": m.new_id(),
                    "remittance_id": run.remittance_id,
                    "reason_code": p.reason[:5],
                    "reference": p.reference[:50],
                    "amount_cents": p.amount_cents,
                }
                for p in remittance.provider_adjustments
            ],
        )
    opened = open_work_items(session, [draft for _, draft in run.work], now=at)
    item_of_sequence = {seq: item_id for (seq, _), (item_id, _) in zip(run.work, opened, strict=True) if seq >= 0}
    outcomes = tuple(
        o if o.sequence not in item_of_sequence else _with_item(o, item_of_sequence[o.sequence]) for o in run.outcomes
    )
    _update_claims(session, [claims[i] for i in sorted(run.touched)])
    posted = [o for o in outcomes if o.posted]
    result = PostingResult(
        payer_id=remittance.payer_id,
        trace_number=remittance.trace_number,
        already_posted=False,
        payer_known=True,
        remittance_id=run.remittance_id,
        payment_amount_cents=remittance.payment_amount_cents,
        provider_adjustment_cents=plb_total,
        paid_cents=sum(o.paid_cents for o in posted),
        unapplied_cents=sum(o.paid_cents for o in outcomes if not o.posted),
        contractual_cents=sum(o.contractual_cents for o in posted),
        patient_responsibility_cents=sum(o.patient_responsibility_cents for o in posted),
        entries_written=written.written,
        claims=outcomes,
        work_items_opened=tuple(item_id for item_id, created in opened if created),
        secondary_claims_created=tuple(row["id"] for row in run.new_claims),
        guarantors_with_balance=tuple(sorted(run.guarantors)),
    )
    audit.record(
        session,
        actor=actor,
        action="remittance.posted",
        entity_type="remittance",
        entity_id=run.remittance_id,
        details={
            "payer": remittance.payer_id,
            "claims_matched": result.claims_matched,
            "claims_unmatched": result.claims_unmatched,
            "claims_in_exception": result.claims_in_exception,
            "paid_cents": result.paid_cents,
            "unapplied_cents": result.unapplied_cents,
        },
    )
    return result


def _update_claims(session: Session, claims: Sequence[m.Claim]) -> None:
    """Write the posted claims and their lines back in bulk (COPY + UPDATE ... FROM, or executemany), never
    one statement per row, keeping the optimistic lock: a claim changed since it was loaded fails the posting."""
    if not claims:
        return
    claim_rows = [
        {
            "b_id": claim.id,
            "b_version": claim.version_id,
            "status": str(ClaimStatus(claim.status).value),
            "paid_cents": claim.paid_cents,
            "patient_responsibility_cents": claim.patient_responsibility_cents,
            "payer_claim_control_number": claim.payer_claim_control_number,
            "adjudicated_at": claim.adjudicated_at,
            "version_id": claim.version_id + 1,
        }
        for claim in claims
    ]
    line_rows = [{"b_id": line.id, "paid_cents": line.paid_cents} for claim in claims for line in claim.lines]
    for claim in claims:
        session.expunge(claim)  # the rows are written below; the session must not write them again
    connection = session.connection()
    updated: int | None
    if connection.dialect.name == "postgresql" and len(claim_rows) >= COPY_THRESHOLD:
        updated = _update_claims_postgres(connection, claim_rows, line_rows)
    else:
        updated = _update_claims_executemany(connection, claim_rows, line_rows)
    if updated is not None and updated != len(claim_rows):
        raise ConcurrencyConflict("a claim was changed by someone else while posting; post the remittance again")


def _update_claims_executemany(
    connection: Connection, claim_rows: list[dict[str, Any]], line_rows: list[dict[str, Any]]
) -> int | None:
    table: Table = m.Claim.__table__  # type: ignore[assignment]
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.version_id == bindparam("b_version"))
        .values(
            status=bindparam("status"),
            paid_cents=bindparam("paid_cents"),
            patient_responsibility_cents=bindparam("patient_responsibility_cents"),
            payer_claim_control_number=bindparam("payer_claim_control_number"),
            adjudicated_at=bindparam("adjudicated_at"),
            version_id=bindparam("version_id"),
        )
    )
    result = connection.execute(statement, claim_rows)
    lines: Table = m.ClaimLine.__table__  # type: ignore[assignment]
    if line_rows:
        connection.execute(
            update(lines).where(lines.c.id == bindparam("b_id")).values(paid_cents=bindparam("paid_cents")),
            line_rows,
        )
    return result.rowcount if connection.dialect.supports_sane_multi_rowcount else None


def _update_claims_postgres(
    connection: Connection, claim_rows: list[dict[str, Any]], line_rows: list[dict[str, Any]]
) -> int:
    """COPY the new values into temporary tables and apply them with one UPDATE ... FROM each."""
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS posting_claim_updates")
        cursor.execute(
            "CREATE TEMPORARY TABLE posting_claim_updates (id varchar(36) PRIMARY KEY, version_id integer, "
            "status varchar(20), paid_cents integer, patient_responsibility_cents integer, "
            "payer_claim_control_number varchar(50), adjudicated_at timestamptz) ON COMMIT DROP"
        )
        with cursor.copy("COPY posting_claim_updates FROM STDIN") as copy:
            for row in claim_rows:
                copy.write_row(
                    [
                        row["b_id"],
                        row["b_version"],
                        row["status"],
                        row["paid_cents"],
                        row["patient_responsibility_cents"],
                        row["payer_claim_control_number"],
                        row["adjudicated_at"],
                    ]
                )
        cursor.execute(
            "UPDATE claims SET status = u.status, paid_cents = u.paid_cents, "
            "patient_responsibility_cents = u.patient_responsibility_cents, "
            "payer_claim_control_number = u.payer_claim_control_number, adjudicated_at = u.adjudicated_at, "
            "version_id = u.version_id + 1 FROM posting_claim_updates u "
            "WHERE claims.id = u.id AND claims.version_id = u.version_id"
        )
        updated = cursor.rowcount
        cursor.execute("DROP TABLE IF EXISTS posting_claim_line_updates")
        cursor.execute(
            "CREATE TEMPORARY TABLE posting_claim_line_updates (id varchar(36) PRIMARY KEY, paid_cents integer) "
            "ON COMMIT DROP"
        )
        with cursor.copy("COPY posting_claim_line_updates FROM STDIN") as copy:
            for row in line_rows:
                copy.write_row([row["b_id"], row["paid_cents"]])
        cursor.execute(
            "UPDATE claim_lines SET paid_cents = u.paid_cents FROM posting_claim_line_updates u "
            "WHERE claim_lines.id = u.id"
        )
    return int(updated)


def _with_item(outcome: ClaimPosted, item_id: str) -> ClaimPosted:
    return replace(outcome, work_item_id=item_id)


# --- one claim payment -------------------------------------------------------------------------------------


def _post_claim(
    run: _Run,
    sequence: int,
    payment: ClaimPayment,
    match: ClaimMatch,
    claims: dict[str, m.Claim],
    originals: dict[str, list[tuple[str, EntryDraft]]],
    secondaries: _Secondaries,
) -> None:
    amounts = rules.classify(payment)
    problems = rules.problems(payment)
    claim = claims.get(match.claim_id) if match.claim_id and match.postable else None
    if claim is not None and not problems:
        if payment.is_reversal:
            problems = _reversal_problems(payment, originals.get(claim.id, []), claim)
        elif claim.primary_claim_id is not None:
            amounts, problems = _secondary_amounts(run, claim, amounts)
        if not problems and not payment.is_reversal:
            target = _target_status(payment, amounts)
            current = ClaimStatus(claim.status)
            resolved = amounts.paid_cents + amounts.patient_responsibility_cents
            resolved += amounts.contractual_cents if target != ClaimStatus.DENIED else 0
            if resolved > run.claim_balances.get(claim.id, 0):
                problems = ["exceeds_claim_balance"]
            elif current != target and not can_transition(current, target):
                problems = [f"illegal_status_{current.value}"]
    stored_claim_id = claim.id if claim is not None and not problems else None
    row_id = _store_remittance_claim(run, payment, match, stored_claim_id)
    if claim is None or problems:
        _park(run, sequence, payment, match, amounts, problems, row_id)
        return
    if payment.is_reversal:
        _reverse(run, sequence, payment, match, amounts, claim, originals[claim.id])
    else:
        _post_adjudication(run, sequence, payment, match, amounts, claim, secondaries)


def _secondary_amounts(run: _Run, claim: m.Claim, amounts: rules.ClaimAmounts) -> tuple[rules.ClaimAmounts, list[str]]:
    """A secondary owes only what crossed over: its contractual amount is what closes that balance."""
    balance = run.claim_balances.get(claim.id, 0)
    closing = balance - amounts.paid_cents - amounts.patient_responsibility_cents
    if closing < 0:
        return amounts, ["secondary_exceeds_crossover"]
    return replace(amounts, contractual_cents=closing), []


def _target_status(payment: ClaimPayment, amounts: rules.ClaimAmounts) -> ClaimStatus:
    if rules.is_denial(payment, amounts):
        return ClaimStatus.DENIED
    for line in payment.service_lines:
        responsibility = sum(a.amount_cents for a in line.adjustments if a.group == "PR")
        # A secondary's line the primary settled in full (CARC 23) owes nothing more: not a denial.
        settled = any(a.reason == rules.PRIOR_PAYER_REASON for a in line.adjustments)
        if rules.line_denied(line.paid_cents, line.charge_cents, responsibility) and not settled:
            return ClaimStatus.PARTIALLY_PAID
    return ClaimStatus.PAID


def _park(
    run: _Run,
    sequence: int,
    payment: ClaimPayment,
    match: ClaimMatch,
    amounts: rules.ClaimAmounts,
    problems: list[str],
    remittance_claim_id: str,
) -> None:
    """Nothing posts to a claim: the money waits in unapplied cash and a person is asked (the resolution
    ``post_manually claim_id=...`` applies it with :func:`post_manually`)."""
    remittance = run.remittance
    pcn = payment.patient_control_number.strip()[:38]
    draft = transfer(
        f"era:{remittance.payer_id}:{remittance.trace_number}:{sequence}:{pcn}:unapplied",
        EntryKind.UNAPPLIED_CASH,
        acc.CASH,
        acc.UNAPPLIED_CASH,
        payment.paid_cents,
        remittance_id=run.remittance_id,
        memo=f"unapplied: claim payment {sequence} of {remittance.trace_number}",
    )
    if draft is not None:
        run.drafts.append(draft)
    if problems:
        outcome, reason, problem = "exception", Reason.POSTING_EXCEPTION, ",".join(problems)
        summary = f"remittance {remittance.trace_number} claim payment {sequence}: {problem}"
        entity_type, entity_id = ("claim", match.claim_id) if match.claim_id else ("remittance", run.remittance_id)
    else:
        problem = match.problem or "low_confidence"
        outcome = "unmatched" if problem == "unmatched" else "ambiguous"
        reason = Reason.UNMATCHED_REMITTANCE if outcome == "unmatched" else Reason.AMBIGUOUS_MATCH
        summary = (
            f"remittance {remittance.trace_number} claim payment {sequence}: {problem}, "
            f"{len(match.candidates)} candidate claim(s)"
        )
        entity_type, entity_id = "remittance", run.remittance_id
    run.work.append(
        (
            sequence,
            WorkItemDraft(
                WorkQueue.POSTING,
                reason,
                summary,
                entity_type,
                entity_id,
                run.dedupe(sequence, problem.split(",")[0]),
                {
                    "remittance_id": run.remittance_id,
                    "remittance_claim_id": remittance_claim_id,
                    "sequence": sequence,
                    "patient_control_number": pcn,
                    "status_code": payment.status_code,
                    "problem": problem,
                    "rule": match.rule,
                    "confidence": match.confidence,
                    "candidate_claim_ids": list(match.candidates),
                    "paid_cents": payment.paid_cents,
                    "charge_cents": payment.charge_cents,
                },
            ),
        )
    )
    run.outcomes.append(
        ClaimPosted(
            sequence=sequence,
            patient_control_number=pcn,
            status_code=payment.status_code,
            outcome=outcome,
            claim_id=match.claim_id,
            paid_cents=payment.paid_cents,
            patient_responsibility_cents=payment.patient_responsibility_cents,
            contractual_cents=amounts.contractual_cents,
            confidence=match.confidence,
            rule=match.rule,
            adjustment_codes=amounts.codes,
            remark_codes=payment.remarks,
            problems=tuple(problems) if problems else ((match.problem,) if match.problem else ()),
            candidates=match.candidates,
        )
    )


def _apply_to_claim(run: _Run, payment: ClaimPayment, match: ClaimMatch, claim: m.Claim, pr_delta: int) -> None:
    run.touched.add(claim.id)
    claim.paid_cents += payment.paid_cents
    claim.patient_responsibility_cents += pr_delta
    if payment.payer_claim_control_number and not claim.payer_claim_control_number:
        claim.payer_claim_control_number = payment.payer_claim_control_number[:50]
    claim.adjudicated_at = run.now
    lines = {line.id: line for line in claim.lines}
    for remitted, line_id in zip(payment.service_lines, match.line_ids, strict=False):
        if line_id is not None and line_id in lines:
            lines[line_id].paid_cents += remitted.paid_cents


def _post_adjudication(
    run: _Run,
    sequence: int,
    payment: ClaimPayment,
    match: ClaimMatch,
    amounts: rules.ClaimAmounts,
    claim: m.Claim,
    secondaries: _Secondaries,
) -> None:
    base = run.base_key(claim.id, sequence)
    payer_ar = acc.insurance_ar(claim.payer_id)
    links: dict[str, Any] = {"claim_id": claim.id, "patient_id": claim.patient_id, "remittance_id": run.remittance_id}
    target = _target_status(payment, amounts)
    drafts = [
        transfer(
            f"{base}:payment", EntryKind.INSURANCE_PAYMENT, run.source_account, payer_ar, amounts.paid_cents, **links
        ),
    ]
    # A denial leaves the balance with the payer (appeal, correct or write off: a person decides); only the
    # patient's share, if the payer named one, moves now.
    if target != ClaimStatus.DENIED:
        drafts.append(
            transfer(
                f"{base}:contractual",
                EntryKind.CONTRACTUAL,
                acc.CONTRACTUAL,
                payer_ar,
                amounts.contractual_cents,
                **links,
            )
        )
    responsibility = amounts.patient_responsibility_cents
    secondary_id: str | None = None
    if responsibility > 0:
        secondary_id = secondaries.secondary_for(run, claim) if claim.rank == CoverageRank.PRIMARY else None
        if secondary_id is not None:
            drafts.append(
                transfer(
                    f"{base}:crossover",
                    EntryKind.TRANSFER_TO_SECONDARY,
                    acc.COB_CROSSOVER,
                    payer_ar,
                    responsibility,
                    **links,
                )
            )
            secondary_payer = secondaries.payer_of[secondary_id]
            drafts.append(
                transfer(
                    f"{base}:crossover_charge",
                    EntryKind.CHARGE,
                    acc.insurance_ar(secondary_payer),
                    acc.COB_CROSSOVER,
                    responsibility,
                    claim_id=secondary_id,
                    patient_id=claim.patient_id,
                    remittance_id=run.remittance_id,
                    memo=f"crossover from claim {claim.id}",
                )
            )
        else:
            guarantor = secondaries.guarantor_of[claim.patient_id]
            drafts.append(
                transfer(
                    f"{base}:patient",
                    EntryKind.TRANSFER_TO_PATIENT,
                    acc.patient_ar(guarantor),
                    payer_ar,
                    responsibility,
                    **links,
                )
            )
            run.guarantors.add(guarantor)
    posted = [d for d in drafts if d is not None]
    run.drafts.extend(posted)
    run.claim_balances[claim.id] = run.claim_balances.get(claim.id, 0) + sum(
        a.cents for d in posted if d.claim_id == claim.id for a in d.amounts if a.account == payer_ar
    )
    _apply_to_claim(run, payment, match, claim, responsibility)
    if ClaimStatus(claim.status) != target:
        claim.transition(target)
    run.outcomes.append(
        ClaimPosted(
            sequence=sequence,
            patient_control_number=payment.patient_control_number.strip()[:38],
            status_code=payment.status_code,
            outcome=target.value,
            claim_id=claim.id,
            paid_cents=amounts.paid_cents,
            patient_responsibility_cents=responsibility,
            contractual_cents=amounts.contractual_cents if target != ClaimStatus.DENIED else 0,
            confidence=match.confidence,
            rule=match.rule,
            adjustment_codes=amounts.codes,
            remark_codes=payment.remarks,
            secondary_claim_id=secondary_id,
        )
    )


# --- reversals (CLP02 = 22) -------------------------------------------------------------------------------


def _originals(session: Session, claim_ids: Sequence[str]) -> dict[str, list[tuple[str, EntryDraft]]]:
    """Per claim, the remittance entries not reversed yet, as drafts (entry id, draft) to mirror."""
    if not claim_ids:
        return {}
    reversed_ids = {
        r[0]
        for r in session.execute(
            select(m.JournalEntry.reverses_entry_id).where(m.JournalEntry.reverses_entry_id.is_not(None))
        )
    }
    stmt = (
        select(m.JournalEntry, m.JournalLine, m.Account)
        .join(m.JournalLine, m.JournalLine.entry_id == m.JournalEntry.id)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .where(m.JournalEntry.remittance_id.is_not(None))
        .where(m.JournalEntry.kind.in_([k.value for k in POSTED_KINDS]))
        .order_by(m.JournalEntry.occurred_at, m.JournalEntry.id, m.JournalLine.id)
    )
    grouped: dict[str, tuple[m.JournalEntry, list[Amount]]] = {}
    for entry, line, account in _in(session, m.JournalEntry.claim_id, list(claim_ids), stmt):
        if entry.id in reversed_ids:
            continue
        ref = AccountRef(account.code, account.name, AccountKind(account.kind), account.owner_type, account.owner_id)
        grouped.setdefault(entry.id, (entry, []))[1].append(Amount(ref, line.debit_cents - line.credit_cents))
    result: dict[str, list[tuple[str, EntryDraft]]] = {}
    for entry_id, (entry, amounts) in grouped.items():
        draft = EntryDraft(
            key=entry.idempotency_key,
            kind=EntryKind(entry.kind),
            amounts=tuple(amounts),
            claim_id=entry.claim_id,
            patient_id=entry.patient_id,
            remittance_id=entry.remittance_id,
        )
        result.setdefault(str(entry.claim_id), []).append((entry_id, draft))
    return result


def _cash_of(draft: EntryDraft) -> int:
    return sum(a.cents for a in draft.amounts if a.account == acc.CASH or a.account.code == acc.CASH.code)


def _reversal_problems(payment: ClaimPayment, originals: list[tuple[str, EntryDraft]], claim: m.Claim) -> list[str]:
    if not originals:
        return ["reversal_without_original"]
    if any(d.kind == EntryKind.TRANSFER_TO_SECONDARY for _, d in originals):
        return ["reversal_after_crossover"]
    paid = sum(_cash_of(d) for _, d in originals)
    if paid != -payment.paid_cents:
        return ["reversal_amount_mismatch"]
    return []


def _reverse(
    run: _Run,
    sequence: int,
    payment: ClaimPayment,
    match: ClaimMatch,
    amounts: rules.ClaimAmounts,
    claim: m.Claim,
    originals: list[tuple[str, EntryDraft]],
) -> None:
    base = run.base_key(claim.id, sequence)
    responsibility = 0
    for entry_id, original in originals:
        mirror = reversal_of(original, entry_id, f"{base}:reverses:{entry_id}")
        run.drafts.append(
            EntryDraft(
                key=mirror.key,
                kind=mirror.kind,
                amounts=mirror.amounts,
                memo=mirror.memo,
                claim_id=claim.id,
                patient_id=claim.patient_id,
                remittance_id=run.remittance_id,
                reverses_entry_id=entry_id,
            )
        )
        if original.kind == EntryKind.TRANSFER_TO_PATIENT:
            responsibility += sum(a.cents for a in original.amounts if a.cents > 0)
            run.guarantors.update(
                a.account.owner_id for a in original.amounts if a.account.owner_id and acc.is_patient_ar(a.account.code)
            )
    run.claim_balances[claim.id] = run.claim_balances.get(claim.id, 0) - sum(
        a.cents
        for _, original in originals
        for a in original.amounts
        if a.account.code == acc.insurance_ar(claim.payer_id).code
    )
    originals.clear()  # a second reversal of the same claim in this remittance finds nothing left to reverse
    _apply_to_claim(run, payment, match, claim, -responsibility)
    if ClaimStatus(claim.status) in (ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID):
        # The payer took its adjudication back: the claim is open again, awaiting the corrected claim payment
        # (posted next in this remittance, or in a later one); the Claim workflow waits for it.
        claim.transition(ClaimStatus.ACCEPTED)
    run.outcomes.append(
        ClaimPosted(
            sequence=sequence,
            patient_control_number=payment.patient_control_number.strip()[:38],
            status_code=payment.status_code,
            outcome="reversed",
            claim_id=claim.id,
            paid_cents=payment.paid_cents,
            patient_responsibility_cents=-responsibility,
            contractual_cents=amounts.contractual_cents,
            confidence=match.confidence,
            rule=match.rule,
            adjustment_codes=amounts.codes,
            remark_codes=payment.remarks,
        )
    )


# --- secondary crossover ----------------------------------------------------------------------------------


@dataclass
class _Secondaries:
    coverage_of: dict[str, list[m.Coverage]]  # patient id -> secondary coverages
    existing: dict[str, str]  # primary claim id -> secondary claim id
    payer_of: dict[str, str]  # secondary claim id -> payer row id
    guarantor_of: dict[str, str]  # patient id -> guarantor id

    def secondary_for(self, run: _Run, claim: m.Claim) -> str | None:
        if claim.id in self.existing:
            return self.existing[claim.id]
        coverage = next(
            (c for c in self.coverage_of.get(claim.patient_id, []) if c.is_active_on(claim.date_of_service)), None
        )
        if coverage is None or coverage.payer_id == claim.payer_id:
            return None
        secondary_id = m.new_id()
        run.new_claims.append(
            {
                "id": secondary_id,
                "encounter_id": claim.encounter_id,
                "patient_id": claim.patient_id,
                "payer_id": coverage.payer_id,
                "coverage_id": coverage.id,
                "billing_provider_id": claim.billing_provider_id,
                "rank": CoverageRank.SECONDARY.value,
                "status": ClaimStatus.DRAFT.value,
                "frequency_code": "1",
                "original_claim_id": None,
                "primary_claim_id": claim.id,
                "total_charge_cents": claim.total_charge_cents,
                "paid_cents": 0,
                "patient_responsibility_cents": 0,
                "payer_claim_control_number": None,
                "date_of_service": claim.date_of_service,
                "created_at": run.now,
                "submitted_at": None,
                "adjudicated_at": None,
                "version_id": 1,
            }
        )
        for line in claim.lines:
            run.new_claim_lines.append(
                {
                    "id": m.new_id(),
                    "claim_id": secondary_id,
                    "service_line_id": line.service_line_id,
                    "line_number": line.line_number,
                    "procedure_code": line.procedure_code,
                    "modifiers": list(line.modifiers or []),
                    "units": line.units,
                    "charge_cents": line.charge_cents,
                    "diagnosis_pointers": list(line.diagnosis_pointers or []),
                    "date_of_service": line.date_of_service,
                    "paid_cents": 0,
                }
            )
        self.existing[claim.id] = secondary_id
        self.payer_of[secondary_id] = coverage.payer_id
        return secondary_id


def _secondary_setup(session: Session, claims: Sequence[m.Claim]) -> _Secondaries:
    patient_ids = sorted({c.patient_id for c in claims})
    guarantor_of = {
        pid: gid for pid, gid in _in(session, m.Patient.id, patient_ids, select(m.Patient.id, m.Patient.guarantor_id))
    }
    coverage_of: dict[str, list[m.Coverage]] = {}
    stmt = select(m.Coverage).where(m.Coverage.rank == CoverageRank.SECONDARY.value)
    for (coverage,) in _in(session, m.Coverage.patient_id, patient_ids, stmt):
        coverage_of.setdefault(coverage.patient_id, []).append(coverage)
    existing: dict[str, str] = {}
    payer_of: dict[str, str] = {}
    primary_ids = [c.id for c in claims if c.patient_id in coverage_of]
    if primary_ids:
        secondary_stmt = select(m.Claim.primary_claim_id, m.Claim.id, m.Claim.payer_id).where(
            m.Claim.rank == CoverageRank.SECONDARY.value
        )
        for primary_id, secondary_id, payer_id in _in(session, m.Claim.primary_claim_id, primary_ids, secondary_stmt):
            existing[primary_id] = secondary_id
            payer_of[secondary_id] = payer_id
    return _Secondaries(coverage_of, existing, payer_of, guarantor_of)


# --- rows and the remittance-level parts --------------------------------------------------------------------


def _store_remittance_claim(run: _Run, payment: ClaimPayment, match: ClaimMatch, claim_id: str | None) -> str:
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
        run.adjustment_rows.append(_adjustment_row(run.new_id(), row_id, None, adjustment))
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
            run.adjustment_rows.append(_adjustment_row(run.new_id(), row_id, line_row_id, adjustment))
    return row_id


def _adjustment_row(row_id: str, claim_row_id: str, line_row_id: str | None, adjustment: Any) -> dict[str, Any]:
    return {
        "id": row_id,
        "remittance_claim_id": claim_row_id,
        "remittance_service_line_id": line_row_id,
        "group_code": adjustment.group if adjustment.group in rules.GROUP_CODES else "OA",
        "reason_code": adjustment.reason[:5],
        "amount_cents": adjustment.amount_cents,
        "quantity": adjustment.quantity,
    }


def _provider_adjustment_drafts(run: _Run) -> list[EntryDraft]:
    """PLB: positive amounts were withheld (recoupment WO/72, forward balance FB): they settle what we owed the
    payer; negative amounts were added (interest L6): income."""
    drafts: list[EntryDraft] = []
    remittance = run.remittance
    for position, item in enumerate(remittance.provider_adjustments):
        other = acc.INTEREST_INCOME if item.reason == "L6" else acc.PAYER_OFFSETS
        draft = build_entry(
            f"era:{remittance.payer_id}:{remittance.trace_number}:plb:{position}",
            EntryKind.PROVIDER_ADJUSTMENT,
            [(acc.CASH, -item.amount_cents), (other, item.amount_cents)],
            remittance_id=run.remittance_id,
            memo=f"PLB {item.reason}",
        )
        if draft is not None:
            drafts.append(draft)
    return drafts


def _unknown_payer(session: Session, remittance: Remittance, plb_total: int, at: datetime) -> PostingResult:
    digest = hashlib.sha256(f"{remittance.payer_id}|{remittance.trace_number}".encode()).hexdigest()[:32]
    opened = open_work_items(
        session,
        [
            WorkItemDraft(
                WorkQueue.POSTING,
                Reason.POSTING_EXCEPTION,
                f"remittance {remittance.trace_number} names unknown payer {remittance.payer_id[:20]}: nothing posted",
                "remittance_file",
                digest,
                f"posting:unknown_payer:{remittance.payer_id}:{remittance.trace_number}",
                {
                    "problem": "unknown_payer",
                    "payer_id": remittance.payer_id,
                    "trace_number": remittance.trace_number,
                    "payment_amount_cents": remittance.payment_amount_cents,
                    "claims": len(remittance.claims),
                },
            )
        ],
        now=at,
    )
    return PostingResult(
        payer_id=remittance.payer_id,
        trace_number=remittance.trace_number,
        already_posted=False,
        payer_known=False,
        remittance_id=None,
        payment_amount_cents=remittance.payment_amount_cents,
        provider_adjustment_cents=plb_total,
        paid_cents=0,
        unapplied_cents=0,
        contractual_cents=0,
        patient_responsibility_cents=0,
        entries_written=0,
        work_items_opened=tuple(item_id for item_id, created in opened if created),
    )


def _already_posted(session: Session, remittance: Remittance, stored: m.Remittance, plb_total: int) -> PostingResult:
    rows = session.execute(
        select(
            m.RemittanceClaim.patient_control_number,
            m.RemittanceClaim.status_code,
            m.RemittanceClaim.claim_id,
            m.RemittanceClaim.paid_cents,
            m.RemittanceClaim.patient_responsibility_cents,
            m.RemittanceClaim.match_confidence,
        ).where(m.RemittanceClaim.remittance_id == stored.id)
    ).all()
    outcomes = tuple(
        ClaimPosted(
            sequence=position,
            patient_control_number=row.patient_control_number,
            status_code=row.status_code,
            outcome="already_posted",
            claim_id=row.claim_id,
            paid_cents=row.paid_cents,
            patient_responsibility_cents=row.patient_responsibility_cents,
            contractual_cents=0,
            confidence=row.match_confidence,
            rule="stored",
        )
        for position, row in enumerate(rows)
    )
    return PostingResult(
        payer_id=remittance.payer_id,
        trace_number=remittance.trace_number,
        already_posted=True,
        payer_known=True,
        remittance_id=stored.id,
        payment_amount_cents=stored.payment_amount_cents,
        provider_adjustment_cents=plb_total,
        paid_cents=sum(r.paid_cents for r in rows if r.claim_id),
        unapplied_cents=sum(r.paid_cents for r in rows if not r.claim_id),
        contractual_cents=0,
        patient_responsibility_cents=sum(r.patient_responsibility_cents for r in rows if r.claim_id),
        entries_written=0,
        claims=outcomes,
    )


# --- a person applies a parked claim payment -----------------------------------------------------------------


def _stored_payment(session: Session, row: m.RemittanceClaim) -> ClaimPayment:
    """The claim payment as stored with the remittance (what the 835 said), for posting it later."""
    lines = session.execute(
        select(m.RemittanceServiceLine).where(m.RemittanceServiceLine.remittance_claim_id == row.id)
    ).scalars()
    adjustments = list(
        session.execute(
            select(m.RemittanceAdjustment).where(m.RemittanceAdjustment.remittance_claim_id == row.id)
        ).scalars()
    )

    def adjustments_of(line_id: str | None) -> tuple[Adjustment, ...]:
        return tuple(
            Adjustment(a.group_code, a.reason_code, a.amount_cents, a.quantity)
            for a in adjustments
            if a.remittance_service_line_id == line_id
        )

    return ClaimPayment(
        patient_control_number=row.patient_control_number,
        status_code=row.status_code,
        charge_cents=row.charge_cents,
        paid_cents=row.paid_cents,
        patient_responsibility_cents=row.patient_responsibility_cents,
        payer_claim_control_number=row.payer_claim_control_number,
        adjustments=adjustments_of(None),
        service_lines=tuple(
            ServiceLinePayment(
                procedure=line.procedure_code,
                modifiers=tuple(line.modifiers or ()),
                charge_cents=line.charge_cents,
                paid_cents=line.paid_cents,
                line_control_number=line.line_control_number,
                adjustments=adjustments_of(line.id),
                remarks=tuple(line.remark_codes or ()),
            )
            for line in lines
        ),
        remarks=tuple(row.remark_codes or ()),
    )


def latest_adjudication(session: Session, claim_id: str) -> tuple[ClaimPayment, date | None] | None:
    """The payer's latest word on a claim as stored with its remittance, and the day it paid (None if it never
    answered). A reversal is skipped: its correction, or the payment it reversed, is the word that stands.

    A secondary claim carries this of its primary claim as the prior payer's adjudication (COB)."""
    row = session.execute(
        select(m.RemittanceClaim, m.Remittance.payment_date, m.Remittance.received_at)
        .join(m.Remittance, m.Remittance.id == m.RemittanceClaim.remittance_id)
        .where(m.RemittanceClaim.claim_id == claim_id, m.RemittanceClaim.status_code != "22")
        .order_by(m.Remittance.received_at.desc(), m.RemittanceClaim.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    stored, paid_on, received_at = row
    return _stored_payment(session, stored), paid_on or received_at.date()


def post_manually(
    session: Session,
    remittance_claim_id: str,
    claim_id: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> ClaimPosted:
    """Post a claim payment that was parked (unmatched, ambiguous) to the claim a person chose.

    The money moves from unapplied cash to the claim exactly as automatic posting would have posted it; the
    same checks apply (a claim that does not balance, an illegal status: ValidationError, nothing written).
    Idempotent: a claim payment already applied returns its result again without writing.
    """
    row = session.get(m.RemittanceClaim, remittance_claim_id)
    if row is None:
        raise NotFound(f"unknown remittance claim {remittance_claim_id}")
    stored = session.get(m.Remittance, row.remittance_id)
    claim = session.get(m.Claim, claim_id)
    if stored is None or claim is None:
        raise NotFound(f"unknown claim {claim_id}")
    payment = _stored_payment(session, row)
    amounts = rules.classify(payment)
    if row.claim_id is not None:
        if row.claim_id != claim_id:
            raise ValidationError(f"remittance claim {remittance_claim_id} is already posted to another claim")
        return ClaimPosted(
            0,
            row.patient_control_number,
            row.status_code,
            "already_posted",
            claim_id,
            row.paid_cents,
            row.patient_responsibility_cents,
            0,
            100,
            "manual",
        )
    if claim.payer_id != stored.payer_id:
        raise ValidationError(f"claim {claim_id} was billed to another payer than remittance {stored.trace_number}")
    if payment.is_reversal:
        raise ValidationError("a reversal is posted by reposting its remittance, not by hand")
    payer = session.get(m.Payer, stored.payer_id)
    assert payer is not None
    remittance = Remittance(
        payer_id=payer.payer_id,
        payer_name=payer.name,
        payee_name="",
        payee_id="",
        payment_method=stored.payment_method,
        payment_amount_cents=stored.payment_amount_cents,
        trace_number=stored.trace_number,
        payment_date=stored.payment_date,
        claims=(payment,),
    )
    account = session.execute(select(m.Patient.account_number).where(m.Patient.id == claim.patient_id)).scalar_one()
    candidate = ClaimCandidate(
        id=claim.id,
        payer_row_id=claim.payer_id,
        patient_id=claim.patient_id,
        patient_account=account,
        total_charge_cents=claim.total_charge_cents,
        date_of_service=claim.date_of_service,
        payer_claim_control_number=claim.payer_claim_control_number,
        lines=tuple(
            LineCandidate(
                line.id,
                line.line_number,
                line.procedure_code,
                tuple(line.modifiers or ()),
                line.charge_cents,
                line.date_of_service,
            )
            for line in claim.lines
        ),
    )
    line_ids, lines_ok = match_lines(candidate, payment.service_lines)
    problems = rules.problems(payment) + ([] if lines_ok else ["lines_do_not_match"])
    charges = missing_charges(session, [claim])
    balance = claim_insurance_balances(session, [claim.id]).get(claim.id, 0) + sum(c.debit_total for c in charges)
    if claim.primary_claim_id is not None and not problems:
        closing = balance - amounts.paid_cents - amounts.patient_responsibility_cents
        amounts = replace(amounts, contractual_cents=closing)
        if closing < 0:
            problems.append("secondary_exceeds_crossover")
    target = _target_status(payment, amounts)
    current = ClaimStatus(claim.status)
    resolved = amounts.paid_cents + amounts.patient_responsibility_cents
    resolved += amounts.contractual_cents if target != ClaimStatus.DENIED else 0
    if resolved > balance:
        problems.append("exceeds_claim_balance")
    if current != target and not can_transition(current, target):
        problems.append(f"illegal_status_{current.value}")
    if problems:
        raise ValidationError(f"cannot post to claim {claim_id}: {', '.join(problems)}")
    at = now or datetime.now(UTC)
    with session.no_autoflush:
        run = _Run(session, remittance, payer, stored.id, at, source_account=acc.UNAPPLIED_CASH)
        run.drafts.extend(charges)
        run.claim_balances[claim.id] = balance
        match = ClaimMatch(claim.id, 100, "manual", (claim.id,), line_ids)
        secondaries = _secondary_setup(session, [claim])
        sequence = 1_000_000 + int(hashlib.sha256(row.id.encode()).hexdigest()[:6], 16)  # apart from 835 order
        _post_adjudication(run, sequence, payment, match, amounts, claim, secondaries)
        if run.new_claims:
            bulk_insert(session, m.Claim, run.new_claims)
            bulk_insert(session, m.ClaimLine, run.new_claim_lines)
        write_entries(session, run.drafts, now=at)
        _update_claims(session, [claim])
        row.claim_id = claim.id
        row.match_confidence = 100
        service_rows = session.execute(
            select(m.RemittanceServiceLine).where(m.RemittanceServiceLine.remittance_claim_id == row.id)
        ).scalars()
        for service_row, line_id in zip(service_rows, line_ids, strict=False):
            service_row.claim_line_id = line_id
    session.flush()
    outcome = run.outcomes[0]
    audit.record(
        session,
        actor=actor,
        action="remittance.posted_manually",
        entity_type="claim",
        entity_id=claim.id,
        details={"remittance_id": stored.id, "paid_cents": outcome.paid_cents, "status": outcome.outcome},
    )
    return outcome
