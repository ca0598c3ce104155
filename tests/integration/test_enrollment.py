"""Payer enrollment on SQLite and PostgreSQL: `carecycle staff enroll|enrollments`, and the claim edit
PROVIDER_NOT_ENROLLED in both scrubs (the Claim workflow's `claims.scrub` activity and `carecycle claims scrub`):
an enrollment gap stops the provider's claim, a recorded enrollment lets it through again."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.clearinghouse.dropfolder import DropFolderClearinghouse, LocalMailbox
from activities.contracts import revenue as c
from activities.revenue.base import Envelope
from activities.revenue.claims import ClaimActivities
from domain import models as m
from domain.claim_status import ClaimStatus
from workers.cli import run
from workers.synthetic import seed_practice

AS_OF = datetime.now(UTC).date()  # the scrub activity checks timely filing against today


@pytest.fixture
def cli_store(store_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", store_url)
    return store_url


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _clean_claim(factory: sessionmaker[Session], claims: ClaimActivities) -> tuple[str, str, str, date]:
    """A seeded draft claim that passes every edit: (claim id, staff id, payer code, date of service)."""
    with factory() as session:
        rows = session.execute(
            select(m.Claim.id, m.Provider.staff_id, m.Payer.payer_id, m.Claim.date_of_service)
            .join(m.Provider, m.Provider.id == m.Claim.billing_provider_id)
            .join(m.Payer, m.Payer.id == m.Claim.payer_id)
            .where(m.Claim.status == ClaimStatus.DRAFT, m.Claim.primary_claim_id.is_(None))
            .order_by(m.Claim.id)
        ).all()
    for claim_id, staff_id, payer_code, day in rows:
        if claims.scrub(c.ClaimRef(claim_id)).passed:
            return claim_id, staff_id, payer_code, day
    raise AssertionError("no seeded draft claim passes the edits")


def test_an_enrollment_gap_stops_the_claim_until_the_enrollment_is_recorded(
    cli_store: str, carecycle_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from workers.composition import Container

    container = Container()
    with container.uow() as uow:
        seed_practice(uow.session, patients=40, seed=11, as_of=AS_OF)
        uow.commit()
    factory = container.session_factory
    mailbox = LocalMailbox(carecycle_home / "mailbox")
    claims = ClaimActivities(factory, DropFolderClearinghouse(mailbox), Envelope())
    claim_id, staff_id, payer, dos = _clean_claim(factory, claims)
    # Reset to draft so the CLI scrub (draft and ready claims) looks at it too.
    with factory() as session:
        claim = session.get(m.Claim, claim_id)
        assert claim is not None
        claim.status = ClaimStatus.DRAFT
        session.commit()

    code, out, err = _cli(
        capsys, "staff", "enroll", staff_id, "--payer", payer, "--status", "terminated",
        "--to", (dos - timedelta(days=1)).isoformat(), "--by", "cred", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["status"] == "terminated"

    scrubbed = claims.scrub(c.ClaimRef(claim_id))
    assert not scrubbed.passed and [e.code for e in scrubbed.edits] == ["PROVIDER_NOT_ENROLLED"]
    code, out, _ = _cli(capsys, "claims", "scrub", "--claim", claim_id, "--as-of", AS_OF.isoformat(), "--json")
    assert code == 1
    assert [f["code"] for f in json.loads(out)["results"][0]["failures"]] == ["PROVIDER_NOT_ENROLLED"]

    # Pending is not enough; the payer's approval (active from the date of service) is.
    code, _, err = _cli(capsys, "staff", "enroll", staff_id, "--payer", payer, "--status", "pending", "--by", "cred")
    assert code == 0, err
    assert not claims.scrub(c.ClaimRef(claim_id)).passed
    code, _, err = _cli(capsys, "staff", "enroll", staff_id, "--payer", payer, "--status", "active", "--by", "cred")
    assert code == 1 and err.strip() == "error: an active enrollment needs its effective date (--from YYYY-MM-DD)"
    code, _, err = _cli(
        capsys, "staff", "enroll", staff_id, "--payer", payer, "--status", "active", "--from", dos.isoformat(),
        "--number", "PRV-1", "--by", "cred",
    )  # fmt: skip
    assert code == 0, err
    assert claims.scrub(c.ClaimRef(claim_id)).passed

    code, out, _ = _cli(capsys, "staff", "enrollments", "--staff-id", staff_id, "--payer", payer, "--json")
    assert code == 0
    listed = json.loads(out)["enrollments"]
    assert [(e["status"], e["number"] == "PRV-1") for e in listed] == [("terminated", False), ("active", True)]
    with factory() as session:
        actions = session.scalars(
            select(m.AuditEvent.action).where(
                m.AuditEvent.entity_type == "payer_enrollment", m.AuditEvent.actor == "cred"
            )
        ).all()
    assert sorted(actions) == ["enrollment.changed", "enrollment.changed", "enrollment.recorded"]
    container.close()


def test_bad_enrollment_input_is_one_line_and_changes_nothing(
    cli_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from workers.composition import Container

    container = Container()
    with container.uow() as uow:
        seed_practice(uow.session, patients=2, seed=11, as_of=AS_OF)
        uow.commit()
    with container.uow() as uow:
        nurse = uow.session.scalars(select(m.Staff.id).where(m.Staff.role == "nurse")).first()
        provider_staff = uow.session.scalars(select(m.Provider.staff_id)).first()
        before = len(uow.session.scalars(select(m.PayerEnrollment.id)).all())
    container.close()
    assert nurse and provider_staff
    cases = [
        (["staff", "enroll", str(nurse), "--payer", "SBXBM", "--status", "pending"], "has no provider record"),
        (["staff", "enroll", provider_staff, "--payer", "NOPE", "--status", "pending"], "unknown payer 'NOPE'"),
        (["staff", "enroll", "no-such-id", "--payer", "SBXBM", "--status", "pending"], "no staff member no-such-id"),
        (
            ["staff", "enroll", provider_staff, "--payer", "SBXBM", "--status", "pending"],
            "cannot go back to pending",
        ),
    ]
    for argv, message in cases:
        code, _, err = _cli(capsys, *argv)
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err
    code, _, err = _cli(capsys, "staff", "enroll", provider_staff, "--payer", "SBXBM", "--status", "approved")
    assert code == 2 and "invalid choice" in err
    container = Container()
    with container.uow() as uow:
        assert len(uow.session.scalars(select(m.PayerEnrollment.id)).all()) == before
    container.close()
