"""The payers' front-end edits: what a 277CA rejects before a claim ever reaches adjudication.

Each failed edit becomes a 277CA STC (category:status:entity). The first failing edit wins, in this order,
which the tests and docs/clearinghouse.md rely on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from domain.codes import is_valid_npi, normalize_icd10, validate_icd10
from domain.errors import InvalidCode
from sandbox.clearinghouse.model import Member, Rejection, SubmittedClaim
from sandbox.clearinghouse.payers import routes_claims_to

MemberLookup = Callable[[str, str], Member | None]


def front_end_edits(
    claim: SubmittedClaim,
    lookup_member: MemberLookup,
    today: date,
    known_payer_claim_numbers: Callable[[str], bool],
) -> Rejection | None:
    """The first edit the claim fails, or None when it goes on to the payer."""
    if not routes_claims_to(claim.payer_id):
        return Rejection(
            "A3", "116", "PR", "unknown_payer", "claim submitted to a payer the clearinghouse does not route"
        )
    if not is_valid_npi(claim.billing_npi):
        return Rejection("A7", "562", "85", "invalid_billing_npi", "billing provider NPI fails the check digit")
    if claim.rendering_npi is not None and not claim.rendering_npi.isdigit():
        return Rejection("A7", "562", "82", "invalid_rendering_npi", "rendering provider NPI is not numeric")
    if not claim.member_id.strip():
        return Rejection("A6", "164", "IL", "missing_member_id", "subscriber member id is missing")
    # 5010 sends the subscriber's DMG only when the subscriber is the patient; a dependant's is in 2010CA.
    if claim.patient_is_subscriber and claim.subscriber_birth_date is None:
        return Rejection("A6", "158", "IL", "missing_subscriber_birth_date", "subscriber birth date is missing")
    if not claim.patient_is_subscriber and claim.patient_birth_date is None:
        return Rejection("A6", "158", "QC", "missing_patient_birth_date", "patient birth date is missing")
    if not (claim.subscriber_last_name or "").strip():
        return Rejection("A6", "21", "IL", "missing_subscriber_name", "subscriber name is missing")
    if not claim.lines:
        return Rejection("A6", "21", "", "no_service_lines", "claim has no service lines")
    if claim.charge_cents != sum(line.charge_cents for line in claim.lines):
        return Rejection("A7", "178", "", "charge_mismatch", "claim charge differs from the sum of its lines")
    if any(line.service_date is None for line in claim.lines):
        return Rejection("A6", "187", "", "missing_service_date", "a service line has no date of service")
    last = claim.last_service_date
    if last is not None and last > today:
        return Rejection("A7", "187", "", "future_service_date", "date of service is in the future")
    for code in claim.diagnoses:
        try:
            validate_icd10(code)
        except InvalidCode:
            return Rejection(
                "A7", "255", "", "invalid_diagnosis", f"diagnosis code {normalize_icd10(code)} is malformed"
            )
    if not claim.diagnoses:
        return Rejection("A6", "254", "", "missing_diagnosis", "claim has no principal diagnosis")
    if claim.frequency_code in ("7", "8"):
        original = (claim.original_reference or "").strip()
        if not original or not known_payer_claim_numbers(original):
            return Rejection(
                "A7", "464", "PR", "unknown_original_claim", "replacement or void names no claim this payer knows"
            )
    member = lookup_member(claim.payer_id, claim.member_id)
    if member is None:
        return Rejection("A3", "97", "IL", "unknown_member", "subscriber not found on the payer's roster")
    if claim.subscriber_birth_date is not None and member.birth_date != claim.subscriber_birth_date:
        return Rejection("A7", "158", "IL", "birth_date_mismatch", "subscriber birth date does not match the roster")
    first = claim.first_service_date
    if first is not None and not (member.covered_on(first) and (last is None or member.covered_on(last))):
        return Rejection("A3", "109", "IL", "coverage_terminated", "coverage not in effect on the dates of service")
    return None
