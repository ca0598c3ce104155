"""StaffCredentialing: one long-running workflow per staff member who holds credentials.

Workflow id ``credentialing-<staff id>`` (opaque). It reads the staff member's current credentials (the
newest of a kind from an issuer), opens a ``credential_expiring`` work item ``credential_lead_days`` before
each expiry, records a ``record_renewal`` resolution (the new expiry must be later: checked in the Update
validator, so an invalid one changes nothing), marks a credential lapsed when its expiry passes unrenewed,
and goes on with the next expiry. Signal ``credentials_changed`` after adding or editing a credential.
"""

from __future__ import annotations

from datetime import date

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import staff as contract
    from domain.staff import credential_item_key, renewed_expiry
    from domain.workitems import Action, Reason, Resolution
    from flows.staff.tracking import STORE_RETRY, STORE_TIMEOUT, Snapshot, StaffTracking, Subject
    from flows.workitems import WorkItemRequest


@workflow.defn(name="StaffCredentialing")
class StaffCredentialingWorkflow(StaffTracking):
    stage = "credentialing"

    def __init__(self) -> None:
        super().__init__()
        self._credentials: dict[str, contract.CredentialView] = {}

    @workflow.run
    async def run(self, job: contract.StaffTrackingInput) -> contract.StaffTrackingResult:
        return await self._track(job)

    @workflow.signal(name=contract.CREDENTIALS_CHANGED_SIGNAL)
    def credentials_changed(self) -> None:
        self._changed = True

    async def _read(self) -> Snapshot:
        snapshot: contract.CredentialSnapshot = await workflow.execute_activity(
            contract.READ_CREDENTIALS,
            contract.ReadCredentialsInput(staff_id=self._staff_id),
            result_type=contract.CredentialSnapshot,
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary="read credentials",
        )
        self._credentials = {c.credential_id: c for c in snapshot.credentials}
        return Snapshot(
            active=snapshot.active,
            subjects=[
                Subject(
                    subject_id=c.credential_id,
                    due_on=date.fromisoformat(c.expires_on),
                    item_open=c.item_open,
                    item_done=c.item_done,
                    past_due_done=c.lapsed,
                )
                for c in snapshot.credentials
            ],
        )

    def _lead_days(self) -> int:
        return self._policy.credential_lead_days

    def _item_request(self, subject: Subject) -> WorkItemRequest:
        credential = self._credentials[subject.subject_id]
        return WorkItemRequest(
            reason=Reason.CREDENTIAL_EXPIRING,
            entity_type="credential",
            entity_id=credential.credential_id,
            summary=f"{credential.kind} ({credential.issuer}) expires {credential.expires_on}",
            sla=self._policy.days(self._policy.work_item_sla_days),
            context={
                "credential_id": credential.credential_id,
                "staff_id": self._staff_id,
                "kind": credential.kind,
                "expires_on": credential.expires_on,
            },
            dedupe_key=credential_item_key(credential.credential_id, subject.due_on),
        )

    def _check(self, subject: Subject, resolution: Resolution) -> None:
        if resolution.action == Action.RECORD_RENEWAL:
            renewed_expiry(resolution.fields, subject.due_on)

    async def _apply(self, subject: Subject, resolution: Resolution, work_item_id: str) -> None:
        if resolution.action != Action.RECORD_RENEWAL:
            return  # complete / retry_now / cancel: the next read shows the credential as it is now
        await workflow.execute_activity(
            contract.RECORD_RENEWAL,
            contract.RecordRenewalInput(
                credential_id=subject.subject_id,
                expected_expires_on=subject.due_on.isoformat(),
                new_expires_on=resolution.fields["new_expires_on"],  # checked by the Update validator
                by=resolution.by,
                workflow_id=workflow.info().workflow_id,
                work_item_id=work_item_id,
                number=resolution.fields.get("number", ""),
                document_id=resolution.fields.get("document_id", ""),
            ),
            result_type=contract.RenewalRecorded,
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary="record renewal",
        )

    async def _at_due(self, subject: Subject) -> None:
        await workflow.execute_activity(
            contract.MARK_LAPSED,
            contract.MarkLapsedInput(
                credential_id=subject.subject_id,
                expires_on=subject.due_on.isoformat(),
                workflow_id=workflow.info().workflow_id,
            ),
            result_type=bool,
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary="mark credential lapsed",
        )
