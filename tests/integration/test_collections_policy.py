"""Issue 11, item 2 (collections): the policy is the practice's configuration, stored and versioned, shown and set
with ``carecycle policy``; the running statement path is the PDF renderer and the outbox with due dates from the
policy; the agency hand-off writes the balance off as bad debt, balanced. SQLite and PostgreSQL.

Before: the policy was the workflow's input (no version, no command), statements were plain text due in 30 days
whatever the policy said, and the agency export left the balance on the books."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from activities.contracts import revenue as c
from activities.documents.local import LocalDocumentStore
from activities.patient_collections.messaging import OutboxMessenger
from activities.revenue import CollectionsActivities
from domain import models as m
from domain.collections_policy import CollectionsPolicy, policy_settings
from domain.collections_policy_store import current_policy, set_policy
from domain.errors import ValidationError
from domain.ledger import accounts as acc
from domain.ledger.checks import run_ledger_checks
from domain.ledger.service import post_patient_charge
from domain.ledger.store import account_balance, guarantor_balance
from domain.store.uow import UnitOfWork
from tests.unit.posting.factory import make_claim, make_patient, make_practice
from workers.cli import run


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_versions_are_stored_and_a_change_is_audited(uow: UnitOfWork) -> None:
    with uow:
        assert current_policy(uow.session).version == 0  # the defaults, nothing stored
        first = set_policy(uow.session, {"reminders": "2", "small_balance": "7.50"}, actor="ann", note="board")
        uow.commit()
    assert first.version == 1 and first.policy.reminders == 2 and first.policy.small_balance_cents == 750
    with uow:
        again = set_policy(uow.session, {"reminders": "2"}, actor="ann")  # the same settings: no new version
        assert again.version == 1
        with pytest.raises(ValidationError, match="statement_interval_days must be positive"):
            set_policy(uow.session, {"statement_interval_days": "0"}, actor="ann")
        with pytest.raises(ValidationError, match="no setting 'colour'"):
            set_policy(uow.session, {"colour": "1"}, actor="ann")
        event = uow.session.execute(
            select(m.AuditEvent).where(m.AuditEvent.action == "collections_policy.changed")
        ).scalar_one()
        assert event.details["changed"] == {"reminders": 2, "small_balance_cents": 750}
        assert current_policy(uow.session).policy == CollectionsPolicy(reminders=2, small_balance_cents=750)


def test_policy_show_and_set_as_a_user_runs_them(
    store_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", store_url)
    code, out, _ = _cli(capsys, "policy", "show", "--json")
    assert code == 0 and json.loads(out)["version"] == 0
    assert json.loads(out)["settings"] == policy_settings(CollectionsPolicy())
    code, out, _ = _cli(capsys, "policy", "set", "reminders=3", "agency_min_balance=40.00", "--by", "ann", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["version"] == 1 and shown["changed"]
    assert shown["settings"]["reminders"] == 3 and shown["settings"]["agency_min_balance_cents"] == 4000
    code, out, _ = _cli(capsys, "policy", "show")
    assert code == 0 and "version 1" in out and "$40.00" in out and "set by ann" in out
    for bad in (["reminders=x"], ["nope=1"], ["reminders"], ["max_installments=0"]):
        code, out, err = _cli(capsys, "policy", "set", *bad, "--by", "ann")
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (bad, err)
    code, out, _ = _cli(capsys, "policy", "show", "--history", "--json")
    assert [v["version"] for v in json.loads(out)["versions"]] == [1]


@pytest.fixture
def balance(uow: UnitOfWork) -> dict[str, Any]:
    """A guarantor who owes $150.00 for a self-pay visit."""
    with uow:
        practice = make_practice(uow.session)
        patient = make_patient(uow.session, practice)
        claim = make_claim(uow.session, practice, patient)
        encounter_id = uow.session.get(m.Claim, claim.claim_id).encounter_id  # type: ignore[union-attr]
        post_patient_charge(uow.session, encounter_id, actor="desk")
        uow.commit()
    return {"guarantor": patient.guarantor_id}


def _activities(session_factory: Any, tmp_path: Path) -> tuple[CollectionsActivities, OutboxMessenger]:
    outbox = OutboxMessenger(tmp_path / "outbox")
    return CollectionsActivities(session_factory, LocalDocumentStore(tmp_path / "docs"), messenger=outbox), outbox


def test_statements_are_pdfs_through_the_outbox_due_when_the_policy_says(
    uow: UnitOfWork, session_factory: Any, tmp_path: Path, balance: dict[str, Any]
) -> None:
    collections, outbox = _activities(session_factory, tmp_path)
    guarantor = balance["guarantor"]
    request = c.StatementRequest(
        guarantor, "first", 1, "collections-g/1", due_on="2026-04-01", statement_on="2026-03-02"
    )
    sent = collections.send_statement(request)
    assert collections.send_statement(request) == sent  # once per cycle key
    with uow:
        statement = uow.session.get(m.Statement, sent.statement_id)
        assert statement is not None and (statement.statement_date, statement.due_date) == (
            date(2026, 3, 2),
            date(2026, 4, 1),
        )
        document = uow.session.execute(select(m.Document).where(m.Document.key == sent.document_key)).scalar_one()
        assert document.kind == "statement" and document.content_type == "application/pdf"
        set_policy(uow.session, {"statement_interval_days": "21"}, actor="ann")
        uow.commit()
    assert (tmp_path / "docs").exists() and sent.balance_cents == 15000
    assert [m["body"] for m in outbox.sent()] == ["Your balance of 150.00 is due by 2026-04-01."]
    # Without a due date from the workflow, the policy in force gives it (21 days now).
    later = collections.send_statement(c.StatementRequest(guarantor, "reminder", 2, "collections-g/2"))
    with uow:
        reminder = uow.session.get(m.Statement, later.statement_id)
        assert reminder is not None and (reminder.due_date - reminder.statement_date).days == 21
    assert collections.policy(c.Nothing()).version == 1
    assert collections.policy(c.Nothing()).settings["statement_interval_days"] == 21


def test_the_agency_hand_off_writes_the_balance_off_as_bad_debt(
    uow: UnitOfWork, session_factory: Any, tmp_path: Path, balance: dict[str, Any]
) -> None:
    collections, _ = _activities(session_factory, tmp_path)
    guarantor = balance["guarantor"]
    placed = collections.agency_handoff(c.AgencyHandoff(guarantor, 15000, "collections-g/agency/3"))
    again = collections.agency_handoff(c.AgencyHandoff(guarantor, 15000, "collections-g/agency/3"))
    assert placed.export_key and again.export_key == placed.export_key
    with uow:
        assert guarantor_balance(uow.session, guarantor) == 0
        assert account_balance(uow.session, acc.write_off("bad_debt").code) == 15000
        assert run_ledger_checks(uow.session).ok
        documents = uow.session.execute(
            select(func.count()).select_from(m.Document).where(m.Document.kind == "agency_export")
        ).scalar_one()
        assert documents == 1
        events = (
            uow.session.execute(select(m.AuditEvent.details).where(m.AuditEvent.action == "collections.agency"))
            .scalars()
            .all()
        )
        assert [e["written_off"] for e in events] == ["bad_debt"]
