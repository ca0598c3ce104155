"""StaffCredentialing: one long-running workflow per staff member who holds credentials.

Workflow id ``credentialing-<staff id>`` (opaque). It reads the staff member's current credentials (the
newest of a kind from an issuer), opens a ``credential_expiring`` work item ``credential_lead_days`` before
each expiry, records a ``record_renewal`` resolution (the new expiry must be later: checked in the Update
validator, so an invalid one changes nothing), marks a credential lapsed when its expiry passes unrenewed,
and goes on with the next expiry. Signal ``credentials_changed`` after adding or editing a credential.

Since :data:`EXCLUSIONS_AND_CAQH_PATCH` (runs started before it keep the old behaviour until they continue as new):

* a credential that has already expired gets a ``credential_expired`` item, opened escalated (level 1);
* the CAQH attestation is due every 120 days: a ``caqh_attestation_due`` item ``caqh_lead_days`` before, resolved
  by ``record_attestation --set attested_on=YYYY-MM-DD`` (the next one is due 120 days after that day);
* an exclusion-list match no person has decided (found by the screening, which opens its ``exclusion_match``
  item) is adopted and waited on with its own short SLA; ``confirm_exclusion`` or ``clear_exclusion`` (each
  with a note) records the decision (``staff.record_exclusion_decision``): billing for the provider stays
  blocked, or the block lifts.
"""

from __future__ import annotations

from datetime import date, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import flows.calls as calls  # by its full name: `from flows import calls` would re-run it in each sandbox
    from activities.contracts import staff as contract
    from domain import exclusions as exclusion_rules
    from domain import staff as rules
    from domain.staff import credential_item_key, renewed_expiry
    from domain.workitems import Action, Reason, Resolution
    from flows.staff.tracking import STORE_RETRY, STORE_TIMEOUT, Snapshot, StaffTracking, Subject
    from flows.workitems import WorkItemRequest

EXCLUSIONS_AND_CAQH_PATCH = "staff-credentialing-exclusions-caqh-expired"
_EXCLUSION_PREFIX = "exclusion:"


