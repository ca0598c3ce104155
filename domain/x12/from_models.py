"""Map loaded ORM rows (domain.models) to a :class:`ProfessionalClaim`. Pure: no session, no queries.

The caller loads the rows (workers/cli/claims.py does it through the unit of work) and passes them in. The
billing provider is the practice (group NPI, EIN); the claim's ``billing_provider_id`` provider renders the
service. CLM01 is ``Claim.id`` as is (a UUID is 36 characters; CLM01 allows 38) and REF*6R is ``ClaimLine.id``,
so the payer's 835 names our rows back.

A prior authorization goes on the claim when one of the patient's authorizations with this payer covers the line's
procedure on its date of service (and its units, when the payer limits them): the claim's REF*G1 is the first
line's authorization, and a line whose authorization differs carries its own (2400 REF*G1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain import models as m
from domain.cob import prior_lines
from domain.enums import PayerKind, SubscriberRelationship
from domain.errors import ValidationError
from domain.remittance import ClaimPayment
from domain.x12.claim837 import (
    Address,
    LineAdjudication,
    OtherPayer,
    PayerParty,
    Person,
    ProfessionalClaim,
    ProviderParty,
    ServiceLine,
    Subscriber,
)

CLAIM_FILING_BY_KIND = {
    PayerKind.COMMERCIAL: "CI",
    PayerKind.MEDICARE: "MB",
    PayerKind.MEDICAID: "MC",
    PayerKind.SELF_PAY: "ZZ",
}
RESPONSIBILITY_BY_RANK = {"primary": "P", "secondary": "S", "tertiary": "T"}


@dataclass(frozen=True)
class PrimaryAdjudication:
    """What the primary payer did with the claim (from its 835), for a secondary claim's COB loops."""

    payer: m.Payer
    coverage: m.Coverage
    payment: ClaimPayment
    adjudication_date: date


def _upper(text: str) -> str:
    return text.upper()


def _subscriber(coverage: m.Coverage, payer: m.Payer, patient: m.Patient, rank: str) -> Subscriber:
    relationship = str(coverage.relationship_to_subscriber)
    address = Address(patient.address_line, patient.city, patient.state, patient.postal_code)
    if relationship == SubscriberRelationship.SELF:
        person = Person(
            _upper(patient.last_name), _upper(patient.first_name), patient.birth_date, patient.sex or "U", address
        )
    else:
        if not coverage.subscriber_last_name or not coverage.subscriber_first_name:
            raise ValidationError(f"coverage {coverage.id}: subscriber name is missing (patient is not the subscriber)")
        person = Person(
            _upper(coverage.subscriber_last_name),
            _upper(coverage.subscriber_first_name),
            coverage.subscriber_birth_date,
            "U",
            address,  # subscribers of dependants share the patient's household address in our model
        )
    return Subscriber(
        member_id=coverage.member_id,
        person=person,
        relationship=relationship,
        group_number=coverage.group_number,
        responsibility=RESPONSIBILITY_BY_RANK.get(str(rank), "P"),
        claim_filing_indicator=CLAIM_FILING_BY_KIND.get(PayerKind(payer.kind), "CI"),
    )


def authorization_number(
    authorizations: Sequence[m.PriorAuthorization], payer: m.Payer, line: m.ClaimLine
) -> str | None:
    """The number of the authorization that covers ``line`` with ``payer`` (the latest to start), or None."""
    covering = [
        a
        for a in authorizations
        if a.covers(payer.id, line.procedure_code, line.date_of_service)
        and (a.units_authorized is None or line.units <= a.units_authorized)
    ]
    return max(covering, key=lambda a: (a.valid_from, a.number)).number if covering else None


