"""Exclusion screening on SQLite and PostgreSQL through `carecycle staff screen`, and as the monthly Prefect flow:
staff matched by NPI (SAM), by name and birth date (LEIE) and as a possible match (no birth date on file); each
match recorded once with an audit event and an `exclusion_match` item for the staff member's credentialing
workflow; the screening credentials renewed; a malformed file changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from activities.contracts.staff import credentialing_workflow_id
from domain import models as m
from domain.enums import CredentialKind
from sandbox.exclusions import SHIPPED_LEIE, SHIPPED_SAM, Planted, shipped_file, write_leie, write_sam
from workers.cli import run
from workers.synthetic import seed_practice

TODAY = datetime.now(UTC).date()  # at import: a full run can cross midnight before a test runs (see _days_since)
EXCLUDED_ON = TODAY - timedelta(days=40)


def _days_since(start: date) -> set[date]:
    """The days from ``start`` to today (UTC): what the code may have called "today" since a test began."""
    today = datetime.now(UTC).date()
    return {start + timedelta(days) for days in range((today - start).days + 1)}


@pytest.fixture
def cli_store(store_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", store_url)
    return store_url


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _seed() -> dict[str, m.Staff]:
    """A seeded practice; returns three staff members to plant: two providers and a nurse with no birth date."""
    from workers.composition import Container

    container = Container()
    try:
        with container.uow() as uow:
            seed_practice(uow.session, patients=3, seed=21, as_of=TODAY)
            uow.commit()
        with container.uow() as uow:
            providers = uow.session.scalars(
                select(m.Staff).join(m.Provider, m.Provider.staff_id == m.Staff.id).order_by(m.Staff.id)
            ).all()
            nurse = uow.session.scalars(select(m.Staff).where(m.Staff.role == "nurse").order_by(m.Staff.id)).first()
            assert nurse is not None and len(providers) >= 2
            nurse.birth_date = None
            uow.commit()
            chosen = {"by_npi": providers[0], "by_name_dob": providers[1], "possible": nurse}
            for staff in chosen.values():
                uow.session.expunge(staff)
            return chosen
    finally:
        container.close()


def _files(folder: Path, staff: dict[str, m.Staff]) -> tuple[Path, Path]:
    by_npi, by_name, possible = staff["by_npi"], staff["by_name_dob"], staff["possible"]
    leie = write_leie(
        folder / "UPDATED.csv",
        count=60,
        plant=[
            Planted(by_name.first_name, by_name.last_name, by_name.birth_date, excluded_on=EXCLUDED_ON),
            Planted(possible.first_name, possible.last_name, date(1969, 9, 9), excluded_on=EXCLUDED_ON),
            # Same names, another birth date: not our provider.
            Planted(by_npi.first_name, by_npi.last_name, date(1901, 1, 1), excluded_on=EXCLUDED_ON),
        ],
    )
    sam = write_sam(
        folder / "SAM.csv", count=40, plant=[Planted("Someone", "Else", npi=by_npi.npi or "", excluded_on=EXCLUDED_ON)]
    )
    return leie, sam


def test_screening_records_each_match_once_and_opens_its_item(
    cli_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from workers.composition import Container

    began = datetime.now(UTC).date()
    staff = _seed()
    leie, sam = _files(tmp_path, staff)
    code, out, err = _cli(capsys, "staff", "screen", "--oig", str(leie), "--sam", str(sam), "--no-workflows", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["files"]["OIG"]["records"] == 63 and result["files"]["SAM"]["records"] == 41
    assert len(result["files"]["OIG"]["sha256"]) == 64
    found = {(h["staff_id"], h["source"], h["basis"]) for h in result["matches"]}
    assert found == {
        (staff["by_npi"].id, "SAM", "npi"),
        (staff["by_name_dob"].id, "OIG", "name_dob"),
        (staff["possible"].id, "OIG", "name"),
    }
    assert result["new_matches"] == 3 and result["work_items_opened"] == 3
    assert result["staff_screened"] == 13 and result["credentials_renewed"] > 0
    assert result["workflows"] == {"contacted": False, "reason": "--no-workflows"}

    container = Container()
    try:
        with container.uow() as uow:
            items = uow.session.scalars(select(m.WorkItem).where(m.WorkItem.reason_code == "exclusion_match")).all()
            assert {(i.entity_id, i.workflow_id, i.queue) for i in items} == {
                (s.id, credentialing_workflow_id(s.id), "credentialing") for s in staff.values()
            }
            names = {s.last_name for s in staff.values()}
            assert not any(name in item.summary or name in json.dumps(item.context) for item in items for name in names)
            found_events = uow.session.scalar(
                select(func.count()).select_from(m.AuditEvent).where(m.AuditEvent.action == "exclusion.match_found")
            )
            assert found_events == 3
            screening = uow.session.scalars(select(m.Credential).where(
                m.Credential.kind == CredentialKind.EXCLUSION_SCREENING.value, m.Credential.issuer == "OIG"
            )).all()  # fmt: skip
            assert screening and all(
                c.verified_on in _days_since(began) and c.expires_on == c.verified_on + timedelta(30) for c in screening
            )
    finally:
        container.close()

    # Next month's files hold the same records: the same matches, nothing new.
    code, out, err = _cli(capsys, "staff", "screen", "--oig", str(leie), "--sam", str(sam), "--no-workflows", "--json")
    assert code == 0, err
    again = json.loads(out)
    assert (again["new_matches"], again["work_items_opened"], len(again["matches"])) == (0, 0, 3)

    # The people at the terminal see it in words.
    code, out, _ = _cli(capsys, "staff", "screen", "--oig", str(leie), "--no-workflows")
    assert code == 0 and "2 matches (0 new)" in out


def test_a_malformed_file_changes_nothing(cli_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from workers.composition import Container

    staff = _seed()
    leie, _ = _files(tmp_path, staff)
    broken = tmp_path / "broken.csv"  # every match before the last row: nothing may be kept of them
    broken.write_text(leie.read_text() + "ROW,BAD,,,,,,0000000000,19700101,,,,,1128a1,20251301,00000000,00000000,\r\n")
    code, _, err = _cli(capsys, "staff", "screen", "--oig", str(broken), "--no-workflows")
    assert code == 1 and err.startswith("error: line ") and "not a date" in err and len(err.splitlines()) == 1
    code, _, err = _cli(capsys, "staff", "screen", "--oig", str(tmp_path / "missing.csv"))
    assert code == 1 and "no such file" in err and len(err.splitlines()) == 1
    code, _, err = _cli(capsys, "staff", "screen")
    assert code == 2 and "give --oig FILE, --sam FILE or both" in err
    container = Container()
    try:
        with container.uow() as uow:
            for model in (m.ExclusionScreening, m.ExclusionMatch, m.WorkItem):
                assert uow.session.scalar(select(func.count()).select_from(model)) == 0
    finally:
        container.close()


@pytest.fixture
def one_prefect_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from workers import batch

    stop = batch.stop_prefect_local
    monkeypatch.setattr(batch, "stop_prefect_local", lambda: None)
    try:
        yield
    finally:
        stop()


@pytest.mark.e2e
@pytest.mark.usefixtures("one_prefect_server")
def test_the_monthly_flow_screens_the_configured_files(
    sqlite_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", sqlite_url)
    began = datetime.now(UTC).date()
    staff = _seed()
    code, _, err = _cli(capsys, "batch", "run", "exclusion-screening", "--json")
    assert code == 1 and "no exclusion list to screen against" in err

    # The shipped synthetic files, where the flow looks by default: no one of ours is on them.
    folder = carecycle_home / "exclusions"
    folder.mkdir()
    (folder / "UPDATED.csv").write_bytes(shipped_file(SHIPPED_LEIE).read_bytes())
    (folder / "SAM_Exclusions_Public_Extract_V2.csv").write_bytes(shipped_file(SHIPPED_SAM).read_bytes())
    code, out, err = _cli(capsys, "batch", "run", "exclusion-screening", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["sources"], summary["matches"], summary["staff_screened"]) == (["OIG", "SAM"], 0, 13)

    # A file with a planted provider, named on the command line.
    leie, _ = _files(carecycle_home, staff)
    code, out, err = _cli(capsys, "batch", "run", "exclusion-screening", "--oig", str(leie), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["sources"], summary["matches"], summary["new_matches"], summary["work_items_opened"]) == (
        ["OIG"], 2, 2, 2,
    )  # fmt: skip
    report = json.loads(Path(summary["report"]).read_text())
    assert Path(summary["report"]).name in {f"exclusion-screening-{day.isoformat()}.json" for day in _days_since(began)}
    assert {m["staff_id"] for m in report["matches"]} == {staff["by_name_dob"].id, staff["possible"].id}
    assert staff["by_name_dob"].last_name not in Path(summary["report"]).read_text()
