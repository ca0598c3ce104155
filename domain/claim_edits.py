"""The claim edits (the scrubber): what a clearinghouse or payer would reject, caught before we send.

The edits run on :class:`domain.x12.claim837.ProfessionalClaim` values, the same values the 837P is written
from, so what is checked is exactly what is sent. Facts a claim does not carry come in a :class:`ScrubContext`
(today's date, the payer's timely filing limit, the practice's other open claims for the duplicate check, the
rendering provider's exclusions and payer enrollments: ``domain.services.provider_standing`` loads them).

Each failure has a stable code, a message and a fix hint; messages name codes, line numbers and claim ids,
never the patient's name, birth date or member id.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache
from importlib import resources

from domain.catalog import DIAGNOSES, requires_prior_authorization
from domain.codes import PLACES_OF_SERVICE, TELEHEALTH_POS, is_valid_npi
from domain.enrollment import Enrollment, enrolled_on
from domain.exclusions import ExclusionPeriod, blocking_period
from domain.x12.claim837 import ProfessionalClaim

_ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")
_HCPCS = re.compile(r"^(\d{5}|\d{4}[FTU]|[A-V]\d{4})$")
_MODIFIER = re.compile(r"^[0-9A-Z]{2}$")
TELEHEALTH_EM_MODIFIERS = frozenset({"95", "93"})
OFFICE_POS = "11"


@dataclass(frozen=True)
class EditFailure:
    code: str
    message: str
    fix_hint: str
    line: int | None = None  # 1-based service line, when the edit is about one line

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class ClaimFingerprint:
    """What makes two claims duplicates: the same patient, dates of service and procedure codes."""

    claim_id: str
    patient_key: str  # an opaque patient id (Patient.id)
    service_dates: frozenset[date]
    procedures: frozenset[str]


@dataclass(frozen=True)
class ProviderStanding:
    """Whether the rendering provider may bill this payer: exclusion-list matches and enrollments with the payer."""

    exclusions: tuple[ExclusionPeriod, ...] = ()
    enrollments: tuple[Enrollment, ...] = ()
    enrollment_required: bool = True  # False for a payer nobody enrolls with (self-pay)


@dataclass(frozen=True)
class ScrubContext:
    today: date
    timely_filing_days: int | None = None  # Payer.timely_filing_days
    open_claims: Sequence[ClaimFingerprint] = ()  # the practice's other claims that are ready or with a payer
    self_fingerprint: ClaimFingerprint | None = None  # this claim's own, to compare with open_claims
    provider: ProviderStanding | None = None  # None: the provider edits are not run (no store at hand)


@cache
def icd10_subset() -> frozenset[str]:
    """The shipped ICD-10-CM subset (domain/data/icd10cm_common.txt) plus the catalogue's diagnoses."""
    text = resources.files("domain.data").joinpath("icd10cm_common.txt").read_text(encoding="ascii")
    codes = {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}
    return frozenset(codes | set(DIAGNOSES))


def is_evaluation_and_management(procedure: str) -> bool:
    """CPT E/M codes are 99202-99499."""
    return procedure.isdigit() and 99202 <= int(procedure) <= 99499


def fingerprint(claim: ProfessionalClaim, patient_key: str) -> ClaimFingerprint:
    return ClaimFingerprint(
        claim.claim_id,
        patient_key,
        frozenset(line.service_date for line in claim.lines if line.service_date),
        frozenset(line.procedure for line in claim.lines),
    )


def _service_dates(claim: ProfessionalClaim) -> list[date]:
    return [line.service_date for line in claim.lines if line.service_date is not None]


def scrub(claim: ProfessionalClaim, context: ScrubContext) -> list[EditFailure]:
    """Every edit the claim fails (empty: ready to submit)."""
    failures: list[EditFailure] = []
    failures += _providers(claim)
    failures += _diagnoses(claim)
    failures += _lines(claim)
    failures += _place_of_service(claim)
    failures += _dates(claim, context)
    failures += _subscriber(claim)
    failures += _frequency(claim)
    failures += _prior_authorization(claim)
    failures += _duplicates(context)
    failures += _provider_standing(claim, context.provider)
    return failures


