"""The batch side: the store ports and folders of workers.batch on SQLite and PostgreSQL, the flows' pure
parts, and (marked e2e: Prefect's ephemeral server takes a while to start) every flow run for real through
Prefect and the `carecycle batch` command."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain import models as m
from domain.aging import ar_aging, insurance_open_balances
from domain.staff import credential_item_reason
from flows.batch.aging import BUCKETS, OpenBalance, age_balances, bucket_of
from workers.batch import BatchStore, DropFolder, Reports
from workers.synthetic import SyntheticPractice, seed_practice

AS_OF = date(2026, 3, 2)
PATIENTS = 40
SEED = 11


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> SyntheticPractice:
    with session_factory() as session, session.begin():
        seed_practice(session, patients=PATIENTS, seed=SEED, as_of=AS_OF)
    return SyntheticPractice(SEED, AS_OF).generate(PATIENTS)  # the same rows: same seed, same day


def _rows(practice: SyntheticPractice, model: type[m.Base]) -> list[dict[str, Any]]:
    return practice.rows[model.__table__]  # type: ignore[index]


def test_expiring_credentials_and_training_are_found(
    session_factory: sessionmaker[Session], seeded: SyntheticPractice
) -> None:
    found = BatchStore(session_factory).find_expiring(AS_OF, 60)
    horizon = AS_OF + timedelta(days=60)
    expected = {c["id"] for c in _rows(seeded, m.Credential) if c["expires_on"] <= horizon}
    assert expected and {c.credential_id for c in found.credentials} == expected
    assert all(c.days_left == (c.expires_on - AS_OF).days for c in found.credentials)
    assert any(c.days_left < 0 for c in found.credentials)  # already expired ones are in, flagged
    expected_training = {t["id"] for t in _rows(seeded, m.TrainingRecord) if t["expires_on"] <= horizon}
    assert {t.training_record_id for t in found.training} == expected_training
    # A narrower window finds a subset.
    assert {c.credential_id for c in BatchStore(session_factory).find_expiring(AS_OF, 0).credentials} < expected


def test_a_renewed_credential_supersedes_the_old_one(
    session_factory: sessionmaker[Session], seeded: SyntheticPractice
) -> None:
    store = BatchStore(session_factory)
    expiring = store.find_expiring(AS_OF, 60).credentials[0]
    with session_factory() as session, session.begin():
        old = session.get(m.Credential, expiring.credential_id)
        assert old is not None
        session.add(
            m.Credential(
                staff_id=old.staff_id,
                kind=old.kind,
                number=old.number,
                issuer=old.issuer,
                issued_on=AS_OF,
                expires_on=AS_OF + timedelta(days=730),
                status="active",
            )
        )
    assert expiring.credential_id not in {c.credential_id for c in store.find_expiring(AS_OF, 60).credentials}


def test_credential_work_items_open_once_per_credential(
    session_factory: sessionmaker[Session], seeded: SyntheticPractice
) -> None:
    store = BatchStore(session_factory)
    expiring = store.find_expiring(AS_OF, 60).credentials
    assert [store.open_credential_work_item(c, AS_OF) for c in expiring] == [True] * len(expiring)
    assert [store.open_credential_work_item(c, AS_OF) for c in expiring] == [False] * len(expiring)
    with session_factory() as session:
        items = session.scalars(select(m.WorkItem)).all()
    assert len(items) == len(expiring)
    assert {i.queue for i in items} == {"credentialing"}
    # An expired credential is shown as expired, a CAQH attestation as an attestation (domain.staff's one rule).
    by_credential = {c.credential_id: c for c in expiring}
    assert {i.reason_code for i in items} == {"credential_expiring", "credential_expired", "caqh_attestation_due"}
    for item in items:
        credential = by_credential[item.entity_id]
        assert item.reason_code == credential_item_reason(credential.kind, credential.expires_on, AS_OF)
        assert ("expired" in item.summary) == (credential.expires_on < AS_OF)
    assert {i.entity_id for i in items} == {c.credential_id for c in expiring}
    staff_names = {s["last_name"] for s in _rows(seeded, m.Staff)}
    assert not any(name in item.summary for item in items for name in staff_names)


def test_open_balances_are_the_ledgers_insurance_ar(
    session_factory: sessionmaker[Session], seeded: SyntheticPractice
) -> None:
    """The snapshot's source is the one `ar aging --by payer` reads (issue 11: the snapshot said 145,500 cents where
    the ledger and `ar aging` said 141,000; contractual adjustments of partly paid claims were missed)."""
    balances = BatchStore(session_factory).open_balances(AS_OF)
    with session_factory() as session:
        report = ar_aging(session, by="payer", as_of=AS_OF)
        per_claim = insurance_open_balances(session, AS_OF)
    assert balances and sum(b.open_cents for b in balances) == report.total_cents > 0
    assert sum(b.claims for b in balances) == len(per_claim)
    rows = age_balances(balances, AS_OF)
    for bucket in BUCKETS:
        assert sum(r.open_cents for r in rows if r.bucket == bucket) == report.totals[bucket]


def test_age_buckets() -> None:
    assert [bucket_of(d) for d in (-3, 0, 30, 31, 60, 61, 90, 91, 120, 121, 999)] == [
        "0-30",
        "0-30",
        "0-30",
        "31-60",
        "31-60",
        "61-90",
        "61-90",
        "91-120",
        "91-120",
        "120+",
        "120+",
    ]
    balances = [
        OpenBalance("P1", "Payer one", AS_OF - timedelta(days=5), 2, 1000),
        OpenBalance("P1", "Payer one", AS_OF - timedelta(days=20), 1, 500),
        OpenBalance("P1", "Payer one", AS_OF - timedelta(days=200), 1, 700),
        OpenBalance("P0", "Payer zero", AS_OF - timedelta(days=45), 3, 900),
    ]
    rows = [(r.payer_id, r.bucket, r.claims, r.open_cents) for r in age_balances(balances, AS_OF)]
    assert rows == [("P0", "31-60", 3, 900), ("P1", "0-30", 3, 1500), ("P1", "120+", 1, 700)]
    assert list(BUCKETS) == ["0-30", "31-60", "61-90", "91-120", "120+"]


def test_drop_folder_claims_each_file_once_and_files_it_away(tmp_path: Path) -> None:
    drop = DropFolder(tmp_path / "inbound")
    assert drop.pending() == []
    drop.inbound.mkdir()
    for name in ("b.835", "a.835", "notes.txt", "C.835"):
        (drop.inbound / name).write_text(name)
    assert sorted(drop.pending()) == ["C.835", "a.835", "b.835"]
    claimed = drop.claim("a.835")
    assert claimed is not None and Path(claimed).read_text() == "a.835"
    assert drop.claim("a.835") is None  # a second sweep finds it gone
    assert Path(drop.file_away(claimed, None)) == drop.processed / "a.835"
    failed = drop.file_away(drop.claim("b.835") or "", "X12Error: bad ISA")
    assert Path(failed) == drop.failed / "b.835"
    assert (drop.failed / "b.835.error.txt").read_text().strip() == "X12Error: bad ISA"
    (drop.inbound / "a.835").write_text("again")  # the same name delivered twice: both kept
    second = drop.file_away(drop.claim("a.835") or "", None)
    assert Path(second).parent == drop.processed and Path(second).name != "a.835"
    assert drop.pending() == ["C.835"]


def test_reports_are_written_whole(tmp_path: Path) -> None:
    reports = Reports(tmp_path / "reports")
    path = reports.write_json("ar-aging", AS_OF, {"rows": [1, 2]})
    assert Path(path).name == "ar-aging-2026-03-02.json" and json.loads(Path(path).read_text()) == {"rows": [1, 2]}
    csv_path = reports.write_csv("ar-aging", AS_OF, [{"payer_id": "P1", "open_cents": 5}])
    assert Path(csv_path).read_text() == "payer_id,open_cents\nP1,5\n"
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["ar-aging-2026-03-02.csv", path.split("/")[-1]]


def test_the_product_posts_through_the_workflows(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The sweep's poster hands files to PaymentPosting: with the workflow engine down a good file is deferred (it
    goes back for the next sweep, nothing kept), a file that is no 835 fails at once. (Posting for real, with the
    waiting Claim workflow told, is tests/integration/test_remittance_workflows.py.)"""
    from flows.batch.remittance import PostingDeferred
    from workers.batch import RemittancePostingFailed, remittance_poster

    poster = remittance_poster(wait_seconds=5)
    monkeypatch.setenv("CARECYCLE_HOME", str(tmp_path))
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CARECYCLE_TEMPORAL_PORT", "1")  # nothing listens there
    good, bad = tmp_path / "era.835", tmp_path / "bad.835"
    good.write_text(_sample_835())
    bad.write_text("not an interchange")
    with pytest.raises(PostingDeferred) as deferred:
        poster(str(good))
    assert "cannot reach Temporal" in str(deferred.value)
    assert not (tmp_path / "documents").exists() or not list((tmp_path / "documents").rglob("*.x12"))
    with pytest.raises(RemittancePostingFailed) as failure:
        poster(str(bad))
    assert str(failure.value) and not str(failure.value).startswith("error:")


