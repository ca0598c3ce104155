"""Issue 11, item 4: claim submit builds and records the 837P in one transaction, calls the clearinghouse with no
transaction open, and records the outcome in another, idempotent on the interchange control number; the 277CA is
applied in one place (``claims.acknowledgments``). SQLite and PostgreSQL.

Before: the clearinghouse call ran inside the unit of work that held the control-number lock (on SQLite the whole
write lock) for up to 30 s, and the 277CA was applied by submit and again by the acknowledgments activity."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.orm import Session

from activities.clearinghouse.base import ClearinghouseUnavailable, InboundDocument, SubmissionResult
from activities.contracts import revenue as c
from activities.revenue import ClaimActivities, Envelope
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.store.control_numbers import next_numbers
from domain.store.engine import make_engine
from domain.store.uow import UnitOfWork
from domain.x12.ack277ca import ClaimAck, ClaimAcknowledgment, StatusCode, write_277ca
from domain.x12.ack999 import Acknowledgment999, TransactionAck, parse_999, write_999
from domain.x12.envelope import ControlNumbers, Party, read_envelope
from tests.unit.posting.factory import make_claim, make_patient, make_practice

WHEN = datetime(2026, 3, 3, 9, 0)


class Clearinghouse:
    """The clearinghouse port, answering like the sandbox; each call checks that the store is free meanwhile."""

    def __init__(self, store_url: str, *, fail_first: bool = False) -> None:
        self.store_url = store_url
        self.fail_first = fail_first
        self.sent: list[str] = []
        self.mailbox: list[InboundDocument] = []
        self.store_was_free: list[bool] = []

    def _store_is_free(self) -> bool:
        """Another connection takes the control numbers' lock at once: nobody holds it across this call."""
        sqlite = self.store_url.startswith("sqlite")
        engine: Engine = (
            create_engine(self.store_url, connect_args={"timeout": 1}) if sqlite else make_engine(self.store_url)
        )
        try:
            with Session(engine) as session:
                if engine.dialect.name == "postgresql":
                    session.execute(text("SET lock_timeout = '1s'"))
                next_numbers(session)
                session.rollback()
            return True
        except Exception:
            return False
        finally:
            engine.dispose()

    def submit_837(self, x12: str) -> SubmissionResult:
        self.store_was_free.append(self._store_is_free())
        self.sent.append(x12)
        if self.fail_first:
            self.fail_first = False
            raise ClearinghouseUnavailable("the clearinghouse timed out (the batch may or may not have arrived)")
        group = read_envelope(x12).interchanges[0].groups[0]
        claim_id = next(s[1] for s in (seg.split("*") for seg in x12.split("~")) if s[0] == "CLM")
        ack = Acknowledgment999.for_transactions(
            "HC", str(group.control_number), "005010X222A1", [TransactionAck("837", "0001", "A")]
        )
        accepted = ClaimAcknowledgment(
            "CLEARINGHOUSE", "CH", "CLINIC", "CARECYCLE", "T1", WHEN.date(), WHEN.date(),
            (ClaimAck(claim_id, (StatusCode("A2", "20"),), 15000, "1234567893", "CLINIC", "M1", "DOE", "JO",
                      payer_claim_number="ICN-77"),),
        )  # fmt: skip
        envelope = {"sender": Party("ZZ", "CH"), "receiver": Party("ZZ", "CARECYCLE"), "control": ControlNumbers(5, 5)}
        ack_277 = write_277ca([accepted], when=WHEN, **envelope)  # type: ignore[arg-type]
        self.mailbox.append(InboundDocument(f"doc-{len(self.mailbox)}", "277CA", ack_277, WHEN))
        return SubmissionResult(f"B{len(self.sent):04d}", True, write_999([ack], **envelope), ack_277)  # type: ignore[arg-type]

    def fetch_acknowledgments(self) -> list[InboundDocument]:
        return list(self.mailbox)

    def confirm(self, document_ids: Sequence[str]) -> None:
        self.mailbox = [d for d in self.mailbox if d.id not in document_ids]


@pytest.fixture
def claim(uow: UnitOfWork) -> str:
    with uow:
        practice = make_practice(uow.session)
        patient = make_patient(uow.session, practice)
        claim_id = make_claim(uow.session, practice, patient, status=ClaimStatus.READY).claim_id
        uow.commit()
    return claim_id


def _status(uow: UnitOfWork, claim_id: str) -> str:
    with uow:
        found = uow.session.get(m.Claim, claim_id)
        assert found is not None
        return str(found.status)


