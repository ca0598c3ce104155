"""The sandbox payers' real-time answers: a 271 for each 270 inquiry, a 277 for each 276 claim status inquiry."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from domain.x12.envelope import X12Error
from sandbox.clearinghouse import wire
from sandbox.clearinghouse.adjudication import initial_deductible_met
from sandbox.clearinghouse.model import payment_from_json
from sandbox.clearinghouse.payers import PayerPlan, plan_for
from sandbox.clearinghouse.state import ClearinghouseState, StoredDocument


def eligibility_answer(
    state: ClearinghouseState, seed: int, inquiry: wire.EligibilityInquiry, today: date
) -> wire.EligibilityAnswer:
    plan = plan_for(inquiry.payer_id)
    if plan is None:
        return wire.EligibilityAnswer(error="unknown_payer")
    if not inquiry.member_id.strip():
        return wire.EligibilityAnswer(error="missing_member_id")
    if inquiry.birth_date is None:
        return wire.EligibilityAnswer(error="missing_birth_date")
    member = state.member(plan.payer_id, inquiry.member_id)
    if member is None:
        return wire.EligibilityAnswer(error="member_not_found")
    if member.birth_date != inquiry.birth_date:
        return wire.EligibilityAnswer(error="birth_date_mismatch")
    day = inquiry.service_date or today
    deductible = plan.deductible_cents if member.deductible_cents is None else member.deductible_cents
    met = initial_deductible_met(seed, member, deductible) + state.deductible_met(
        plan.payer_id, member.member_id, day.year
    )
    return wire.EligibilityAnswer(
        active=member.covered_on(day),
        plan_name=f"{plan.name} {member.plan}".strip(),
        group_number=member.group_number,
        effective_from=member.effective_from,
        effective_to=member.effective_to,
        copay_cents=plan.copay_cents if member.copay_cents is None else member.copay_cents,
        coinsurance_bp=plan.coinsurance_bp if member.coinsurance_bp is None else member.coinsurance_bp,
        deductible_cents=deductible,
        deductible_remaining_cents=max(0, deductible - met),
        insurance_type=_insurance_type(plan),
    )


def status_answer(state: ClearinghouseState, inquiry: wire.StatusInquiry) -> wire.StatusAnswer:
    rows = state.query(
        "SELECT * FROM claims WHERE claim_id = ? AND payer_id = ? ORDER BY id DESC LIMIT 1",
        (inquiry.claim_id, inquiry.payer_id.upper()),
    )
    if not rows and inquiry.payer_claim_number:
        rows = state.query(
            "SELECT * FROM claims WHERE payer_claim_number = ? ORDER BY id DESC LIMIT 1",
            (inquiry.payer_claim_number,),
        )
    if not rows:
        return wire.StatusAnswer(category="D0", status="35", entity="")
    row = rows[0]
    status = row["status"]
    payment = payment_from_json(json.loads(row["payment"])) if row["payment"] else None
    released = datetime.fromisoformat(row["released_at"]).date() if row["released_at"] else None
    common: dict[str, Any] = {
        "payer_claim_number": row["payer_claim_number"],
        "charge_cents": int(row["charge_cents"]),
    }
    if status == "rejected":
        stc = json.loads(row["rejection"])["stc"].split(":")
        return wire.StatusAnswer(category="A3", status=stc[1], entity="", **common)
    if status == "accepted":
        return wire.StatusAnswer(category="P1", status="20", entity="PR", **common)
    if status in ("voided", "reversed"):
        # Taken back by a void or replaced by a corrected claim: finalized, adjudication revised.
        return wire.StatusAnswer(category="F3", status="107", entity="PR", status_date=released, **common)
    if payment is None:
        return wire.StatusAnswer(category="P1", status="20", entity="PR", **common)
    remittance = state.document(row["remittance_id"]) if row["remittance_id"] else None
    trace, method = _payment_of(remittance)
    return wire.StatusAnswer(
        category="F2" if payment.status_code == "4" else "F1",
        status="107" if payment.status_code == "4" else "65",
        entity="PR",
        status_date=released,
        paid_cents=payment.paid_cents,
        remittance_trace=trace,
        payment_method=method,
        **common,
    )


def _insurance_type(plan: PayerPlan) -> str:
    return {"medicare": "MB", "medicaid": "MC"}.get(plan.kind, "PR")


def _payment_of(document: StoredDocument | None) -> tuple[str | None, str]:
    if document is None:
        return None, ""
    try:
        return wire.payments(document.x12)[0]
    except (X12Error, IndexError):
        return None, ""
