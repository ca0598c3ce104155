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
    TELEHEALTH = "telehealth"


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


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
