"""837P writing: claims to one transaction set, the HL tree numbered here and only here (:func:`claims_body`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.remittance import Adjustment
from domain.x12.claim837.values import (
    IMPLEMENTATION,
    RELATIONSHIP_CODES,
    Address,
    OtherPayer,
    Person,
    ProfessionalClaim,
    ProviderParty,
    ServiceLine,
    Submitter,
    reference_value,
    units_text,
)
from domain.x12.envelope import (
    ControlNumbers,
    Delimiters,
    Party,
    Segment,
    TransactionBody,
    X12Error,
    amount,
    d8,
    write_interchange,
)

# --- writing --------------------------------------------------------------------------------------------


def _address_segments(address: Address | None) -> list[Segment]:
    if address is None:
        return []
    return [("N3", address.line), ("N4", address.city, address.state, address.postal_code)]


def _person_name(qualifier: str, person: Person, id_qualifier: str = "", identifier: str = "") -> Segment:
    return ("NM1", qualifier, "1", person.last_name, person.first_name, "", "", "", id_qualifier, identifier)


def _provider_name(qualifier: str, provider: ProviderParty) -> Segment:
    return (
        "NM1",
        qualifier,
        provider.entity_type,
        provider.last_or_organization_name,
        provider.first_name if provider.entity_type == "1" else "",
        "",
        "",
        "",
        "XX",
        provider.npi,
    )


def _dmg(person: Person) -> list[Segment]:
    if person.birth_date is None:
        return []
    return [("DMG", "D8", d8(person.birth_date), person.sex or "U")]


def _cas(adjustments: Sequence[Adjustment]) -> list[Segment]:
    by_group: dict[str, list[Adjustment]] = {}
    for adjustment in adjustments:
        by_group.setdefault(adjustment.group, []).append(adjustment)
    segments: list[Segment] = []
    for group, items in by_group.items():
        for start in range(0, len(items), 6):
            elements: list[str] = ["CAS", group]
            for item in items[start : start + 6]:
                quantity = "" if item.quantity is None else str(item.quantity)
                elements += [item.reason, amount(item.amount_cents), quantity]
            segments.append(tuple(elements))
    return segments


def _claim_segments(claim: ProfessionalClaim) -> list[Segment]:
    """Loop 2300 and what hangs beneath it: the claim, its rendering provider, facility, other payers and lines."""
    segments = _claim_header(claim)
    segments += _claim_providers(claim)
    for other in claim.other_payers:
        segments += _other_payer_segments(other)
    for number, line in enumerate(claim.lines, start=1):
        segments += _line_segments(claim, number, line)
    return segments


def _claim_header(claim: ProfessionalClaim) -> list[Segment]:
    """CLM, the claim's REF*G1 and REF*F8, and HI (after checking the claim can be written at all)."""
    if not claim.lines:
        raise X12Error(f"claim {claim.claim_id} has no service lines")
    if not claim.diagnoses:
        raise X12Error(f"claim {claim.claim_id} has no diagnosis")
    if len(claim.diagnoses) > 12:
        raise X12Error(f"claim {claim.claim_id} has {len(claim.diagnoses)} diagnoses; an 837P carries at most 12")
    yes = "Y"
    segments: list[Segment] = [
        (
            "CLM",
            claim.claim_id,
            amount(claim.total_charge_cents),
            "",
            "",
            (claim.place_of_service, "B", claim.frequency_code),
            yes if claim.signature_on_file else "N",
            "A",
            yes if claim.assignment_of_benefits else "N",
            "Y",
        )
    ]
    if claim.prior_authorization:
        # 2300 REF order in the guide: ... 9F referral, G1 prior authorization, F8 payer claim control number ...
        segments.append(("REF", "G1", reference_value(claim.prior_authorization, "the prior authorization number")))
    if claim.frequency_code in ("7", "8"):
        if not claim.original_claim_number:
            raise X12Error(f"claim {claim.claim_id}: frequency {claim.frequency_code} needs the payer's claim number")
        segments.append(("REF", "F8", claim.original_claim_number))
    hi: list[str | tuple[str, ...]] = ["HI"]
    for index, code in enumerate(claim.diagnoses):
        hi.append(("ABK" if index == 0 else "ABF", code.replace(".", "")))
    segments.append(tuple(hi))
    return segments


