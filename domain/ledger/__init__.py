"""The double-entry patient and insurance ledger: accounts, balanced entries, the services that post them."""

from domain.ledger.accounts import AccountRef
from domain.ledger.adjustments import (
    ClaimBalanceMoved,
    GuarantorPosting,
    adjust_claim_balance,
    refund_credit_balance,
    write_off_patient_balance,
)
from domain.ledger.entries import EntryDraft, EntryKind, build_entry, reversal_of, transfer
from domain.ledger.payments import PaymentRecorded, record_patient_payment
from domain.ledger.service import (
    HistoricalClaim,
    LedgerPosting,
    post_charge,
    post_charges,
    post_claim_history,
    post_no_show_fee,
    post_patient_charge,
)
from domain.ledger.store import (
    account_balance,
    balances_by_account,
    guarantor_balance,
    patient_ar_balance,
    write_entries,
)

__all__ = [
    "AccountRef",
    "ClaimBalanceMoved",
    "EntryDraft",
    "EntryKind",
    "GuarantorPosting",
    "HistoricalClaim",
    "LedgerPosting",
    "PaymentRecorded",
    "account_balance",
    "adjust_claim_balance",
    "balances_by_account",
    "build_entry",
    "guarantor_balance",
    "patient_ar_balance",
    "post_charge",
    "post_charges",
    "post_claim_history",
    "post_no_show_fee",
    "post_patient_charge",
    "record_patient_payment",
    "refund_credit_balance",
    "reversal_of",
    "transfer",
    "write_entries",
    "write_off_patient_balance",
]
