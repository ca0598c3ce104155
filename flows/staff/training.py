"""TrainingRenewal: one long-running workflow per staff member for the trainings their role requires.

Workflow id ``training-<staff id>``. A requirement (annual HIPAA, OSHA bloodborne pathogens, FWA, CPR...)
is due when the latest training record expires (never completed: due from the hire date). The workflow
opens a ``training_due`` work item ``training_lead_days`` before; a ``record_completion`` resolution (a
completion day not in the future and later than the last one: checked in the Update validator) writes a
training record, whose expiry is the next due date. Signal ``training_changed`` after editing records.
"""

from __future__ import annotations

from datetime import date

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import flows.calls as calls  # by its full name: `from flows import calls` would re-run it in each sandbox
    from activities.contracts import staff as contract
    from domain.staff import completion_date, training_item_key
    from domain.workitems import Action, Reason, Resolution
    from flows.staff.tracking import STORE_RETRY, STORE_TIMEOUT, Snapshot, StaffTracking, Subject
    from flows.workitems import WorkItemRequest


@workflow.defn(name="TrainingRenewal")
class TrainingRenewalWorkflow(StaffTracking):
    stage = "training"

    def __init__(self) -> None:
        super().__init__()
        self._requirements: dict[str, contract.TrainingView] = {}

    @workflow.run
    async def run(self, job: contract.StaffTrackingInput) -> contract.StaffTrackingResult:
        return await self._track(job)

    @workflow.signal(name=contract.TRAINING_CHANGED_SIGNAL)
    def training_changed(self) -> None:
        self._changed = True

    async def _read(self) -> Snapshot:
        snapshot: contract.TrainingSnapshot = await calls.execute(
            contract.staff_read_training,
            contract.ReadTrainingInput(staff_id=self._staff_id),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary="read training",
        )
        self._requirements = {r.requirement_id: r for r in snapshot.requirements}
        return Snapshot(
            active=snapshot.active,
            subjects=[
                Subject(
                    subject_id=r.requirement_id,
                    due_on=date.fromisoformat(r.due_on),
                    item_open=r.item_open,
                    item_done=r.item_done,
                )
                for r in snapshot.requirements
            ],
        )

    def _lead_days(self) -> int:
        return self._policy.training_lead_days

    def _item_request(self, subject: Subject) -> WorkItemRequest:
        requirement = self._requirements[subject.subject_id]
        return WorkItemRequest(
            reason=Reason.TRAINING_DUE,
            entity_type="staff",
            entity_id=self._staff_id,
            summary=f"training {requirement.code} due {requirement.due_on}",
            sla=self._policy.days(self._policy.work_item_sla_days),
            context={
                "staff_id": self._staff_id,
                "requirement_id": requirement.requirement_id,
                "requirement": requirement.code,
                "due_on": requirement.due_on,
            },
            dedupe_key=training_item_key(self._staff_id, requirement.requirement_id, subject.due_on),
        )

    def _check(self, subject: Subject, resolution: Resolution) -> None:
        if resolution.action == Action.RECORD_COMPLETION:
            requirement = self._requirements.get(subject.subject_id)
            last = (
                date.fromisoformat(requirement.last_completed_on)
                if requirement and requirement.last_completed_on
                else None
            )
            completion_date(resolution.fields, last, self.today())

    async def _apply(self, subject: Subject, resolution: Resolution, work_item_id: str) -> None:
        if resolution.action != Action.RECORD_COMPLETION:
            return
        await calls.execute(
            contract.staff_record_training_completion,
            contract.RecordCompletionInput(
                staff_id=self._staff_id,
                requirement_id=subject.subject_id,
                # Checked by the Update validator; the activity records one completion per day once.
                completed_on=resolution.fields["completed_on"],
                by=resolution.by,
                workflow_id=workflow.info().workflow_id,
                work_item_id=work_item_id,
                document_id=resolution.fields.get("document_id", ""),
            ),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary="record training completion",
        )
