"""The scheduled batch side, as Prefect flows: sweeps, reports and file intake.

Orchestration only. Each flow is built by a ``build_*`` function from a ports object of plain callables
that the composition root (``workers.batch``) supplies: the store queries, the file moves and the remittance
posting all live there. So these modules import neither SQLAlchemy nor the store nor an I/O library, and a
flow can be run against any implementation of its ports.

Every flow's name is its CLI name (``carecycle batch run NAME``) and its Prefect deployment's name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchFlowInfo:
    name: str
    description: str


CREDENTIAL_EXPIRY_SWEEP = BatchFlowInfo(
    "credential-expiry-sweep",
    "credentials and training expiring within N days: a report, and one credentialing work item per credential",
)
AR_AGING_SNAPSHOT = BatchFlowInfo(
    "ar-aging-snapshot", "open claims by payer and age bucket (0-30 ... 120+), written as a JSON and a CSV report"
)
REMITTANCE_INTAKE = BatchFlowInfo(
    "remittance-intake", "post every *.835 file in the inbound folder, then move it to processed/ (or failed/)"
)

EXCLUSION_SCREENING = BatchFlowInfo(
    "exclusion-screening",
    "monthly: every active staff member against the OIG LEIE and SAM exclusion files; a report, and one "
    "credentialing work item per match (billing for a matched provider is held)",
)

VISIT_ELIGIBILITY = BatchFlowInfo(
    "eligibility-for-tomorrow",
    "nightly: every booked visit of tomorrow whose coverage answer is unknown, stale or about a changed coverage is "
    "asked again (270/271, a few at a time); the answers recorded on the appointments and reported",
)

AR_KPI_REPORT = BatchFlowInfo(
    "ar-kpi-report",
    "the daily AR/KPI report: AR by payer and age, claims by status, days in AR, denial rate, collections "
    "(JSON, CSV and a PDF with charts)",
)
HISTORY_ARCHIVE = BatchFlowInfo(
    "history-archive",
    "closed workflow histories (still encrypted) and the audit log to the write-once archive, with a manifest "
    "of checksums",
)

# Every batch flow this package defines; what runs, and when, is the batch plane (workers.batch_plane).
BATCH_FLOWS: tuple[BatchFlowInfo, ...] = (
    CREDENTIAL_EXPIRY_SWEEP,
    AR_AGING_SNAPSHOT,
    REMITTANCE_INTAKE,
    EXCLUSION_SCREENING,
    VISIT_ELIGIBILITY,
    AR_KPI_REPORT,
    HISTORY_ARCHIVE,
)
