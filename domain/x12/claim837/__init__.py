"""837 Professional claims (005010X222A1): value types, writer and parser.

The HL tree is numbered in one place (:func:`claims_body`): one billing provider HL (20) per billing provider,
one subscriber HL (22) per claim beneath it, and a patient HL (23) beneath that only when the patient is not the
subscriber. HL04 says whether children follow. Getting these counters wrong is the classic 837P defect.

Secondary claims carry the primary payer's adjudication (loop 2320 SBR/CAS/AMT*D/OI, 2330A/B, and 2430
SVD/CAS/DTP*573 per line) taken from the primary's 835.

Units (SV104, SVD05) are X12 decimal quantities: :class:`~decimal.Decimal` with at most three places (drug units
such as 1.5 mL), written without a fraction when whole, never a float. A prior authorization number is REF*G1 in
loop 2300 for the claim, and in loop 2400 for a line only when it differs from the claim's (as the guide says).

The rooms: :mod:`.values` (the value types and units), :mod:`.writer` (claims to X12), :mod:`.reader` and
:mod:`.drafts` (X12 to claims). Import from here, ``domain.x12.claim837``: it is the public path.
"""

from domain.x12.claim837.reader import date_range, parse_837p, parse_837p_set
from domain.x12.claim837.values import (
    IMPLEMENTATION,
    KNOWN_SEGMENTS,
    MAX_REFERENCE_LENGTH,
    RELATIONSHIP_CODES,
    UNIT_QUANTUM,
    Address,
    LineAdjudication,
    OtherPayer,
    PayerParty,
    Person,
    ProfessionalClaim,
    ProviderParty,
    ServiceLine,
    Submitter,
    Subscriber,
    units_from_text,
    units_text,
    units_value,
)
from domain.x12.claim837.writer import claims_body, write_837p

__all__ = [
    "IMPLEMENTATION",
    "KNOWN_SEGMENTS",
    "MAX_REFERENCE_LENGTH",
    "RELATIONSHIP_CODES",
    "UNIT_QUANTUM",
    "Address",
    "LineAdjudication",
    "OtherPayer",
    "PayerParty",
    "Person",
    "ProfessionalClaim",
    "ProviderParty",
    "ServiceLine",
    "Submitter",
    "Subscriber",
    "claims_body",
    "date_range",
    "parse_837p",
    "parse_837p_set",
    "units_from_text",
    "units_text",
    "units_value",
    "write_837p",
]
