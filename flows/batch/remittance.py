"""Remittance intake: every *.835 in the inbound drop folder is claimed, posted, and filed away.

A file is first claimed (moved out of the inbound folder, so a second sweep running at the same time cannot
take it too), then handed to the posting callable the composition root injects, then filed under processed/
or, when posting raised, under failed/ with the reason beside it. Posting is idempotent (its key is payer +
trace number + claim + line), so a file that is delivered or retried twice posts once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prefect import Flow, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.batch import REMITTANCE_INTAKE


@dataclass(frozen=True)
class IntakePorts:
    pending: Callable[[], Sequence[str]]  # file names waiting in the inbound folder, oldest first
    claim: Callable[[str], str | None]  # moves one aside for processing; None when another sweep took it
    post: Callable[[str], Mapping[str, Any]]  # posts a claimed file; returns what it posted (JSON-able)
    file_away: Callable[[str, str | None], str]  # (claimed file, failure reason or None) -> where it went


@dataclass(frozen=True)
class IntakeOutcome:
    file: str
    posted: bool
    filed_as: str
    result: Mapping[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class RemittanceIntakeSummary:
    found: int
    posted: int
    failed: int
    skipped: int  # claimed by a concurrent sweep
    files: tuple[IntakeOutcome, ...]


def build_remittance_intake(ports: IntakePorts) -> Flow[..., RemittanceIntakeSummary]:
    pending = task(name="intake.pending", cache_policy=NO_CACHE)(ports.pending)
    claim = task(name="intake.claim", cache_policy=NO_CACHE)(ports.claim)
    # No retries here: a failed file goes to failed/ for a person, and the next sweep takes new files only.
    post = task(name="intake.post", cache_policy=NO_CACHE)(ports.post)
    file_away = task(name="intake.file_away", cache_policy=NO_CACHE)(ports.file_away)

    @flow(name=REMITTANCE_INTAKE.name, description=REMITTANCE_INTAKE.description)
    def remittance_intake() -> RemittanceIntakeSummary:
        logger = get_run_logger()
        names = pending()
        outcomes: list[IntakeOutcome] = []
        skipped = 0
        for name in names:
            claimed = claim(name)
            if claimed is None:
                skipped += 1
                continue
            try:
                result = post(claimed)
            except Exception as exc:  # any failure files the remittance for a person; the sweep goes on
                reason = f"{type(exc).__name__}: {exc}"
                outcomes.append(IntakeOutcome(name, False, file_away(claimed, reason), error=reason))
                logger.warning("remittance file %s failed to post (%s)", name, type(exc).__name__)
                continue
            outcomes.append(IntakeOutcome(name, True, file_away(claimed, None), result=dict(result)))
        posted = sum(1 for o in outcomes if o.posted)
        logger.info("remittance intake: %d found, %d posted, %d failed", len(names), posted, len(outcomes) - posted)
        return RemittanceIntakeSummary(
            found=len(names),
            posted=posted,
            failed=len(outcomes) - posted,
            skipped=skipped,
            files=tuple(outcomes),
        )

    return remittance_intake
