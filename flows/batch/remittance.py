"""Remittance intake: every *.835 in the inbound drop folder is claimed, posted, and filed away.

A file is first claimed (moved out of the inbound folder, so a second sweep running at the same time cannot
take it too), then handed to the posting callable the composition root injects (the product's hands it to the
PaymentPosting workflow, the one path every remittance takes), then filed under processed/ or, when posting
raised, under failed/ with the reason beside it. When the posting path cannot be reached (``PostingDeferred``:
the workflow engine is down) the file goes back to the inbound folder for the next sweep. Posting is idempotent
(the delivery's business key, then payer + trace number + claim + line), so a file delivered twice posts once.
"""

# No `from __future__ import annotations`: a served flow is pickled into a process of its own, and Prefect
# reads its parameters' types from the function, so they must be objects, not names to look up there.

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prefect import Flow, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.batch import REMITTANCE_INTAKE


class PostingDeferred(Exception):
    """The posting path is not reachable now: the file waits in the inbound folder for the next sweep."""


@dataclass(frozen=True)
class IntakePorts:
    pending: Callable[[], Sequence[str]]  # file names waiting in the inbound folder, oldest first
    claim: Callable[[str], str | None]  # moves one aside for processing; None when another sweep took it
    post: Callable[[str], Mapping[str, Any]]  # posts a claimed file; returns what it posted (JSON-able)
    file_away: Callable[[str, str | None], str]  # (claimed file, failure reason or None) -> where it went
    put_back: Callable[[str], str] | None = None  # a claimed file back to the inbound folder (PostingDeferred)


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
    deferred: int = 0  # put back for the next sweep: the posting path was not reachable


def build_remittance_intake(ports: IntakePorts) -> Flow[..., RemittanceIntakeSummary]:
    pending = task(name="intake.pending", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)(ports.pending)
    claim = task(name="intake.claim", cache_policy=NO_CACHE)(ports.claim)
    # No retries here: a failed file goes to failed/ for a person, and the next sweep takes new files only.
    post = task(name="intake.post", cache_policy=NO_CACHE)(ports.post)
    file_away = task(name="intake.file_away", cache_policy=NO_CACHE)(ports.file_away)
    put_back = task(name="intake.put_back", cache_policy=NO_CACHE)(ports.put_back) if ports.put_back else None

    @flow(name=REMITTANCE_INTAKE.name, description=REMITTANCE_INTAKE.description)
    def remittance_intake() -> RemittanceIntakeSummary:
        logger = get_run_logger()
        names = pending()
        outcomes: list[IntakeOutcome] = []
        skipped = deferred = 0
        for name in names:
            claimed = claim(name)
            if claimed is None:
                skipped += 1
                continue
            try:
                result = post(claimed)
            except PostingDeferred as exc:
                if put_back is None:
                    raise
                put_back(claimed)
                deferred += 1
                logger.warning("remittance file %s left for the next sweep: %s", name, exc)
                continue
            except Exception as exc:  # any failure files the remittance for a person; the sweep goes on
                reason = f"{type(exc).__name__}: {exc}"
                outcomes.append(IntakeOutcome(name, False, file_away(claimed, reason), error=reason))
                logger.warning("remittance file %s failed to post (%s)", name, type(exc).__name__)
                continue
            outcomes.append(IntakeOutcome(name, True, file_away(claimed, None), result=dict(result)))
        posted = sum(1 for o in outcomes if o.posted)
        logger.info(
            "remittance intake: %d found, %d posted, %d failed, %d deferred",
            len(names),
            posted,
            len(outcomes) - posted,
            deferred,
        )
        return RemittanceIntakeSummary(
            found=len(names),
            posted=posted,
            failed=len(outcomes) - posted,
            skipped=skipped,
            files=tuple(outcomes),
            deferred=deferred,
        )

    return remittance_intake
