"""One payment, many channels, on SQLite and PostgreSQL: the same adjudication as an 835 (the X12 codec) and as a
portal EOB PDF (rendered by the sandbox, read by the extractor), posted in either order, is one payment: one
journal posting, a balanced ledger, no open exception, and the later arrival says what it was."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from activities.eob import extract_eob
from domain import models as m
from domain.errors import ValidationError
from domain.ledger.checks import run_ledger_checks
from domain.ledger.service import post_charge
from domain.ledger.store import balances_by_account, claim_insurance_balances
from domain.posting import post_remittance
from domain.posting.arrivals import ARRIVED_AGAIN_ACTION
from domain.posting.parked import ExceptionKind
from domain.remittance import Remittance
from domain.services.posting_exceptions import load_facts, resolve_posting_item
from domain.store.uow import UnitOfWork
from domain.x12.envelope import ControlNumbers, Party
from domain.x12.remit835 import parse_835, write_835
from sandbox.eob import render_eob
from tests.unit.posting.factory import ClaimIds, make_claim, make_patient, make_practice, paid_claim, remittance

PAYER = "SBXCC"  # a payer with an EOB layout (cascade)


def _setup(uow: UnitOfWork) -> tuple[ClaimIds, Remittance]:
    with uow:
        practice = make_practice(uow.session, (PAYER,))
        patient = make_patient(uow.session, practice, primary=PAYER)
        claim = make_claim(uow.session, practice, patient, payer=PAYER)
        post_charge(uow.session, claim.claim_id)
        uow.commit()
    return claim, remittance(PAYER, "EFT4242", [paid_claim(claim, pr_cents=(2000, 0))])


def _as_835(era: Remittance) -> Remittance:
    text = write_835([era], sender=Party("ZZ", PAYER), receiver=Party("ZZ", "CLINIC"), control=ControlNumbers(7, 7))
    (parsed,) = parse_835(text)
    return parsed


def _as_eob(era: Remittance, folder: Path) -> Remittance:
    pdf = folder / f"eob-{era.trace_number}.pdf"
    pdf.write_bytes(render_eob(replace(era, source="eob_pdf"), "cascade"))
    read = extract_eob(pdf, PAYER)
    assert read.source == "eob_pdf" and read.trace_number == era.trace_number
    return read


def _counts(uow: UnitOfWork) -> tuple[int, int, int]:
    with uow:
        s = uow.session
        return (
            s.execute(select(func.count()).select_from(m.JournalEntry)).scalar_one(),
            s.execute(select(func.count()).select_from(m.Remittance)).scalar_one(),
            s.execute(select(func.count()).select_from(m.WorkItem)).scalar_one(),
        )


def _ledger_ok(uow: UnitOfWork, claim: ClaimIds) -> None:
    with uow:
        report = run_ledger_checks(uow.session)
        assert report.ok, report.as_dict()
        assert sum(balances_by_account(uow.session).values()) == 0
        assert claim_insurance_balances(uow.session, [claim.claim_id]) == {claim.claim_id: 0}
        stored = uow.session.get(m.Claim, claim.claim_id)
        assert stored is not None and stored.paid_cents == 9000 and stored.patient_responsibility_cents == 2000


@pytest.mark.parametrize("first_channel", ["835", "eob_pdf"])
def test_the_same_payment_by_835_and_eob_pdf_posts_once(uow: UnitOfWork, tmp_path: Path, first_channel: str) -> None:
    claim, era = _setup(uow)
    by_835, by_eob = _as_835(era), _as_eob(era, tmp_path)
    first, second = (by_835, by_eob) if first_channel == "835" else (by_eob, by_835)
    with uow:
        posted = post_remittance(uow.session, first, source_document_key="first")
        uow.commit()
    assert not posted.already_posted and posted.claims[0].outcome == "paid" and posted.arrival == ""
    entries, remittances, items = _counts(uow)
    with uow:
        later = post_remittance(uow.session, second, source_document_key="edi/835/second.x12", actor="workflow:test")
        uow.commit()
    assert later.already_posted and later.arrival == "same_payment" and later.entries_written == 0
    assert later.source == second.source and later.first_source == first.source
    assert later.remittance_id == posted.remittance_id and later.work_items_opened == ()
    assert [(c.outcome, c.claim_id, c.problems) for c in later.claims] == [("same_payment", claim.claim_id, ())]
    assert later.as_dict()["arrival"] == "same_payment" and later.claims_matched == 1
    assert _counts(uow) == (entries, remittances, items) and remittances == 1 and items == 0
    _ledger_ok(uow, claim)
    with uow:  # the later arrival is recorded against the stored remittance
        (event,) = uow.session.execute(
            select(m.AuditEvent).where(m.AuditEvent.action == ARRIVED_AGAIN_ACTION)
        ).scalars()
        assert event.entity_id == posted.remittance_id
        assert event.details["outcome"] == "same_payment" and event.details["source"] == second.source
        assert event.details["first_source"] == first.source
        assert event.details["document_key"] == "edi/835/second.x12"
    with uow:  # the same channel again is what it always was
        again = post_remittance(uow.session, second)
        uow.commit()
    assert again.already_posted and again.arrival == "same_payment"
    with uow:
        again = post_remittance(uow.session, first)
        uow.commit()
    assert again.arrival == "already_posted" and again.claims[0].outcome == "already_posted"


@pytest.mark.parametrize("first_channel", ["835", "eob_pdf"])
def test_one_check_printed_two_ways_by_835_and_eob_pdf_is_one_payment(
    uow: UnitOfWork, tmp_path: Path, first_channel: str
) -> None:
    """The 835's TRN02 is 000123456, the portal's EOB prints the check number 123456: the same payment (one
    remittance row, posted once, no exception), each arrival's trace kept as it came."""
    claim, era = _setup(uow)
    by_835 = _as_835(replace(era, trace_number="000123456"))
    by_eob = _as_eob(replace(era, trace_number="123456"), tmp_path)
    assert (by_835.trace_number, by_eob.trace_number) == ("000123456", "123456")
    first, second = (by_835, by_eob) if first_channel == "835" else (by_eob, by_835)
    with uow:
        posted = post_remittance(uow.session, first)
        uow.commit()
    assert not posted.already_posted and posted.claims[0].outcome == "paid"
    with uow:
        later = post_remittance(uow.session, second)
        uow.commit()
    assert later.already_posted and later.arrival == "same_payment" and later.entries_written == 0
    assert later.remittance_id == posted.remittance_id and later.work_items_opened == ()
    assert [c.outcome for c in later.claims] == ["same_payment"]
    assert _counts(uow)[1:] == (1, 0)  # one remittance, no work item
    _ledger_ok(uow, claim)
    with uow:
        (stored,) = uow.session.execute(select(m.Remittance)).scalars()
        assert (stored.trace_number, stored.trace_key) == (first.trace_number, "123456")
        (event,) = uow.session.execute(
            select(m.AuditEvent).where(m.AuditEvent.action == ARRIVED_AGAIN_ACTION)
        ).scalars()
        assert event.entity_id == posted.remittance_id and event.details["outcome"] == "same_payment"


