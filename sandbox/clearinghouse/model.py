"""The clearinghouse's own view of what it receives and whom the payers cover.

A real clearinghouse keeps its own records; so does the sandbox. These values are filled from the parsed
837P (domain.x12) and from the roster the demo loads, and they are what the edits and the adjudication read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from domain.errors import ValidationError
from domain.remittance import Adjustment, ClaimPayment, ServiceLinePayment


@dataclass(frozen=True)
class SubmittedLine:
    procedure: str
    modifiers: tuple[str, ...]
    charge_cents: int
    units: Decimal  # SV104, up to three decimal places
    service_date: date | None
    line_control_number: str | None = None
    place_of_service: str | None = None
    prior_authorization: str | None = None  # 2400 REF*G1, when the line's differs from the claim's
    # A secondary claim's 2430 loop: what the prior payer paid on this line (SVD02) and left to the patient (CAS PR).
    prior_paid_cents: int | None = None
    prior_patient_cents: int | None = None


@dataclass(frozen=True)
class SubmittedClaim:
    """One claim of an 837P batch as the clearinghouse forwards it to a payer."""

    claim_id: str  # CLM01, the provider's patient control number
    payer_id: str
    billing_npi: str
    billing_name: str
    member_id: str
    subscriber_birth_date: date | None
    subscriber_last_name: str | None
    subscriber_first_name: str | None
    rendering_npi: str | None
    place_of_service: str
    frequency_code: str  # 1 original, 7 replacement, 8 void
    charge_cents: int
    diagnoses: tuple[str, ...]
    lines: tuple[SubmittedLine, ...]
    original_reference: str | None = None  # REF*F8 payer claim control number for 7/8
    prior_authorization: str | None = None  # 2300 REF*G1

    def authorization_for(self, line: SubmittedLine) -> str | None:
        """The prior authorization number the claim gives for ``line``: the line's own, else the claim's."""
        return line.prior_authorization or self.prior_authorization

    patient_birth_date: date | None = None  # 2010CA DMG02 when the patient is not the subscriber
    patient_last_name: str | None = None  # 2010CA, only when the patient is not the subscriber
    patient_first_name: str | None = None
    claim_filing_indicator: str = "CI"  # SBR09
    payer_responsibility: str = "P"  # SBR01: P primary, S secondary, T tertiary
    prior_payer_paid_cents: int | None = None  # 2320 AMT*D on a secondary claim

    @property
    def patient_is_subscriber(self) -> bool:
        """No 2000C patient loop: the 837 then carries the subscriber's birth date (2010BA DMG)."""
        return self.patient_last_name is None and self.patient_birth_date is None

    @property
    def first_service_date(self) -> date | None:
        dates = [line.service_date for line in self.lines if line.service_date is not None]
        return min(dates) if dates else None

    @property
    def last_service_date(self) -> date | None:
        dates = [line.service_date for line in self.lines if line.service_date is not None]
        return max(dates) if dates else None


@dataclass(frozen=True)
class IssuedAuthorization:
    """A prior authorization the payer issued to a member: which codes, which dates."""

    number: str
    procedure_codes: tuple[str, ...]
    valid_from: date
    valid_to: date

    def covers(self, procedure: str, day: date | None) -> bool:
        return procedure in self.procedure_codes and (day is None or self.valid_from <= day <= self.valid_to)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IssuedAuthorization:
        return cls(
            number=str(data["number"]).strip(),
            procedure_codes=tuple(str(code) for code in data.get("procedure_codes") or ()),
            valid_from=date.fromisoformat(str(data["valid_from"])),
            valid_to=date.fromisoformat(str(data["valid_to"])),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "procedure_codes": list(self.procedure_codes),
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
        }


