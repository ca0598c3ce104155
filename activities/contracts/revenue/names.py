"""The revenue cycle's stable activity names (``<area>.<verb>``) and its task queue: renaming a Python
function must not break replay, so these strings never change."""

REGISTRATION_VALIDATE = "registration.validate"
ELIGIBILITY_CHECK = "eligibility.check"
ELIGIBILITY_RECORD = "eligibility.record"
ELIGIBILITY_UPDATE_COVERAGE = "eligibility.update_coverage"
ENCOUNTER_LIST_BILLABLE = "encounter.list_billable"
ENCOUNTER_PREPARE = "encounter.prepare"
ENCOUNTER_RECORD_CODES = "encounter.record_codes"
CLAIMS_CREATE = "claims.create"
CLAIMS_SCRUB = "claims.scrub"
CLAIMS_TERMS = "claims.terms"  # a claim's follow-up window, filing deadline and route, without scrubbing it
CLAIMS_CORRECT = "claims.correct"
CLAIMS_SUBMIT = "claims.submit"
CLAIMS_ACKNOWLEDGMENTS = "claims.acknowledgments"
CLAIMS_STATUS_INQUIRY = "claims.status_inquiry"
CLAIMS_SET_STATUS = "claims.set_status"
POSTING_FETCH_REMITTANCES = "posting.fetch_remittances"
# the 835s a fetch handed over, confirmed to the clearinghouse once their postings are started
POSTING_CONFIRM_REMITTANCES = "posting.confirm_remittances"
POSTING_POST_REMITTANCE = "posting.post_remittance"
POSTING_TELL = "posting.tell"  # one page of a large remittance's outcomes told to claims and collections
POSTING_CHARGE = "posting.charge"
POSTING_ADJUST = "posting.adjust"
COLLECTIONS_NOTIFY = "collections.notify_balance"
COLLECTIONS_BALANCE = "collections.balance"
COLLECTIONS_SEND_STATEMENT = "collections.send_statement"
COLLECTIONS_WRITE_OFF = "collections.write_off"
COLLECTIONS_AGENCY = "collections.agency_handoff"
COLLECTIONS_CREATE_PLAN = "collections.create_payment_plan"
COLLECTIONS_CHECK_PLAN = "collections.check_payment_plan"
COLLECTIONS_UPDATE_PLAN = "collections.update_payment_plan"
COLLECTIONS_POLICY = "collections.policy"  # the practice's collections policy in force (stored, versioned)

REVENUE_TASK_QUEUE = "revenue"