def _providers(claim: ProfessionalClaim) -> list[EditFailure]:
    failures = []
    if not is_valid_npi(claim.billing_provider.npi):
        failures.append(
            EditFailure(
                "NPI_BILLING",
                f"billing provider NPI {claim.billing_provider.npi!r} fails the NPI check digit",
                "correct the practice's group NPI (10 digits, Luhn check over prefix 80840; see NPPES)",
            )
        )
    rendering = claim.rendering_provider
    if rendering is not None and not is_valid_npi(rendering.npi):
        failures.append(
            EditFailure(
                "NPI_RENDERING",
                f"rendering provider NPI {rendering.npi!r} fails the NPI check digit",
                "correct the provider's individual NPI in the provider record",
            )
        )
    return failures


def _diagnoses(claim: ProfessionalClaim) -> list[EditFailure]:
    failures = []
    if not claim.diagnoses:
        return [EditFailure("DX_MISSING", "the claim has no diagnosis", "code the encounter (ICD-10-CM)")]
    if len(claim.diagnoses) > 12:
        failures.append(
            EditFailure(
                "DX_TOO_MANY", f"{len(claim.diagnoses)} diagnoses; an 837P carries 12", "keep the 12 most relevant"
            )
        )
    subset = icd10_subset()
    for index, code in enumerate(claim.diagnoses, start=1):
        cleaned = code.replace(".", "").upper()
        if not _ICD10.match(cleaned):
            failures.append(
                EditFailure(
                    "DX_FORMAT",
                    f"diagnosis {index} {code!r} is not a well-formed ICD-10-CM code",
                    "use a letter, two characters, then up to four more, without the dot (e.g. E119)",
                )
            )
        elif cleaned not in subset:
            failures.append(
                EditFailure(
                    "DX_UNKNOWN",
                    f"diagnosis {index} {cleaned} is not in the practice's ICD-10-CM code list",
                    "check the code is billable (highest specificity) or add it to domain/data/icd10cm_common.txt",
                )
            )
    if len(set(claim.diagnoses)) != len(claim.diagnoses):
        failures.append(EditFailure("DX_REPEATED", "a diagnosis is listed twice", "remove the repeated code"))
    return failures


def _lines(claim: ProfessionalClaim) -> list[EditFailure]:
    failures = []
    if not claim.lines:
        return [EditFailure("LINES_MISSING", "the claim has no service lines", "add the procedures performed")]
    if len(claim.lines) > 50:
        failures.append(EditFailure("LINES_TOO_MANY", "more than 50 service lines", "split the claim"))
    total = sum(line.charge_cents for line in claim.lines)
    if total != claim.total_charge_cents:
        failures.append(
            EditFailure(
                "CHARGE_TOTAL",
                f"claim total {claim.total_charge_cents} cents is not the sum of its lines ({total} cents)",
                "recompute the claim's total charge",
            )
        )
    for number, line in enumerate(claim.lines, start=1):
        if not _HCPCS.match(line.procedure):
            failures.append(
                EditFailure(
                    "PX_FORMAT",
                    f"procedure {line.procedure!r} is not a well-formed CPT/HCPCS code",
                    "use five digits (CPT), four digits and F/T/U, or a letter A-V and four digits (HCPCS II)",
                    number,
                )
            )
        for modifier in line.modifiers:
            if not _MODIFIER.match(modifier):
                failures.append(
                    EditFailure(
                        "MOD_FORMAT", f"modifier {modifier!r} is not two letters/digits", "fix the modifier", number
                    )
                )
        if len(line.modifiers) > 4:
            failures.append(EditFailure("MOD_TOO_MANY", "more than four modifiers", "keep at most four", number))
        if line.units <= 0:
            failures.append(EditFailure("UNITS", "units must be positive", "enter the units performed", number))
        if line.charge_cents <= 0:
            failures.append(EditFailure("CHARGE_ZERO", "line charge is zero", "enter the fee schedule charge", number))
        pointers = line.diagnosis_pointers
        if not pointers:
            failures.append(
                EditFailure(
                    "PTR_MISSING", "no diagnosis pointer", "point the line at 1-4 of the claim's diagnoses", number
                )
            )
        elif len(pointers) > 4:
            failures.append(EditFailure("PTR_TOO_MANY", "more than four pointers", "keep at most four", number))
        for pointer in pointers:
            if not 1 <= pointer <= min(len(claim.diagnoses), 12):
                failures.append(
                    EditFailure(
                        "PTR_RANGE",
                        f"diagnosis pointer {pointer} points past the claim's {len(claim.diagnoses)} diagnoses",
                        "point at a listed diagnosis (1-based)",
                        number,
                    )
                )
        if len(set(pointers)) != len(pointers):
            failures.append(EditFailure("PTR_REPEATED", "a diagnosis pointer is repeated", "remove it", number))
    return failures