def professional_claim(
    claim: m.Claim,
    *,
    encounter: m.Encounter,
    patient: m.Patient,
    coverage: m.Coverage,
    payer: m.Payer,
    practice: m.Practice,
    rendering: m.Provider,
    original_claim_number: str | None = None,
    primary: PrimaryAdjudication | None = None,
) -> ProfessionalClaim:
    subscriber = _subscriber(coverage, payer, patient, str(claim.rank))
    lines, claim_authorization = _service_lines(claim, patient, payer)
    others: tuple[OtherPayer, ...] = ()
    if primary is not None:
        others = (_other_payer(primary, patient, lines),)
    return ProfessionalClaim(
        claim_id=claim.id,
        total_charge_cents=claim.total_charge_cents or sum(line.charge_cents * 1 for line in lines),
        place_of_service=encounter.place_of_service,
        billing_provider=_billing_provider(practice),
        subscriber=subscriber,
        payer=PayerParty(_upper(payer.name), payer.payer_id),
        diagnoses=tuple(encounter.diagnosis_codes or ()),
        lines=lines,
        frequency_code=claim.frequency_code,
        original_claim_number=original_claim_number or claim.payer_claim_control_number
        if claim.frequency_code in ("7", "8")
        else None,
        patient=_patient_person(coverage, patient),
        rendering_provider=_rendering_provider(rendering),
        other_payers=others,
        prior_authorization=claim_authorization,
    )


def _billing_provider(practice: m.Practice) -> ProviderParty:
    return ProviderParty(
        npi=practice.npi,
        last_or_organization_name=_upper(practice.name),
        entity_type="2",
        taxonomy=practice.taxonomy,
        tax_id=practice.tax_id,
        address=Address(practice.address_line, practice.city, practice.state, practice.postal_code),
    )


def _rendering_provider(rendering: m.Provider) -> ProviderParty:
    return ProviderParty(
        npi=rendering.npi,
        last_or_organization_name=_upper(rendering.last_name),
        first_name=_upper(rendering.first_name),
        entity_type="1",
        taxonomy=rendering.taxonomy,
    )


def _patient_person(coverage: m.Coverage, patient: m.Patient) -> Person | None:
    """The patient loop (2010CA) only when the patient is not the subscriber."""
    if str(coverage.relationship_to_subscriber) == SubscriberRelationship.SELF:
        return None
    return Person(
        _upper(patient.last_name),
        _upper(patient.first_name),
        patient.birth_date,
        patient.sex or "U",
        Address(patient.address_line, patient.city, patient.state, patient.postal_code),
    )


def _service_lines(claim: m.Claim, patient: m.Patient, payer: m.Payer) -> tuple[tuple[ServiceLine, ...], str | None]:
    """The claim's lines and its claim-level prior authorization (the first line's that has one);
    a line carries its own number only when it differs from the claim's."""
    line_authorizations = [authorization_number(patient.prior_authorizations, payer, line) for line in claim.lines]
    claim_authorization = next((number for number in line_authorizations if number), None)
    lines = tuple(
        ServiceLine(
            procedure=line.procedure_code,
            charge_cents=line.charge_cents,
            units=Decimal(line.units),
            modifiers=tuple(line.modifiers or ()),
            diagnosis_pointers=tuple(line.diagnosis_pointers or ()),
            service_date=line.date_of_service,
            place_of_service=None,
            line_control_number=line.id,
            prior_authorization=number if number != claim_authorization else None,
        )
        for line, number in zip(claim.lines, line_authorizations, strict=True)
    )
    return lines, claim_authorization


def _other_payer(primary: PrimaryAdjudication, patient: m.Patient, lines: Sequence[ServiceLine]) -> OtherPayer:
    payment = primary.payment
    adjudications: list[LineAdjudication | None] = []
    for match in prior_lines(payment, [(line.procedure, line.modifiers) for line in lines]):
        if match is None:
            adjudications.append(None)
            continue
        adjudications.append(
            LineAdjudication(
                procedure=match.procedure,
                paid_cents=match.paid_cents,
                modifiers=match.modifiers,
                units=Decimal(match.units),
                adjustments=match.adjustments,
                adjudication_date=primary.adjudication_date,
            )
        )
    subscriber = _subscriber(primary.coverage, primary.payer, patient, "primary")
    # 2330A carries only the name, id and address of the other subscriber.
    subscriber = Subscriber(
        subscriber.member_id,
        Person(subscriber.person.last_name, subscriber.person.first_name, address=subscriber.person.address),
        subscriber.relationship,
        subscriber.group_number,
        "P",
        subscriber.claim_filing_indicator,
    )
    return OtherPayer(
        payer=PayerParty(_upper(primary.payer.name), primary.payer.payer_id),
        subscriber=subscriber,
        paid_cents=payment.paid_cents,
        claim_adjustments=payment.adjustments,
        # 2330B DTP*573 is for claims adjudicated without lines; with 2430 loops each line carries the date.
        adjudication_date=None if any(adjudications) else primary.adjudication_date,
        lines=tuple(adjudications),
    )
