"""Applying a biller's claim correction to the store: every field :func:`parse_claim_changes` accepts, on the lines
it names, with the ledger kept true (a corrected charge or payer moves the claim's insurance AR, balanced).

The rule is checked again here with the store's facts (line count, diagnoses, the payer's claim number), so the
activity refuses exactly what a validator that knew those facts would have refused; store facts a validator
cannot know (a payer or a rendering provider that does not exist, a coverage the patient lacks) are refused with
a :class:`~domain.errors.ValidationError` or :class:`~domain.errors.NotFound` naming the rule and the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import models as m
from domain.catalog import requires_prior_authorization
from domain.claim_corrections import ClaimChanges, LineEdit, parse_claim_changes
from domain.enums import PayerKind
from domain.errors import NotFound, ValidationError
from domain.ledger import accounts as acc
from domain.ledger.entries import EntryKind, transfer
from domain.ledger.service import charge_key
from domain.ledger.store import existing_keys, write_entries
from domain.services.professional import claim_coverage

CORRECTION_KEY_PREFIX = "correction"


@dataclass(frozen=True)
class AppliedCorrection:
    fields: tuple[str, ...]
    frequency_code: str
    charge_delta_cents: int
    payer_changed: bool


def apply_claim_changes(
    session: Session, claim: m.Claim, fields: Mapping[str, str], *, suggested_frequency: str, today: date
) -> AppliedCorrection:
    """Check ``fields`` with the store's facts and apply every one; raises before anything is flushed on a refusal
    the rule can see, and inside the caller's transaction (rolled back) on one only the store can."""
    encounter = session.get(m.Encounter, claim.encounter_id)
    if encounter is None:
        raise NotFound(f"claim {claim.id}: its encounter is missing")
    changes = parse_claim_changes(
        fields,
        line_count=len(claim.lines),
        diagnosis_count=len(encounter.diagnosis_codes or ()),
        has_original_number=bool(claim.payer_claim_control_number),
        today=today,
        line_pointers=[max(line.diagnosis_pointers or [0]) for line in claim.lines],
    )
    old_total, old_payer = claim.total_charge_cents, claim.payer_id
    if changes.diagnosis_codes is not None:
        encounter.diagnosis_codes = list(changes.diagnosis_codes)
    if changes.place_of_service is not None:
        encounter.place_of_service = changes.place_of_service
    if changes.rendering_npi is not None:
        claim.billing_provider_id = _provider_with_npi(session, changes.rendering_npi)
    if changes.member_id is not None:
        coverage = claim_coverage(session, claim)
        if coverage is None:
            raise ValidationError(f"member_id: claim {claim.id} has no coverage with its payer to correct")
        coverage.member_id = changes.member_id
    payer_changed = changes.payer_id is not None and _change_payer(session, claim, changes.payer_id)
    for line in claim.lines:
        _apply_line(line, changes.line_edit(line.line_number))
    _check_pointers(claim, len(encounter.diagnosis_codes or ()))
    claim.date_of_service = min(line.date_of_service for line in claim.lines) if claim.lines else claim.date_of_service
    claim.total_charge_cents = sum(line.charge_cents for line in claim.lines)
    if changes.prior_authorization is not None:
        record_prior_authorization(session, claim, changes.prior_authorization)
    if changes.original_claim_number is not None:
        claim.payer_claim_control_number = changes.original_claim_number
    claim.frequency_code = _frequency(claim, changes, suggested_frequency, payer_changed)
    session.flush()
    _keep_ledger_true(session, claim, old_total, old_payer)
    return AppliedCorrection(
        changes.field_names, claim.frequency_code, claim.total_charge_cents - old_total, payer_changed
    )


def _apply_line(line: m.ClaimLine, edit: LineEdit) -> None:
    if edit.procedure_code is not None:
        line.procedure_code = edit.procedure_code
    if edit.modifiers is not None:
        line.modifiers = list(edit.modifiers)
    if edit.units is not None:
        line.units = edit.units
    if edit.charge_cents is not None:
        line.charge_cents = edit.charge_cents
    if edit.diagnosis_pointers is not None:
        line.diagnosis_pointers = list(edit.diagnosis_pointers)
    if edit.service_date is not None:
        line.date_of_service = edit.service_date


def _check_pointers(claim: m.Claim, diagnoses: int) -> None:
    for line in claim.lines:
        for pointer in line.diagnosis_pointers or ():
            if pointer > diagnoses:
                raise ValidationError(
                    f"line {line.line_number}: diagnosis pointer {pointer} points at no diagnosis (the claim has "
                    f"{diagnoses}): correct diagnosis_pointers too"
                )


def _frequency(claim: m.Claim, changes: ClaimChanges, suggested: str, payer_changed: bool) -> str:
    """The biller's frequency code when given; otherwise a replacement (7) of a claim the payer acknowledged with a
    claim number, and an original (1) of one it never took (or a claim sent to another payer now)."""
    if changes.frequency_code is not None:
        if changes.frequency_code in ("7", "8") and not claim.payer_claim_control_number:
            raise ValidationError(
                f"frequency_code {changes.frequency_code} needs the payer's original claim number: set "
                "original_claim_number"
            )
        return changes.frequency_code
    if payer_changed or not claim.payer_claim_control_number:
        return "1"
    return suggested if suggested in ("1", "7", "8") else "7"


def _provider_with_npi(session: Session, npi: str) -> str:
    provider_id = session.execute(select(m.Provider.id).where(m.Provider.npi == npi)).scalars().first()
    if provider_id is None:
        raise NotFound(f"rendering_npi {npi}: no provider of the practice has this NPI")
    return str(provider_id)