@dataclass(frozen=True)
class Member:
    """One enrollment on a payer's roster. Member ids and birth dates are PHI: never logged."""

    payer_id: str
    member_id: str
    birth_date: date
    effective_from: date
    effective_to: date | None = None
    plan: str = "standard"
    copay_cents: int | None = None  # None: the payer plan's default
    deductible_cents: int | None = None  # the yearly deductible; None: the plan's default
    coinsurance_bp: int | None = None
    # Met before the sandbox saw any claim; None: drawn from the seed (about half the members have met it).
    deductible_met_cents: int | None = None
    deductible_remaining_cents: int | None = None  # what the platform's coverage rows carry instead
    group_number: str | None = None
    last_name: str | None = None
    first_name: str | None = None
    # Prior authorizations the payer issued to this member (roster field "authorizations"); a number the payer
    # has no record of is taken as given.
    authorizations: tuple[IssuedAuthorization, ...] = ()

    def covered_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def issued(self, number: str) -> IssuedAuthorization | None:
        return next((a for a in self.authorizations if a.number == number.strip()), None)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Member:
        """Read a roster entry; dates are ISO strings and amounts cents. Raises ValidationError."""
        try:
            return cls(
                payer_id=str(data["payer_id"]).strip().upper(),
                member_id=str(data["member_id"]).strip(),
                birth_date=date.fromisoformat(str(data["birth_date"])),
                effective_from=date.fromisoformat(str(data["effective_from"])),
                effective_to=date.fromisoformat(str(data["effective_to"])) if data.get("effective_to") else None,
                plan=str(data.get("plan") or "standard"),
                copay_cents=_optional_int(data.get("copay_cents")),
                deductible_cents=_optional_int(data.get("deductible_cents")),
                coinsurance_bp=_optional_int(data.get("coinsurance_bp")),
                deductible_met_cents=_optional_int(data.get("deductible_met_cents")),
                deductible_remaining_cents=_optional_int(data.get("deductible_remaining_cents")),
                group_number=str(data["group_number"]) if data.get("group_number") else None,
                last_name=str(data["last_name"]) if data.get("last_name") else None,
                first_name=str(data["first_name"]) if data.get("first_name") else None,
                authorizations=tuple(IssuedAuthorization.from_json(a) for a in data.get("authorizations") or ()),
            )
        except KeyError as exc:
            raise ValidationError(f"roster entry lacks the field {exc.args[0]!r}") from None
        except (TypeError, ValueError):
            # The value itself may be PHI, so the message names no value.
            raise ValidationError("roster entry has a malformed date or amount") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "payer_id": self.payer_id,
            "member_id": self.member_id,
            "birth_date": self.birth_date.isoformat(),
            "effective_from": self.effective_from.isoformat(),
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
            "plan": self.plan,
            "copay_cents": self.copay_cents,
            "deductible_cents": self.deductible_cents,
            "coinsurance_bp": self.coinsurance_bp,
            "deductible_met_cents": self.deductible_met_cents,
            "deductible_remaining_cents": self.deductible_remaining_cents,
            "group_number": self.group_number,
            "last_name": self.last_name,
            "first_name": self.first_name,
            "authorizations": [a.to_json() for a in self.authorizations],
        }


def _optional_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("not an integer")
    return int(value)


@dataclass(frozen=True)
class Rejection:
    """A front-end payer edit that failed: becomes a 277CA STC with category, status and entity codes."""

    category: str  # A3 returned unprocessable, A6 missing information, A7 invalid information
    status: str  # claim status code (code list 507)
    entity: str  # entity identifier code: IL subscriber, QC patient, 85 billing provider, PR payer
    edit: str  # our short edit name, e.g. "unknown_member"
    message: str  # no PHI


def payment_to_json(payment: ClaimPayment) -> dict[str, Any]:
    """A decided claim as the clearinghouse keeps it (dates as ISO strings)."""
    data: dict[str, Any] = _jsonable(asdict(payment))
    return data


def payment_from_json(data: dict[str, Any]) -> ClaimPayment:
    lines = tuple(
        ServiceLinePayment(
            **{
                **line,
                "modifiers": tuple(line["modifiers"]),
                "adjustments": tuple(Adjustment(**a) for a in line["adjustments"]),
                "remarks": tuple(line["remarks"]),
                "service_date": _day(line["service_date"]),
            }
        )
        for line in data["service_lines"]
    )
    return ClaimPayment(
        **{
            **data,
            "adjustments": tuple(Adjustment(**a) for a in data["adjustments"]),
            "service_lines": lines,
            "remarks": tuple(data["remarks"]),
            "service_date": _day(data["service_date"]),
            "statement_to": _day(data.get("statement_to")),
            "received_date": _day(data.get("received_date")),
        }
    )


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exact, never a float
    return value


def submitted_to_json(claim: SubmittedClaim) -> dict[str, Any]:
    """A received claim as the clearinghouse files it for adjudication (PHI stays in the sandbox's file)."""
    data: dict[str, Any] = _jsonable(asdict(claim))
    return data


def submitted_from_json(data: dict[str, Any]) -> SubmittedClaim:
    fields = {k: v for k, v in data.items() if k in SubmittedClaim.__dataclass_fields__}
    return SubmittedClaim(
        **{
            **fields,
            "subscriber_birth_date": _day(fields.get("subscriber_birth_date")),
            "patient_birth_date": _day(fields.get("patient_birth_date")),
            "diagnoses": tuple(fields["diagnoses"]),
            "lines": tuple(
                SubmittedLine(
                    **{
                        **line,
                        "modifiers": tuple(line["modifiers"]),
                        "service_date": _day(line["service_date"]),
                        "units": Decimal(str(line["units"])),
                    }
                )
                for line in fields["lines"]
            ),
        }
    )
