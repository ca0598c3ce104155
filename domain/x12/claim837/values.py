"""837P value types: what a professional claim is, and the unit quantities it carries (no reading, no writing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from domain.remittance import Adjustment
from domain.x12.envelope import X12Error

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


def reference_value(value: str, what: str) -> str:
    """A REF02 value trimmed, 1 to 50 characters; raises X12Error naming ``what`` otherwise."""
    value = value.strip()
    if not value or len(value) > MAX_REFERENCE_LENGTH:
        raise X12Error(f"{what} must be 1 to {MAX_REFERENCE_LENGTH} characters")
    return value
