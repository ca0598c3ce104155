"""Matching a remittance's claim payments to our claims: pure rules over candidate values, with a confidence.

Rules in order (the first that finds exactly one claim of the remitting payer wins):
1. CLP01 is our claim id (we send it as the patient control number)       -> 100
2. CLP07 is the payer claim control number the payer gave the claim before -> 95
3. every REF*6R line control number is a line of one claim                  -> 90
4. the patient (CLP01 as our patient account number, or NM1*QC member id)
   plus the date of service plus the total charge name exactly one claim   -> 80
Two or more claims fitting a rule is *ambiguous*; nothing fitting is *unmatched*. Either way nothing posts for
that claim payment: a person chooses. Service lines are then matched to the claim's lines: by REF*6R, else by
procedure, modifiers and charge; a line that fits no line, or several, makes the whole claim ambiguous.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from domain.remittance import ClaimPayment, ServiceLinePayment

AUTO_POST_CONFIDENCE = 80


@dataclass(frozen=True)
class LineCandidate:
    id: str
    line_number: int
    procedure_code: str
    modifiers: tuple[str, ...]
    charge_cents: int
    date_of_service: date


@dataclass(frozen=True)
class ClaimCandidate:
    id: str
    payer_row_id: str
    patient_id: str
    patient_account: str
    total_charge_cents: int
    date_of_service: date
    payer_claim_control_number: str | None
    lines: tuple[LineCandidate, ...]
    member_ids: tuple[str, ...] = ()  # the patient's member ids with the remitting payer (PHI: never printed)


@dataclass(frozen=True)
class ClaimMatch:
    claim_id: str | None
    confidence: int
    rule: str  # claim_id, payer_claim_number, line_control, patient_dos_charge, none
    candidates: tuple[str, ...] = ()  # claim ids a person may choose from
    line_ids: tuple[str | None, ...] = ()  # per remitted service line, our claim line id
    problem: str | None = None  # unmatched, ambiguous_claim, ambiguous_line, payer_mismatch

    @property
    def postable(self) -> bool:
        return self.claim_id is not None and self.problem is None and self.confidence >= AUTO_POST_CONFIDENCE


@dataclass
class MatchIndex:
    """Candidates of one remitting payer, indexed by every key a rule looks up."""

    payer_row_id: str
    by_id: dict[str, ClaimCandidate] = field(default_factory=dict)
    by_payer_number: dict[str, list[ClaimCandidate]] = field(default_factory=lambda: defaultdict(list))
    claim_of_line: dict[str, str] = field(default_factory=dict)
    by_account: dict[str, list[ClaimCandidate]] = field(default_factory=lambda: defaultdict(list))
    by_member: dict[str, list[ClaimCandidate]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(cls, payer_row_id: str, candidates: Iterable[ClaimCandidate]) -> MatchIndex:
        index = cls(payer_row_id)
        for claim in candidates:
            if claim.id in index.by_id:
                continue
            index.by_id[claim.id] = claim
            for line in claim.lines:
                index.claim_of_line[line.id] = claim.id
            if claim.payer_row_id != payer_row_id:
                continue  # only rule 1 may see another payer's claim (to say so)
            if claim.payer_claim_control_number:
                index.by_payer_number[claim.payer_claim_control_number].append(claim)
            index.by_account[claim.patient_account].append(claim)
            for member in claim.member_ids:
                index.by_member[member].append(claim)
        return index


def _one_of(claims: Sequence[ClaimCandidate]) -> tuple[ClaimCandidate | None, tuple[str, ...]]:
    ids = tuple(sorted({c.id for c in claims}))
    if len(ids) == 1:
        return claims[0], ids
    return None, ids


def _fits(claim: ClaimCandidate, payment: ClaimPayment) -> bool:
    day = payment.service_date or next((s.service_date for s in payment.service_lines if s.service_date), None)
    return claim.total_charge_cents == abs(payment.charge_cents) and (day is None or claim.date_of_service == day)


def match_claim(payment: ClaimPayment, index: MatchIndex) -> ClaimMatch:
    """Find the claim a claim payment is about; see the module docstring for the rules."""
    pcn = payment.patient_control_number.strip()
    direct = index.by_id.get(pcn)
    if direct is not None:
        if direct.payer_row_id != index.payer_row_id:
            return ClaimMatch(None, 0, "claim_id", (direct.id,), problem="payer_mismatch")
        return _with_lines(direct, payment, 100, "claim_id")
    if payment.payer_claim_control_number:
        claim, ids = _one_of(index.by_payer_number.get(payment.payer_claim_control_number, []))
        if claim is not None:
            return _with_lines(claim, payment, 95, "payer_claim_number")
        if len(ids) > 1:
            return ClaimMatch(None, 0, "payer_claim_number", ids, problem="ambiguous_claim")
    line_claims = {
        index.claim_of_line[s.line_control_number]
        for s in payment.service_lines
        if s.line_control_number and s.line_control_number in index.claim_of_line
    }
    if line_claims:
        if len(line_claims) == 1:
            claim_by_line = index.by_id[next(iter(line_claims))]
            if claim_by_line.payer_row_id == index.payer_row_id:
                return _with_lines(claim_by_line, payment, 90, "line_control")
            return ClaimMatch(None, 0, "line_control", (claim_by_line.id,), problem="payer_mismatch")
        return ClaimMatch(None, 0, "line_control", tuple(sorted(line_claims)), problem="ambiguous_claim")
    patient_claims = list(index.by_account.get(pcn, []))
    if payment.patient_member_id:
        patient_claims += index.by_member.get(payment.patient_member_id, [])
    fitting = [c for c in patient_claims if _fits(c, payment)]
    claim, ids = _one_of(fitting)
    if claim is not None:
        return _with_lines(claim, payment, 80, "patient_dos_charge")
    if len(ids) > 1:
        return ClaimMatch(None, 0, "patient_dos_charge", ids, problem="ambiguous_claim")
    nearby = tuple(sorted({c.id for c in patient_claims}))[:10]
    return ClaimMatch(None, 0, "none", nearby, problem="unmatched")


def _line_key(line: LineCandidate) -> tuple[str, tuple[str, ...], int]:
    return (line.procedure_code, tuple(line.modifiers), line.charge_cents)


def _remit_key(line: ServiceLinePayment) -> tuple[str, tuple[str, ...], int]:
    procedure = line.submitted_procedure or line.procedure
    return (procedure, tuple(line.modifiers), abs(line.charge_cents))


def match_lines(claim: ClaimCandidate, lines: Sequence[ServiceLinePayment]) -> tuple[tuple[str | None, ...], bool]:
    """Our claim line id for each remitted line; the flag is False when a line fits none or several."""
    ours = {line.id: line for line in claim.lines}
    taken: set[str] = set()
    result: list[str | None] = [None] * len(lines)
    # Line control numbers first, so a fuzzy match never takes a line another remitted line names exactly.
    for position, line in enumerate(lines):
        if line.line_control_number and line.line_control_number in ours and line.line_control_number not in taken:
            result[position] = line.line_control_number
            taken.add(line.line_control_number)
    for position, line in enumerate(lines):
        if result[position] is not None:
            continue
        if line.line_control_number and line.line_control_number not in ours and not line.line_control_number.isdigit():
            return tuple(result), False  # names a line of another claim
        fitting = [c for c in claim.lines if c.id not in taken and _line_key(c) == _remit_key(line)]
        if not fitting:
            fitting = [
                c
                for c in claim.lines
                if c.id not in taken and c.procedure_code == (line.submitted_procedure or line.procedure)
            ]
        if len(fitting) != 1:
            same = [c for c in fitting if _line_key(c) == _remit_key(line)]
            if len(same) < 1 or len({_line_key(c) for c in fitting}) != 1:
                return tuple(result), False
            fitting = same[:1]  # identical lines (same code, modifiers, charge): either one is right
        result[position] = fitting[0].id
        taken.add(fitting[0].id)
    return tuple(result), True


def _with_lines(claim: ClaimCandidate, payment: ClaimPayment, confidence: int, rule: str) -> ClaimMatch:
    line_ids, ok = match_lines(claim, payment.service_lines)
    if not ok:
        return ClaimMatch(claim.id, confidence, rule, (claim.id,), line_ids, problem="ambiguous_line")
    return ClaimMatch(claim.id, confidence, rule, (claim.id,), line_ids)
