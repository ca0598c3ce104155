"""The one place the sandbox touches X12: domain.x12's parsers and writers, mapped to the sandbox's values.

No X12 is parsed or written by hand here: reading goes through ``read_envelope`` and the transaction parsers,
writing through the transaction writers and ``write_interchange``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.remittance import Remittance
from domain.x12.ack277ca import ClaimAck, StatusCode
from domain.x12.ack277ca import ClaimAcknowledgment as ClaimAcknowledgment277
from domain.x12.ack277ca import write_277ca as _write_277ca
from domain.x12.ack999 import Acknowledgment999, ElementError, SegmentError, TransactionAck
from domain.x12.ack999 import write_999 as _write_999
from domain.x12.claim837 import ProfessionalClaim, parse_837p_set
from domain.x12.eligibility import Benefit, EligibilityResponse, RequestError, parse_270
from domain.x12.eligibility import write_271 as _write_271
from domain.x12.envelope import ControlNumbers, Party, TransactionSet, X12Error, X12Problem, read_envelope
from domain.x12.remit835 import parse_835
from domain.x12.remit835 import write_835 as _write_835
from domain.x12.status276 import ClaimStatusResult, parse_276
from domain.x12.status276 import write_277 as _write_277
from sandbox.clearinghouse.model import Rejection, SubmittedClaim, SubmittedLine

CLEARINGHOUSE = Party("ZZ", "SBXCLEARING")

__all__ = ["CLEARINGHOUSE", "ControlNumbers", "X12Error"]


@dataclass(frozen=True)
class ReceivedSet:
    set_id: str  # ST01
    control_number: str  # ST02
    implementation: str
    claims: tuple[SubmittedClaim, ...] = ()
    error: X12Error | None = None
    first_position: int = 1  # file position of ST (IK302 counts from it)


@dataclass(frozen=True)
class ReceivedBatch:
    sender_id: str  # ISA06: where acknowledgments and 835s go back to
    receiver_id: str
    interchange_control: str  # ISA13
    group_control: str  # GS06
    functional_id: str  # GS01
    version: str  # GS08
    sets: tuple[ReceivedSet, ...]

    @property
    def accepted(self) -> bool:
        return any(s.error is None for s in self.sets)


@dataclass(frozen=True)
class ClaimAcknowledgment:
    claim: SubmittedClaim
    rejection: Rejection | None
    payer_claim_number: str | None
    received: date
    clearinghouse_trace: str | None = None


def read_837_batch(text: str) -> ReceivedBatch:
    """Read an 837P batch set by set; a set that fails to parse is kept with its error (-> 999 IK5*R).

    Count and control-number mismatches (SE, GE, IEA) reject the sets they concern in the 999. Raises X12Error
    only when the structure itself is unreadable (no ISA, bad delimiters, segments outside ST..SE, no group).
    """
    report = read_envelope(text, strict=False)
    if not report.interchanges or not report.interchanges[0].groups:
        raise X12Error("no functional group in the interchange")
    interchange = report.interchanges[0]
    group = interchange.groups[0]
    sets = tuple(_received_set(transaction, report.problems) for transaction in report.transactions())
    return ReceivedBatch(
        sender_id=interchange.sender_id,
        receiver_id=interchange.receiver_id,
        interchange_control=interchange.control_number,
        group_control=group.control_number,
        functional_id=group.functional_id,
        version=group.version,
        sets=sets,
    )


def _received_set(transaction: TransactionSet, problems: list[X12Problem]) -> ReceivedSet:
    """One set of the batch: its claims, or the error its 999 IK5*R gives (envelope, not an 837, unreadable)."""
    error = _envelope_error(transaction, problems)
    if error is None and transaction.set_id != "837":
        error = X12Error(
            f"transaction set {transaction.set_id} is not an 837",
            position=transaction.first_position,
            segment_id="ST",
            element=1,
        )
    if error is not None:
        return ReceivedSet(
            transaction.set_id,
            transaction.control_number,
            transaction.implementation,
            error=error,
            first_position=transaction.first_position,
        )
    try:
        claims = tuple(submitted_claim(c) for c in parse_837p_set(transaction))
    except (X12Error, ValueError, IndexError, KeyError) as unreadable:
        # A clearinghouse answers a 999 rejection for a set it cannot read, whatever broke inside it.
        reason = unreadable
        if not isinstance(reason, X12Error):
            reason = X12Error(
                f"transaction set cannot be read ({type(unreadable).__name__})",
                position=transaction.first_position,
                segment_id="ST",
            )
        return ReceivedSet(
            "837",
            transaction.control_number,
            transaction.implementation,
            error=reason,
            first_position=transaction.first_position,
        )
    return ReceivedSet(
        "837",
        transaction.control_number,
        transaction.implementation,
        claims,
        first_position=transaction.first_position,
    )


def _envelope_error(transaction: TransactionSet, problems: list[X12Problem]) -> X12Error | None:
    """The envelope problem that rejects this set: its own SE01/SE02 first, else one of GE/IEA (every set's)."""
    last = transaction.first_position + len(transaction.raw) - 1
    inside = [p for p in problems if p.position is not None and transaction.first_position <= p.position <= last]
    outside = [p for p in problems if p.position is None or p.segment_id in ("GE", "IEA")]
    if not (inside or outside):
        return None
    envelope_problem = (inside or outside)[0]
    return X12Error(
        envelope_problem.reason,
        position=envelope_problem.position,
        segment_id=envelope_problem.segment_id,
        element=envelope_problem.element,
    )


def submitted_claim(claim: ProfessionalClaim) -> SubmittedClaim:
    """The clearinghouse's view of a parsed 837P claim."""
    subscriber = claim.subscriber
    prior_paid = sum(other.paid_cents for other in claim.other_payers) if claim.other_payers else None
    return SubmittedClaim(
        claim_id=claim.claim_id,
        payer_id=claim.payer.payer_id.strip().upper(),
        billing_npi=claim.billing_provider.npi,
        billing_name=claim.billing_provider.last_or_organization_name,
        member_id=subscriber.member_id,
        subscriber_birth_date=subscriber.person.birth_date,
        subscriber_last_name=subscriber.person.last_name or None,
        subscriber_first_name=subscriber.person.first_name or None,
        rendering_npi=claim.rendering_provider.npi if claim.rendering_provider else None,
        place_of_service=claim.place_of_service,
        frequency_code=claim.frequency_code,
        charge_cents=claim.total_charge_cents,
        diagnoses=claim.diagnoses,
        lines=tuple(
            SubmittedLine(
                procedure=line.procedure,
                modifiers=line.modifiers,
                charge_cents=line.charge_cents,
                units=line.units,
                service_date=line.service_date,
                line_control_number=line.line_control_number,
                place_of_service=line.place_of_service,
                prior_authorization=line.prior_authorization,
                **_prior_line(claim, index, subscriber.responsibility),
            )
            for index, line in enumerate(claim.lines)
        ),
        original_reference=claim.original_claim_number,
        prior_authorization=claim.prior_authorization,
        patient_birth_date=claim.patient.birth_date if claim.patient else None,
        patient_last_name=claim.patient.last_name if claim.patient else None,
        patient_first_name=claim.patient.first_name if claim.patient else None,
        claim_filing_indicator=subscriber.claim_filing_indicator,
        payer_responsibility=subscriber.responsibility or "P",
        prior_payer_paid_cents=prior_paid if subscriber.responsibility not in ("", "P") else None,
    )


def _prior_line(claim: ProfessionalClaim, index: int, responsibility: str) -> dict[str, int]:
    """A secondary line's 2430 adjudications by the prior payers: what they paid and left to the patient (CAS PR);
    nothing when no prior payer reported the line (the payer then goes by AMT*D alone)."""
    if responsibility in ("", "P"):
        return {}
    found = [o.lines[index] for o in claim.other_payers if index < len(o.lines) and o.lines[index] is not None]
    adjudications = [a for a in found if a is not None]
    if not adjudications:
        return {}
    paid = sum(a.paid_cents for a in adjudications)
    patient = sum(adj.amount_cents for a in adjudications for adj in a.adjustments if adj.group == "PR")
    return {"prior_paid_cents": paid, "prior_patient_cents": patient}


def write_999(batch: ReceivedBatch, *, control: ControlNumbers, when: datetime) -> str:
    """The 999 for a batch: one AK2/IK5 per transaction set, IK3/IK4 naming where a rejected set broke."""
    acks = [_transaction_ack(received) for received in batch.sets]
    ack = Acknowledgment999.for_transactions(batch.functional_id, batch.group_control, batch.version, acks)
    return _write_999([ack], sender=CLEARINGHOUSE, receiver=Party("ZZ", batch.sender_id), control=control, when=when)


def _transaction_ack(received: ReceivedSet) -> TransactionAck:
    if received.error is None:
        return TransactionAck(received.set_id, received.control_number, "A", received.implementation)
    error = received.error
    position = 1 if error.position is None else max(1, error.position - received.first_position + 1)
    elements = (ElementError(error.element, "7"),) if error.element is not None else ()
    segment = SegmentError(error.segment_id or "ST", position, "8" if elements else "2", "", elements)
    return TransactionAck(received.set_id, received.control_number, "R", received.implementation, (segment,), ("I5",))


def write_277ca(
    outcomes: Sequence[ClaimAcknowledgment], *, batch: ReceivedBatch, control: ControlNumbers, when: datetime
) -> str:
    """One 277CA for a batch: the clearinghouse speaks for its payers (A2:20 accepted, A3/A6/A7 rejected)."""
    claims = []
    for outcome in outcomes:
        claim, rejection = outcome.claim, outcome.rejection
        status = (
            StatusCode("A2", "20", "PR")
            if rejection is None
            else StatusCode(rejection.category, rejection.status, rejection.entity)
        )
        claims.append(
            ClaimAck(
                claim_id=claim.claim_id,
                statuses=(status,),
                charge_cents=claim.charge_cents,
                billing_npi=claim.billing_npi,
                billing_name=claim.billing_name,
                member_id=claim.member_id,
                patient_last_name=claim.patient_last_name or claim.subscriber_last_name or "",
                patient_first_name=claim.patient_first_name or claim.subscriber_first_name or "",
                status_date=outcome.received,
                payer_claim_number=outcome.payer_claim_number,
                clearinghouse_trace=outcome.clearinghouse_trace,
                service_from=claim.first_service_date,
                service_to=claim.last_service_date,
            )
        )
    ack = ClaimAcknowledgment277(
        source_name="SANDBOX CLEARINGHOUSE",
        source_id=CLEARINGHOUSE.id,
        receiver_name="SUBMITTER",
        receiver_id=batch.sender_id,
        trace=f"{control.interchange:09d}",
        received_date=when.date(),
        process_date=when.date(),
        claims=tuple(claims),
        batch_reference=batch.interchange_control,
    )
    return _write_277ca([ack], sender=CLEARINGHOUSE, receiver=Party("ZZ", batch.sender_id), control=control, when=when)


def write_835(remittance: Remittance, *, receiver_id: str, control: ControlNumbers, when: datetime) -> str:
    return _write_835(
        [remittance],
        sender=Party("ZZ", remittance.payer_id),
        receiver=Party("ZZ", receiver_id or "SUBMITTER"),
        control=control,
        when=when,
    )


def payments(text: str) -> list[tuple[str, str]]:
    """(TRN02 trace, BPR04 method) of every 835 in a file: the payment a 277 refers to."""
    return [(r.trace_number, r.payment_method) for r in parse_835(text)]


# --- real-time inquiries: the sandbox's questions and answers, mapped to the 270/271 and 276/277 codecs ---


@dataclass(frozen=True)
class EligibilityInquiry:
    payer_id: str
    member_id: str  # PHI
    birth_date: date | None  # PHI
    service_date: date | None
    trace: str | None = None
    source: Any = None  # the codec's own inquiry value, echoed into the 271


@dataclass(frozen=True)
class EligibilityAnswer:
    error: str | None = None  # unknown_payer, missing_member_id, missing_birth_date, member_not_found, ...
    active: bool = False
    plan_name: str = ""
    group_number: str | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    copay_cents: int = 0
    coinsurance_bp: int = 0
    deductible_cents: int = 0
    deductible_remaining_cents: int = 0
    insurance_type: str = "PR"


# AAA03 reject reasons (X12 code list 901) and AAA04 follow-up: C = correct and resubmit.
AAA_REASONS = {
    "unknown_payer": "79",  # invalid participant identification
    "missing_member_id": "72",  # invalid/missing subscriber/insured id
    "missing_birth_date": "58",  # invalid/missing date of birth
    "member_not_found": "75",  # subscriber/insured not found
    "birth_date_mismatch": "71",  # birth date does not match
}


@dataclass(frozen=True)
class StatusInquiry:
    payer_id: str
    claim_id: str  # the provider's patient control number (REF*EJ / TRN02)
    payer_claim_number: str | None = None
    trace: str | None = None
    source: Any = None


@dataclass(frozen=True)
class StatusAnswer:
    category: str  # STC01-1: P1 pending, F1 paid, F2 denied, A3 rejected, D0 not found
    status: str  # STC01-2
    entity: str = ""
    payer_claim_number: str | None = None
    charge_cents: int = 0
    paid_cents: int | None = None
    status_date: date | None = None
    remittance_trace: str | None = None
    payment_method: str = ""


def read_270(text: str) -> list[EligibilityInquiry]:
    return [
        EligibilityInquiry(
            payer_id=inquiry.payer_id.strip().upper(),
            member_id=inquiry.member_id,
            birth_date=inquiry.subscriber_birth_date,
            service_date=inquiry.service_date,
            trace=inquiry.trace,
            source=inquiry,
        )
        for inquiry in parse_270(text)
    ]


def write_271(
    inquiries: Sequence[EligibilityInquiry],
    answers: Sequence[EligibilityAnswer],
    *,
    control: ControlNumbers,
    when: datetime,
) -> str:
    responses = [_response(inquiry, answer) for inquiry, answer in zip(inquiries, answers, strict=True)]
    sender = Party("ZZ", inquiries[0].payer_id if inquiries else CLEARINGHOUSE.id)
    receiver_id = inquiries[0].source.provider_npi if inquiries else "SUBMITTER"
    return _write_271(responses, sender=sender, receiver=Party("ZZ", receiver_id), control=control, when=when)


def _response(inquiry: EligibilityInquiry, answer: EligibilityAnswer) -> EligibilityResponse:
    source = inquiry.source
    common: dict[str, Any] = {
        "trace": source.trace,
        "payer_name": source.payer_name,
        "payer_id": source.payer_id,
        "provider_name": source.provider_name,
        "provider_npi": source.provider_npi,
        "member_id": source.member_id,
        "subscriber_last_name": source.subscriber_last_name,
        "subscriber_first_name": source.subscriber_first_name,
    }
    if answer.error is not None:
        level = "source" if answer.error == "unknown_payer" else "subscriber"
        return EligibilityResponse(**common, errors=(RequestError(AAA_REASONS[answer.error], "C", level),))
    benefits = [
        Benefit(
            "1" if answer.active else "6",
            insurance_type=answer.insurance_type,
            plan_description=answer.plan_name[:50],
        )
    ]
    if answer.active:
        if answer.copay_cents:
            benefits.append(Benefit("B", service_types=("98",), time_period="27", amount_cents=answer.copay_cents))
        if answer.deductible_cents:
            benefits.append(Benefit("C", time_period="23", amount_cents=answer.deductible_cents, in_network="Y"))
            benefits.append(
                Benefit("C", time_period="29", amount_cents=answer.deductible_remaining_cents, in_network="Y")
            )
        if answer.coinsurance_bp:
            benefits.append(Benefit("A", percent=_percent(answer.coinsurance_bp), in_network="Y"))
    return EligibilityResponse(
        **common,
        subscriber_birth_date=source.subscriber_birth_date,
        benefits=tuple(benefits),
        plan_begin=answer.effective_from,
    )


def _percent(basis_points: int) -> str:
    """EB08 is a decimal fraction: 2000 basis points -> 0.2."""
    return format(Decimal(basis_points).scaleb(-4).normalize(), "f")


def read_276(text: str) -> list[StatusInquiry]:
    return [
        StatusInquiry(
            payer_id=inquiry.payer_id.strip().upper(),
            claim_id=inquiry.claim_id,
            payer_claim_number=inquiry.payer_claim_number,
            trace=inquiry.trace,
            source=inquiry,
        )
        for inquiry in parse_276(text)
    ]


def write_277(
    inquiries: Sequence[StatusInquiry],
    answers: Sequence[StatusAnswer],
    *,
    control: ControlNumbers,
    when: datetime,
) -> str:
    results = [_status_result(inquiry, answer, when.date()) for inquiry, answer in zip(inquiries, answers, strict=True)]
    sender = Party("ZZ", inquiries[0].payer_id if inquiries else CLEARINGHOUSE.id)
    receiver_id = inquiries[0].source.submitter_id if inquiries else "SUBMITTER"
    return _write_277(results, sender=sender, receiver=Party("ZZ", receiver_id), control=control, when=when)


def _status_result(inquiry: StatusInquiry, answer: StatusAnswer, today: date) -> ClaimStatusResult:
    source = inquiry.source
    finalized = answer.category.startswith("F")
    return ClaimStatusResult(
        trace=source.trace,
        payer_name=source.payer_name,
        payer_id=source.payer_id,
        submitter_name=source.submitter_name,
        submitter_id=source.submitter_id,
        provider_name=source.provider_name,
        provider_npi=source.provider_npi,
        member_id=source.member_id,
        subscriber_last_name=source.subscriber_last_name,
        subscriber_first_name=source.subscriber_first_name,
        claim_id=source.claim_id,
        statuses=(StatusCode(answer.category, answer.status, answer.entity),),
        status_date=answer.status_date or today,
        charge_cents=answer.charge_cents or source.charge_cents,
        paid_cents=answer.paid_cents if finalized else None,
        adjudication_date=answer.status_date if finalized else None,
        payment_method=answer.payment_method if finalized else "",
        check_date=answer.status_date if finalized and answer.remittance_trace else None,
        check_number=answer.remittance_trace or "",
        payer_claim_number=answer.payer_claim_number,
        service_from=source.service_from,
        service_to=source.service_to,
    )
