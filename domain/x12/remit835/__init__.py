"""835 Health Care Claim Payment/Advice (005010X221A1): parse into :mod:`domain.remittance` values and write back.

One :class:`~domain.remittance.Remittance` per ST..SE, read as its segments come (:func:`stream_835` hands out
each claim as it is read; :func:`parse_835` keeps them all). Balancing is checked and reported as warnings with the
amounts (never silently fixed): BPR02 against the claims' CLP04 minus PLB, each claim's charge minus its
adjustments against its payment, and the same for each service line.

The rooms: :mod:`.reader` (X12 to values, with :mod:`.claims` for a claim as it is read) and :mod:`.writer`
(values to X12). Import from here,
``domain.x12.remit835``: it is the public path.
"""

from domain.x12.remit835.reader import (
    ADJUSTMENT_GROUPS,
    CLAIM_STATUS_CODES,
    KNOWN_SEGMENTS,
    PAYMENT_METHODS,
    RemittanceReader,
    parse_835,
    parse_835_set,
    stream_835,
)
from domain.x12.remit835.writer import CLAIM_FILING_CODES, IMPLEMENTATION, PayerDetails, remittance_body, write_835

__all__ = [
    "ADJUSTMENT_GROUPS",
    "CLAIM_FILING_CODES",
    "CLAIM_STATUS_CODES",
    "IMPLEMENTATION",
    "KNOWN_SEGMENTS",
    "PAYMENT_METHODS",
    "PayerDetails",
    "RemittanceReader",
    "parse_835",
    "parse_835_set",
    "remittance_body",
    "stream_835",
    "write_835",
]
