"""Posting and collections payloads: remittances, charges, claim adjustments, a guarantor's balance,
statements, write-offs and the agency; one frozen dataclass in, one out; ids, codes and cents only."""

from dataclasses import dataclass, field

from activities.contracts.revenue.claims import ClaimOutcome
from activities.contracts.revenue.policy import RevenuePolicy


@dataclass(frozen=True)
class IntakeInput:
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)
    iterations_left: int = -1  # -1: forever; the demo bounds it
    seen: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchRemittances:
    """``confirm``: the fetch confirms what it stored to the clearinghouse at once (histories before
    ``intake-confirms-after-start``; a worker lost between that confirm and the activity's completion lost the
    835s: stored, never posted, never fetched again). False: the fetch only stores and hands back the keys with
    the clearinghouse's ids, and RemittanceIntake confirms them (``posting.confirm_remittances``) once each
    PaymentPosting is started; an attempt lost before that fetches the same 835s again."""

    confirm: bool = True


@dataclass(frozen=True)
class FetchedRemittances:
    remittance_keys: tuple[str, ...]  # document keys of stored 835s (or EOB extractions)
    document_ids: tuple[str, ...] = ()  # the clearinghouse's ids of what was fetched and not yet confirmed


@dataclass(frozen=True)
class ConfirmRemittances:
    document_ids: tuple[str, ...]  # the clearinghouse's ids (FetchedRemittances.document_ids)


@dataclass(frozen=True)
class PostingInput:
    remittance_key: str
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)


@dataclass(frozen=True)
class RemittanceRef:
    remittance_key: str
    # More than this many claims, secondary claims and guarantors to tell: they are kept beside the 835 instead of
    # carried in the result (``PostingResult.kept``). -1 (older histories): always carried.
    carry_limit: int = -1


@dataclass(frozen=True)
class PostingResult:
    remittance_key: str
    already_posted: bool
    payer_id: str
    posted_cents: int
    claims: tuple[ClaimOutcome, ...]
    unmatched: tuple[str, ...] = ()  # patient control numbers we could not match
    guarantors_with_balance: tuple[str, ...] = ()
    secondary_claims: tuple[str, ...] = ()  # claims the crossover created: each gets its Claim workflow
    # The work items posting opened (parked claim payments, a payment total that differs, an unknown payer):
    # each gets its PostingException workflow ("" in older histories: none were started).
    exception_items: tuple[str, ...] = ()
    # The payments of this delivery that were stored already (domain.posting.channels), one
    # "<arrival>:<first source>:<stored remittance id>" each: already_posted (the same delivery again),
    # same_payment (the same payment came earlier by another channel, 835 or eob_pdf), channel_mismatch (stated
    # differently: nothing posted, a work item in exception_items asks a person). Empty in older histories.
    arrivals: tuple[str, ...] = ()
    # A large remittance: its claim outcomes, secondary claims and guarantors with a balance are not in the three
    # tuples above but kept beside the 835 (activities.revenue.remittances.keep_fan_out), and PaymentPosting has
    # them told a page at a time (posting.tell). 0: everything is carried above (and in older histories).
    kept: int = 0
    kept_claims: int = 0


@dataclass(frozen=True)
class TellPage:
    """One page of what a large remittance's posting has to tell (kept beside the 835): items
    ``offset`` to ``offset + limit`` of its claim outcomes, then its secondary claims, then its guarantors."""

    remittance_key: str
    offset: int
    limit: int
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)


@dataclass(frozen=True)
class Told:
    signalled: int = 0  # claim workflows that heard their outcome
    reopened: int = 0  # claims whose process had ended: a new run from the outcome
    secondary_started: int = 0
    guarantors_notified: int = 0


@dataclass(frozen=True)
class PatientCharge:
    encounter_id: str
    actor: str


@dataclass(frozen=True)
class ChargeResult:
    encounter_id: str
    guarantor_id: str
    charge_cents: int


@dataclass(frozen=True)
class ClaimAdjustment:
    """A biller's decision on a claim's open balance: write it off or move it to the patient."""

    claim_id: str
    kind: str  # write_off or bill_patient
    reason: str
    actor: str


@dataclass(frozen=True)
class AdjustmentResult:
    claim_id: str
    amount_cents: int
    guarantor_id: str
    claim_status: str = ""  # the claim's ClaimStatus in the store after the adjustment ("" in older histories)


@dataclass(frozen=True)
class CollectionsInput:
    guarantor_id: str
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)
    statements_sent: int = 0
    final_sent: bool = False
    # Carried over continue-as-new by the policy-driven cycle: the business day of the first statement (ISO), and
    # the calendar the business days are measured in (ISO start day, its epoch seconds, a business day's seconds).
    first_statement_on: str = ""
    clock_origin_day: str = ""
    clock_origin_at: float = 0.0
    cycle: int = 0  # statement cycles begun again (a plan, a settlement): each cycle's statements have their own keys


@dataclass(frozen=True)
class GuarantorRef:
    guarantor_id: str


@dataclass(frozen=True)
class BalanceNotice:
    guarantor_id: str
    policy: RevenuePolicy = field(default_factory=RevenuePolicy)


@dataclass(frozen=True)
class GuarantorBalance:
    guarantor_id: str
    balance_cents: int


@dataclass(frozen=True)
class StatementRequest:
    guarantor_id: str
    kind: str  # first, reminder, final
    sequence: int
    cycle_key: str  # idempotency: the workflow id plus the sequence
    due_on: str = ""  # ISO date the policy gives (domain.collections_policy.statement_schedule); "" = its default
    statement_on: str = ""  # ISO business date of the statement; "" = today


@dataclass(frozen=True)
class CollectionsPolicyInForce:
    """The stored collections policy a step is decided by: its version and its settings (whole numbers only)."""

    version: int
    settings: dict[str, int]


@dataclass(frozen=True)
class StatementSent:
    statement_id: str
    balance_cents: int
    document_key: str | None


@dataclass(frozen=True)
class CollectionsWriteOff:
    guarantor_id: str
    amount_cents: int
    reason: str  # small_balance, hardship, bad_debt
    key: str


@dataclass(frozen=True)
class AgencyHandoff:
    guarantor_id: str
    amount_cents: int
    key: str


@dataclass(frozen=True)
class AgencyResult:
    guarantor_id: str
    export_key: str | None


@dataclass(frozen=True)
class CollectionsResult:
    guarantor_id: str
    outcome: str  # paid, written_off, agency, disputed, credit
    statements_sent: int
    balance_cents: int


@dataclass(frozen=True)
class PaymentNotice:
    amount_cents: int
    reference: str


@dataclass(frozen=True)
class Nothing:
    """For activities with nothing to say back."""

    ok: bool = True
