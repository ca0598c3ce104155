"""837 Professional claims (005010X222A1): value types, writer and parser.

The HL tree is numbered in one place (:func:`claims_body`): one billing provider HL (20) per billing provider,
one subscriber HL (22) per claim beneath it, and a patient HL (23) beneath that only when the patient is not the
subscriber. HL04 says whether children follow. Getting these counters wrong is the classic 837P defect.

Secondary claims carry the primary payer's adjudication (loop 2320 SBR/CAS/AMT*D/OI, 2330A/B, and 2430
SVD/CAS/DTP*573 per line) taken from the primary's 835.

Units (SV104, SVD05) are X12 decimal quantities: :class:`~decimal.Decimal` with at most three places (drug units
such as 1.5 mL), written without a fraction when whole, never a float. A prior authorization number is REF*G1 in
loop 2300 for the claim, and in loop 2400 for a line only when it differs from the claim's (as the guide says).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from domain.remittance import Adjustment
from domain.x12.envelope import (
    ControlNumbers,
    Delimiters,
    Party,
    Segment,
    TransactionBody,
    TransactionSet,
    X12Error,
    amount,
    cents,
    d8,
    get,
    read_envelope,
    write_interchange,
    x12_date,
)

IMPLEMENTATION = "005010X222A1"
KNOWN_SEGMENTS = frozenset(
    "ST SE BHT REF NM1 PER HL PRV N3 N4 DMG SBR PAT CLM DTP PWK CN1 AMT K3 NTE CR1 CR2 CRC HI HCP CAS OI MOA "
    "LX SV1 SV5 CR3 QTY MEA PS1 HSD LIN CTP SVD LQ FRM MIA".split()
)
RELATIONSHIP_CODES = {"self": "18", "spouse": "01", "child": "19", "other": "G8"}
UNIT_QUANTUM = Decimal("0.001")  # the finest quantity we carry: three decimal places
MAX_REFERENCE_LENGTH = 50  # REF02


@dataclass(frozen=True)
class Address:
    line: str
    city: str
    state: str
    postal_code: str


@dataclass(frozen=True)
class ProviderParty:
    """A billing (type 2 organisation) or rendering (type 1 person) provider."""

    npi: str
    last_or_organization_name: str
    first_name: str = ""
    entity_type: str = "2"  # 1 person, 2 organisation
    taxonomy: str | None = None
    tax_id: str | None = None  # EIN, required for the billing provider
    address: Address | None = None


@dataclass(frozen=True)
class Person:
    last_name: str
    first_name: str
    birth_date: date | None = None
    sex: str = "U"  # F, M, U
    address: Address | None = None


@dataclass(frozen=True)
class Subscriber:
    member_id: str
    person: Person
    relationship: str = "self"  # of the patient to the subscriber: self, spouse, child, other
    group_number: str | None = None
    responsibility: str = "P"  # SBR01: P primary, S secondary, T tertiary
    claim_filing_indicator: str = "CI"  # SBR09: CI commercial, MB Medicare B, MC Medicaid, ...


@dataclass(frozen=True)
class PayerParty:
    name: str
    payer_id: str
    address: Address | None = None


@dataclass(frozen=True)
class ServiceLine:
    procedure: str
    charge_cents: int
    units: Decimal = Decimal(1)  # SV104: a quantity, up to three decimal places (see units_from_text)
    modifiers: tuple[str, ...] = ()
    diagnosis_pointers: tuple[int, ...] = (1,)
    service_date: date | None = None  # the day of service, or the first day of a range (DTP*472*RD8)
    place_of_service: str | None = None  # only when it differs from the claim's
    line_control_number: str | None = None  # REF*6R: our ClaimLine.id, echoed back in the 835
    prior_authorization: str | None = None  # 2400 REF*G1: only when it differs from the claim's
    service_date_end: date | None = None  # the last day of a range of service dates (RD8); None: one day

    def __post_init__(self) -> None:
        if self.service_date_end is not None and (
            self.service_date is None or self.service_date_end < self.service_date
        ):
            raise X12Error("a service line's date range must start on or before its end (DTP*472*RD8)")


@dataclass(frozen=True)
class LineAdjudication:
    """How the other (primary) payer adjudicated one line: 2430 SVD/CAS/DTP*573."""

    procedure: str
    paid_cents: int
    modifiers: tuple[str, ...] = ()
    units: Decimal = Decimal(1)
    adjustments: tuple[Adjustment, ...] = ()
    adjudication_date: date | None = None


@dataclass(frozen=True)
class OtherPayer:
    """COB: the payer that adjudicated before this one (loop 2320/2330), from its 835."""

    payer: PayerParty
    subscriber: Subscriber  # the other coverage's subscriber (2330A)
    paid_cents: int  # AMT*D
    claim_adjustments: tuple[Adjustment, ...] = ()  # claim-level CAS from the other payer's CLP
    adjudication_date: date | None = None  # DTP*573 (2330B)
    lines: tuple[LineAdjudication | None, ...] = ()  # aligned with the claim's service lines


@dataclass(frozen=True)
class ProfessionalClaim:
    claim_id: str  # CLM01, patient control number: our Claim.id
    total_charge_cents: int
    place_of_service: str
    billing_provider: ProviderParty
    subscriber: Subscriber
    payer: PayerParty
    diagnoses: tuple[str, ...]  # ICD-10-CM without dots; the first is the principal (ABK), the rest ABF
    lines: tuple[ServiceLine, ...]
    frequency_code: str = "1"  # 1 original, 7 replacement, 8 void
    original_claim_number: str | None = None  # REF*F8: the payer's claim number, for 7 and 8
    patient: Person | None = None  # only when the patient is not the subscriber
    rendering_provider: ProviderParty | None = None
    pay_to_address: Address | None = None
    other_payers: tuple[OtherPayer, ...] = ()
    signature_on_file: bool = True
    assignment_of_benefits: bool = True
    service_facility: ProviderParty | None = None  # 2310C, when not the billing provider's address
    prior_authorization: str | None = None  # 2300 REF*G1: the payer's prior authorization number

    def authorization_for(self, line: ServiceLine) -> str | None:
        """The authorization number that covers ``line``: its own (2400) or else the claim's (2300)."""
        return line.prior_authorization or self.prior_authorization