def _place_of_service(claim: ProfessionalClaim) -> list[EditFailure]:
    failures = []
    if claim.place_of_service not in PLACES_OF_SERVICE:
        failures.append(
            EditFailure(
                "POS_UNKNOWN",
                f"place of service {claim.place_of_service!r} is not a known CMS POS code",
                "use the two-digit POS (11 office, 02/10 telehealth, ...)",
            )
        )
    for number, line in enumerate(claim.lines, start=1):
        place = line.place_of_service or claim.place_of_service
        modifiers = set(line.modifiers)
        if place in TELEHEALTH_POS and is_evaluation_and_management(line.procedure):
            if not modifiers & TELEHEALTH_EM_MODIFIERS:
                failures.append(
                    EditFailure(
                        "TELEHEALTH_MODIFIER",
                        f"telehealth POS {place} E/M line {line.procedure} without modifier 95 or 93",
                        "add 95 (synchronous audio-video) or 93 (audio only)",
                        number,
                    )
                )
        if place == OFFICE_POS and "95" in modifiers:
            failures.append(
                EditFailure(
                    "OFFICE_MODIFIER_95",
                    "modifier 95 (telehealth) on a line with place of service 11 (office)",
                    "use POS 02 or 10 for a telehealth visit, or remove modifier 95 for an office visit",
                    number,
                )
            )
    return failures


def _dates(claim: ProfessionalClaim, context: ScrubContext) -> list[EditFailure]:
    failures = []
    dates = _service_dates(claim)
    if len(dates) != len(claim.lines):
        failures.append(
            EditFailure("DOS_MISSING", "a service line has no date of service", "enter the date of service")
        )
    if not dates:
        return failures
    if max(dates) > context.today:
        failures.append(
            EditFailure(
                "DOS_FUTURE",
                f"date of service {max(dates).isoformat()} is after today ({context.today.isoformat()})",
                "bill services only after they are performed",
            )
        )
    if context.timely_filing_days is not None:
        age = (context.today - min(dates)).days
        if age > context.timely_filing_days:
            failures.append(
                EditFailure(
                    "TIMELY_FILING",
                    f"date of service {min(dates).isoformat()} is {age} days ago; the payer accepts "
                    f"{context.timely_filing_days} days",
                    "attach proof of timely filing or write the balance off per policy",
                )
            )
    return failures


def _subscriber(claim: ProfessionalClaim) -> list[EditFailure]:
    failures = []
    subscriber = claim.subscriber
    if not subscriber.member_id.strip():
        failures.append(
            EditFailure("SUB_MEMBER_ID", "subscriber member id is missing", "copy it from the insurance card")
        )
    if not subscriber.person.last_name.strip() or not subscriber.person.first_name.strip():
        failures.append(
            EditFailure("SUB_NAME", "subscriber name is missing", "enter the subscriber's name as on the card")
        )
    if subscriber.relationship != "self":
        if subscriber.person.birth_date is None:
            failures.append(
                EditFailure(
                    "SUB_BIRTH_DATE",
                    "subscriber birth date is missing (the patient is not the subscriber)",
                    "enter the subscriber's birth date on the coverage",
                )
            )
        if claim.patient is None:
            failures.append(
                EditFailure("PATIENT_MISSING", "dependent claim without patient data", "complete the patient record")
            )
    elif subscriber.person.birth_date is None:
        failures.append(EditFailure("SUB_BIRTH_DATE", "patient birth date is missing", "complete the patient record"))
    if not claim.payer.payer_id:
        failures.append(EditFailure("PAYER_ID", "payer id is missing", "set the clearinghouse payer id on the payer"))
    return failures