def _submissions(uow: UnitOfWork) -> list[tuple[int, str, str | None]]:
    with uow:
        rows = uow.session.execute(
            select(m.ClaimSubmission.interchange_control_number, m.ClaimSubmission.state, m.ClaimSubmission.batch_id)
        ).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_the_clearinghouse_is_called_with_no_transaction_open(
    uow: UnitOfWork, session_factory: Any, store_url: str, claim: str
) -> None:
    clearinghouse = Clearinghouse(store_url)
    claims = ClaimActivities(session_factory, clearinghouse, Envelope())  # type: ignore[arg-type]
    result = claims.submit(c.ClaimCorrection(claim, {}, "1", "test"))
    assert clearinghouse.store_was_free == [True]
    assert result.claim_status == "acknowledged"  # the 999 applied with the outcome; the 277CA not yet
    assert _status(uow, claim) == ClaimStatus.ACKNOWLEDGED
    assert _submissions(uow) == [(int(result.interchange_control_number), "sent", "B0001")]
    # The one place that applies the 277CA: the acknowledgments activity, from the mailbox.
    ack = claims.acknowledgments(c.AckQuery(claim, result.batch_key))
    assert (ack.state, ack.claim_status) == ("accepted", "accepted") and not clearinghouse.mailbox
    with uow:
        row = uow.session.get(m.Claim, claim)
        assert row is not None and row.payer_claim_control_number == "ICN-77"
    # A retried submit after the outcome was recorded sends nothing and answers the same.
    assert claims.submit(c.ClaimCorrection(claim, {}, "1", "test")).batch_key == result.batch_key
    assert len(clearinghouse.sent) == 1


def test_a_lost_answer_sends_the_same_interchange_again_and_records_it_once(
    uow: UnitOfWork, session_factory: Any, store_url: str, claim: str
) -> None:
    clearinghouse = Clearinghouse(store_url, fail_first=True)
    claims = ClaimActivities(session_factory, clearinghouse, Envelope())  # type: ignore[arg-type]
    with pytest.raises(ClearinghouseUnavailable):
        claims.submit(c.ClaimCorrection(claim, {}, "1", "test"))
    ((icn, state, batch),) = _submissions(uow)
    assert state == "built" and batch is None and _status(uow, claim) == ClaimStatus.READY
    result = claims.submit(c.ClaimCorrection(claim, {}, "1", "test"))  # Temporal's retry
    assert int(result.interchange_control_number) == icn and clearinghouse.sent[0] == clearinghouse.sent[1]
    assert _submissions(uow) == [(icn, "sent", result.batch_key)]
    with uow:
        submitted = uow.session.execute(
            select(func.count())
            .select_from(m.AuditEvent)
            .where(m.AuditEvent.entity_id == claim, m.AuditEvent.action == "claim.submitted")
        ).scalar_one()
        assert submitted == 1


class AnswerLostAfterFiling(Clearinghouse):
    """The clearinghouse takes the first batch and files its 277CA in the mailbox, and its answer is lost."""

    def submit_837(self, x12: str) -> SubmissionResult:
        result = super().submit_837(x12)
        if len(self.sent) == 1:
            raise ClearinghouseUnavailable("the clearinghouse timed out (the batch may or may not have arrived)")
        return result


def test_a_277ca_read_before_its_claim_is_recorded_as_sent_stays_in_the_mailbox(
    uow: UnitOfWork, session_factory: Any, store_url: str, claim: str
) -> None:
    """Another claim's acknowledgment poll reads the mailbox while this claim's send is still being recorded (its
    submission built, the claim READY): the 277CA that names it stays in the mailbox until the send is recorded.
    Before, it was confirmed unapplied, and the claim waited for a 277CA that never came (a clean-clone CI run:
    a journey's claim went to follow-up every few seconds until the demo's wait ran out)."""
    clearinghouse = AnswerLostAfterFiling(store_url)
    claims = ClaimActivities(session_factory, clearinghouse, Envelope())  # type: ignore[arg-type]
    with pytest.raises(ClearinghouseUnavailable):
        claims.submit(c.ClaimCorrection(claim, {}, "1", "test"))
    assert _status(uow, claim) == ClaimStatus.READY and [d.kind for d in clearinghouse.mailbox] == ["277CA"]
    with uow:
        practice = make_practice(uow.session, ("PAYC",))
        patient = make_patient(uow.session, practice, primary="PAYC")
        other = make_claim(uow.session, practice, patient, payer="PAYC").claim_id  # SUBMITTED, waiting
        uow.commit()
    claims.acknowledgments(c.AckQuery(other, "B-other"))  # reads the mailbox: this claim's 277CA is in it
    assert [d.kind for d in clearinghouse.mailbox] == ["277CA"] and _status(uow, claim) == ClaimStatus.READY
    result = claims.submit(c.ClaimCorrection(claim, {}, "1", "test"))  # Temporal's retry: the send recorded
    ack = claims.acknowledgments(c.AckQuery(claim, result.batch_key))
    assert (ack.state, ack.claim_status) == ("accepted", "accepted") and not clearinghouse.mailbox


