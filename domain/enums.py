"""Closed vocabularies of the domain, stored as their string values."""

from __future__ import annotations

from enum import StrEnum


class PayerKind(StrEnum):
    COMMERCIAL = "commercial"
    MEDICARE = "medicare"
    MEDICAID = "medicaid"
    SELF_PAY = "self_pay"


class PayerRouting(StrEnum):
    CLEARINGHOUSE = "clearinghouse"
    PORTAL = "portal"
    NONE = "none"  # self-pay: nothing is sent to a payer


class CoverageRank(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    TERTIARY = "tertiary"


class SubscriberRelationship(StrEnum):
    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    OTHER = "other"


class AppointmentKind(StrEnum):
    IN_PERSON = "in_person"
    TELEHEALTH = "telehealth"  # a virtual visit (video, or audio only as a fallback)


class AppointmentStatus(StrEnum):
    """FHIR Appointment.status values the practice uses (booked -> arrived -> fulfilled; cancelled; noshow)."""

    BOOKED = "booked"
    ARRIVED = "arrived"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    NOSHOW = "noshow"
    # The names this enum had before it took FHIR's values: aliases, so older code keeps meaning the same status.
    SCHEDULED = "booked"
    CHECKED_IN = "arrived"
    COMPLETED = "fulfilled"
    NO_SHOW = "noshow"


class VirtualVisitState(StrEnum):
    """Where a telehealth visit stands, as its coordinator sees it (the console groups today's visits by it)."""

    BOOKED = "booked"  # booked; its VirtualVisit has recorded nothing yet (not started, or just starting): no invite
    INVITED = "invited"
    CONSENTED = "consented"
    CHECKED_IN = "checked_in"
    WAITING = "waiting"  # the patient is in the video room, the provider not yet
    IN_PROGRESS = "in_progress"
    DONE = "done"
    NO_SHOW = "no_show"
    BLOCKED = "blocked"  # the provider holds no active license in the patient's state
    CANCELLED = "cancelled"
    FAILED = "failed"  # the vendor failed for good: the room was deleted, its tokens revoked


class MessageStatus(StrEnum):
    """An outbound message's life, from the outbox to the provider's delivery receipt."""

    QUEUED = "queued"
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"  # the provider or carrier could not deliver it (bounce, unreachable)
    FAILED = "failed"
    OPTED_OUT = "opted_out"  # not sent: the patient opted out of the channel


class WorkItemState(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class AccountKind(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"
    CONTRA_REVENUE = "contra_revenue"
    EXPENSE = "expense"


class CredentialKind(StrEnum):
    STATE_LICENSE = "state_license"
    DEA = "dea"
    BOARD_CERTIFICATION = "board_certification"
    CAQH = "caqh"
    EXCLUSION_SCREENING = "exclusion_screening"
    PAYER_ENROLLMENT = "payer_enrollment"


class PaymentMethod(StrEnum):
    CARD = "card"
    CASH = "cash"
    CHECK = "check"
    EFT = "eft"


class PaymentPlanStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # a dispute or hardship request is open: no reminders, no misses counted
    COMPLETED = "completed"
    BROKEN = "broken"
    CANCELLED = "cancelled"
