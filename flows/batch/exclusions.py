"""Monthly exclusion screening: every active staff member checked against the OIG LEIE and the SAM exclusions
extract; a report, and per match an `exclusion_match` credentialing item (docs/staff.md).

Orchestration only: the files are found, read and matched, and the matches recorded, by the ports the composition
root supplies (``workers.batch``, over ``activities.staff.screening.ExclusionScreening``, the service `carecycle
staff screen` runs too). Runs without Temporal, like the credential-expiry sweep: each staff member's
StaffCredentialing workflow adopts the item at its next read.
"""

# No `from __future__ import annotations`: a served flow is pickled into a process of its own, and Prefect
# reads its parameters' types from the function, so they must be objects, not names to look up there.

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from prefect import Flow, flow, task
from prefect.cache_policies import NO_CACHE

from flows.batch import EXCLUSION_SCREENING


@dataclass(frozen=True)
class ScreeningMatch:
    match_id: str
    staff_id: str
    source: str
    basis: str
    status: str
    excluded_on: date
    new: bool
    work_item_id: str


@dataclass(frozen=True)
class ScreeningOutcome:
    screening_id: str
    files: Mapping[str, Mapping[str, Any]]  # source -> {file, records, sha256}
    staff_screened: int
    matches: Sequence[ScreeningMatch]
    work_items_opened: int
    credentials_renewed: int


@dataclass(frozen=True)
class ExclusionScreeningPorts:
    # (source, path) of the lists to screen against: the given paths, else the configured ones.
    list_files: Callable[[str | None, str | None], Sequence[tuple[str, str]]]
    screen: Callable[[Sequence[tuple[str, str]], date], ScreeningOutcome]
    write_report: Callable[[str, date, Mapping[str, Any]], str]
    today: Callable[[], date]


@dataclass(frozen=True)
class ExclusionScreeningSummary:
    as_of: date
    sources: list[str]
    staff_screened: int
    matches: int
    new_matches: int
    open_matches: int
    work_items_opened: int
    credentials_renewed: int
    report: str


def screening_report(outcome: ScreeningOutcome, as_of: date) -> dict[str, Any]:
    """Opaque ids, list names, dates and file hashes only: no name from a list or from the staff."""
    return {
        "as_of": as_of.isoformat(),
        "screening_id": outcome.screening_id,
        "files": {source: dict(described) for source, described in sorted(outcome.files.items())},
        "staff_screened": outcome.staff_screened,
        "matches": [
            {
                "match_id": hit.match_id,
                "staff_id": hit.staff_id,
                "source": hit.source,
                "basis": hit.basis,
                "status": hit.status,
                "excluded_on": hit.excluded_on.isoformat(),
                "new": hit.new,
                "work_item_id": hit.work_item_id,
            }
            for hit in sorted(outcome.matches, key=lambda h: (h.staff_id, h.source, h.match_id))
        ],
    }


def build_exclusion_screening(ports: ExclusionScreeningPorts) -> Flow[..., ExclusionScreeningSummary]:
    list_files = task(name="exclusions.list_files", cache_policy=NO_CACHE)(ports.list_files)
    screen = task(name="exclusions.screen", cache_policy=NO_CACHE)(ports.screen)
    write_report = task(name="reports.write", cache_policy=NO_CACHE)(ports.write_report)

    @flow(name=EXCLUSION_SCREENING.name, description=EXCLUSION_SCREENING.description)
    def exclusion_screening(
        as_of: date | None = None, oig_file: str | None = None, sam_file: str | None = None
    ) -> ExclusionScreeningSummary:
        day = as_of or ports.today()
        files = list_files(oig_file, sam_file)
        outcome = screen(files, day)
        report = write_report("exclusion-screening", day, screening_report(outcome, day))
        return ExclusionScreeningSummary(
            as_of=day,
            sources=sorted(outcome.files),
            staff_screened=outcome.staff_screened,
            matches=len(outcome.matches),
            new_matches=sum(1 for hit in outcome.matches if hit.new),
            open_matches=sum(1 for hit in outcome.matches if hit.status == "open"),
            work_items_opened=outcome.work_items_opened,
            credentials_renewed=outcome.credentials_renewed,
            report=report,
        )

    return exclusion_screening
