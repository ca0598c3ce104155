"""What the Claim workflow tells a person: each work item's summary and context, from the activities' answers.

Pure and deterministic (no Temporal call): the workflow in ``flows.revenue.claim`` opens the items. Summaries name
codes, counts and routes only, never PHI.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c


def edits_failed(scrub: c.ScrubResult) -> tuple[str, dict[str, str]]:
    """The claim edits that failed, each with its fix."""
    summary = "; ".join(f"{e.code}: {e.message} (fix: {e.fix_hint})" for e in scrub.edits)
    return summary, {"edits": ",".join(e.code for e in scrub.edits)}


def rejected(ack: c.AckResult) -> tuple[str, dict[str, str]]:
    """A 999 or 277CA rejection, with its codes."""
    summary = f"the clearinghouse or payer rejected the claim: {', '.join(ack.codes) or 'no code'}"
    return summary, {"codes": ",".join(ack.codes)}


def no_remittance(
    follow_up_days: int, status: c.StatusInquiryResult, evidence: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """No remittance in the payer's follow-up window: what the 276/277 (or the payer's portal) said instead; a
    portal's answer carries the evidence its activity stored (screenshot, HTML)."""
    if status.route == "portal":
        summary = (
            f"no remittance after {follow_up_days} days; the payer's portal says "
            f"{status.status_code} ({status.category})"
        )
    else:
        summary = (
            f"no remittance after {follow_up_days} days; 276/277 says "
            f"{status.category}:{status.status_code} via {status.route}"
        )
    context = {"category": status.category, "status": status.status_code}
    if status.route == "portal":
        context.update(route="portal", **evidence)
    return summary, context


def denied(outcome: c.ClaimOutcome) -> tuple[str, dict[str, str]]:
    """A denial, with what its CARC/RARC codes mean."""
    explained = "; ".join(outcome.explanation) or ", ".join(outcome.adjustment_codes)
    codes = ",".join(outcome.adjustment_codes + outcome.remark_codes)
    context = {"codes": codes, "explanation": explained[:500], "remittance": outcome.remittance_key}
    return f"denied ({codes}): {explained}", context
