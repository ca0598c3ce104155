"""The front desk's two forms as plain values, and what the console needs to act on them.

The console parses and checks the form's shape (dates, required fields) into these values; the composition root
hands over a :class:`FrontDesk` (``workers.front_desk``) that turns them into intake commands, the same ones the
FHIR API, the HL7 listener and the CSV import send, so every rule (the duplicate-patient rule, the booking rules)
is intake's and the domain's, not this page's. The console may not import intake (it imports the workflows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol


@dataclass(frozen=True)
class NewPatient:
    first_name: str
    last_name: str
    birth_date: date
    sex: str  # F, M, U
    phone: str
    email: str | None
    address_line: str
    city: str
    state: str
    postal_code: str
    payer_code: str  # the payer's X12 payer id
    member_id: str
    mrn: str | None = None  # None: the desk gives one


@dataclass(frozen=True)
class NewBooking:
    patient: str  # our patient id or the practice's MRN
    provider_id: str
    starts_at: datetime  # aware
    virtual: bool
    visit_type: str
    location_id: str | None = None
    duration_minutes: int = 20


@dataclass(frozen=True)
class DeskResult:
    """What intake did: our id of the record and the workflow ids of the processes it started."""

    id: str
    starts: tuple[str, ...]


class FrontDesk(Protocol):
    """Registration and booking through intake, acting as ``console:<user>``. A refusal (bad input, a duplicate
    patient, a taken slot...) is a ``domain.errors.DomainError`` whose message holds no PHI; nothing is stored."""

    async def register(self, user: str, patient: NewPatient) -> DeskResult: ...

    async def book(self, user: str, booking: NewBooking) -> DeskResult: ...
