"""What denial codes mean, in words a biller acts on: CARC (claim adjustment reason) and RARC (remark) codes.

A subset of the public X12 code lists: the codes payers use most for professional claims, each with the
usual next step. Unknown codes are named as such, never guessed.
"""

from __future__ import annotations

CARC: dict[str, tuple[str, str]] = {
    "1": ("deductible amount", "bill the patient"),
    "2": ("coinsurance amount", "bill the patient"),
    "3": ("co-payment amount", "bill the patient"),
    "4": ("procedure code inconsistent with the modifier", "correct the modifier and resubmit"),
    "11": ("diagnosis inconsistent with the procedure", "correct the diagnosis and resubmit"),
    "16": ("claim lacks information needed for adjudication", "add the missing data and resubmit"),
    "18": ("exact duplicate claim", "no action: the original is in process"),
    "22": ("may be covered by another payer (coordination of benefits)", "bill the other payer"),
    "27": ("expenses incurred after coverage terminated", "verify eligibility or bill the patient"),
    "29": ("the time limit for filing has expired", "appeal with proof of timely filing, or write off"),
    "45": ("charge exceeds the fee schedule (contractual)", "no action: contractual adjustment"),
    "50": ("not deemed a medical necessity by the payer", "appeal with medical records"),
    "96": ("non-covered charge", "bill the patient if an ABN is on file, else write off"),
    "97": ("included in another service already adjudicated (bundled)", "check modifiers; appeal or write off"),
    "109": ("not covered by this payer", "bill the correct payer"),
    "151": ("the number of services is not supported", "appeal with documentation"),
    "197": ("precertification/authorization absent", "obtain retro-authorization and appeal, or write off"),
    "204": ("service not covered under the patient's benefit plan", "bill the patient"),
    "242": ("services not provided by network providers", "appeal or bill the patient"),
}

RARC: dict[str, str] = {
    "M15": "separately billed services were bundled",
    "M20": "missing or invalid HCPCS",
    "M76": "missing or invalid diagnosis",
    "MA04": "secondary payment cannot be considered without the primary's payment identity",
    "MA130": "the claim has missing or invalid information: submit a new claim",
    "N30": "patient ineligible for this service",
    "N115": "decision based on a local coverage determination",
    "N130": "consult plan benefit documents for coverage",
    "N362": "the number of days or units exceeds the acceptable maximum",
    "N657": "service date should be within the timely filing limit",
}


def explain(adjustment_codes: tuple[str, ...], remark_codes: tuple[str, ...] = ()) -> tuple[str, ...]:
    """One line per code: ``"CO-50: not deemed a medical necessity by the payer (next: appeal ...)"``."""
    lines: list[str] = []
    for code in adjustment_codes:
        _group, _, reason = code.partition("-")
        known = CARC.get(reason)
        if known is None:
            lines.append(f"{code}: reason code {reason} (not in the shipped list: look it up)")
        else:
            lines.append(f"{code}: {known[0]} (next: {known[1]})")
    for remark in remark_codes:
        meaning = RARC.get(remark)
        lines.append(f"{remark}: {meaning}" if meaning else f"{remark}: remark code (not in the shipped list)")
    return tuple(lines)
