"""A claim's way to the payer in the store: its 837P submissions and the acknowledgments that answer them.

Submit is three steps so that no transaction waits on the clearinghouse (a minute-long HTTP call must not hold the
control numbers' row lock, which on SQLite is the whole database's write lock):

1. :func:`record_built`: in one transaction the 837P is built with fresh control numbers and recorded
   (``claim_submissions``, state ``built``);
2. the caller sends it, outside any transaction;
3. :func:`record_sent`: in another transaction the outcome is recorded: the claim is SUBMITTED and its 999 applied.
   Idempotent on the interchange control number: a retried call records nothing twice.

A retry that finds a built, unsent submission of the same claim version sends that one again (the same
interchange); a claim corrected since makes it ``superseded``. Every acknowledgment is applied here and only here:
the 999 (:func:`apply_999`, by the group control number it names) and the 277CA (:func:`apply_277ca`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.errors import NotFound
from domain.x12.ack277ca import parse_277ca
from domain.x12.ack999 import Acknowledgment999, parse_999
from domain.x12.envelope import ControlNumbers

SUBMITTED_ACTION = "claim.submitted"


def move_claim(session: Session, claim: m.Claim, target: ClaimStatus, actor: str, **details: object) -> None:
    """Transition when the lifecycle allows it, with its audit event (a retry that finds it there: nothing)."""
    current = ClaimStatus(claim.status)
    if current == target:
        return
    claim.transition(target)
    audit.record(
        session,
        actor=actor,
        action="claim.status",
        entity_type="claim",
        entity_id=claim.id,
        details={"from": current.value, "to": target.value, **details},
    )


def pending_submission(session: Session, claim: m.Claim) -> m.ClaimSubmission | None:
    """The built, unsent submission of the claim as it is now (one of an earlier version is superseded)."""
    pending = session.execute(
        select(m.ClaimSubmission).where(m.ClaimSubmission.claim_id == claim.id, m.ClaimSubmission.state == "built")
    ).scalars()
    found = None
    for submission in pending:
        if submission.claim_version == claim.version_id and found is None:
            found = submission
        else:
            submission.state = "superseded"
    return found


def record_built(
    session: Session, claim: m.Claim, control: ControlNumbers, x12: str, document_key: str | None = None
) -> m.ClaimSubmission:
    submission = m.ClaimSubmission(
        claim_id=claim.id,
        interchange_control_number=control.interchange,
        group_control_number=control.group,
        frequency_code=claim.frequency_code,
        claim_version=claim.version_id,
        x12=x12,
        document_key=document_key,
        state="built",
    )
    session.add(submission)
    session.flush()
    return submission


def last_sent(session: Session, claim_id: str) -> m.ClaimSubmission | None:
    return session.execute(
        select(m.ClaimSubmission)
        .where(m.ClaimSubmission.claim_id == claim_id, m.ClaimSubmission.state == "sent")
        .order_by(m.ClaimSubmission.sent_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def record_sent(
    session: Session, interchange: int, batch_id: str, ack_999: str | None, *, actor: str
) -> m.ClaimSubmission:
    """The clearinghouse took the interchange: the claim is SUBMITTED, the 999 it answered with (if any) applied.
    A second call for the same interchange changes nothing."""
    submission = session.execute(
        select(m.ClaimSubmission).where(m.ClaimSubmission.interchange_control_number == interchange)
    ).scalar_one_or_none()
    if submission is None:
        raise NotFound(f"no submission with interchange control number {interchange:09d}")
    if submission.state == "sent":
        return submission
    claim = session.get(m.Claim, submission.claim_id)
    if claim is None:
        raise NotFound(f"unknown claim {submission.claim_id}")
    submission.state = "sent"
    submission.sent_at = datetime.now(UTC)
    submission.batch_id = batch_id[:80]
    claim.submitted_at = submission.sent_at
    move_claim(session, claim, ClaimStatus.SUBMITTED, actor, batch=batch_id)
    audit.record(
        session,
        actor=actor,
        action=SUBMITTED_ACTION,
        entity_type="claim",
        entity_id=claim.id,
        details={"batch": batch_id, "isa13": interchange, "frequency": submission.frequency_code},
    )
    if ack_999:
        _apply_999_to(session, submission, parse_999(ack_999))
    return submission


def apply_999(session: Session, text: str) -> int:
    """A 999 from the mailbox: the submissions whose group control number it names (AK102) move their claims to
    ACKNOWLEDGED, or REJECTED when their transaction set was rejected. Returns how many claims it moved."""
    moved = 0
    for ack in parse_999(text):
        if not ack.group_control_number.isdigit():
            continue
        submissions = session.execute(
            select(m.ClaimSubmission).where(
                m.ClaimSubmission.group_control_number == int(ack.group_control_number),
                m.ClaimSubmission.state == "sent",
            )
        ).scalars()
        for submission in submissions:
            moved += _apply_999_to(session, submission, [ack])
    return moved


def _apply_999_to(session: Session, submission: m.ClaimSubmission, acks: list[Acknowledgment999]) -> int:
    claim = session.get(m.Claim, submission.claim_id)
    if claim is None or ClaimStatus(claim.status) != ClaimStatus.SUBMITTED or not acks:
        return 0
    if all(t.accepted for ack in acks for t in ack.transactions):
        move_claim(session, claim, ClaimStatus.ACKNOWLEDGED, "clearinghouse:999")
    else:
        move_claim(session, claim, ClaimStatus.REJECTED, "clearinghouse:999", codes=["999:R"])
    return 1


@dataclass(frozen=True)
class Applied277CA:
    moved: int  # claims moved to ACCEPTED or REJECTED
    # Claims it names whose send is not recorded yet: the clearinghouse took their 837P and answered before the
    # submit recorded it (a built submission, the claim still READY). The document must stay in the mailbox
    # until then: confirmed now, that claim's 277CA would never come again.
    in_flight: tuple[str, ...] = ()


def apply_277ca(session: Session, text: str) -> Applied277CA:
    """Move every claim a 277CA names to ACCEPTED (with the payer's claim number) or REJECTED (with its STC codes);
    claims no longer waiting for one are left alone, and claims whose send is still being recorded are named."""
    moved = 0
    in_flight: list[str] = []
    for ack in parse_277ca(text):
        for claim_ack in ack.claims:
            claim = session.get(m.Claim, claim_ack.claim_id)
            if claim is None:
                continue
            status = ClaimStatus(claim.status)
            if status not in (ClaimStatus.SUBMITTED, ClaimStatus.ACKNOWLEDGED):
                if status == ClaimStatus.READY and _sending(session, claim.id):
                    in_flight.append(claim.id)
                continue
            codes = [":".join(s.text()) for s in claim_ack.statuses]
            if claim_ack.accepted:
                if claim_ack.payer_claim_number:
                    claim.payer_claim_control_number = claim_ack.payer_claim_number
                move_claim(session, claim, ClaimStatus.ACCEPTED, "clearinghouse:277CA", codes=codes)
            else:
                move_claim(session, claim, ClaimStatus.REJECTED, "clearinghouse:277CA", codes=codes)
            moved += 1
    return Applied277CA(moved, tuple(in_flight))


def _sending(session: Session, claim_id: str) -> bool:
    """A built submission of the claim, not yet recorded as sent (submit step 2 or 3 under way, or to be retried)."""
    built = select(m.ClaimSubmission.id).where(
        m.ClaimSubmission.claim_id == claim_id, m.ClaimSubmission.state == "built"
    )
    return session.execute(built.limit(1)).first() is not None