@workflow.defn(name="StaffCredentialing")
class StaffCredentialingWorkflow(StaffTracking):
    stage = "credentialing"

    def __init__(self) -> None:
        super().__init__()
        self._credentials: dict[str, contract.CredentialView] = {}
        self._exclusions: dict[str, contract.ExclusionView] = {}
        self._v2 = False

    @workflow.run
    async def run(self, job: contract.StaffTrackingInput) -> contract.StaffTrackingResult:
        # Decided once, at the run's first task: a run started before the patch replays as it ran.
        self._v2 = workflow.patched(EXCLUSIONS_AND_CAQH_PATCH)
        return await self._track(job)

    @workflow.signal(name=contract.CREDENTIALS_CHANGED_SIGNAL)
    def credentials_changed(self) -> None:
        self._changed = True

    async def _read(self) -> Snapshot:
        snapshot: contract.CredentialSnapshot = await calls.execute(
            contract.staff_read_credentials,
            contract.ReadCredentialsInput(staff_id=self._staff_id),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary="read credentials",
        )
        self._credentials = {c.credential_id: c for c in snapshot.credentials}
        subjects = [
            Subject(
                subject_id=c.credential_id,
                due_on=date.fromisoformat(c.expires_on),
                item_open=c.item_open,
                item_done=c.item_done,
                past_due_done=c.lapsed,
            )
            for c in snapshot.credentials
        ]
        if self._v2:
            self._exclusions = {_EXCLUSION_PREFIX + x.match_id: x for x in snapshot.exclusions}
            subjects += [
                Subject(
                    subject_id=subject_id,
                    due_on=date.fromisoformat(x.found_on),
                    item_open=x.item_open,
                    item_done=x.item_done,
                )
                for subject_id, x in self._exclusions.items()
            ]
        return Snapshot(active=snapshot.active, subjects=subjects)

    def _lead_days(self) -> int:
        return self._policy.credential_lead_days

    def _lead_days_for(self, subject: Subject) -> int:
        if not self._v2:
            return self._policy.credential_lead_days
        if subject.subject_id in self._exclusions:
            return 0  # the screening found it: now
        credential = self._credentials.get(subject.subject_id)
        kind = credential.kind if credential else ""
        return rules.credential_lead_days(kind, self._policy.credential_lead_days, self._policy.caqh_lead_days)

    def _sla(self, subject: Subject) -> timedelta:
        if self._v2 and subject.subject_id in self._exclusions:
            return self._policy.days(self._policy.exclusion_sla_days)
        return self._policy.days(self._policy.work_item_sla_days)

    def _opening_level(self, subject: Subject) -> int:
        if not self._v2 or subject.subject_id in self._exclusions:
            return 0
        return rules.credential_opening_level(subject.due_on, self.today())

    def _item_request(self, subject: Subject) -> WorkItemRequest:
        if subject.subject_id in self._exclusions:
            return self._exclusion_request(self._exclusions[subject.subject_id])
        credential = self._credentials[subject.subject_id]
        reason: str = Reason.CREDENTIAL_EXPIRING
        summary = f"{credential.kind} ({credential.issuer}) expires {credential.expires_on}"
        if self._v2:
            today = self.today()
            reason = rules.credential_item_reason(credential.kind, subject.due_on, today)
            summary = rules.credential_item_summary(credential.kind, credential.issuer, subject.due_on, today)
        return WorkItemRequest(
            reason=reason,
            entity_type="credential",
            entity_id=credential.credential_id,
            summary=summary,
            sla=self._policy.days(self._policy.work_item_sla_days),
            context={
                "credential_id": credential.credential_id,
                "staff_id": self._staff_id,
                "kind": credential.kind,
                "expires_on": credential.expires_on,
            },
            dedupe_key=credential_item_key(credential.credential_id, subject.due_on),
        )

    def _exclusion_request(self, match: contract.ExclusionView) -> WorkItemRequest:
        excluded_on = date.fromisoformat(match.excluded_on)
        return WorkItemRequest(
            reason=Reason.EXCLUSION_MATCH,
            entity_type="staff",
            entity_id=self._staff_id,
            summary=exclusion_rules.match_summary(match.source, match.basis, excluded_on),
            sla=self._policy.days(self._policy.exclusion_sla_days),
            context=exclusion_rules.match_context(
                match.match_id, self._staff_id, match.source, match.basis, excluded_on
            ),
            dedupe_key=exclusion_rules.exclusion_item_key(match.match_id),
        )

    def _check(self, subject: Subject, resolution: Resolution) -> None:
        if resolution.action == Action.RECORD_RENEWAL:
            renewed_expiry(resolution.fields, subject.due_on)
        elif resolution.action == Action.RECORD_ATTESTATION:
            rules.attested_expiry(resolution.fields, subject.due_on, self.today())

    async def _apply(self, subject: Subject, resolution: Resolution, work_item_id: str) -> None:
        if resolution.action in (Action.CONFIRM_EXCLUSION, Action.CLEAR_EXCLUSION):
            await self._record_decision(subject, resolution, work_item_id)
            return
        if resolution.action == Action.RECORD_ATTESTATION:
            # attested_on was checked by the Update validator; the next attestation is due 120 days after it.
            attested_on = date.fromisoformat(resolution.fields["attested_on"])
            new_expires_on = rules.next_attestation_due(attested_on).isoformat()
        elif resolution.action == Action.RECORD_RENEWAL:
            new_expires_on = resolution.fields["new_expires_on"]  # checked by the Update validator
        else:
            return  # complete / retry_now / cancel: the next read shows the credential as it is now
        await calls.execute(
            contract.staff_record_renewal,
            contract.RecordRenewalInput(
                credential_id=subject.subject_id,
                expected_expires_on=subject.due_on.isoformat(),
                new_expires_on=new_expires_on,
                by=resolution.by,
                workflow_id=workflow.info().workflow_id,
                work_item_id=work_item_id,
                number=resolution.fields.get("number", ""),
                document_id=resolution.fields.get("document_id", ""),
            ),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary="record renewal",
        )

    async def _record_decision(self, subject: Subject, resolution: Resolution, work_item_id: str) -> None:
        await calls.execute(
            contract.staff_record_exclusion_decision,
            contract.ExclusionDecisionInput(
                match_id=subject.subject_id.removeprefix(_EXCLUSION_PREFIX),
                decision=(
                    exclusion_rules.MATCH_CONFIRMED
                    if resolution.action == Action.CONFIRM_EXCLUSION
                    else exclusion_rules.MATCH_CLEARED
                ),
                by=resolution.by,
                workflow_id=workflow.info().workflow_id,
                work_item_id=work_item_id,
            ),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary="record exclusion decision",
        )

    async def _at_due(self, subject: Subject) -> None:
        await calls.execute(
            contract.staff_mark_credential_lapsed,
            contract.MarkLapsedInput(
                credential_id=subject.subject_id,
                expires_on=subject.due_on.isoformat(),
                workflow_id=workflow.info().workflow_id,
            ),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary="mark credential lapsed",
        )
