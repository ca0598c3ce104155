"""What each field of a work-item resolution holds, in words a biller can follow (``tasks show``, the console).

Every field name that an action of :data:`domain.workitems.ACTIONS` requires or accepts has an entry here
(a test checks it), so a person sees the format before typing, not after a refusal. The rules that check
the values live with the validators (``domain.workitems.validate_resolution`` and the activities' rules);
these are their descriptions.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.claim_corrections import LINE_FIELDS
from domain.workitems import ACTIONS, WRITE_OFF_REASONS, Action

DATE = "a date, YYYY-MM-DD"
CENTS = "a positive whole number of cents (12500 is $125.00)"
NPI = "a 10-digit NPI (with its check digit)"
AUTHORIZATION = "the payer's prior authorization number: 1 to 50 letters, digits or dashes"

FIELD_FORMATS: Mapping[str, str] = {
    "procedure_code": "a CPT or HCPCS code: 5 letters or digits (99213, G0438)",
    "modifiers": "up to 4 two-character modifiers, comma-separated (25,95)",
    "diagnosis_codes": "ICD-10-CM codes without the dot, comma-separated, principal first (I10,E119)",
    "diagnosis_pointers": "positions in the claim's diagnosis codes, comma-separated (1,2)",
    "units": "a positive whole number of units",
    "charge_cents": CENTS,
    "place_of_service": "a 2-digit CMS place-of-service code (11 office, 02 or 10 telehealth)",
    "service_date": DATE,
    "rendering_npi": NPI,
    "billing_npi": NPI,
    "prior_authorization": AUTHORIZATION,
    "prior_auth": AUTHORIZATION + " (same as prior_authorization)",
    "member_id": "the member id on the patient's insurance card: 1 to 30 letters, digits or dashes",
    "payer_id": "a payer id carecycle knows: 1 to 20 letters or digits (SBXCC)",
    "frequency_code": "1 original, 7 replacement of a paid claim, 8 void (7 and 8 need original_claim_number)",
    "original_claim_number": "the payer's claim number (ICN) of the claim replaced or voided: 1 to 50 letters, "
    "digits or dashes",
    "appeal_level": "the appeal level (text: 1 for a first appeal, 2 for a second)",
    "attachment_id": "a stored document's key (`carecycle documents list`)",
    "reason_code": "one of: " + ", ".join(sorted(WRITE_OFF_REASONS)),
    "amount_cents": CENTS,
    "plan_code": "the plan code the payer gave (text)",
    "reference": "a reference number (call reference, check number; text)",
    "group_number": "the group number on the patient's insurance card: 1 to 30 letters, digits, spaces or dashes",
    "effective_from": DATE,
    "effective_to": DATE + ", or open (the coverage has no end)",
    "surviving_patient_id": "the id of the patient record that stays (`carecycle patients list --json`)",
    "claim_id": "a claim id (`carecycle claims scrub --json`)",
    "installments": "the number of monthly installments: a positive whole number",
    "first_due": DATE + ", today or later (default: one interval from today)",
    "new_expires_on": DATE + ", later than the credential's current expiry",
    "completed_on": DATE,
    "attested_on": DATE + ", the day the CAQH profile was re-attested (not in the future)",
    "number": "the renewed credential's number (text)",
    "document_id": "a stored document's key (`carecycle documents list`)",
    "assignee": "the user name of the person who takes the item",
    "provider_id": "the id of a provider licensed in the patient's state (`carecycle staff list`)",
}

ANY_FIELD = "any name=value pairs, kept with the item as notes"
LINE_PREFIX = " (every line, or one line with a line<N>. prefix: line2.modifiers=25)"


def field_format(name: str, action: Action | None = None) -> str:
    text = FIELD_FORMATS.get(name, "text")
    if action is Action.CORRECT_AND_RESUBMIT and name in LINE_FIELDS:
        return text + LINE_PREFIX
    return text


def action_fields(action: Action) -> list[dict[str, object]]:
    """The fields of one action, required first, each with its format; ``[]`` for an action without fields."""
    spec = ACTIONS[action]
    optional = sorted((spec.allowed_fields or frozenset()) - spec.required_fields)
    return [
        {"field": name, "required": True, "format": field_format(name, action)} for name in sorted(spec.required_fields)
    ] + [{"field": name, "required": False, "format": field_format(name, action)} for name in optional]
