"""837P reading, the parts being read: a claim (:class:`Draft`), its other payers' loops, and the values they become.

:mod:`domain.x12.claim837.reader` fills these segment by segment; the functions here turn a finished one into
the value types, checking what can only be checked once the claim is complete (CLM02 is the sum of the lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain.remittance import Adjustment
from domain.x12.claim837.values import (
    RELATIONSHIP_CODES,
    Address,
    LineAdjudication,
    OtherPayer,
    PayerParty,
    Person,
    ProfessionalClaim,
    ProviderParty,
    ServiceLine,
    Subscriber,
    units_from_text,
)
from domain.x12.envelope import X12Error, amount, cents, get


@dataclass
class Draft:
    """A claim being read: the HL context it sits in plus what its own segments said."""

    billing: ProviderParty
    pay_to: Address | None
    subscriber: Subscriber
    payer: PayerParty
    patient: Person | None
    clm: list[str]
    position: int
    original_claim_number: str | None = None
    prior_authorization: str | None = None
    diagnoses: list[str] = field(default_factory=list)
    rendering: ProviderParty | None = None
    facility: ProviderParty | None = None
    lines: list[ServiceLine] = field(default_factory=list)
    others: list[OtherLoop] = field(default_factory=list)


@dataclass
class OtherLine:
    svd: list[str] | None = None
    position: int = 0
    cas: list[Adjustment] = field(default_factory=list)
    day: date | None = None


@dataclass
class OtherLoop:
    """A 2320 loop being read."""

    sbr: list[str]
    cas: list[Adjustment] = field(default_factory=list)
    lines: dict[int, OtherLine] = field(default_factory=dict)
    paid: int = 0
    day: date | None = None
    sub_name: tuple[str, str, str] = ("", "", "")
    sub_address: Address | None = None
    payer: tuple[str, str] = ("", "")


def split_components(value: str, component: str) -> list[str]:
    """An element's components (none when it is empty)."""
    return value.split(component) if value else []


def replace_taxonomy(provider: ProviderParty, taxonomy: str) -> ProviderParty:
    return ProviderParty(
        provider.npi,
        provider.last_or_organization_name,
        provider.first_name,
        provider.entity_type,
        taxonomy or None,
        provider.tax_id,
        provider.address,
    )


def line_from(line: dict[str, object]) -> ServiceLine:
    sv1 = line.get("sv1")
    position = int(line["position"])  # type: ignore[call-overload]
    if not isinstance(sv1, list):
        raise X12Error("LX without an SV1", position=position, segment_id="LX")
    component = str(line["component"])
    procedure = split_components(get(sv1, 1), component)
    if len(procedure) < 2:
        raise X12Error("SV101 needs a qualifier and a procedure code", position=position + 1, segment_id="SV1")
    units = units_from_text(get(sv1, 4) or "1", position + 1, "SV1", 4)
    pointers_text = split_components(get(sv1, 7), component)
    try:
        pointers = tuple(int(p) for p in pointers_text)
    except ValueError:
        raise X12Error("diagnosis pointers must be numbers", position=position + 1, segment_id="SV1") from None
    date_value = line.get("date")
    date_end = line.get("date_end")
    control = line.get("control")
    authorization = line.get("prior_auth")
    return ServiceLine(
        procedure=procedure[1],
        charge_cents=cents(get(sv1, 2), position + 1, "SV1", 2),
        units=units,
        modifiers=tuple(m for m in procedure[2:6] if m),
        diagnosis_pointers=pointers,
        service_date=date_value if isinstance(date_value, date) else None,
        service_date_end=date_end if isinstance(date_end, date) and date_end != date_value else None,
        place_of_service=get(sv1, 5) or None,
        line_control_number=control if isinstance(control, str) else None,
        prior_authorization=authorization if isinstance(authorization, str) and authorization else None,
    )


def claim_from(draft: Draft, component: str) -> ProfessionalClaim:
    clm = draft.clm
    facility = split_components(clm[5], component)
    if len(facility) < 3:
        raise X12Error("CLM05 needs place of service, B and frequency", position=draft.position, segment_id="CLM")
    place = facility[0]
    lines = tuple(draft.lines)
    others = tuple(other_from(o, component, len(lines)) for o in draft.others)
    total = cents(clm[2], draft.position, "CLM", 2)
    lines_total = sum(line.charge_cents for line in lines)
    if total != lines_total:
        raise X12Error(
            f"CLM02 {amount(total)} is not the sum of the lines' SV102 {amount(lines_total)}",
            position=draft.position,
            segment_id="CLM",
            element=2,
        )
    if not lines:
        raise X12Error("claim without service lines (LX/SV1)", position=draft.position, segment_id="CLM")
    return ProfessionalClaim(
        claim_id=clm[1],
        total_charge_cents=total,
        place_of_service=place,
        billing_provider=draft.billing,
        subscriber=draft.subscriber,
        payer=draft.payer,
        diagnoses=tuple(draft.diagnoses),
        lines=lines,
        frequency_code=facility[2],
        original_claim_number=draft.original_claim_number,
        patient=draft.patient,
        rendering_provider=draft.rendering,
        pay_to_address=draft.pay_to,
        other_payers=others,
        signature_on_file=get(clm, 6) == "Y",
        assignment_of_benefits=get(clm, 8) == "Y",
        service_facility=draft.facility,
        prior_authorization=draft.prior_authorization,
    )


def other_from(other: OtherLoop, component: str, line_count: int) -> OtherPayer:
    sbr = other.sbr
    name = other.sub_name
    relationship = {v: k for k, v in RELATIONSHIP_CODES.items()}.get(get(sbr, 2), "other")
    subscriber = Subscriber(
        member_id=name[2],
        person=Person(name[0], name[1], address=other.sub_address),
        relationship=relationship,
        group_number=get(sbr, 3) or None,
        responsibility=get(sbr, 1),
        claim_filing_indicator=get(sbr, 9) or "CI",
    )
    lines: list[LineAdjudication | None] = []
    for index in range(1, line_count + 1):
        entry = other.lines.get(index)
        if entry is None or entry.svd is None:
            lines.append(None)
            continue
        svd = entry.svd
        procedure = split_components(get(svd, 3), component)
        units = units_from_text(get(svd, 5) or "1", entry.position, "SVD", 5)
        lines.append(
            LineAdjudication(
                procedure=procedure[1] if len(procedure) > 1 else "",
                paid_cents=cents(get(svd, 2), entry.position, "SVD", 2),
                modifiers=tuple(m for m in procedure[2:6] if m),
                units=units,
                adjustments=tuple(entry.cas),
                adjudication_date=entry.day,
            )
        )
    while lines and lines[-1] is None:
        lines.pop()
    return OtherPayer(
        payer=PayerParty(other.payer[0], other.payer[1]),
        subscriber=subscriber,
        paid_cents=other.paid,
        claim_adjustments=tuple(other.cas),
        adjudication_date=other.day,
        lines=tuple(lines),
    )
