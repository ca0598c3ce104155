"""Nightly: eligibility for tomorrow's visits (docs/operations.md, "Visits and telehealth").

Every booked visit of tomorrow whose coverage answer is unknown (never asked, inconclusive, inactive), stale (older
than ``max_age_hours``) or asked about a coverage that has changed since (``domain.visits.needs_nightly_check``) is
asked again with a real 270/271, at most ``concurrency`` at a time (Prefect's thread-pool task runner), and the
answer is recorded on the appointment as the Visit workflow records its own (``appointment.eligibility`` audit
event): the workflow's day-before recheck then finds a fresh answer and asks nothing. A report lists each visit's
id, why it was due and the answer (ids and codes only).

Orchestration only: the store query and the check are the ports the composition root supplies
(``workers.visit_eligibility``, over the eligibility activity's own 270/271 code).
"""

# No `from __future__ import annotations`: a served flow is pickled into a process of its own, and Prefect
# reads its parameters' types from the function, so they must be objects, not names to look up there.

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from prefect import Flow, flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from activities.contracts.visits import VisitPolicy
from flows.batch import VISIT_ELIGIBILITY

DEFAULT_CONCURRENCY = 4
RETRIES = 3
# An answer older than the visit policy's eligibility_max_age_days is stale.
DEFAULT_MAX_AGE_HOURS = 24 * VisitPolicy().eligibility_max_age_days


@dataclass(frozen=True)
class DueVisit:
    appointment_id: str
    why: str  # unknown, inactive, inconclusive, stale, coverage_changed


@dataclass(frozen=True)
class VisitEligibilityResult:
    appointment_id: str
    status: str  # active, inactive, inconclusive, self_pay, failed
    coverages_checked: int = 0
    error: str | None = None  # an error's type name when the check failed (never its message: it may hold PHI)


@dataclass(frozen=True)
class VisitEligibilityPorts:
    # The booked visits of that day due for a check (the domain's rule, applied to the store's rows).
    due: Callable[[date, int], Sequence[DueVisit]]
    # A 270/271 for each of the visit's coverages and the answer recorded on the appointment.
    check: Callable[[str], VisitEligibilityResult]
    write_report: Callable[[str, date, Mapping[str, Any]], str]
    today: Callable[[], date]
    concurrency: int = DEFAULT_CONCURRENCY


@dataclass(frozen=True)
class VisitEligibilitySummary:
    as_of: date
    visit_day: date
    visits_due: int
    checked: int
    active: int
    inactive: int
    inconclusive: int
    self_pay: int
    failed: int
    concurrency: int
    report: str


def _outcome(appointment_id: str, future: Any) -> VisitEligibilityResult:
    """A check's answer, or its failure after the retries: one visit's failure is reported, the others still run."""
    try:
        result: VisitEligibilityResult = future.result()
    except Exception as exc:
        return VisitEligibilityResult(appointment_id, "failed", error=type(exc).__name__)
    return result


def build_visit_eligibility(ports: VisitEligibilityPorts) -> Flow[..., VisitEligibilitySummary]:
    if ports.concurrency < 1:
        raise ValueError("the eligibility batch needs a concurrency of at least 1")
    due = task(name="visits.due_for_eligibility", cache_policy=NO_CACHE)(ports.due)
    # A busy store ("database is locked" on SQLite) or a clearinghouse hiccup: asked again, as an activity would be.
    check = task(name="visits.check_eligibility", cache_policy=NO_CACHE, retries=RETRIES, retry_delay_seconds=0.5)(
        ports.check
    )
    write_report = task(name="reports.write", cache_policy=NO_CACHE)(ports.write_report)
    runner: TaskRunner[Any] = ThreadPoolTaskRunner(max_workers=ports.concurrency)  # the bound on checks in flight

    @flow(
        name=VISIT_ELIGIBILITY.name,
        description=VISIT_ELIGIBILITY.description,
        task_runner=runner,
    )
    def eligibility_for_tomorrow(
        as_of: date | None = None, max_age_hours: int = DEFAULT_MAX_AGE_HOURS
    ) -> VisitEligibilitySummary:
        day = as_of or ports.today()
        visit_day = day + timedelta(days=1)
        visits = due(visit_day, max_age_hours)
        futures = check.map([visit.appointment_id for visit in visits])  # at most `concurrency` in flight
        results = [_outcome(visit.appointment_id, future) for visit, future in zip(visits, futures, strict=True)]
        why = {visit.appointment_id: visit.why for visit in visits}
        report = write_report("visit-eligibility", day, _report(day, visit_day, results, why))
        count = {status: sum(1 for r in results if r.status == status) for status in _STATUSES}
        return VisitEligibilitySummary(
            as_of=day,
            visit_day=visit_day,
            visits_due=len(visits),
            checked=len(results) - count["failed"],
            concurrency=ports.concurrency,
            report=report,
            **count,
        )

    return eligibility_for_tomorrow


_STATUSES = ("active", "inactive", "inconclusive", "self_pay", "failed")


def _report(
    day: date, visit_day: date, results: Sequence[VisitEligibilityResult], why: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "as_of": day.isoformat(),
        "visit_day": visit_day.isoformat(),
        "visits": [
            {
                "appointment_id": r.appointment_id,
                "due_because": why.get(r.appointment_id, ""),
                "status": r.status,
                "coverages_checked": r.coverages_checked,
                "error": r.error,
            }
            for r in sorted(results, key=lambda r: r.appointment_id)
        ],
    }