def test_channels_that_disagree_open_one_item_and_post_nothing_twice(uow: UnitOfWork, tmp_path: Path) -> None:
    claim, era = _setup(uow)
    with uow:
        post_remittance(uow.session, _as_835(era))
        uow.commit()
    entries, _, _ = _counts(uow)
    # The portal's EOB for the same check says the payer paid less (and the patient owes more).
    short = remittance(PAYER, "EFT4242", [paid_claim(claim, paid_ratio=(50, 100), pr_cents=(2000, 0))])
    eob = _as_eob(short, tmp_path)
    with uow:
        later = post_remittance(uow.session, eob)
        uow.commit()
    assert later.already_posted and later.arrival == "channel_mismatch" and later.entries_written == 0
    (outcome,) = later.claims
    assert outcome.outcome == "channel_mismatch" and "paid_cents 9000!=7500" in outcome.problems
    (item_id,) = later.work_items_opened
    assert outcome.work_item_id == item_id
    with uow:
        again = post_remittance(uow.session, eob)  # the same EOB again: the same item, not a second one
        uow.commit()
    assert again.arrival == "channel_mismatch" and again.work_items_opened == ()
    assert _counts(uow) == (entries, 1, 1)
    _ledger_ok(uow, claim)
    with uow:
        item = uow.session.get(m.WorkItem, item_id)
        assert item is not None and item.state == "open" and item.context["problem"] == "channel_mismatch"
        assert item.context["source"] == "eob_pdf" and item.context["first_source"] == "835"
        assert item.context["claims"][0]["claim_id"] == claim.claim_id
    # The item's workflow: the first posting stands (complete) once a person checked with the payer; nothing is
    # posted from the later channel, so there is nothing to write off or post manually.
    with uow:
        item = uow.session.get(m.WorkItem, item_id)
        assert item is not None
        facts = load_facts(uow.session, item)
        assert facts.kind is ExceptionKind.CHANNEL_MISMATCH and facts.trace_number == "EFT4242"
        for action, fields in (("write_off", {"reason_code": "administrative"}), ("retry_now", {})):
            with pytest.raises(ValidationError):
                resolve_posting_item(uow.session, item_id, action, fields, actor="user:biller")
        applied = resolve_posting_item(uow.session, item_id, "complete", {}, actor="user:biller")
        uow.commit()
    assert applied.posted is None and applied.written_off_cents == 0
    assert _counts(uow)[0] == entries
    _ledger_ok(uow, claim)
