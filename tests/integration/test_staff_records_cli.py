"""`carecycle staff list|show` on SQLite and PostgreSQL: each credential's state (active, expiring, expired,
pending, revoked; an old row marked superseded), exclusion matches, enrollments, licensed states, open items."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from domain import models as m
from domain.enums import CredentialKind
from sandbox.exclusions import Planted, write_leie
from workers.cli import run
from workers.synthetic import seed_practice

TODAY = datetime.now(UTC).date()


@pytest.fixture
def provider_staff(store_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch) -> m.Staff:
    """A seeded practice; returns a provider's staff row after giving it one credential in each state."""
    from workers.composition import Container

    monkeypatch.setenv("CARECYCLE_DATABASE_URL", store_url)
    container = Container()
    try:
        with container.uow() as uow:
            seed_practice(uow.session, patients=2, seed=8, as_of=TODAY)
            uow.commit()
        with container.uow() as uow:
            staff = uow.session.scalars(
                select(m.Staff).join(m.Provider, m.Provider.staff_id == m.Staff.id).order_by(m.Staff.id)
            ).first()
            assert staff is not None
            uow.session.execute(m.Credential.__table__.delete().where(m.Credential.staff_id == staff.id))

            def add(
                kind: CredentialKind, issuer: str, expires: date | None, status: str, state: str | None = None
            ) -> None:
                uow.session.add(
                    m.Credential(
                        staff_id=staff.id, kind=kind, number="N1", issuer=issuer, issued_on=TODAY - timedelta(400),
                        expires_on=expires, status=status, state=state,
                    )
                )  # fmt: skip

            add(CredentialKind.STATE_LICENSE, "OR Medical Board", TODAY + timedelta(500), "active", "OR")
            add(CredentialKind.STATE_LICENSE, "OR Medical Board", TODAY - timedelta(300), "expired", "OR")  # old
            add(CredentialKind.STATE_LICENSE, "WA Medical Commission", TODAY - timedelta(3), "active", "WA")
            add(CredentialKind.DEA, "DEA", TODAY + timedelta(40), "active")
            add(CredentialKind.CAQH, "CAQH", TODAY + timedelta(45), "active")  # outside CAQH's 30-day lead
            add(CredentialKind.BOARD_CERTIFICATION, "ABFM", None, "pending")
            add(CredentialKind.BOARD_CERTIFICATION, "ABIM", TODAY + timedelta(900), "revoked")
            uow.commit()
            uow.session.expunge(staff)
            return staff
    finally:
        container.close()


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_staff_show_and_list_give_each_credentials_state(
    provider_staff: m.Staff, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    staff = provider_staff
    leie = write_leie(
        tmp_path / "UPDATED.csv", count=10, plant=[Planted(staff.first_name, staff.last_name, staff.birth_date)]
    )
    assert _cli(capsys, "staff", "screen", "--oig", str(leie), "--no-workflows")[0] == 0

    code, out, err = _cli(capsys, "staff", "show", staff.id, "--json")
    assert code == 0, err
    shown = json.loads(out)
    states = sorted((c["kind"], c["issuer"], c["state"], c["current"]) for c in shown["credentials"])
    assert states == [
        ("board_certification", "ABFM", "pending", True),
        ("board_certification", "ABIM", "revoked", True),
        ("caqh", "CAQH", "active", True),
        ("dea", "DEA", "expiring", True),
        ("state_license", "OR Medical Board", "active", True),
        ("state_license", "OR Medical Board", "expired", False),
        ("state_license", "WA Medical Commission", "expired", True),  # past its date, not yet marked lapsed
    ]
    assert shown["licensed_states"] == ["OR"]
    [match] = shown["exclusion_matches"]
    assert (match["source"], match["basis"], match["status"]) == ("OIG", "name_dob", "open")
    assert {e["payer_id"] for e in shown["enrollments"]} == {"SBXBM", "SBXSM", "SBXMC", "SBXMD", "SBXCC", "SBXHH"}
    assert [i["reason"] for i in shown["open_items"]] == ["exclusion_match"]
    assert shown["npi"] and shown["birth_date"] == staff.birth_date.isoformat()  # type: ignore[union-attr]

    code, out, _ = _cli(capsys, "staff", "show", staff.id)
    assert code == 0 and "licensed on" in out and "expiring" in out and "(old)" in out and "name_dob" in out

    code, out, _ = _cli(capsys, "staff", "list", "--json")
    assert code == 0
    listed = {row["staff_id"]: row for row in json.loads(out)["staff"]}
    assert len(listed) == 13
    assert listed[staff.id]["credentials"] == {"active": 2, "expired": 1, "expiring": 1, "pending": 1, "revoked": 1}
    assert (listed[staff.id]["open_exclusion_matches"], listed[staff.id]["open_items"]) == (1, 1)
    code, out, _ = _cli(capsys, "staff", "list")
    assert code == 0 and "13 staff" in out

    code, _, err = _cli(capsys, "staff", "show", "no-such-staff")
    assert code == 1 and err.strip() == "error: no staff member no-such-staff"
    code, _, err = _cli(capsys, "staff", "list", "--as-of", "tomorrow")
    assert code == 2 and "not a date" in err
