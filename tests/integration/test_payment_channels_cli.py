"""One payment by two channels through the running stack, on SQLite and PostgreSQL: `remit post` of an 835 and
`remit extract --post` of the payer's EOB PDF of the same check (and, for another check, the EOB first): the later
one posts nothing, says same_payment (the command's report and the PaymentPosting workflow's result), and the
ledger is balanced with no work item."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from activities.contracts import revenue as c
from domain import models as m
from domain.ledger.checks import run_ledger_checks
from domain.ledger.service import post_charges
from domain.remittance import Remittance
from domain.store.engine import make_engine, make_session_factory
from domain.store.uow import UnitOfWork
from domain.x12.envelope import ControlNumbers, Party
from domain.x12.remit835 import write_835
from sandbox.eob import render_eob
from tests.support.dev_stack import DevStack, dev_stack, run_cli
from tests.unit.posting.factory import ClaimIds, make_claim, make_patient, make_practice, paid_claim, remittance

PAYER = "SBXCC"


def _claims(store_url: str) -> list[ClaimIds]:
    engine = make_engine(store_url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            practice = make_practice(uow.session, (PAYER,))
            patient = make_patient(uow.session, practice, primary=PAYER)
            claims = [make_claim(uow.session, practice, patient, payer=PAYER) for _ in range(2)]
            post_charges(uow.session, [claim.claim_id for claim in claims])
            uow.commit()
    finally:
        engine.dispose()
    return claims


async def _post_835(stack: DevStack, folder: Path, era: Remittance) -> dict[str, Any]:
    path = folder / f"{era.trace_number}.835"
    path.write_text(
        write_835([era], sender=Party("ZZ", PAYER), receiver=Party("ZZ", "C"), control=ControlNumbers(9, 9))
    )
    result = await asyncio.to_thread(run_cli, stack.env, "remit", "post", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)["remittances"][0]
    return report


async def _post_eob(stack: DevStack, folder: Path, era: Remittance) -> dict[str, Any]:
    path = folder / f"{era.trace_number}.pdf"
    path.write_bytes(render_eob(replace(era, source="eob_pdf"), "cascade"))
    args = ("remit", "extract", str(path), "--payer", PAYER, "--post", "--json")
    result = await asyncio.to_thread(run_cli, stack.env, *args)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)["posting"][0]
    return report


async def _workflow_result(stack: DevStack, workflow_id: str) -> c.PostingResult:
    handle = stack.client.get_workflow_handle(workflow_id, result_type=c.PostingResult)
    return await asyncio.wait_for(handle.result(), timeout=120)


@pytest.mark.temporal
async def test_an_835_and_the_eob_pdf_of_the_same_check_post_once(store_url: str, tmp_path: Path) -> None:
    first, second = _claims(store_url)
    by_835_first = remittance(PAYER, "CHK7001", [paid_claim(first, pr_cents=(1500, 0))])
    by_eob_first = remittance(PAYER, "CHK7002", [paid_claim(second)])
    async with dev_stack(tmp_path / "stack", store_url) as stack:
        posted = await _post_835(stack, tmp_path, by_835_first)
        assert not posted["already_posted"] and posted["claims_matched"] == 1 and posted["source"] == "835"
        later = await _post_eob(stack, tmp_path, by_835_first)
        assert later["already_posted"] and later["arrival"] == "same_payment" and later["first_source"] == "835"
        assert later["remittance_id"] == posted["remittance_id"] and later["work_items_opened"] == []
        assert [claim["outcome"] for claim in later["claims"]] == ["same_payment"]
        result = await _workflow_result(stack, f"posting-eob-{PAYER}-CHK7001")
        assert result.arrivals == (f"same_payment:835:{posted['remittance_id']}",) and result.claims == ()
        assert result.exception_items == ()

        eob = await _post_eob(stack, tmp_path, by_eob_first)
        assert not eob["already_posted"] and eob["source"] == "eob_pdf"
        again = await _post_835(stack, tmp_path, by_eob_first)
        assert again["arrival"] == "same_payment" and again["first_source"] == "eob_pdf"
        result = await _workflow_result(stack, f"posting-era-{PAYER}-CHK7002")
        assert result.arrivals == (f"same_payment:eob_pdf:{eob['remittance_id']}",)
        printed = await asyncio.to_thread(
            run_cli, stack.env, "remit", "extract", str(tmp_path / "CHK7001.pdf"), "--post"
        )
        assert printed.returncode == 0 and "same_payment, posted earlier from the 835" in printed.stdout
    engine = make_engine(store_url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            assert run_ledger_checks(uow.session).ok
            assert uow.session.execute(select(func.count()).select_from(m.Remittance)).scalar_one() == 2
            assert uow.session.execute(select(func.count()).select_from(m.WorkItem)).scalar_one() == 0
            paid = {r.id: r.paid_cents for r in uow.session.execute(select(m.Claim.id, m.Claim.paid_cents))}
            assert paid == {first.claim_id: 9000, second.claim_id: 9000}
    finally:
        engine.dispose()