def _frequency(claim: ProfessionalClaim) -> list[EditFailure]:
    if claim.frequency_code not in ("1", "7", "8"):
        return [EditFailure("FREQUENCY", f"claim frequency {claim.frequency_code!r} is not 1, 7 or 8", "use 1, 7 or 8")]
    if claim.frequency_code in ("7", "8") and not claim.original_claim_number:
        return [
            EditFailure(
                "ORIGINAL_CLAIM_NUMBER",
                f"a {'replacement' if claim.frequency_code == '7' else 'void'} claim needs the original claim number",
                "copy the payer claim control number (CLP07 of the 835) of the original claim",
            )
        ]
    return []


def _prior_authorization(claim: ProfessionalClaim) -> list[EditFailure]:
    """The payer pays these procedures only with its authorization number on the claim (else CO-197)."""
    return [
        EditFailure(
            "PRIOR_AUTH_MISSING",
            f"payer {claim.payer.payer_id} requires a prior authorization for {line.procedure} and the claim has none"
            " that covers it",
            "record the payer's authorization (number, codes, valid dates) on the patient, or correct the claim with"
            " prior_auth=<number>",
            number,
        )
        for number, line in enumerate(claim.lines, start=1)
        if claim.frequency_code != "8"  # a void cancels; it needs no authorization
        and requires_prior_authorization(claim.payer.payer_id, line.procedure)
        and not claim.authorization_for(line)
    ]


def _duplicates(context: ScrubContext) -> list[EditFailure]:
    mine = context.self_fingerprint
    if mine is None:
        return []
    failures = []
    for other in context.open_claims:
        if other.claim_id == mine.claim_id or other.patient_key != mine.patient_key:
            continue
        if other.service_dates == mine.service_dates and other.procedures == mine.procedures:
            failures.append(
                EditFailure(
                    "DUPLICATE",
                    f"same patient, dates of service and procedures as open claim {other.claim_id}",
                    "void one of them, or send this one as a replacement (frequency 7)",
                )
            )
    return failures


def _provider_standing(claim: ProfessionalClaim, standing: ProviderStanding | None) -> list[EditFailure]:
    """An excluded provider's services cannot be billed from the exclusion date; a provider must be enrolled with
    the payer on each date of service. A void (frequency 8) takes a claim back and is never stopped."""
    if standing is None or claim.frequency_code == "8":
        return []
    provider = claim.rendering_provider or claim.billing_provider
    days = sorted(set(_service_dates(claim)))
    failures = []
    excluded = [(day, period) for day in days if (period := blocking_period(standing.exclusions, day))]
    if excluded:
        day, period = excluded[0]
        failures.append(
            EditFailure(
                "PROVIDER_EXCLUDED",
                f"rendering provider {provider.npi} is on the {period.source} exclusion list from "
                f"{period.excluded_on.isoformat()} (date of service {day.isoformat()})",
                "a person decides the staff member's exclusion_match credentialing item: cleared (not this person) "
                "lifts the block; a confirmed exclusion cannot be billed (bill another provider's service or write "
                "it off)",
            )
        )
    if standing.enrollment_required:
        gaps = [day for day in days if not enrolled_on(standing.enrollments, claim.payer.payer_id, day)]
        if gaps:
            failures.append(
                EditFailure(
                    "PROVIDER_NOT_ENROLLED",
                    f"rendering provider {provider.npi} is not enrolled with payer {claim.payer.payer_id} on "
                    f"{gaps[0].isoformat()}",
                    "record the payer's approval (carecycle staff enroll STAFF_ID --payer PAYER --status active "
                    "--from YYYY-MM-DD), then retry; or bill the service under an enrolled provider",
                )
            )
    return failures
