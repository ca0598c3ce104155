"""`carecycle remit post` run twice at the same moment, as two processes, on SQLite and PostgreSQL: the same 835
(one posts, the other says already_posted) and two overlapping 835s (a payment both carry posts once). Both exit 0,
no traceback, one remittance row per payment, a balanced ledger."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from domain import models as m
from domain.ledger.checks import run_ledger_checks
from domain.ledger.service import post_charges
from domain.remittance import Remittance
from domain.store.engine import make_engine, make_session_factory
from domain.store.uow import UnitOfWork
from domain.x12.envelope import ControlNumbers, Party
from domain.x12.remit835 import write_835
from tests.support.dev_stack import dev_stack
from tests.unit.posting.factory import ClaimIds, make_claim, make_patient, make_practice, paid_claim, remittance

CARECYCLE = str(Path(sys.executable).parent / "carecycle")


def _claims(store_url: str, n: int) -> list[ClaimIds]:
    engine = make_engine(store_url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            practice = make_practice(uow.session)
            patient = make_patient(uow.session, practice)
            claims = [make_claim(uow.session, practice, patient) for _ in range(n)]
            post_charges(uow.session, [c.claim_id for c in claims])
            uow.commit()
    finally:
        engine.dispose()
    return claims


def _file(folder: Path, name: str, remittances: list[Remittance], control: int) -> str:
    text = write_835(
        remittances,
        sender=Party("ZZ", "PAYA"),
        receiver=Party("ZZ", "CLINIC"),
        control=ControlNumbers(control, control),
    )
    path = folder / name
    path.write_text(text)
    return str(path)


async def _at_once(env: dict[str, str], *files: str) -> list[list[dict[str, Any]]]:
    """`remit post FILE --json` for each file, as processes started together; each one's remittances."""

    def post(file: str) -> subprocess.CompletedProcess[str]:
        args = [CARECYCLE, "remit", "post", file, "--json", "--wait", "240"]
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)

    done = await asyncio.gather(*(asyncio.to_thread(post, f) for f in files))
    for result in done:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    return [json.loads(result.stdout)["remittances"] for result in done]


def _store_facts(store_url: str) -> tuple[int, dict[str, int], bool]:
    engine = make_engine(store_url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            remittances = uow.session.execute(select(func.count()).select_from(m.Remittance)).scalar_one()
            paid = {row.id: row.paid_cents for row in uow.session.execute(select(m.Claim.id, m.Claim.paid_cents))}
            return remittances, paid, run_ledger_checks(uow.session).ok
    finally:
        engine.dispose()


@pytest.mark.temporal
async def test_remit_post_of_the_same_and_of_overlapping_835s_at_once(store_url: str, tmp_path: Path) -> None:
    first, second, third = _claims(store_url, 3)
    same = _file(tmp_path, "same.835", [remittance("PAYA", "TWICE1", [paid_claim(first)])], 51)
    shared = remittance("PAYA", "SHARED1", [paid_claim(second)])
    alone = _file(tmp_path, "alone.835", [shared], 52)
    both = _file(tmp_path, "both.835", [shared, remittance("PAYA", "OTHER1", [paid_claim(third)])], 53)
    async with dev_stack(tmp_path / "stack", store_url) as stack:
        one, two = await _at_once(stack.env, same, same)
        assert sorted(r[0]["already_posted"] for r in (one, two)) == [False, True]
        assert one[0]["remittance_id"] == two[0]["remittance_id"] and one[0]["claims_matched"] == 1
        assert _store_facts(store_url)[0] == 1

        # Two files sharing a payment, at once: two postings race on it; it posts once, the other file's posts.
        alone_results, both_results = await _at_once(stack.env, alone, both)
        shared_results = [r for r in alone_results + both_results if r["trace_number"] == "SHARED1"]
        assert sorted(r["already_posted"] for r in shared_results) == [False, True]
        (other,) = [r for r in both_results if r["trace_number"] == "OTHER1"]
        assert not other["already_posted"] and other["claims_matched"] == 1
    remittances, paid, ledger_ok = _store_facts(store_url)
    assert remittances == 3 and ledger_ok
    assert paid == {first.claim_id: 9000, second.claim_id: 9000, third.claim_id: 9000}
