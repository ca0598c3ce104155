"""The synthetic practice bills some behavioral-health visits as 90791 and seeds Summit Mutual authorizations for
some of them, so both paths (authorized, and caught by the claim edit) show in the demo and the tests."""

from __future__ import annotations

from typing import Any

from domain import models as m
from workers.synthetic import SyntheticPractice


def _rows(practice: SyntheticPractice, model: type[m.Base]) -> list[dict[str, Any]]:
    return practice.rows.get(model.__table__, [])  # type: ignore[call-overload]


def test_summit_evaluations_with_and_without_an_authorization() -> None:
    practice = SyntheticPractice(5).generate(400)
    summit = next(p["id"] for p in _rows(practice, m.Payer) if p["payer_id"] == "SBXSM")
    claims = {c["id"]: c for c in _rows(practice, m.Claim)}
    authorizations = _rows(practice, m.PriorAuthorization)
    assert authorizations and all(a["payer_id"] == summit and a["procedure_codes"] == ["90791"] for a in authorizations)
    covered = uncovered = 0
    for line in _rows(practice, m.ClaimLine):
        claim = claims[line["claim_id"]]
        if line["procedure_code"] != "90791" or claim["payer_id"] != summit:
            continue
        day = line["date_of_service"]
        if any(
            a["patient_id"] == claim["patient_id"] and a["valid_from"] <= day <= a["valid_to"] for a in authorizations
        ):
            covered += 1
        else:
            uncovered += 1
    assert covered and uncovered
