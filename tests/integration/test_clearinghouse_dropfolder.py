"""The drop-folder (SFTP-style mailbox) adapter against the sandbox's drop folder, in-process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from activities.clearinghouse import (
    ClearinghouseRejected,
    ClearinghouseUnavailable,
    DropFolderClearinghouse,
    LocalMailbox,
    acknowledgments_of,
    connect_clearinghouse,
    remittances_of,
)
from domain.x12.ack277ca import parse_277ca
from domain.x12.eligibility import EligibilityInquiry, parse_271, write_270
from domain.x12.envelope import ControlNumbers, Party
from domain.x12.status276 import ClaimStatusInquiry, parse_277, write_276
from sandbox.clearinghouse.dropfolder import process_drop_folder
from sandbox.clearinghouse.service import ClearinghouseService
from tests.unit.sandbox.claims_factory import BILLING_NPI, BIRTH, batch, claim, member


@pytest.fixture
def dropbox(tmp_path: Path) -> Iterator[Path]:
    """The sandbox reading its drop folder every 50 ms in a thread, like the server's scheduler."""
    service = ClearinghouseService(tmp_path / "state", seed=9, time_scale=0, random_mix=False)
    service.load_roster([member(deductible_met_cents=50000)])
    root = tmp_path / "dropbox"
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.05):
            process_drop_folder(service, root)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield root
    stop.set()
    thread.join(timeout=5)
    service.close()


def test_drop_folder_carries_a_claim_to_an_835(dropbox: Path) -> None:
    clearinghouse = DropFolderClearinghouse(LocalMailbox(dropbox), timeout_seconds=10, poll_seconds=0.02)
    result = clearinghouse.submit_837(batch(claim("DF1"), claim("DF2", member_id="BM0")))
    assert result.accepted is True and result.batch_id.startswith("batch-")
    assert result.acknowledgments()[0].group_status == "A"

    acknowledgments = clearinghouse.fetch_acknowledgments()
    assert sorted(d.kind for d in acknowledgments) == ["277CA", "999"]
    ca = next(d for d in acknowledgments if d.kind == "277CA")
    assert [c.accepted for c in parse_277ca(ca.x12)[0].claims] == [True, False]
    assert acknowledgments_of(next(d for d in acknowledgments if d.kind == "999"))[0].sets_accepted == 1
    clearinghouse.confirm([d.id for d in acknowledgments])
    assert clearinghouse.fetch_acknowledgments() == []
    assert (dropbox / "received" / ca.id).exists()

    for _ in range(200):
        documents = clearinghouse.fetch_remittances()
        if documents:
            break
        threading.Event().wait(0.05)
    [remittance] = remittances_of(documents[0])
    assert [c.patient_control_number for c in remittance.claims] == ["DF1"]
    assert remittance.claims[0].paid_cents > 0 and not remittance.warnings
    clearinghouse.confirm([documents[0].id])
    clearinghouse.confirm([documents[0].id])  # idempotent
    assert clearinghouse.fetch_remittances() == []


def test_drop_folder_real_time_inquiries(dropbox: Path) -> None:
    clearinghouse = connect_clearinghouse(str(dropbox), timeout_seconds=10)
    inquiry = EligibilityInquiry(
        "E1", "BLUE MEADOW", "SBXBM", "RIVERBEND", BILLING_NPI, "BM100000001", "TESTPERSON", "ALEX", BIRTH, date.today()
    )
    text = write_270([inquiry], sender=Party("ZZ", "R1"), receiver=Party("ZZ", "SBXBM"), control=ControlNumbers(1, 1))
    [response] = parse_271(clearinghouse.eligibility(text))
    assert response.active is True and response.copay_cents == 2500

    status = ClaimStatusInquiry(
        "S1", "BLUE MEADOW", "SBXBM", "R", "R1", "R", BILLING_NPI, "BM100000001", "T", "A", "NONE", 1, date.today()
    )
    text = write_276([status], sender=Party("ZZ", "R1"), receiver=Party("ZZ", "SBXBM"), control=ControlNumbers(2, 2))
    [result] = parse_277(clearinghouse.claim_status(text))
    assert result.statuses[0].category == "D0"


def test_drop_folder_unreadable_batch_is_rejected(dropbox: Path) -> None:
    clearinghouse = DropFolderClearinghouse(LocalMailbox(dropbox), timeout_seconds=10, poll_seconds=0.02)
    with pytest.raises(ClearinghouseRejected, match="ISA"):
        clearinghouse.submit_837("not an interchange at all")


def test_drop_folder_without_a_clearinghouse_times_out(tmp_path: Path) -> None:
    clearinghouse = DropFolderClearinghouse(LocalMailbox(tmp_path), timeout_seconds=0.2, poll_seconds=0.05)
    result = clearinghouse.submit_837(batch(claim()))
    assert result.accepted is None and result.ack_999 is None
    assert len(list((tmp_path / "inbound").glob("*.837"))) == 1
    with pytest.raises(ClearinghouseUnavailable) as unavailable:
        clearinghouse.eligibility("ISA...")
    assert unavailable.value.retryable
    with pytest.raises(ClearinghouseRejected):
        clearinghouse.confirm(["../escape"])


def test_connect_picks_the_implementation_by_scheme(tmp_path: Path) -> None:
    assert isinstance(connect_clearinghouse(f"file://{tmp_path}"), DropFolderClearinghouse)
    with pytest.raises(ValueError, match="scheme"):
        connect_clearinghouse("ftp://example.invalid/x")


def test_sandbox_answers_junk_files_once_and_moves_them_aside(tmp_path: Path) -> None:
    service = ClearinghouseService(tmp_path / "state", seed=1, time_scale=0)
    root = tmp_path / "dropbox"
    (root / "inbound").mkdir(parents=True)
    (root / "inbound" / "junk.837").write_bytes(b"\xff\xfe\x00binary")
    (root / "inbound" / "empty.837").write_text("")
    (root / "inbound" / "half.837.part").write_text("ISA*")
    assert process_drop_folder(service, root) == 2
    assert (root / "outbound" / "junk.error.txt").read_text() == "file is not UTF-8 text\n"
    assert "empty" in (root / "outbound" / "empty.error.txt").read_text()
    assert sorted(p.name for p in (root / "processed").iterdir()) == ["empty.837", "junk.837"]
    assert process_drop_folder(service, root) == 0  # the .part upload waits until it is renamed
    service.close()
