"""The demo's scripted biller corrects a prior-authorization failure with the number on file, else as before."""

from __future__ import annotations

from typing import Any

from domain import models as m
from workers.demo_biller import biller_decision


class _Result:
    def __init__(self, value: str | None) -> None:
        self.value = value

    def scalar(self) -> str | None:
        return self.value


class _Session:
    """Stands in for the store session: one claim, and the patient's latest authorization number (or none)."""

    def __init__(self, number: str | None) -> None:
        self.number = number
        self.claim = m.Claim(id="cl-1", patient_id="pt-1", payer_id="py-1")

    def get(self, model: type[Any], key: str) -> Any:
        return self.claim if model is m.Claim and key == "cl-1" else None

    def execute(self, statement: Any) -> _Result:
        return _Result(self.number)


def _item(reason: str, **context: str) -> m.WorkItem:
    return m.WorkItem(reason_code=reason, entity_type="claim", entity_id="cl-1", context=context, summary="")


def test_co197_with_an_authorization_on_file_is_corrected_not_appealed() -> None:
    decision = biller_decision(_item("claim_denied", codes="CO-197"), _Session("SM-PA-9"))
    assert decision is not None and decision.action == "correct_and_resubmit"
    assert decision.fields == {"prior_auth": "SM-PA-9"}
    appeal = biller_decision(_item("claim_denied", codes="CO-197"), _Session(None))
    assert appeal is not None and appeal.action == "appeal"


def test_prior_auth_edit_with_an_authorization_on_file_is_corrected() -> None:
    decision = biller_decision(_item("claim_edit_failed", edits="PRIOR_AUTH_MISSING"), _Session("SM-PA-9"))
    assert decision is not None and decision.action == "correct_and_resubmit"
    written_off = biller_decision(_item("claim_edit_failed", edits="PRIOR_AUTH_MISSING"), _Session(None))
    assert written_off is not None and written_off.action == "write_off"


def test_a_correction_names_a_well_formed_authorization_number() -> None:
    import pytest

    from domain.errors import InvalidResolution
    from domain.workitems import Resolution, validate_resolution

    for name in ("prior_auth", "prior_authorization"):
        ok = Resolution("correct_and_resubmit", "ann", {name: "SM-PA-2002"})
        assert validate_resolution("claim_denied", ok) == ok
        for bad in ("X" * 51, "SM PA", "ÄB1"):
            with pytest.raises(InvalidResolution, match="letters, digits or dashes"):
                validate_resolution("claim_denied", Resolution("correct_and_resubmit", "ann", {name: bad}))
