"""Issue 11, item 3: ``claims.correct`` applies every field the correction rule accepts, on every line it names, and
keeps the ledger true; a replacement (7) carries the payer's original claim number to the 837P (REF*F8). On SQLite
and PostgreSQL.

Before: rendering/billing NPI and the original claim number were dropped, the frequency code's value ignored,
charge, service date and payer refused, and only the first line edited.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError

from activities.contracts import revenue as c
from activities.revenue import ClaimActivities, Envelope
from domain import models as m
from domain.claim_status import ClaimStatus
from domain.enums import CoverageRank, SubscriberRelationship
from domain.ledger.checks import run_ledger_checks
from domain.ledger.service import post_charge
from domain.services.professional import load_professional_claim
from domain.store.integrity import check_store
from domain.store.uow import UnitOfWork
from domain.x12.claim837 import Submitter, write_837p
from domain.x12.envelope import ControlNumbers, Party
from tests.unit.posting.factory import DOS, ClaimIds, make_claim, make_patient, make_practice


@pytest.fixture
def world(uow: UnitOfWork) -> dict[str, Any]:
    with uow:
        practice = make_practice(uow.session)
        patient = make_patient(uow.session, practice)
        other = m.Provider(
            practice_id=practice.practice_id,
            first_name="Bo",
            last_name="Render",
            credential="NP",
            npi="1245319599",
            taxonomy="363L00000X",
        )
        uow.session.add(other)
        uow.session.add(  # a second plan, primary too, with the other payer (the claim went to the wrong one)
            m.Coverage(
                patient_id=patient.patient_id,
                payer_id=practice.payers["PAYB"],
                rank=CoverageRank.PRIMARY,
                relationship_to_subscriber=SubscriberRelationship.SELF,
                member_id="PB000001",
                effective_from=date(2025, 1, 1),
            )
        )
        claim = make_claim(uow.session, practice, patient, status=ClaimStatus.REJECTED)
        post_charge(uow.session, claim.claim_id)
        uow.commit()
        return {"practice": practice, "patient": patient, "claim": claim, "npi": other.npi, "other": other.id}


def _correct(session_factory: Any, claim: ClaimIds, fields: dict[str, str], frequency: str = "7") -> None:
    activities = ClaimActivities(session_factory, clearinghouse=None, envelope=Envelope())  # type: ignore[arg-type]
    activities.correct(c.ClaimCorrection(claim.claim_id, fields, frequency, "biller.ann"))


def _claim(uow: UnitOfWork, claim_id: str) -> m.Claim:
    claim = uow.session.get(m.Claim, claim_id)
    assert claim is not None
    return claim


def test_every_accepted_field_is_applied_on_the_lines_it_names(
    uow: UnitOfWork, session_factory: Any, world: dict[str, Any]
) -> None:
    claim: ClaimIds = world["claim"]
    fields = {
        "line1.procedure_code": "99214",
        "line2.charge_cents": "7500",
        "line2.units": "2",
        "modifiers": "25",  # every line
        "line1.modifiers": "25,59",  # the first line's own
        "service_date": "2026-03-03",
        "diagnosis_codes": "J20.9,I10",
        "line2.diagnosis_pointers": "2,1",
        "place_of_service": "22",
        "rendering_npi": world["npi"],
        "original_claim_number": "ICN-778899",
        "frequency_code": "7",
        "member_id": "M0000NEW",
        "prior_auth": "PA-4411",
    }
    _correct(session_factory, claim, fields)
    with uow:
        row = _claim(uow, claim.claim_id)
        first, second = row.lines
        assert (first.procedure_code, first.modifiers, first.units) == ("99214", ["25", "59"], 1)
        assert (second.procedure_code, second.modifiers, second.units) == ("85025", ["25"], 2)
        assert (second.charge_cents, second.diagnosis_pointers) == (7500, [2, 1])
        assert first.date_of_service == second.date_of_service == row.date_of_service == date(2026, 3, 3)
        assert row.total_charge_cents == 10000 + 7500
        assert row.billing_provider_id == world["other"]
        assert (row.payer_claim_control_number, row.frequency_code) == ("ICN-778899", "7")
        assert row.status == ClaimStatus.DRAFT
        encounter = uow.session.get(m.Encounter, row.encounter_id)
        assert encounter is not None and (encounter.diagnosis_codes, encounter.place_of_service) == (
            ["J209", "I10"],
            "22",
        )
        coverage = uow.session.execute(
            select(m.Coverage).where(m.Coverage.patient_id == row.patient_id, m.Coverage.payer_id == row.payer_id)
        ).scalar_one()
        assert coverage.member_id == "M0000NEW"
        assert uow.session.execute(select(m.PriorAuthorization.number)).scalar_one() == "PA-4411"
        # The ledger follows the corrected charge: still balanced, the claim's AR is its new total.
        assert run_ledger_checks(uow.session).ok
        assert check_store(uow.session).ok
        # The replacement's 837P names the payer's original claim number.
        professional = load_professional_claim(uow.session, row)
        text = write_837p(
            [professional],
            sender=Party("ZZ", "CARECYCLE"),
            receiver=Party("ZZ", "SANDBOXCH"),
            control=ControlNumbers(1, 1, 1),
            submitter=Submitter("CLINIC", "CARECYCLE"),
            receiver_name="CH",
        )
    assert "REF*F8*ICN-778899~" in text and "CLM*" in text and "*22:B:7*" in text


def test_a_claim_corrected_to_another_payer_moves_its_ar_and_goes_as_an_original(
    uow: UnitOfWork, session_factory: Any, world: dict[str, Any]
) -> None:
    claim: ClaimIds = world["claim"]
    with uow:
        _claim(uow, claim.claim_id).payer_claim_control_number = "OLDICN"
        uow.commit()
    _correct(session_factory, claim, {"payer_id": "payb"})
    with uow:
        row = _claim(uow, claim.claim_id)
        assert row.payer_id == world["practice"].payers["PAYB"]
        assert (row.frequency_code, row.payer_claim_control_number) == ("1", None)  # the new payer never saw it
        report = run_ledger_checks(uow.session)
        assert report.ok, [r for r in report.checks if not r.ok]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"payer_id": "NOPE"}, "payer_id NOPE: no such payer"),
        ({"rendering_npi": "1234567893"}, "no provider of the practice has this NPI"),
        ({"line3.units": "2"}, "the claim has 2 line(s)"),
        ({"procedure_code": "99214"}, "say which one, e.g. line2.procedure_code"),
        ({"diagnosis_pointers": "2"}, "points at no diagnosis (the claim has 1)"),
        ({"frequency_code": "7"}, "needs the payer's original claim number"),
        ({"service_date": "2999-01-01"}, "is in the future"),
    ],
)
def test_refusals_name_the_rule_and_the_value_and_change_nothing(
    uow: UnitOfWork, session_factory: Any, world: dict[str, Any], fields: dict[str, str], message: str
) -> None:
    claim: ClaimIds = world["claim"]
    with pytest.raises(ApplicationError) as refused:
        _correct(session_factory, claim, fields)
    assert refused.value.non_retryable and message in refused.value.message
    with uow:
        row = _claim(uow, claim.claim_id)
        assert row.status == ClaimStatus.REJECTED and row.total_charge_cents == 15000
        assert [line.units for line in row.lines] == [1, 1] and row.date_of_service == DOS