# --- the flows for real, through Prefect --------------------------------------------------------------------


def _run_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from workers.cli import run

    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def one_prefect_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The runs share one ephemeral Prefect server (the `carecycle` process stops it when it ends; in-process runs
    keep it), stopped at the end here (starting it costs seconds)."""
    from workers import batch

    stop = batch.stop_prefect_local
    monkeypatch.setattr(batch, "stop_prefect_local", lambda: None)
    try:
        yield
    finally:
        stop()


@pytest.mark.e2e
@pytest.mark.usefixtures("one_prefect_server")
def test_every_batch_flow_runs_through_prefect(carecycle_home: Path, capsys: pytest.CaptureFixture[str]) -> None:

    from domain.x12.remit835 import parse_835
    from flows.batch.remittance import IntakePorts, PostingDeferred, build_remittance_intake
    from workers.batch import BatchPaths, prefect_local
    from workers.composition import Container

    assert _run_cli("db", "upgrade", capsys=capsys)[0] == 0
    assert _run_cli("db", "seed", "--patients", "30", "--seed", "5", capsys=capsys)[0] == 0
    as_of = date.today().isoformat()

    # The credential sweep, twice: the second run finds the same credentials and opens nothing new.
    code, out, err = _run_cli("batch", "run", "credential-expiry-sweep", "--as-of", as_of, "--json", capsys=capsys)
    assert code == 0, err
    first = json.loads(out)
    assert first["credentials_expiring"] > 0 and first["work_items_opened"] == first["credentials_expiring"]
    report = json.loads(Path(first["report"]).read_text())
    assert Path(first["report"]).parent == carecycle_home / "reports"
    assert len(report["credentials"]) == first["credentials_expiring"]
    code, out, err = _run_cli("batch", "run", "credential-expiry-sweep", "--as-of", as_of, "--json", capsys=capsys)
    second = json.loads(out)
    assert (second["work_items_opened"], second["work_items_already_open"]) == (0, first["credentials_expiring"])
    assert (carecycle_home / "prefect").is_dir()  # Prefect's state lives under CARECYCLE_HOME

    # The AR-aging snapshot: its totals are the store's open insurance balances.
    code, out, err = _run_cli("batch", "run", "ar-aging-snapshot", "--as-of", as_of, "--json", capsys=capsys)
    assert code == 0, err
    snapshot = json.loads(out)
    code, out, err = _run_cli("ar", "aging", "--by", "payer", "--as-of", as_of, "--json", capsys=capsys)
    assert code == 0, err
    aging = json.loads(out)
    container = Container()
    try:
        with container.session_factory() as session:
            items = Counter(session.scalars(select(m.WorkItem.queue)).all())
            assert session.execute(select(func.count()).select_from(m.WorkItem)).scalar_one() == sum(items.values())
        assert snapshot["open_cents"] == aging["total_cents"] > 0  # the same cents as `ar aging`, bucket by bucket
        assert snapshot["by_bucket_cents"] == aging["totals"]
        assert Path(snapshot["csv"]).read_text().startswith("payer_id,payer_name,bucket,claims,open_cents\n")
        assert items == {"credentialing": first["credentials_expiring"]}

        # Remittance intake with an injected poster (here: the real 835 parser; the product wires posting).
        paths = BatchPaths.of(container.settings)
        paths.inbound.mkdir(parents=True)
        sample = _sample_835()
        (paths.inbound / "era-1.835").write_text(sample)
        (paths.inbound / "broken.835").write_text("ISA*this is not X12~")
        (paths.inbound / "later.835").write_text(sample)

        def parse_only(path: str) -> dict[str, Any]:
            if Path(path).name == "later.835":
                raise PostingDeferred("the workflow engine is down")
            remittances = parse_835(Path(path).read_text())
            return {"remittances": len(remittances), "claims": sum(len(r.claims) for r in remittances)}

        drop = DropFolder(paths.inbound)
        intake = build_remittance_intake(
            IntakePorts(
                pending=drop.pending,
                claim=drop.claim,
                post=parse_only,
                file_away=drop.file_away,
                put_back=drop.put_back,
            )
        )
        with prefect_local(paths):
            summary = intake()
    finally:
        container.close()
    assert (summary.found, summary.posted, summary.failed, summary.deferred) == (3, 1, 1, 1)
    assert (paths.inbound / "processed" / "era-1.835").read_text() == sample
    assert (paths.inbound / "failed" / "broken.835").exists()
    assert (paths.inbound / "failed" / "broken.835.error.txt").read_text().strip()
    assert [p.name for p in paths.inbound.glob("*.835")] == ["later.835"]  # waits for the next sweep
    posted = next(o for o in summary.files if o.posted)
    assert posted.result == {"remittances": 1, "claims": posted.result["claims"]} and posted.result["claims"] >= 1


def _sample_835() -> str:
    from domain.x12.remit835 import write_835
    from tests.unit.x12.helpers import CONTROL, RECEIVER, SENDER, WHEN, remittance

    return write_835([remittance("TR-BATCH")], sender=SENDER, receiver=RECEIVER, control=CONTROL, when=WHEN)