def _change_payer(session: Session, claim: m.Claim, payer_code: str) -> bool:
    payer = session.execute(select(m.Payer).where(m.Payer.payer_id == payer_code)).scalar_one_or_none()
    if payer is None:
        raise NotFound(f"payer_id {payer_code}: no such payer")
    if payer.kind == PayerKind.SELF_PAY:
        raise ValidationError("payer_id: self-pay is not a payer to claim from: write the claim off to the patient")
    if payer.id == claim.payer_id:
        return False
    coverages = session.execute(
        select(m.Coverage).where(m.Coverage.patient_id == claim.patient_id, m.Coverage.payer_id == payer.id)
    ).scalars()
    coverage = next(
        (c for c in coverages if c.is_active_on(claim.date_of_service) and str(c.rank) == str(claim.rank)), None
    )
    if coverage is None:
        raise ValidationError(
            f"payer_id {payer_code}: the patient's {claim.rank} coverage on the date of service is not with this "
            "payer; add or update the coverage first"
        )
    claim.payer_id = payer.id
    claim.coverage_id = coverage.id
    claim.payer_claim_control_number = None  # the new payer never saw this claim
    return True


def _keep_ledger_true(session: Session, claim: m.Claim, old_total: int, old_payer_row_id: str) -> None:
    """A charge already on the ledger follows the correction: the payer's AR moves to the new payer, and the
    difference of a corrected charge is charged (or taken back) as revenue. Keys count the claim's corrections,
    so a retried activity (nothing changed the second time) writes nothing."""
    if not existing_keys(session, [charge_key(claim.id)]):
        return  # not charged yet: the charge posts the corrected total when it is posted
    number = 1 + int(
        session.execute(
            select(func.count())
            .select_from(m.JournalEntry)
            .where(m.JournalEntry.idempotency_key.like(f"{CORRECTION_KEY_PREFIX}:{claim.id}:%"))
        ).scalar_one()
    )
    drafts = []
    if claim.payer_id != old_payer_row_id:
        open_cents = _insurance_open(session, claim.id, old_payer_row_id)
        drafts.append(
            transfer(
                f"{CORRECTION_KEY_PREFIX}:{claim.id}:{number}:payer",
                EntryKind.PAYER_CHANGE,
                acc.insurance_ar(claim.payer_id),
                acc.insurance_ar(old_payer_row_id),
                open_cents,
                claim_id=claim.id,
                patient_id=claim.patient_id,
                memo=f"claim {claim.id} corrected to another payer",
            )
        )
    delta = claim.total_charge_cents - old_total
    drafts.append(
        transfer(
            f"{CORRECTION_KEY_PREFIX}:{claim.id}:{number}:charge",
            EntryKind.CHARGE_CORRECTION,
            acc.insurance_ar(claim.payer_id),
            acc.REVENUE,
            delta,
            claim_id=claim.id,
            patient_id=claim.patient_id,
            memo=f"claim {claim.id} charge corrected",
        )
    )
    write_entries(session, [d for d in drafts if d is not None])


def _insurance_open(session: Session, claim_id: str, payer_row_id: str) -> int:
    account = acc.insurance_ar(payer_row_id)
    net = session.execute(
        select(func.coalesce(func.sum(m.JournalLine.debit_cents - m.JournalLine.credit_cents), 0))
        .join(m.JournalEntry, m.JournalEntry.id == m.JournalLine.entry_id)
        .join(m.Account, m.Account.id == m.JournalLine.account_id)
        .where(m.JournalEntry.claim_id == claim_id, m.Account.code == account.code)
    ).scalar_one()
    return int(net)


def record_prior_authorization(session: Session, claim: m.Claim, number: str) -> m.PriorAuthorization:
    """The biller has the payer's authorization ``number`` for this claim's service: record it on the patient so
    the claim (and the 837P built from it, REF*G1) carries it.

    A number this payer already issued to the patient is widened to the claim's codes and date of service (an
    extension or retro-authorization granted by phone); a new one covers exactly them."""
    payer = session.get(m.Payer, claim.payer_id)
    assert payer is not None
    codes = [line.procedure_code for line in claim.lines]
    needing = [code for code in codes if requires_prior_authorization(payer.payer_id, code)]
    covered = needing or codes  # the payer rule names no code here: the biller knows the payer wants one
    day = claim.date_of_service
    authorization = session.execute(
        select(m.PriorAuthorization).where(
            m.PriorAuthorization.payer_id == claim.payer_id, m.PriorAuthorization.number == number
        )
    ).scalar_one_or_none()
    if authorization is None:
        authorization = m.PriorAuthorization(
            patient_id=claim.patient_id,
            payer_id=claim.payer_id,
            number=number,
            procedure_codes=sorted(set(covered)),
            valid_from=day,
            valid_to=day,
        )
        session.add(authorization)
    elif authorization.patient_id != claim.patient_id:
        raise ValidationError(f"that authorization number belongs to another patient of payer {payer.payer_id}")
    else:
        authorization.procedure_codes = sorted(set(authorization.procedure_codes or ()) | set(covered))
        authorization.valid_from = min(authorization.valid_from, day)
        authorization.valid_to = max(authorization.valid_to, day)
        if authorization.units_authorized is not None:
            most = max((line.units for line in claim.lines if line.procedure_code in covered), default=1)
            authorization.units_authorized = max(authorization.units_authorized, most)
    session.flush()
    return authorization
