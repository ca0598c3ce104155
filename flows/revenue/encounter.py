"""The Encounter workflow: a completed appointment becomes a coded encounter, then a claim (or a patient bill).

Started with ``register_patient`` (a new patient's first visit, come in with the patient in one intake unit), it
also runs the patient's registration (flows.revenue.registering: the record's check, every coverage's eligibility)
beside its coding and billing, as PatientRegistration would have run it in an execution of its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

from flows.revenue._common import (
    STORE_READ,
    DomainFailure,
    RevenueWorkflow,
    refusal_context,
    set_first_visibility,
    set_visibility,
)
from flows.revenue.registering import registered

with workflow.unsafe.imports_passed_through():
    from activities.contracts import revenue as c
    from domain.claim_status import ClaimStatus
    from domain.coding import requested_units, split_codes
    from domain.workitems import Reason
    from flows.revenue.names import CLAIM_WORKFLOW, ENCOUNTER_WORKFLOW, claim_workflow_id
    from flows.revenue.names import ENCOUNTER_STARTS_AT as ENCOUNTER_STARTS_AT
    from flows.revenue.names import encounter_workflow_id as encounter_workflow_id
    from flows.search_attributes import aging_bucket, starting_visibility


# The Claim's first stage, given at its start (free; its first upsert is skipped): ClaimWorkflow._enter("scrub").
CLAIM_STARTS_AT = starting_visibility(stage="scrub", claim_status=ClaimStatus.DRAFT.value, aging_bucket=aging_bucket(0))


@workflow.defn(name=ENCOUNTER_WORKFLOW)
class EncounterWorkflow(RevenueWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._encounter_id = ""
        self._claim_id: str | None = None
        self._registering = False

    @workflow.query(name="state")
    def state(self) -> dict[str, object]:
        return {
            "stage": self._stage,
            "encounter_id": self._encounter_id,
            "claim_id": self._claim_id,
            "registering": self._registering,
        }

    @workflow.run
    async def run(self, data: c.EncounterInput) -> c.EncounterResult:
        result = await self._run(data)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _run(self, data: c.EncounterInput) -> c.EncounterResult:
        self.store_steps_local()
        policy = data.policy
        self._stage = "coding"
        set_first_visibility(stage="coding")
        prepared = await self.run_or_ask(
            policy,
            c.encounter_prepare,
            c.AppointmentRef(data.appointment_id),
            entity_type="appointment",
            entity_id=data.appointment_id,
        )
        self._encounter_id = prepared.encounter_id
        if not data.register_patient:
            return await self._billed(data, prepared)
        # The patient's registration beside the billing, as the two ran when each was a workflow of its own.
        self._registering = True
        registration, result = await asyncio.gather(
            self._registered(policy, prepared.patient_id), self._billed(data, prepared)
        )
        return replace(result, registration=registration)

    async def _registered(self, policy: c.RevenuePolicy, patient_id: str) -> c.PatientRegistered:
        try:
            return await registered(self, policy, patient_id, STORE_READ)
        finally:
            self._registering = False

    async def _billed(self, data: c.EncounterInput, prepared: c.PreparedEncounter) -> c.EncounterResult:
        """Coded, then billed: the claim (to its end) or the patient."""
        policy = data.policy
        prepared = await self._coded(policy, prepared)
        if prepared.bill_to == "none":
            self._stage = "done"
            set_visibility(stage="nothing_to_bill")
            return c.EncounterResult(data.appointment_id, prepared.encounter_id, None)
        claim_id = prepared.claim_id
        if claim_id is None:
            created = await self.run_or_ask(
                policy,
                c.claims_create,
                c.EncounterRef(prepared.encounter_id),
                entity_type="encounter",
                entity_id=prepared.encounter_id,
            )
            claim_id = created.claim_id
        charge = await self.run_activity(c.posting_charge, c.PatientCharge(prepared.encounter_id, "workflow"))
        if claim_id is None:  # no active coverage: the patient is billed directly
            self._stage = "billed_to_patient"
            set_visibility(stage="billed_to_patient")
            await self.run_activity(c.collections_notify_balance, c.BalanceNotice(charge.guarantor_id, policy))
            return c.EncounterResult(data.appointment_id, prepared.encounter_id, None, charge.charge_cents)
        self._claim_id = claim_id
        self._stage = "claim"
        set_visibility(stage="claim")
        result: c.ClaimResult = await workflow.execute_child_workflow(
            CLAIM_WORKFLOW,  # by name: this module does not import (and re-run) the Claim's
            c.ClaimInput(claim_id, policy),
            result_type=c.ClaimResult,
            id=claim_workflow_id(claim_id),
            parent_close_policy=ParentClosePolicy.TERMINATE,
            search_attributes=CLAIM_STARTS_AT,
        )
        self._stage = "done"
        set_visibility(stage="done")
        return c.EncounterResult(data.appointment_id, prepared.encounter_id, result)

    async def _coded(self, policy: c.RevenuePolicy, prepared: c.PreparedEncounter) -> c.PreparedEncounter:
        """Until the encounter is coded, a coder's codes through a work item; codes the store refuses ask again."""
        refusal: dict[str, str] = {}
        while not prepared.coded:
            summary = f"encounter {prepared.encounter_id} lacks {', '.join(prepared.missing) or 'codes'}"
            if refusal:
                summary = f"the codes were refused ({refusal['refused']}): {refusal['refused_because']}"
            resolution = await self.ask(
                policy,
                reason=Reason.MISSING_CODES,
                summary=summary,
                entity_type="encounter",
                entity_id=prepared.encounter_id,
                context=refusal,  # validate_resolution checks the codes by record_codes' rule (domain.coding)
            )
            assert resolution is not None
            try:
                prepared = await self.run_activity(
                    c.encounter_record_codes,
                    c.RecordCodes(
                        encounter_id=prepared.encounter_id,
                        diagnosis_codes=split_codes(resolution.fields["diagnosis_codes"]),
                        procedure_codes=split_codes(resolution.fields["procedure_code"]),
                        modifiers=split_codes(resolution.fields.get("modifiers", "")),
                        actor=resolution.by,
                        units=requested_units(resolution.fields.get("units", "")),
                    ),
                )
                refusal = {}
            except DomainFailure as failure:  # a fact only the store knows (the encounter's place of service)
                self._work_log.append(f"coding:{failure.code}")
                refusal = refusal_context(failure)  # the next item says which rule and value failed
        return prepared
