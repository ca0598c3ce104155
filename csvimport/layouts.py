"""The CSV column layouts a practice moving in fills (docs/integration.md, examples in docs/examples/), and each row
read into the intake module's command. A cell that cannot be read is a :class:`CellProblem` naming its column,
never its value.

Dates are ISO (``YYYY-MM-DD``); an appointment's start is ISO 8601 with its offset (``2026-03-02T09:00-06:00``)
or a local time in the import's time zone (``--timezone``). Money is not imported: charges come by HL7/FHIR.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from csvimport.columns import DEFAULT_APPOINTMENT_SYSTEM, DEFAULT_MRN_SYSTEM
from domain.enums import AppointmentKind, AppointmentStatus, CoverageRank, SubscriberRelationship
from intake import (
    BusinessId,
    Command,
    CoverageData,
    CoverageEntry,
    IfExists,
    PatientData,
    RecordCoverage,
    Ref,
    RegisterPatient,
    ScheduleAppointment,
)


class CellProblem(Exception):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class Options:
    mrn_system: str = DEFAULT_MRN_SYSTEM
    appointment_system: str = DEFAULT_APPOINTMENT_SYSTEM
    zone: tzinfo | None = None  # for appointment starts written without an offset


def _text(row: Mapping[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def _required(row: Mapping[str, str], column: str) -> str:
    value = _text(row, column)
    if not value:
        raise CellProblem(column, "required, empty")
    return value


def _date(row: Mapping[str, str], column: str, *, required: bool = False) -> date | None:
    value = _required(row, column) if required else _text(row, column)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CellProblem(column, "not a date (YYYY-MM-DD)") from None


def _choice(row: Mapping[str, str], column: str, choices: Mapping[str, str], default: str) -> str:
    value = _text(row, column).lower() or default
    if value not in choices:
        raise CellProblem(column, f"must be one of {', '.join(sorted(set(choices)))}")
    return choices[value]


def _coverage(row: Mapping[str, str], *, needed: bool) -> CoverageData | None:
    payer, member = _text(row, "payer_id"), _text(row, "member_id")
    if not payer and not member and not needed:
        return None
    if not payer:
        raise CellProblem("payer_id", "required with a member id")
    if not member:
        raise CellProblem("member_id", "required with a payer id")
    ranks = {r.value: r.value for r in CoverageRank}
    relationships = {r.value: r.value for r in SubscriberRelationship}
    return CoverageData(
        payer_code=payer.upper(),
        member_id=member,
        rank=CoverageRank(_choice(row, "rank", ranks, "primary")),
        relationship=SubscriberRelationship(_choice(row, "relationship", relationships, "self")),
        group_number=_text(row, "group_number") or None,
        effective_from=_date(row, "effective_from"),
        effective_to=_date(row, "effective_to"),
        subscriber_first_name=_text(row, "subscriber_first_name") or None,
        subscriber_last_name=_text(row, "subscriber_last_name") or None,
        subscriber_birth_date=_date(row, "subscriber_birth_date"),
        active=_choice(
            row, "active", {"yes": "yes", "y": "yes", "true": "yes", "no": "no", "n": "no", "false": "no"}, "yes"
        )
        == "yes",
    )


def patient_command(row: Mapping[str, str], options: Options) -> RegisterPatient:
    birth = _date(row, "birth_date", required=True)
    assert birth is not None
    sex = _choice(row, "sex", {"f": "F", "m": "M", "u": "U"}, "")
    coverage = _coverage(row, needed=False)
    return RegisterPatient(
        identifier=BusinessId(options.mrn_system, _required(row, "mrn")),
        patient=PatientData(
            first_name=_required(row, "first_name"),
            last_name=_required(row, "last_name"),
            birth_date=birth,
            sex=sex,
            address_line=_text(row, "address_line"),
            city=_text(row, "city"),
            state=_text(row, "state").upper(),
            postal_code=_text(row, "postal_code"),
            phone="".join(ch for ch in _text(row, "phone") if ch.isdigit()),
            email=_text(row, "email") or None,
        ),
        coverages=(CoverageEntry(coverage),) if coverage is not None else (),
        if_exists=IfExists.UPDATE,
    )


def coverage_command(row: Mapping[str, str], options: Options) -> RecordCoverage:
    coverage = _coverage(row, needed=True)
    assert coverage is not None
    return RecordCoverage(
        patient=Ref(identifier=BusinessId(options.mrn_system, _required(row, "mrn"))),
        coverage=coverage,
        if_exists=IfExists.UPDATE,
    )


def _start(row: Mapping[str, str], options: Options) -> datetime:
    value = _required(row, "starts_at")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CellProblem("starts_at", "not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        if options.zone is None:
            raise CellProblem("starts_at", "needs an offset (e.g. -06:00), or run the import with --timezone")
        moment = moment.replace(tzinfo=options.zone)
    return moment


def appointment_command(row: Mapping[str, str], options: Options) -> ScheduleAppointment:
    minutes_text = _text(row, "duration_minutes") or "20"
    if not minutes_text.isdigit() or not 0 < int(minutes_text) <= 1440:
        raise CellProblem("duration_minutes", "whole minutes from 1 to 1440")
    npi = _required(row, "provider_npi")
    if not (npi.isdigit() and len(npi) == 10):
        raise CellProblem("provider_npi", "an NPI is 10 digits")
    kinds = {k.value: k.value for k in AppointmentKind}
    statuses = {"booked": "booked", "scheduled": "booked", "cancelled": "cancelled", "canceled": "cancelled"}
    return ScheduleAppointment(
        identifier=BusinessId(options.appointment_system, _required(row, "appointment_id")),
        patient=Ref(identifier=BusinessId(options.mrn_system, _required(row, "mrn"))),
        provider_npi=npi,
        starts_at=_start(row, options),
        status=AppointmentStatus(_choice(row, "status", statuses, "booked")),
        kind=AppointmentKind(_choice(row, "kind", kinds, "in_person")),
        duration_minutes=int(minutes_text),
        if_exists=IfExists.UPDATE,
    )


READERS: dict[str, Callable[[Mapping[str, str], Options], Command]] = {
    "patients": patient_command,
    "coverages": coverage_command,
    "appointments": appointment_command,
}
