"""The revenue cycle's business time: every duration in business days, with the length of a day."""

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RevenuePolicy:
    """Business durations as workflow input: the demo shortens ``day_seconds`` instead of touching any clock."""

    day_seconds: float = 86400.0
    ack_poll_days: float = 1.0  # how often to look for the 999/277CA
    ack_timeout_days: int = 7  # no acknowledgment by then: a follow-up work item
    remittance_poll_days: float = 1.0  # how often remittance intake asks the clearinghouse for 835s
    work_item_sla_days: int = 3
    max_status_inquiries: int = 2
    max_resubmissions: int = 3
    statement_interval_days: int = 30  # first statement, then reminders at this interval
    reminders: int = 1  # reminders between the first statement and the final notice
    agency_after_final_days: int = 30
    small_balance_cents: int = 500  # at or below: written off instead of chased
    intake_iterations_per_run: int = 200  # continue-as-new after this many polls
    min_installment_cents: int = 2500  # a payment plan's smallest installment
    max_installments: int = 12
    installment_interval_days: int = 30
    installment_grace_days: int = 10  # a missed installment gets a reminder; still behind after this, a miss counts
    plan_max_missed: int = 2  # this many missed installments break the plan
    # A hardship request granted as a new plan: smaller installments, more of them (CollectionsPolicy's terms).
    hardship_min_installment_cents: int = 1000
    hardship_max_installments: int = 24
    # A remittance with more claims, secondary claims and guarantors to tell than this does not carry them in
    # PaymentPosting's history (a signal or an activity each: a 10,000-claim ERA would pass Temporal's limits):
    # they are kept beside the 835 and told by posting.tell activities, ``posting_page`` of them each.
    posting_carry_limit: int = 200
    posting_page: int = 500

    def days(self, count: float) -> timedelta:
        return timedelta(seconds=count * self.day_seconds)
