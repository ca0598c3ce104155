"""The Claim workflow: scrub, submit the 837P, wait for the 999/277CA, wait for the remittance, follow up.

One workflow per claim (``claim-<claim uuid>``). People decide through work items: failed edits, rejections,
denials (with their CARC/RARC explained), claims the payer does not answer, the timely-filing deadline.

The module reads as the process: ``run`` and its numbered steps first, then each step's own method in the order
the claim meets them (a reopened claim, the edits and the 837P, the acknowledgment, the remittance with its
follow-ups, the timely-filing deadline), then the signal and query. A person's decision and how it is carried out,
and the claim's own state, are the base class's (``flows.revenue.claim_decisions``); the work-item mechanics
(``ask``, the ``resolve`` Update) are ``RevenueWorkflow``'s and ``flows.workitems``'; what each work item says is
``flows.revenue.claim_texts``.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from flows.revenue import claim_texts
from flows.revenue._common import CLEARINGHOUSE, PORTAL, portal_failure_evidence, portal_retry, set_visibility
from flows.revenue.claim_decisions import ClaimDecisions

with workflow.unsafe.imports_passed_through():
    import flows.calls as calls  # by its full name: `from flows import calls` would re-run it in each sandbox
    from activities.contracts import portal as portal_contract
    from activities.contracts import revenue as c
    from domain.claim_status import ClaimStatus
    from domain.workitems import Action, Reason
    from flows.revenue.names import CLAIM_REMITTANCE_SIGNAL, CLAIM_WORKFLOW
    from flows.revenue.names import claim_workflow_id as claim_workflow_id


# A payer without a 276/277 route is asked on its web portal (a browser on the portal workers).
PORTAL_STATUS_RETRY = portal_retry(maximum_attempts=6)
# Marks the histories in which a portal payer's no-response follow-up asks the portal instead of a 276.
PORTAL_CLAIM_STATUS_PATCH = "portal-claim-status"
# Marks the histories in which a resolution of the no-acknowledgment item other than retry_now is carried out
# (before: it was recorded and the claim went on waiting for its remittance).
ACK_ITEM_RESOLUTION_PATCH = "claim-ack-item-resolution"
# Marks the histories in which an outcome the run has heard already is not heard again: a retried posting.tell
# tells again what it told since its last heartbeat (before: a denial told twice asked a person twice, and denied
# again a claim the person had appealed). Recorded only when a repeat arrives.
REMITTANCE_ONCE_PATCH = "claim-remittance-once"

# Marks the histories in which a claim that goes out at once after its scrub upserts its payer with the submit stage
# (one UpsertWorkflowSearchAttributes, in the same workflow task) instead of on its own, and which record this one
# marker for LOCAL_STORE_PATCH too (implied): an upsert, a marker and two billed Actions fewer per claim.
PAYER_WITH_STAGE_PATCH = "claim-payer-with-stage"

# Marks the histories in which the payer's next word on a denied claim (it reprocessed the claim: a reversal of its
# denial, a payment) withdraws the denial's open item and the claim goes on from it (before: the item stayed open
# for a person to work a denial the payer had taken back, and the claim heard the payment only after the person's
# decision). Recorded when a claim is denied.
DENIAL_SUPERSEDED_PATCH = "claim-denial-superseded"


@workflow.defn(name=CLAIM_WORKFLOW)
class ClaimWorkflow(ClaimDecisions):
    @workflow.run
    async def run(self, data: c.ClaimInput) -> c.ClaimResult:
        result = await self._run(data)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _run(self, data: c.ClaimInput) -> c.ClaimResult:
        self._payer_with_stage = workflow.patched(PAYER_WITH_STAGE_PATCH)  # a run before it calls what it did
        self.store_steps_local(implied=self._payer_with_stage)
        self._claim_id = data.claim_id
        self._policy = data.policy
        self._portal_task_queue = data.portal_task_queue
        self._submissions = data.resubmissions
        policy = data.policy
        workflow.set_current_details(f"claim {data.claim_id}")
        frequency = "7" if data.resubmissions else "1"
        if data.reopened_by is not None:
            if await self._reopened(policy, data.reopened_by) != "resubmit":
                return self._result()
            frequency = "7"  # the payer knows the claim: the correction replaces it
        while True:
            if workflow.info().is_continue_as_new_suggested() and not self._outcomes:
                workflow.continue_as_new(
                    c.ClaimInput(data.claim_id, policy, self._submissions, portal_task_queue=data.portal_task_queue)
                )
            # 1. the claim edits (a failed edit or a missed filing deadline goes to a person first)
            scrub = await self._scrub(policy)
            stopped = await self._stopped_before_submit(policy, scrub)
            if stopped == "closed":
                return self._result()
            if stopped is not None:
                continue
            # 2. the 837P
            submitted = await self._submit(policy, frequency)
            # 3. the 999 and 277CA
            acknowledged = await self._acknowledged(policy, submitted)
            if acknowledged == "closed":
                return self._result()
            if acknowledged == "resubmit":
                frequency = "7"
                continue
            # 4. the remittance, with follow-up and the timely-filing deadline as durable timers
            self._enter("awaiting_remittance")
            outcome = await self._wait_for_remittance(policy, scrub)
            if outcome == "resubmit":
                frequency = "7"
                continue
            if outcome in ("done", "closed"):
                return self._result()

    async def _reopened(self, policy: c.RevenuePolicy, outcome: c.ClaimOutcome) -> str:
        """A remittance came after this claim's process had ended (a reversal, a late denial or payment).

        The claim was scrubbed and submitted long ago: the run takes the payer's terms as they are now and goes on
        from the outcome, as the ended run would have (a reversal waits for the corrected payment, a denial asks a
        person, a payment settles it)."""
        self._enter("reopened")
        terms = await self.run_activity(c.claims_terms, c.ClaimRef(self._claim_id))
        self._payer_id = terms.payer_id
        self._lines, self._diagnoses, self._line_pointers = terms.lines, terms.diagnoses, terms.line_pointers
        set_visibility(payer_id=terms.payer_id)
        self._submissions = max(self._submissions, 1)
        self._heard.add(_heard_key(outcome))  # told again to this run by a retried posting.tell: heard once
        self._outcomes.append(outcome)
        return await self._wait_for_remittance(policy, terms)

    async def _scrub(self, policy: c.RevenuePolicy) -> c.ScrubResult:
        self._enter("scrub")
        ref = c.ClaimRef(self._claim_id)
        scrub = await self.run_or_ask(policy, c.claims_scrub, ref, entity_type="claim", entity_id=self._claim_id)
        self._payer_id = scrub.payer_id
        self._take(scrub.claim_status, self._status)
        self._lines, self._diagnoses, self._line_pointers = scrub.lines, scrub.diagnoses, scrub.line_pointers
        if self._payer_with_stage and _goes_out_at_once(scrub):
            self._payer_pending = scrub.payer_id  # with the submit stage, in this same task
        else:
            set_visibility(payer_id=scrub.payer_id)  # a person is asked first: the payer shows while they decide
        return scrub

    async def _stopped_before_submit(self, policy: c.RevenuePolicy, scrub: c.ScrubResult) -> str | None:
        """None: the claim may go out; else a person's verdict on failed edits or a missed filing deadline."""
        if _goes_out_at_once(scrub):
            return None
        if not scrub.passed:
            return await self._decide(policy, Reason.CLAIM_EDIT_FAILED, *claim_texts.edits_failed(scrub))
        return await self._timely_filing_missed(policy)

    async def _submit(self, policy: c.RevenuePolicy, frequency: str) -> c.SubmitResult:
        self._enter("submit")
        submitted = await self.run_or_ask(
            policy,
            c.claims_submit,
            c.ClaimCorrection(self._claim_id, {}, frequency, actor="workflow"),
            entity_type="claim",
            entity_id=self._claim_id,
            options=CLEARINGHOUSE,
        )
        self._submissions += 1
        self._submitted_at = workflow.now().timestamp()
        self._take(submitted.claim_status, ClaimStatus.SUBMITTED.value)
        return submitted

    async def _acknowledged(self, policy: c.RevenuePolicy, submitted: c.SubmitResult) -> str | None:
        """The 999/277CA step: "closed", "resubmit" (a replacement claim goes out), or None (on to the remittance)."""
        ack = await self._wait_for_acknowledgment(policy, submitted)
        verdict, self._ack_verdict = self._ack_verdict, None
        if verdict in ("closed", "resubmit"):
            return verdict
        if ack is not None and ack.state == "rejected":
            self._take(ack.claim_status, ClaimStatus.REJECTED.value)
            self._enter("rejected")
            decision = await self._decide(policy, Reason.CLAIM_REJECTED, *claim_texts.rejected(ack))
            return "closed" if decision == "closed" else "resubmit"
        if ack is not None:
            self._take(ack.claim_status, ClaimStatus.ACCEPTED.value)
        return None

    async def _wait_for_acknowledgment(self, policy: c.RevenuePolicy, submitted: c.SubmitResult) -> c.AckResult | None:
        """Poll for the 999/277CA on a durable timer; a remittance arriving first also ends the wait."""
        self._enter("awaiting_acknowledgment")
        deadline = workflow.now() + policy.days(policy.ack_timeout_days)
        query = c.AckQuery(self._claim_id, submitted.batch_key)
        while True:
            ack = await self.run_activity(c.claims_acknowledgments, query, CLEARINGHOUSE)
            if ack.state != "pending":
                return ack
            if self._outcomes:
                return None
            if workflow.now() >= deadline:
                summary = f"no 999/277CA for batch {submitted.batch_key} after {policy.ack_timeout_days} days"
                resolution = await self.ask(
                    policy,
                    reason=Reason.NO_PAYER_RESPONSE,
                    summary=summary,
                    entity_type="claim",
                    entity_id=self._claim_id,
                    context={"batch": submitted.batch_key},
                    until=lambda: bool(self._outcomes),
                    check=self._check,
                )
                if resolution is None:
                    return None  # the remittance came
                if resolution.action != Action.RETRY_NOW:
                    if workflow.patched(ACK_ITEM_RESOLUTION_PATCH):
                        self._ack_verdict = await self._carry_out(
                            policy, resolution, Reason.NO_PAYER_RESPONSE, summary, {"batch": submitted.batch_key}
                        )
                    return None  # (histories before the patch: the person takes it from here)
                deadline = workflow.now() + policy.days(policy.ack_timeout_days)
            try:
                await workflow.wait_condition(lambda: bool(self._outcomes), timeout=policy.days(policy.ack_poll_days))
            except TimeoutError:
                pass

    async def _wait_for_remittance(self, policy: c.RevenuePolicy, scrub: c.ScrubResult) -> str:
        """Wait for posting's signal; silence past the follow-up window means a status inquiry and a follow-up item.

        The inquiry is a 276 through the clearinghouse, or, for a payer that answers only on its web portal, a
        claim-status search there (histories from before that change keep asking the clearinghouse)."""
        inquiries = 0
        filing_deadline = workflow.now() + policy.days(max(scrub.filing_deadline_days, 0))
        while True:
            wait = policy.days(scrub.follow_up_days)
            try:
                await workflow.wait_condition(lambda: bool(self._outcomes), timeout=wait)
            except TimeoutError:
                pass
            if self._outcomes:
                outcome = self._outcomes.pop(0)
                verdict = await self._on_outcome(policy, outcome)
                if verdict == "wait":
                    continue
                return verdict
            # No answer in the payer's follow-up window: ask with a 276 (or on the payer's portal), then a person.
            self._enter("status_inquiry")
            evidence: dict[str, str] = {}
            if scrub.route == "portal" and workflow.patched(PORTAL_CLAIM_STATUS_PATCH):
                status, evidence = await self._ask_portal()
            else:
                status = await self.run_activity(c.claims_status_inquiry, c.ClaimRef(self._claim_id), CLEARINGHOUSE)
            inquiries += 1
            if self._outcomes:
                continue
            appealed = self._status == ClaimStatus.APPEALED
            if status.finalized and not appealed and inquiries <= policy.max_status_inquiries:
                continue  # the payer says it is paid or denied: the 835 is on its way
            if workflow.now() >= filing_deadline and self._status not in (ClaimStatus.ACCEPTED, ClaimStatus.APPEALED):
                return await self._timely_filing_missed(policy)
            self._enter("follow_up")
            summary, context = claim_texts.no_remittance(scrub.follow_up_days, status, evidence)
            decided = await self._resolve(
                policy, Reason.NO_PAYER_RESPONSE, summary, context, until=lambda: bool(self._outcomes)
            )
            if decided is None:
                continue  # the remittance came while the item was open
            verdict = decided
            if verdict != "wait":
                return verdict
            inquiries = 0
            self._enter("awaiting_remittance")

    async def _ask_portal(self) -> tuple[c.StatusInquiryResult, dict[str, str]]:
        """The claim's status from the payer's portal, as the 277 categories say it.

        A portal that cannot be asked (refused login, changed page, no code) is an answer too: the follow-up item
        says so and links the screenshot and HTML the activity stored, for the person who picks it up."""
        try:
            answer: portal_contract.PortalClaimStatusResult = await calls.execute(
                portal_contract.portal_claim_status,
                portal_contract.PortalClaimStatusInput(self._claim_id),
                task_queue=self._portal_task_queue,
                start_to_close_timeout=PORTAL.start_to_close,
                retry_policy=PORTAL_STATUS_RETRY,
                heartbeat_timeout=PORTAL.heartbeat,
            )
        except ActivityError as exc:
            cause = exc.cause
            if not isinstance(cause, ApplicationError):
                raise
            evidence = portal_failure_evidence(cause)
            return c.StatusInquiryResult(self._claim_id, "E0", evidence["error"], False, "portal"), evidence
        status = answer.status if answer.found else "not_found"
        return c.StatusInquiryResult(self._claim_id, answer.category, status, answer.finalized, "portal"), {}

    async def _on_outcome(self, policy: c.RevenuePolicy, outcome: c.ClaimOutcome) -> str:
        self._paid_cents = outcome.paid_cents
        self._patient_cents = outcome.patient_responsibility_cents
        if outcome.status == "reversed":  # posting took the claim back to ACCEPTED: the corrected payment follows
            self._take(outcome.claim_status, ClaimStatus.ACCEPTED.value)
            self._enter("awaiting_remittance")
            return "wait"
        if outcome.status in (ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID):
            self._take(outcome.claim_status, outcome.status)
            self._enter("done")
            return "done"
        # Denied: a person decides, knowing what the codes mean, unless the payer speaks again first.
        self._take(outcome.claim_status, ClaimStatus.DENIED.value)
        self._enter("denied")
        if not workflow.patched(DENIAL_SUPERSEDED_PATCH):
            verdict = await self._resolve(policy, Reason.CLAIM_DENIED, *claim_texts.denied(outcome))
            assert verdict is not None
            return verdict
        decided = await self._resolve(
            policy, Reason.CLAIM_DENIED, *claim_texts.denied(outcome), until=lambda: bool(self._outcomes)
        )
        return "wait" if decided is None else decided  # None: the item was withdrawn, the next outcome decides

    async def _timely_filing_missed(self, policy: c.RevenuePolicy) -> str:
        self._enter("timely_filing")
        verdict = await self._resolve(
            policy,
            Reason.TIMELY_FILING_RISK,
            "the payer's timely-filing deadline has passed without an accepted claim",
            {},
        )
        assert verdict is not None
        return verdict

    # --- what the claim hears and tells ----------------------------------------------------------------------

    @workflow.signal(name=CLAIM_REMITTANCE_SIGNAL)
    def remittance(self, outcome: c.ClaimOutcome) -> None:
        """Posting tells the claim what the payer decided (once per remittance and claim; the same outcome again,
        from a retried telling, is heard once)."""
        key = _heard_key(outcome)
        if key in self._heard and workflow.patched(REMITTANCE_ONCE_PATCH):
            return
        self._heard.add(key)
        self._outcomes.append(outcome)

    @workflow.query(name="state")
    def state(self) -> dict[str, object]:
        return {
            "claim_id": self._claim_id,
            "stage": self._stage,
            "status": self._status,
            "submissions": self._submissions,
            "paid_cents": self._paid_cents,
            "patient_responsibility_cents": self._patient_cents,
            "work_items": list(self._work_log),
        }


def _heard_key(outcome: c.ClaimOutcome) -> tuple[object, ...]:
    """What makes an outcome the same one told again: its remittance, what the payer decided and the amounts."""
    return (
        outcome.remittance_key,
        outcome.status,
        outcome.paid_cents,
        outcome.patient_responsibility_cents,
        tuple(outcome.adjustment_codes),
        tuple(outcome.remark_codes),
    )


def _goes_out_at_once(scrub: c.ScrubResult) -> bool:
    """Whether a scrubbed claim is submitted without asking a person first: its edits passed and its payer's
    timely-filing deadline has not passed."""
    return scrub.passed and scrub.filing_deadline_days > 0
