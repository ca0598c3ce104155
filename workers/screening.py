"""Exclusion screening's wiring, shared by `carecycle staff screen` and the monthly `exclusion-screening` flow:
which files to read, running the one screening service, and handing its items to the staff workflows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from domain.errors import NotFound
from domain.exclusions import OIG, SAM

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker
    from temporalio.client import Client

    from activities.staff.screening import ScreeningSummary
    from flows.batch.exclusions import ScreeningOutcome

DEFAULT_LEIE_NAME = "UPDATED.csv"  # the name the OIG publishes it under
DEFAULT_SAM_NAME = "SAM_Exclusions_Public_Extract_V2.csv"


@dataclass(frozen=True)
class ExclusionFiles:
    """Where the lists are when no file is named: the configured paths, else under CARECYCLE_HOME/exclusions."""

    directory: Path
    oig_file: Path | None = None
    sam_file: Path | None = None

    def resolve(self, oig: str | None, sam: str | None) -> list[tuple[str, str]]:
        """The named files if any is named; otherwise the configured or default ones that exist."""
        if oig or sam:
            return [(source, str(path)) for source, path in ((OIG, oig), (SAM, sam)) if path]
        candidates = (
            (OIG, self.oig_file or self.directory / DEFAULT_LEIE_NAME),
            (SAM, self.sam_file or self.directory / DEFAULT_SAM_NAME),
        )
        found = [(source, str(path)) for source, path in candidates if path.is_file()]
        if not found:
            raise NotFound(
                f"no exclusion list to screen against: put {DEFAULT_LEIE_NAME} and/or {DEFAULT_SAM_NAME} in "
                f"{self.directory}, or set CARECYCLE_OIG_LEIE_FILE / CARECYCLE_SAM_EXCLUSIONS_FILE"
            )
        return found


def run_screening(
    session_factory: sessionmaker[Session], files: Sequence[tuple[str, str]], day: date, actor: str
) -> ScreeningSummary:
    from activities.staff.screening import ExclusionScreening, ListFile

    return ExclusionScreening(session_factory).run([ListFile(s, Path(p)) for s, p in files], day, actor)


def as_outcome(summary: ScreeningSummary) -> ScreeningOutcome:
    from flows.batch.exclusions import ScreeningMatch, ScreeningOutcome

    return ScreeningOutcome(
        screening_id=summary.screening_id,
        files=summary.files,
        staff_screened=summary.staff_screened,
        matches=[
            ScreeningMatch(
                match_id=hit.match_id,
                staff_id=hit.staff_id,
                source=hit.source,
                basis=hit.basis,
                status=hit.status,
                excluded_on=hit.excluded_on,
                new=hit.new,
                work_item_id=hit.work_item_id,
            )
            for hit in summary.matches
        ],
        work_items_opened=summary.work_items_opened,
        credentials_renewed=summary.credentials_renewed,
    )


@dataclass
class HandedOver:
    started: list[str] = field(default_factory=list)
    signalled: list[str] = field(default_factory=list)


async def hand_to_workflows(
    client: Client, session_factory: sessionmaker[Session], staff_ids: Sequence[str]
) -> HandedOver:
    """Each matched staff member's StaffCredentialing workflow runs (started if need be) and reads its
    credentials and matches now, so it adopts the new exclusion_match item at once."""
    from activities.contracts.staff import CREDENTIALS_CHANGED_SIGNAL, credentialing_workflow_id
    from domain.actors import acting_as
    from workers.staff import start_tracking

    handed = HandedOver()
    with acting_as("system", "screening"):  # the screening run's starts and signals go out signed as the system's
        for staff_id in staff_ids:
            started = await start_tracking(client, session_factory, staff_id=staff_id)
            handed.started.extend(w for w in started.started if w == credentialing_workflow_id(staff_id))
            workflow_id = credentialing_workflow_id(staff_id)
            await client.get_workflow_handle(workflow_id).signal(CREDENTIALS_CHANGED_SIGNAL)
            handed.signalled.append(workflow_id)
    return handed


__all__ = ["ExclusionFiles", "HandedOver", "as_outcome", "hand_to_workflows", "run_screening"]