def _claim_providers(claim: ProfessionalClaim) -> list[Segment]:
    """2310B rendering provider (when not the billing one) and 2310C service facility (when it has an address)."""
    segments: list[Segment] = []
    rendering = claim.rendering_provider
    if rendering is not None and rendering.npi != claim.billing_provider.npi:
        segments.append(_provider_name("82", rendering))
        if rendering.taxonomy:
            segments.append(("PRV", "PE", "PXC", rendering.taxonomy))
    if claim.service_facility is not None and claim.service_facility.address is not None:
        facility = claim.service_facility
        segments.append(("NM1", "77", "2", facility.last_or_organization_name, "", "", "", "", "XX", facility.npi))
        segments += _address_segments(facility.address)
    return segments


def _other_payer_segments(other: OtherPayer) -> list[Segment]:
    """Loop 2320 (SBR, CAS, AMT*D, OI) with its 2330A subscriber and 2330B payer."""
    sub = other.subscriber
    segments: list[Segment] = [
        (
            "SBR",
            sub.responsibility,
            RELATIONSHIP_CODES.get(sub.relationship, "G8"),
            sub.group_number or "",
            "",
            "",
            "",
            "",
            "",
            sub.claim_filing_indicator,
        )
    ]
    segments += _cas(other.claim_adjustments)
    segments.append(("AMT", "D", amount(other.paid_cents)))
    segments.append(("OI", "", "", "Y", "", "", "Y"))
    segments.append(_person_name("IL", sub.person, "MI", sub.member_id))
    segments += _address_segments(sub.person.address)
    segments.append(("NM1", "PR", "2", other.payer.name, "", "", "", "", "PI", other.payer.payer_id))
    if other.adjudication_date and not any(other.lines):
        segments.append(("DTP", "573", "D8", d8(other.adjudication_date)))
    return segments


def _line_segments(claim: ProfessionalClaim, number: int, line: ServiceLine) -> list[Segment]:
    """Loop 2400 for line ``number`` (LX, SV1, DTP*472, REF*G1, REF*6R) and its 2430 loops."""
    pointers = tuple(str(p) for p in line.diagnosis_pointers[:4])
    if not pointers:
        raise X12Error(f"claim {claim.claim_id} line {number} has no diagnosis pointer")
    segments: list[Segment] = [("LX", str(number))]
    segments.append(
        (
            "SV1",
            ("HC", line.procedure, *line.modifiers[:4]),
            amount(line.charge_cents),
            "UN",
            units_text(line.units),
            line.place_of_service if line.place_of_service not in (None, claim.place_of_service) else "",
            "",
            pointers,
        )
    )
    if line.service_date and line.service_date_end and line.service_date_end != line.service_date:
        segments.append(("DTP", "472", "RD8", f"{d8(line.service_date)}-{d8(line.service_date_end)}"))
    elif line.service_date:
        segments.append(("DTP", "472", "D8", d8(line.service_date)))
    if line.prior_authorization and line.prior_authorization != claim.prior_authorization:
        segments.append(("REF", "G1", reference_value(line.prior_authorization, "the prior authorization number")))
    if line.line_control_number:
        segments.append(("REF", "6R", line.line_control_number))
    for other in claim.other_payers:
        segments += _line_adjudication_segments(other, number)
    return segments


def _line_adjudication_segments(other: OtherPayer, number: int) -> list[Segment]:
    """Loop 2430 (SVD, CAS, DTP*573): how ``other`` adjudicated line ``number``; nothing when it did not say."""
    adjudication = other.lines[number - 1] if number - 1 < len(other.lines) else None
    if adjudication is None:
        return []
    segments: list[Segment] = [
        (
            "SVD",
            other.payer.payer_id,
            amount(adjudication.paid_cents),
            ("HC", adjudication.procedure, *adjudication.modifiers[:4]),
            "",
            units_text(adjudication.units),
        )
    ]
    segments += _cas(adjudication.adjustments)
    when = adjudication.adjudication_date or other.adjudication_date
    if when:
        segments.append(("DTP", "573", "D8", d8(when)))
    return segments


def _billing_segments(billing: ProviderParty, pay_to: Address | None) -> list[Segment]:
    """Loop 2010AA billing provider (PRV, NM1*85, N3/N4, REF*EI) and 2010AB pay-to address when it differs."""
    segments: list[Segment] = []
    if billing.taxonomy:
        segments.append(("PRV", "BI", "PXC", billing.taxonomy))
    segments.append(_provider_name("85", billing))
    if billing.address is None:
        raise X12Error("the billing provider needs an address")
    segments += _address_segments(billing.address)
    if not billing.tax_id:
        raise X12Error("the billing provider needs a tax id (REF*EI)")
    segments.append(("REF", "EI", billing.tax_id))
    if pay_to is not None and pay_to != billing.address:
        segments.append(("NM1", "87", "2"))
        segments += _address_segments(pay_to)
    return segments


