"""The money commands as a user runs them, on SQLite and PostgreSQL: remit post (an 835 written by the X12
writer, handed to PaymentPosting on a real dev server), ledger check, ar aging, payments record, bank import and
reconcile, db check with the ledger checks."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from domain.ledger.service import post_charges
from domain.store.engine import make_engine, make_session_factory
from domain.store.uow import UnitOfWork
from domain.x12.envelope import ControlNumbers, Party
from domain.x12.remit835 import write_835
from tests.support.dev_stack import dev_stack, run_cli
from tests.unit.posting.factory import make_claim, make_patient, make_practice, paid_claim, remittance
from workers.cli import run


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.temporal
async def test_money_commands(
    store_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", store_url)
    engine = make_engine(store_url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        practice = make_practice(uow.session)
        alice = make_patient(uow.session, practice)
        claim = make_claim(uow.session, practice, alice)
        stranger = make_claim(uow.session, practice, alice, charges=(3000,), procedures=("99211",))
        post_charges(uow.session, [claim.claim_id, stranger.claim_id])
        uow.commit()
    engine.dispose()
    era = remittance(
        "PAYA",
        "EFT900",
        [paid_claim(claim, pr_cents=(2500, 0)), paid_claim(stranger, pcn="NOTOURS", with_line_ids=False)],
    )
    text = write_835([era], sender=Party("ZZ", "PAYA"), receiver=Party("ZZ", "CLINIC"), control=ControlNumbers(41, 41))
    edi = carecycle_home / "era.835"
    edi.write_text(text)

    offline = {
        "CARECYCLE_HOME": str(carecycle_home),
        "CARECYCLE_DATABASE_URL": store_url,
        "CARECYCLE_TEMPORAL_PORT": "1",
    }
    down = await asyncio.to_thread(run_cli, offline, "remit", "post", str(edi))
    assert down.returncode == 1 and down.stderr.count("\n") == 1 and "nothing was posted" in down.stderr
    async with dev_stack(carecycle_home / "stack", store_url) as stack:
        result = await asyncio.to_thread(run_cli, stack.env, "remit", "post", str(edi), "--json")
        assert result.returncode == 0, result.stderr
        posted = json.loads(result.stdout)["remittances"][0]
        assert posted["claims_matched"] == 1 and posted["claims_unmatched"] == 1 and not posted["already_posted"]
        assert posted["paid_cents"] == 9000 and posted["unapplied_cents"] == 1800
        assert posted["posted_total_cents"] == era.payment_amount_cents
        again = await asyncio.to_thread(run_cli, stack.env, "remit", "post", str(edi))
        assert again.returncode == 0 and "already_posted" in again.stdout
        posting_run = stack.client.get_workflow_handle("posting-era-PAYA-EFT900")
        await asyncio.wait_for(posting_run.result(), timeout=60)  # then it tells the claims and collections

    code, out, _ = _cli(capsys, "ledger", "check", "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, _ = _cli(capsys, "db", "check", "--json")
    checks = {c["name"]: c["ok"] for c in json.loads(out)["checks"]}
    assert code == 0 and checks["patient_ar_control"] is True

    code, out, _ = _cli(capsys, "ar", "aging", "--by", "patient", "--as-of", "2026-05-15", "--json")
    aging = json.loads(out)
    assert code == 0 and aging["total_cents"] == 2500 and aging["rows"][0]["buckets"]["61-90"] == 2500
    code, out, _ = _cli(capsys, "ar", "aging", "--as-of", "2026-05-15", "--json")
    assert code == 0 and json.loads(out)["totals"]["61-90"] == 3000  # the unmatched claim is still owed

    code, out, err = _cli(
        capsys, "payments", "record", "--patient", alice.account_number, "--amount", "25.00", "--method", "card"
    )
    assert code == 0 and "balance now 0.00" in out, err
    code, _, err = _cli(
        capsys, "payments", "record", "--patient", alice.account_number, "--amount", "25.0.0", "--method", "card"
    )
    assert code == 2 and err.count("\n") == 1 and "amount" in err
    code, _, err = _cli(capsys, "payments", "record", "--patient", "P99999999", "--amount", "1.00", "--method", "cash")
    assert code == 1 and "no patient" in err

    bank = carecycle_home / "bank.csv"
    bank.write_text(
        f"date,amount,trace,description\n2026-03-21,{era.payment_amount_cents / 100:.2f},EFT900,ERA\n"
        "2026-03-21,50.00,LOST1,unknown\n"
    )
    code, out, _ = _cli(capsys, "payments", "import-bank", str(bank), "--json")
    assert code == 0 and json.loads(out)["lines"] == 2
    code, out, _ = _cli(capsys, "payments", "reconcile", "--json")
    result = json.loads(out)
    assert code == 0 and result["matched"] == 1 and result["deposits_without_era"] == 1

    bad = carecycle_home / "bad.835"
    bad.write_text("ISA*garbage")
    code, _, err = _cli(capsys, "remit", "post", str(bad))
    assert code == 1 and err.startswith("error:") and err.count("\n") == 1


@pytest.mark.temporal
async def test_remit_extract_reads_and_posts_an_eob_pdf(
    sqlite_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sandbox.eob import render_eob

    monkeypatch.setenv("CARECYCLE_DATABASE_URL", sqlite_url)
    engine = make_engine(sqlite_url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        practice = make_practice(uow.session, ("SBXCC",))
        patient = make_patient(uow.session, practice, primary="SBXCC")
        claim = make_claim(uow.session, practice, patient, payer="SBXCC")
        uow.commit()
    engine.dispose()
    era = replace(remittance("SBXCC", "EOB77", [paid_claim(claim, pr_cents=(1000, 0))]), source="eob_pdf")
    pdf = carecycle_home / "eob.pdf"
    pdf.write_bytes(render_eob(era, "cascade"))

    code, out, err = _cli(capsys, "remit", "extract", str(pdf), "--payer", "SBXCC")
    assert code == 0, err
    extracted = json.loads(out)["transaction_sets"][0]
    assert extracted["payment"]["trace_number"] == "EOB77" and extracted["claims"][0]["patient_control_number"]
    async with dev_stack(carecycle_home / "stack", sqlite_url) as stack:
        args = ("remit", "extract", str(pdf), "--payer", "SBXCC", "--post", "--json")
        result = await asyncio.to_thread(run_cli, stack.env, *args)
        assert result.returncode == 0, result.stderr
        posting = json.loads(result.stdout)["posting"][0]
        assert posting["claims_matched"] == 1 and posting["paid_cents"] == era.payment_amount_cents
        posting_run = stack.client.get_workflow_handle("posting-eob-SBXCC-EOB77")
        await asyncio.wait_for(posting_run.result(), timeout=60)  # then it tells the claims and collections
    code, _, err = _cli(capsys, "remit", "extract", str(carecycle_home / "none.pdf"))
    assert code == 1 and "no such file" in err
