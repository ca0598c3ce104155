"""A patient's registration steps, run by PatientRegistration and by the Encounter of a new patient's first visit.

The record's check (duplicates, what it lacks), each asking a person when it must, then every coverage's
eligibility inline (``CoverageCheck``). PatientRegistration runs them as its whole process, with its own stages;
an Encounter started with ``register_patient`` (intake folds a new patient's registration into the Encounter of
the visit that came in the same unit: ``intake.context.UnitContext.queue_encounter``) runs them beside its coding
and billing, leaving its stage as its billing sets it. One copy of the steps: the same activities, work items and
result either way. A module of its own so that the Encounter does not import (and re-run, in the workflow
sandbox) the PatientRegistration workflow's class.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

from flows.revenue._common import ActivityOptions, RevenueWorkflow
from flows.revenue.coverage import CoverageCheck

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from domain.workitems import Action, Reason


async def checked_patient(
    wf: RevenueWorkflow, policy: c.RevenuePolicy, patient_id: str, reads: ActivityOptions
) -> c.RegistrationCheck | None:
    """The patient's record checked: a possible duplicate and what the record lacks each ask a person. None when
    the person merged the record into another or cancelled it as a duplicate (the surviving record carries on)."""
    check = await wf.run_or_ask(
        policy,
        c.registration_validate,
        c.PatientRef(patient_id),
        entity_type="patient",
        entity_id=patient_id,
        options=reads,
    )
    if check.duplicate_of:
        resolution = await wf.ask(
            policy,
            reason=Reason.POSSIBLE_DUPLICATE_PATIENT,
            summary=f"patient {patient_id} may duplicate {', '.join(check.duplicate_of)}",
            entity_type="patient",
            entity_id=patient_id,
            context={"candidates": ",".join(check.duplicate_of)},
        )
        if resolution is not None and resolution.action in (Action.MERGE_DUPLICATE, Action.CANCEL):
            return None
    if check.problems:
        await wf.ask(
            policy,
            reason=Reason.REGISTRATION_INCOMPLETE,
            summary=f"registration lacks: {', '.join(check.problems)}",
            entity_type="patient",
            entity_id=patient_id,
            context={"problems": ",".join(check.problems)},
        )
    return check


async def eligibility_inline(
    wf: RevenueWorkflow, policy: c.RevenuePolicy, coverage_ids: tuple[str, ...]
) -> tuple[c.EligibilityResult, ...]:
    """Every coverage's eligibility, side by side, in the host workflow (its stage left as the host set it)."""
    checks = [CoverageCheck(wf, c.EligibilityInput(cid, policy), own_workflow=False) for cid in coverage_ids]
    return tuple(await asyncio.gather(*(check.run() for check in checks)))


async def registered(
    wf: RevenueWorkflow, policy: c.RevenuePolicy, patient_id: str, reads: ActivityOptions
) -> c.PatientRegistered:
    """The registration's steps without stages of their own (the Encounter of a new patient's first visit)."""
    check = await checked_patient(wf, policy, patient_id, reads)
    if check is None:
        return c.PatientRegistered(patient_id, ())
    return c.PatientRegistered(patient_id, await eligibility_inline(wf, policy, check.coverage_ids))