def _subscriber_segments(claim: ProfessionalClaim, has_patient: bool) -> list[Segment]:
    """Loop 2000B SBR, 2010BA subscriber (DMG only when the subscriber is the patient) and 2010BB payer."""
    sub = claim.subscriber
    segments: list[Segment] = [
        (
            "SBR",
            sub.responsibility,
            "18" if not has_patient else "",
            sub.group_number or "",
            "",
            "",
            "",
            "",
            "",
            sub.claim_filing_indicator,
        )
    ]
    segments.append(_person_name("IL", sub.person, "MI", sub.member_id))
    segments += _address_segments(sub.person.address)
    if not has_patient:
        segments += _dmg(sub.person)
    segments.append(("NM1", "PR", "2", claim.payer.name, "", "", "", "", "PI", claim.payer.payer_id))
    segments += _address_segments(claim.payer.address)
    return segments


def _patient_segments(patient: Person, relationship: str) -> list[Segment]:
    """Loop 2000C PAT and 2010CA patient, when the patient is not the subscriber."""
    segments: list[Segment] = [("PAT", RELATIONSHIP_CODES.get(relationship, "G8"))]
    segments.append(_person_name("QC", patient))
    segments += _address_segments(patient.address)
    segments += _dmg(patient)
    return segments


def claims_body(
    claims: Sequence[ProfessionalClaim],
    *,
    submitter: Submitter,
    receiver_name: str,
    receiver_id: str,
    batch_reference: str,
    when: datetime,
) -> TransactionBody:
    """One 837P transaction set with every claim; HL numbering is done here and only here."""
    if not claims:
        raise X12Error("nothing to write: no claims")
    segments: list[Segment] = [
        ("BHT", "0019", "00", batch_reference, when.strftime("%Y%m%d"), when.strftime("%H%M"), "CH"),
        ("NM1", "41", "2", submitter.name, "", "", "", "", "46", submitter.id),
        ("PER", "IC", submitter.contact_name, "TE", submitter.contact_phone),
        ("NM1", "40", "2", receiver_name, "", "", "", "", "46", receiver_id),
    ]
    by_billing: dict[ProviderParty, list[ProfessionalClaim]] = {}
    for claim in claims:
        by_billing.setdefault(claim.billing_provider, []).append(claim)
    hl = 0
    for billing, its_claims in by_billing.items():
        hl += 1
        billing_hl = hl
        segments.append(("HL", str(billing_hl), "", "20", "1"))
        segments += _billing_segments(billing, its_claims[0].pay_to_address)
        for claim in its_claims:
            hl += 1
            subscriber_hl = hl
            has_patient = claim.patient is not None and claim.subscriber.relationship != "self"
            segments.append(("HL", str(subscriber_hl), str(billing_hl), "22", "1" if has_patient else "0"))
            segments += _subscriber_segments(claim, has_patient)
            if has_patient and claim.patient is not None:
                hl += 1
                segments.append(("HL", str(hl), str(subscriber_hl), "23", "0"))
                segments += _patient_segments(claim.patient, claim.subscriber.relationship)
            segments += _claim_segments(claim)
    return TransactionBody("837", IMPLEMENTATION, segments)


def write_837p(
    claims: Sequence[ProfessionalClaim],
    *,
    sender: Party,
    receiver: Party,
    control: ControlNumbers,
    submitter: Submitter,
    receiver_name: str,
    when: datetime | None = None,
    usage: str = "P",
    delimiters: Delimiters = Delimiters(),
    line_breaks: bool = False,
) -> str:
    """An interchange with one 837P transaction set carrying ``claims`` (ISA13/GS06/ST02 from ``control``)."""
    when = when or datetime.now()
    body = claims_body(
        claims,
        submitter=submitter,
        receiver_name=receiver_name,
        receiver_id=receiver.id,
        batch_reference=str(control.interchange),
        when=when,
    )
    return write_interchange(
        [body],
        sender=sender,
        receiver=receiver,
        control=control,
        when=when,
        usage=usage,
        delimiters=delimiters,
        line_breaks=line_breaks,
    )
