"""The VirtualVisit's bookkeeping: where the visit stands and who is in the room (from the vendor's webhooks).

Deterministic, no I/O: times come from the vendor's events or ``workflow.now()`` at the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from flows.revenue._common import ActivityOptions

with workflow.unsafe.imports_passed_through():
    from activities.contracts import visits as c

# The video vendor is reached over the internet: retried a while, then the visit's compensation runs.
VENDOR_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=6,
    non_retryable_error_types=["vendor_refused", "not_found"],
)
VENDOR = ActivityOptions(timedelta(seconds=60), VENDOR_RETRY)


@dataclass
class VisitState:
    name: str = "started"
    before_block: str = "invited"  # only for histories from before the "unblocked before the room" patch
    consented: bool = False
    checked_in: bool = False
    patient_location: str | None = None

    def base(self) -> str:
        if self.checked_in:
            return "checked_in"
        return "consented" if self.consented else "invited"

    def view(self) -> dict[str, object]:
        return {
            "state": self.name,
            "consented": self.consented,
            "checked_in": self.checked_in,
            "patient_location": self.patient_location,
        }


@dataclass
class Participants:
    """Who is in the video room, from the vendor's participant.joined/left and meeting.ended events."""

    patient_present: bool = False
    provider_present: bool = False
    showed: bool = False  # the patient came (into the room, or on the phone after an audio fallback)
    audio_only: bool = False
    patient_joined_at: datetime | None = None
    provider_joined_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None
    seen: set[str] = field(default_factory=set)

    def apply(self, event: c.VendorEvent) -> str | None:
        """Take one event in; returns what to record (e.g. ``patient_joined``), None for a repeat or a no-op."""
        if event.event_id:
            if event.event_id in self.seen:
                return None
            self.seen.add(event.event_id)
        if self.ended_at is not None:
            return None
        if event.kind == "participant_joined" and event.role in ("patient", "provider"):
            if event.role == "patient":
                self.patient_present = self.showed = True
                self.patient_joined_at = self.patient_joined_at or event.at
            else:
                self.provider_present = True
                self.provider_joined_at = self.provider_joined_at or event.at
            if self.started_at is None and self.patient_present and self.provider_present:
                self.started_at = event.at
            return f"{event.role}_joined"
        if event.kind == "participant_left" and event.role in ("patient", "provider"):
            if event.role == "patient":
                self.patient_present = False
            else:
                self.provider_present = False
            return f"{event.role}_left"
        if event.kind == "meeting_ended" and self.started_at is not None and not self.audio_only:
            self.ended_at = event.at
            self.ended_by = "vendor"
            return "meeting_ended"
        return None

    def live_state(self, current: str, base: str) -> str:
        """The coordinator's state once the room has spoken: in progress, waiting, or back to ``base``."""
        if current in ("blocked", "done", "no_show", "cancelled", "failed"):
            return current
        if self.started_at is not None:
            return "in_progress"
        if self.patient_present:
            return "waiting"
        return base if current == "waiting" else current

    def view(self) -> dict[str, object]:
        return {
            "patient_in_room": self.patient_present,
            "provider_in_room": self.provider_present,
            "audio_only": self.audio_only,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }
