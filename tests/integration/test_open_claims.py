"""Issue 11, item 2 (the open-claim set): `carecycle claims scrub` and the Claim workflow's `claims.scrub` check a
claim for duplicates against one set of open claims (domain.services.scrubbing), on SQLite and PostgreSQL.

Before, the CLI counted a claim in appeal as open and the workflow did not (and the workflow only looked at claims of
the same header date), so one said DUPLICATE where the other sent the claim."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from activities.contracts import revenue as c
from activities.revenue import ClaimActivities, Envelope
from domain.claim_status import ClaimStatus
from domain.services.scrubbing import OPEN_CLAIM_STATUSES
from domain.store.uow import UnitOfWork
from tests.unit.posting.factory import make_claim, make_patient, make_practice
from workers.cli import run


@pytest.mark.parametrize("status", sorted(OPEN_CLAIM_STATUSES))
def test_a_claim_open_with_the_payer_is_a_duplicate_for_both_scrubs(
    status: ClaimStatus,
    uow: UnitOfWork,
    session_factory: Any,
    store_url: str,
    carecycle_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with uow:
        practice = make_practice(uow.session)
        patient = make_patient(uow.session, practice)
        make_claim(uow.session, practice, patient, status=status)  # with the payer (or about to be)
        again = make_claim(uow.session, practice, patient, status=ClaimStatus.DRAFT).claim_id  # the same services
        uow.commit()
    claims = ClaimActivities(session_factory, clearinghouse=None, envelope=Envelope())  # type: ignore[arg-type]
    workflow_edits = {e.code for e in claims.scrub(c.ClaimRef(again)).edits}
    monkeypatch.setenv("CARECYCLE_DATABASE_URL", store_url)
    run(["claims", "scrub", "--claim", again, "--json"])
    cli_edits = {f["code"] for f in json.loads(capsys.readouterr().out)["results"][0]["failures"]}
    assert "DUPLICATE" in workflow_edits and "DUPLICATE" in cli_edits
    assert workflow_edits == cli_edits
