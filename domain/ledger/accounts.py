"""The chart of accounts: which account an amount lands in, by code.

Codes are stable strings (``patient_ar:<guarantor id>``, ``insurance_ar:<payer row id>``, ``revenue``...), so
an account is found or created by its code and two processes posting at once agree on it.
Balances are read debit-positive: an asset (AR, cash) with a positive balance is owed to us or held by us; a
revenue, liability or contra account shows its natural balance as a negative number.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.enums import AccountKind
from domain.workitems import WRITE_OFF_REASONS

PATIENT_AR = "patient_ar"
INSURANCE_AR = "insurance_ar"

# Every write-off reason a person may give (domain.workitems) has its own expense account, plus hardship.
WRITE_OFF_KINDS = WRITE_OFF_REASONS | {"hardship"}


@dataclass(frozen=True)
class AccountRef:
    code: str
    name: str
    kind: AccountKind
    owner_type: str | None = None
    owner_id: str | None = None


def patient_ar(guarantor_id: str) -> AccountRef:
    return AccountRef(f"{PATIENT_AR}:{guarantor_id}", "Patient AR", AccountKind.ASSET, "guarantor", guarantor_id)


def insurance_ar(payer_row_id: str) -> AccountRef:
    return AccountRef(f"{INSURANCE_AR}:{payer_row_id}", "Insurance AR", AccountKind.ASSET, "payer", payer_row_id)


CASH = AccountRef("cash", "Cash in bank", AccountKind.ASSET)
REVENUE = AccountRef("revenue", "Patient service revenue", AccountKind.REVENUE)
CONTRACTUAL = AccountRef("contractual", "Contractual adjustments", AccountKind.CONTRA_REVENUE)
UNAPPLIED_CASH = AccountRef("unapplied_cash", "Unapplied cash", AccountKind.LIABILITY)
REFUNDS_PAYABLE = AccountRef("refunds_payable", "Refunds payable", AccountKind.LIABILITY)
INTEREST_INCOME = AccountRef("interest_income", "Prompt-pay interest income", AccountKind.REVENUE)
# A missed visit's fee under the practice's no-show policy: billed to the guarantor, earned apart from services.
NO_SHOW_FEES = AccountRef("no_show_fees", "No-show fees", AccountKind.REVENUE)
# Amounts a payer withholds from a payment (recoupments, forward balances) settle what we owe the payer.
PAYER_OFFSETS = AccountRef("payer_offsets", "Payer offsets and recoupments", AccountKind.LIABILITY)
# A primary's patient responsibility crossing over to the secondary payer passes through here, so each claim's
# entries carry only its own payer's side (the primary's transfer out, the secondary's charge in).
COB_CROSSOVER = AccountRef("cob_crossover", "Coordination of benefits crossover", AccountKind.ASSET)


def write_off(reason: str) -> AccountRef:
    if reason not in WRITE_OFF_KINDS:
        raise ValueError(f"unknown write-off kind {reason!r}")
    return AccountRef(f"write_off:{reason}", f"Write-off ({reason.replace('_', ' ')})", AccountKind.EXPENSE)


def is_patient_ar(code: str) -> bool:
    return code.startswith(PATIENT_AR + ":")