def test_a_claim_changed_after_its_837p_was_built_is_built_again(
    uow: UnitOfWork, session_factory: Any, store_url: str, claim: str
) -> None:
    clearinghouse = Clearinghouse(store_url, fail_first=True)
    claims = ClaimActivities(session_factory, clearinghouse, Envelope())  # type: ignore[arg-type]
    with pytest.raises(ClearinghouseUnavailable):
        claims.submit(c.ClaimCorrection(claim, {}, "1", "test"))
    with uow:
        row = uow.session.get(m.Claim, claim)
        assert row is not None
        row.lines[0].units = 2  # corrected meanwhile (claims.correct, then the scrub: its version moves on)
        row.transition(ClaimStatus.DRAFT)
        uow.session.flush()
        row.transition(ClaimStatus.READY)
        uow.commit()
    result = claims.submit(c.ClaimCorrection(claim, {}, "1", "test"))
    states = sorted(state for _, state, _ in _submissions(uow))
    assert states == ["sent", "superseded"] and clearinghouse.sent[0] != clearinghouse.sent[1]
    assert "SV1*HC:99213*100*UN*2" in clearinghouse.sent[1] and result.claim_status == "acknowledged"


def test_a_999_from_the_mailbox_is_applied_by_the_group_it_names(
    uow: UnitOfWork, session_factory: Any, store_url: str, claim: str
) -> None:
    """A drop-folder clearinghouse answers the 999 later, in the mailbox: the same one place applies it."""
    from domain.services.submissions import apply_999, record_built, record_sent

    with uow:
        row = uow.session.get(m.Claim, claim)
        assert row is not None
        record_built(uow.session, row, ControlNumbers(7001, 8001), "ISA*...", None)
        record_sent(uow.session, 7001, "drop-1", None, actor="test")
        uow.commit()
    rejected = Acknowledgment999.for_transactions("HC", "8001", "005010X222A1", [TransactionAck("837", "0001", "R")])
    envelope = {"sender": Party("ZZ", "CH"), "receiver": Party("ZZ", "CARECYCLE"), "control": ControlNumbers(6, 6)}
    text_999 = write_999([rejected], **envelope)  # type: ignore[arg-type]
    assert parse_999(text_999)[0].group_control_number == "8001"
    with uow:
        assert apply_999(uow.session, text_999) == 1
        uow.commit()
    assert _status(uow, claim) == ClaimStatus.REJECTED


def test_a_write_race_lost_after_the_send_does_not_send_the_claim_again(
    uow: UnitOfWork, session_factory: Any, engine: Engine, store_url: str, claim: str
) -> None:
    """The unit that records the clearinghouse's answer loses a real SQLite write race (another writer commits
    between its first read and its first write): it runs again by itself. Before, the whole activity ran again
    (``workers.store_retry``, as the worker does below) and sent the same interchange a second time, which the
    sandbox payer adjudicated as a second claim and denied as a duplicate (a CI run's paid claim reopened)."""
    if not store_url.startswith("sqlite"):
        pytest.skip("the race is SQLite's (a stale snapshot cannot take the write lock); PostgreSQL waits")
    from domain.store.engine import is_sqlite_busy, sqlite_write_lock_first

    path = store_url.removeprefix("sqlite:///")
    race = {"armed": False, "run": False, "lost": 0}

    class Racing(Clearinghouse):
        def submit_837(self, x12: str) -> SubmissionResult:
            answer = super().submit_837(x12)
            race["armed"] = True  # the recording unit's first write comes after another writer's commit
            return answer

    def another_writer_commits(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if race["armed"] and not race["run"] and statement.lstrip().upper().startswith(("UPDATE", "INSERT")):
            race["run"] = True
            other = sqlite3.connect(path)
            other.execute("UPDATE claims SET status = status")
            other.commit()
            other.close()

    def lost(context: Any) -> None:
        race["lost"] += is_sqlite_busy(context.sqlalchemy_exception)

    event.listen(engine, "before_cursor_execute", another_writer_commits)
    event.listen(engine, "handle_error", lost)
    clearinghouse = Racing(store_url)
    claims = ClaimActivities(session_factory, clearinghouse, Envelope())  # type: ignore[arg-type]
    correction = c.ClaimCorrection(claim, {}, "1", "test")
    try:  # what the worker does with an activity that lost a SQLite write race (workers.store_retry)
        result = claims.submit(correction)
    except Exception as exc:
        if not is_sqlite_busy(exc):
            raise
        with sqlite_write_lock_first():
            result = claims.submit(correction)
    assert race["run"] and race["lost"] == 1, race  # the race was real, and lost once
    assert len(clearinghouse.sent) == 1
    assert _submissions(uow) == [(int(result.interchange_control_number), "sent", result.batch_key)]
    assert _status(uow, claim) == ClaimStatus.ACKNOWLEDGED