@dataclass(frozen=True)
class Submitter:
    name: str
    id: str  # NM109 of 1000A
    contact_name: str = "BILLING OFFICE"
    contact_phone: str = "8005550199"


# --- units ----------------------------------------------------------------------------------------------


def units_value(value: Decimal | int | str) -> Decimal:
    """A unit count as the exact Decimal we carry (three places at most); raises X12Error otherwise."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(value)
        exact = number.quantize(UNIT_QUANTUM) if number.is_finite() else None
    except (InvalidOperation, ValueError):
        exact = None
    if exact is None or exact != number:
        raise X12Error(f"not a quantity with at most three decimal places: {str(value)[:12]!r}")
    return exact


def units_text(units: Decimal) -> str:
    """A quantity as X12 writes it: ``2`` for whole units, ``1.5`` otherwise (no exponent, no trailing zeros)."""
    exact = units_value(units)
    if exact == exact.to_integral_value():
        return str(int(exact))
    return format(exact.normalize(), "f")


def units_from_text(text: str, position: int, segment_id: str, element: int) -> Decimal:
    """An X12 R quantity (``1``, ``1.5``, ``.25``) read exactly; anything else is an X12Error at its position."""
    digits = text.replace(".", "", 1)
    if not digits.isascii() or not digits.isdigit():
        raise X12Error(f"not a quantity: {text[:10]!r}", position=position, segment_id=segment_id, element=element)
    try:
        return units_value(text)
    except X12Error as error:
        raise X12Error(str(error), position=position, segment_id=segment_id, element=element) from None


def _reference(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_REFERENCE_LENGTH:
        raise X12Error(f"{what} must be 1 to {MAX_REFERENCE_LENGTH} characters")
    return value


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
        segments.append(("REF", "G1", _reference(claim.prior_authorization, "the prior authorization number")))
    if claim.frequency_code in ("7", "8"):
        if not claim.original_claim_number:
            raise X12Error(f"claim {claim.claim_id}: frequency {claim.frequency_code} needs the payer's claim number")
        segments.append(("REF", "F8", claim.original_claim_number))
    hi: list[str | tuple[str, ...]] = ["HI"]
    for index, code in enumerate(claim.diagnoses):
        hi.append(("ABK" if index == 0 else "ABF", code.replace(".", "")))
    segments.append(tuple(hi))
    rendering = claim.rendering_provider
    if rendering is not None and rendering.npi != claim.billing_provider.npi:
        segments.append(_provider_name("82", rendering))
        if rendering.taxonomy:
            segments.append(("PRV", "PE", "PXC", rendering.taxonomy))
    if claim.service_facility is not None and claim.service_facility.address is not None:
        facility = claim.service_facility
        segments.append(("NM1", "77", "2", facility.last_or_organization_name, "", "", "", "", "XX", facility.npi))
        segments += _address_segments(facility.address)
    for other in claim.other_payers:
        sub = other.subscriber
        segments.append(
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
        )
        segments += _cas(other.claim_adjustments)
        segments.append(("AMT", "D", amount(other.paid_cents)))
        segments.append(("OI", "", "", "Y", "", "", "Y"))
        segments.append(_person_name("IL", sub.person, "MI", sub.member_id))
        segments += _address_segments(sub.person.address)
        segments.append(("NM1", "PR", "2", other.payer.name, "", "", "", "", "PI", other.payer.payer_id))
        if other.adjudication_date and not any(other.lines):
            segments.append(("DTP", "573", "D8", d8(other.adjudication_date)))
    for number, line in enumerate(claim.lines, start=1):
        pointers = tuple(str(p) for p in line.diagnosis_pointers[:4])
        if not pointers:
            raise X12Error(f"claim {claim.claim_id} line {number} has no diagnosis pointer")
        segments.append(("LX", str(number)))
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
            segments.append(("REF", "G1", _reference(line.prior_authorization, "the prior authorization number")))
        if line.line_control_number:
            segments.append(("REF", "6R", line.line_control_number))
        for other in claim.other_payers:
            adjudication = other.lines[number - 1] if number - 1 < len(other.lines) else None
            if adjudication is None:
                continue
            segments.append(
                (
                    "SVD",
                    other.payer.payer_id,
                    amount(adjudication.paid_cents),
                    ("HC", adjudication.procedure, *adjudication.modifiers[:4]),
                    "",
                    units_text(adjudication.units),
                )
            )
            segments += _cas(adjudication.adjustments)
            when = adjudication.adjudication_date or other.adjudication_date
            if when:
                segments.append(("DTP", "573", "D8", d8(when)))
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
        if billing.taxonomy:
            segments.append(("PRV", "BI", "PXC", billing.taxonomy))
        segments.append(_provider_name("85", billing))
        if billing.address is None:
            raise X12Error("the billing provider needs an address")
        segments += _address_segments(billing.address)
        if not billing.tax_id:
            raise X12Error("the billing provider needs a tax id (REF*EI)")
        segments.append(("REF", "EI", billing.tax_id))
        pay_to = its_claims[0].pay_to_address
        if pay_to is not None and pay_to != billing.address:
            segments.append(("NM1", "87", "2"))
            segments += _address_segments(pay_to)
        for claim in its_claims:
            hl += 1
            subscriber_hl = hl
            sub = claim.subscriber
            has_patient = claim.patient is not None and sub.relationship != "self"
            segments.append(("HL", str(subscriber_hl), str(billing_hl), "22", "1" if has_patient else "0"))
            segments.append(
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
            )
            segments.append(_person_name("IL", sub.person, "MI", sub.member_id))
            segments += _address_segments(sub.person.address)
            if not has_patient:
                segments += _dmg(sub.person)
            segments.append(("NM1", "PR", "2", claim.payer.name, "", "", "", "", "PI", claim.payer.payer_id))
            segments += _address_segments(claim.payer.address)
            if has_patient and claim.patient is not None:
                hl += 1
                segments.append(("HL", str(hl), str(subscriber_hl), "23", "0"))
                segments.append(("PAT", RELATIONSHIP_CODES.get(sub.relationship, "G8")))
                segments.append(_person_name("QC", claim.patient))
                segments += _address_segments(claim.patient.address)
                segments += _dmg(claim.patient)
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


# --- parsing --------------------------------------------------------------------------------------------


@dataclass
class _Draft:
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
    others: list[_Other] = field(default_factory=list)


@dataclass
class _OtherLine:
    svd: list[str] | None = None
    position: int = 0
    cas: list[Adjustment] = field(default_factory=list)
    day: date | None = None


@dataclass
class _Other:
    """A 2320 loop being read."""

    sbr: list[str]
    cas: list[Adjustment] = field(default_factory=list)
    lines: dict[int, _OtherLine] = field(default_factory=dict)
    paid: int = 0
    day: date | None = None
    sub_name: tuple[str, str, str] = ("", "", "")
    sub_address: Address | None = None
    payer: tuple[str, str] = ("", "")


def date_range(text: str, position: int) -> tuple[date, date]:
    """DTP03 of an RD8 period, ``CCYYMMDD-CCYYMMDD``: the first and the last day (the last not before the first)."""
    first, dash, last = text.partition("-")
    if not dash:
        raise X12Error(
            f"not a date range (CCYYMMDD-CCYYMMDD): {text[:20]!r}", position=position, segment_id="DTP", element=3
        )
    start, end = x12_date(first, position, "DTP", 3), x12_date(last, position, "DTP", 3)
    if end < start:
        raise X12Error(
            f"date range ends before it starts: {text[:20]!r}", position=position, segment_id="DTP", element=3
        )
    return start, end


def _split(value: str, component: str) -> list[str]:
    return value.split(component) if value else []


def parse_837p(text: str) -> list[ProfessionalClaim]:
    """Every claim of every 837P transaction set in the file (raises X12Error on malformed input)."""
    transactions = list(read_envelope(text).transactions())
    found = [t for t in transactions if t.set_id == "837"]
    if not found:
        kinds = ", ".join(sorted({t.set_id for t in transactions})) or "none"
        raise X12Error(f"no 837 transaction set in the file (found: {kinds})")
    claims: list[ProfessionalClaim] = []
    for transaction in found:
        claims += parse_837p_set(transaction)
    return claims


def parse_837p_set(transaction: TransactionSet) -> list[ProfessionalClaim]:
    c = transaction.delimiters.component
    claims: list[ProfessionalClaim] = []
    level = ""  # 20, 22, 23 or "" before the first HL
    entity = ""  # the NM1 qualifier whose N3/N4/DMG/REF follow
    billing_parts: dict[str, str] = {}
    billing_address: Address | None = None
    pay_to: Address | None = None
    subscriber_parts: dict[str, str] = {}
    subscriber_address: Address | None = None
    subscriber_birth: tuple[date | None, str] = (None, "U")
    payer = PayerParty("", "")
    patient_parts: dict[str, str] = {}
    patient_address: Address | None = None
    patient_birth: tuple[date | None, str] = (None, "U")
    draft: _Draft | None = None
    line: dict[str, object] | None = None
    other: _Other | None = None
    pending_n3 = ""
    seen_hl: set[str] = set()

    def finish_line() -> None:
        nonlocal line
        if line is not None and draft is not None:
            draft.lines.append(_line_from(line))
        line = None

    def finish_claim() -> None:
        nonlocal draft
        finish_line()
        if draft is not None:
            claims.append(_claim_from(draft, c))
        draft = None

    def billing() -> ProviderParty:
        return ProviderParty(
            npi=billing_parts.get("npi", ""),
            last_or_organization_name=billing_parts.get("name", ""),
            first_name=billing_parts.get("first", ""),
            entity_type=billing_parts.get("entity", "2"),
            taxonomy=billing_parts.get("taxonomy"),
            tax_id=billing_parts.get("tax_id"),
            address=billing_address,
        )

    def subscriber() -> Subscriber:
        return Subscriber(
            member_id=subscriber_parts.get("member_id", ""),
            person=Person(
                subscriber_parts.get("last", ""),
                subscriber_parts.get("first", ""),
                subscriber_birth[0],
                subscriber_birth[1],
                subscriber_address,
            ),
            relationship=subscriber_parts.get("relationship", "self"),
            group_number=subscriber_parts.get("group") or None,
            responsibility=subscriber_parts.get("responsibility", "P"),
            claim_filing_indicator=subscriber_parts.get("filing", "CI"),
        )

    for position, el in transaction.elements():
        sid = el[0]
        if sid not in KNOWN_SEGMENTS:
            raise X12Error(f"segment {sid} does not belong in an 837P", position=position, segment_id=sid)
        if sid == "HL":
            finish_claim()
            other = None
            number = get(el, 1)
            if number in seen_hl:
                raise X12Error(f"HL01 {number} is used twice", position=position, segment_id="HL", element=1)
            parent = get(el, 2)
            if parent and parent not in seen_hl:
                raise X12Error(f"HL02 {parent} names no earlier HL", position=position, segment_id="HL", element=2)
            seen_hl.add(number)
            level = get(el, 3)
            if level == "20":
                billing_parts, billing_address, pay_to = {}, None, None
            elif level == "22":
                subscriber_parts, subscriber_address, subscriber_birth = {}, None, (None, "U")
                patient_parts, patient_address, patient_birth = {}, None, (None, "U")
            elif level == "23":
                patient_parts, patient_address, patient_birth = {}, None, (None, "U")
            else:
                raise X12Error(f"unknown HL level {level!r}", position=position, segment_id="HL", element=3)
            entity = ""
        elif sid == "PRV":
            if draft is None and level == "20":
                billing_parts["taxonomy"] = get(el, 3)
            elif draft is not None and entity == "82" and draft.rendering is not None:
                draft.rendering = _replace_taxonomy(draft.rendering, get(el, 3))
        elif sid == "NM1":
            entity = get(el, 1)
            if draft is None:
                if entity == "85":
                    billing_parts.update(name=get(el, 3), first=get(el, 4), entity=get(el, 2), npi=get(el, 9))
                elif entity == "IL":
                    subscriber_parts.update(last=get(el, 3), first=get(el, 4), member_id=get(el, 9))
                elif entity == "PR":
                    payer = PayerParty(get(el, 3), get(el, 9))
                elif entity == "QC":
                    patient_parts.update(last=get(el, 3), first=get(el, 4))
            elif other is not None and entity in ("IL", "PR"):
                if entity == "IL":
                    other.sub_name = (get(el, 3), get(el, 4), get(el, 9))
                else:
                    other.payer = (get(el, 3), get(el, 9))
            elif entity == "82":
                draft.rendering = ProviderParty(get(el, 9), get(el, 3), get(el, 4), get(el, 2))
            elif entity == "77":
                draft.facility = ProviderParty(get(el, 9), get(el, 3), "", get(el, 2))
        elif sid == "N3":
            pending_n3 = get(el, 1)
        elif sid == "N4":
            address = Address(pending_n3, get(el, 1), get(el, 2), get(el, 3))
            if entity == "85":
                billing_address = address
            elif entity == "87":
                pay_to = address
            elif entity == "IL" and other is None:
                subscriber_address = address
            elif entity == "IL" and other is not None:
                other.sub_address = address
            elif entity == "PR" and draft is None:
                payer = PayerParty(payer.name, payer.payer_id, address)
            elif entity == "QC":
                patient_address = address
            elif entity == "77" and draft is not None and draft.facility is not None:
                facility = draft.facility
                draft.facility = ProviderParty(facility.npi, facility.last_or_organization_name, address=address)
        elif sid == "DMG":
            birth = x12_date(get(el, 2), position, "DMG", 2) if get(el, 2) else None
            if entity == "QC":
                patient_birth = (birth, get(el, 3) or "U")
            else:
                subscriber_birth = (birth, get(el, 3) or "U")
        elif sid == "REF":
            qualifier = get(el, 1)
            if draft is None and level == "20" and qualifier in ("EI", "SY"):
                billing_parts["tax_id"] = get(el, 2)
            elif draft is not None and line is not None and qualifier == "6R":
                line["control"] = get(el, 2)
            elif draft is not None and line is None and qualifier == "F8":
                draft.original_claim_number = get(el, 2)
            elif draft is not None and qualifier == "G1" and other is None and line is None:
                draft.prior_authorization = get(el, 2) or None
            elif line is not None and qualifier == "G1" and "in_2430" not in line:
                # 2400 REF*G1 comes before the line's 2430 loops; a 2330B REF*G1 (other payer's) is not ours.
                line["prior_auth"] = get(el, 2)
        elif sid == "SBR":
            if draft is None:
                subscriber_parts.update(
                    responsibility=get(el, 1), group=get(el, 3), filing=get(el, 9) or "CI", relationship="self"
                )
            else:
                finish_line()
                other = _Other(el)
                draft.others.append(other)
        elif sid == "PAT":
            relationship = {v: k for k, v in RELATIONSHIP_CODES.items()}.get(get(el, 1), "other")
            subscriber_parts["relationship"] = relationship
        elif sid == "CLM":
            finish_claim()
            other = None
            if level not in ("22", "23"):
                raise X12Error("CLM outside a subscriber or patient HL", position=position, segment_id="CLM")
            patient = None
            if level == "23":
                patient = Person(
                    patient_parts.get("last", ""),
                    patient_parts.get("first", ""),
                    patient_birth[0],
                    patient_birth[1],
                    patient_address,
                )
            if len(el) < 6:
                raise X12Error("CLM needs CLM01 to CLM05", position=position, segment_id="CLM")
            draft = _Draft(billing(), pay_to, subscriber(), payer, patient, el, position)
        elif sid == "HI":
            if draft is None:
                raise X12Error("HI outside a claim", position=position, segment_id="HI")
            for value in el[1:]:
                parts = _split(value, c)
                if len(parts) >= 2 and parts[0] in ("ABK", "ABF", "BK", "BF"):
                    draft.diagnoses.append(parts[1])
        elif sid == "CAS" and other is not None:
            group = get(el, 1)
            adjustments: list[Adjustment] = []
            for index in range(2, min(len(el), 20), 3):
                if el[index]:
                    quantity = get(el, index + 2)
                    adjustments.append(
                        Adjustment(
                            group,
                            el[index],
                            cents(get(el, index + 1), position, "CAS", index + 1),
                            int(quantity) if quantity.isdigit() else None,
                        )
                    )
            if line is None:
                other.cas.extend(adjustments)
            else:
                other.lines.setdefault(len(draft.lines) + 1 if draft else 0, _OtherLine()).cas.extend(adjustments)
        elif sid == "AMT" and other is not None and get(el, 1) == "D":
            other.paid = cents(get(el, 2), position, "AMT", 2)
        elif sid == "LX":
            if draft is None:
                raise X12Error("LX outside a claim", position=position, segment_id="LX")
            finish_line()
            line = {"position": position}
        elif sid == "SV1":
            if line is None:
                raise X12Error("SV1 without an LX", position=position, segment_id="SV1")
            line["sv1"] = el
            line["component"] = c
            line["claim_pos"] = draft.clm[5].split(c)[0] if draft is not None else ""
        elif sid == "SVD" and line is not None and draft is not None:
            # Find the 2320 loop of this payer: SVD01 is the other payer's id.
            for candidate in draft.others:
                if candidate.payer[1] == get(el, 1):
                    entry = candidate.lines.setdefault(len(draft.lines) + 1, _OtherLine())
                    entry.svd = el
                    entry.position = position
                    other = candidate
                    line["in_2430"] = True
                    break
        elif sid == "DTP":
            qualifier = get(el, 1)
            if get(el, 2) == "RD8":  # a period: a line's service dates (472), or a claim-level one we only check
                first, last = date_range(get(el, 3), position)
                if qualifier == "472" and line is not None:
                    line["date"], line["date_end"] = first, last
                continue
            day = x12_date(get(el, 3), position, "DTP", 3) if get(el, 3) else None
            if qualifier == "472" and line is not None:
                line["date"] = day
            elif qualifier == "573" and other is not None:
                if line is not None:
                    other.lines.setdefault(len(draft.lines) + 1 if draft else 0, _OtherLine()).day = day
                else:
                    other.day = day
    finish_claim()
    return claims


def _replace_taxonomy(provider: ProviderParty, taxonomy: str) -> ProviderParty:
    return ProviderParty(
        provider.npi,
        provider.last_or_organization_name,
        provider.first_name,
        provider.entity_type,
        taxonomy or None,
        provider.tax_id,
        provider.address,
    )


def _line_from(line: dict[str, object]) -> ServiceLine:
    sv1 = line.get("sv1")
    position = int(line["position"])  # type: ignore[call-overload]
    if not isinstance(sv1, list):
        raise X12Error("LX without an SV1", position=position, segment_id="LX")
    component = str(line["component"])
    procedure = _split(get(sv1, 1), component)
    if len(procedure) < 2:
        raise X12Error("SV101 needs a qualifier and a procedure code", position=position + 1, segment_id="SV1")
    units = units_from_text(get(sv1, 4) or "1", position + 1, "SV1", 4)
    pointers_text = _split(get(sv1, 7), component)
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


def _claim_from(draft: _Draft, component: str) -> ProfessionalClaim:
    clm = draft.clm
    facility = _split(clm[5], component)
    if len(facility) < 3:
        raise X12Error("CLM05 needs place of service, B and frequency", position=draft.position, segment_id="CLM")
    place = facility[0]
    lines = tuple(draft.lines)
    others = tuple(_other_from(o, component, len(lines)) for o in draft.others)
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


def _other_from(other: _Other, component: str, line_count: int) -> OtherPayer:
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
        procedure = _split(get(svd, 3), component)
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
