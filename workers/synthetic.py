"""The synthetic practice: a whole practice made up from a seed with Faker. Same seed and day, same data.

Nothing here is real: names, addresses and member ids come from Faker and a seeded random generator; NPIs
are made valid with the Luhn rule but are drawn from a range no real provider is checked against here.
Rows are generated as plain dicts and inserted in bulk (executemany), so seeding 100k patients is quick.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from faker import Faker
from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from domain import models as m
from domain.catalog import (
    ANCILLARY,
    BEHAVIORAL_HEALTH_DIAGNOSES,
    DIAGNOSES,
    EVALUATION_AND_MANAGEMENT,
    PROCEDURES_BY_CODE,
    requires_prior_authorization,
)
from domain.claim_status import ClaimStatus
from domain.codes import make_npi
from domain.enums import (
    AppointmentKind,
    AppointmentStatus,
    CoverageRank,
    CredentialKind,
    PayerKind,
    PayerRouting,
    SubscriberRelationship,
)
from domain.errors import DomainError
from domain.ledger.service import HistoricalClaim, post_claim_history


@dataclass(frozen=True)
class SyntheticPayer:
    payer_id: str
    name: str
    kind: PayerKind
    routing: PayerRouting
    timely_filing_days: int
    follow_up_days: int
    portal_variant: str | None = None
    weight: int = 1  # how often patients carry it


PAYERS: tuple[SyntheticPayer, ...] = (
    SyntheticPayer(
        "SBXBM", "Blue Meadow Health Plan", PayerKind.COMMERCIAL, PayerRouting.CLEARINGHOUSE, 180, 30, None, 5
    ),
    SyntheticPayer(
        "SBXSM", "Summit Mutual Insurance", PayerKind.COMMERCIAL, PayerRouting.CLEARINGHOUSE, 90, 30, None, 4
    ),
    SyntheticPayer(
        "SBXMC",
        "Medicare Part B Sandbox Jurisdiction",
        PayerKind.MEDICARE,
        PayerRouting.CLEARINGHOUSE,
        365,
        30,
        None,
        4,
    ),
    SyntheticPayer(
        "SBXMD", "State Medicaid Sandbox Program", PayerKind.MEDICAID, PayerRouting.CLEARINGHOUSE, 365, 45, None, 3
    ),
    SyntheticPayer("SBXCC", "Cascade Care Plans", PayerKind.COMMERCIAL, PayerRouting.PORTAL, 120, 30, "cascade", 2),
    # Harbor is slow to adjudicate (8 days in the sandbox portal) and the practice checks its portal after a week:
    # the Claim workflow's follow-up searches Harbor's portal for the claim's status.
    SyntheticPayer("SBXHH", "Harbor Health Alliance", PayerKind.COMMERCIAL, PayerRouting.PORTAL, 180, 7, "harbor", 2),
    SyntheticPayer("SELF", "Self-pay", PayerKind.SELF_PAY, PayerRouting.NONE, 3650, 30, None, 0),
)

# Each provider's licenses beyond Oregon, by position (the practice sees patients by video across state lines).
OTHER_STATE_LICENSES: tuple[tuple[str, ...], ...] = (("WA",), ("WA", "CA"), (), ("ID",), ("WA",), ())

TRAINING: tuple[tuple[str, str, list[str], int], ...] = (
    ("HIPAA", "HIPAA privacy and security", [], 365),
    ("OSHA_BBP", "OSHA bloodborne pathogens", ["physician", "nurse_practitioner", "nurse"], 365),
    ("FWA", "Fraud, waste and abuse", [], 365),
    ("CPR", "Basic life support (CPR)", ["physician", "nurse_practitioner", "nurse"], 730),
)

# The share of historical claims in each status: a working practice's realistic mix.
CLAIM_STATUS_MIX: tuple[tuple[ClaimStatus, int], ...] = (
    (ClaimStatus.READY, 22),
    (ClaimStatus.DRAFT, 6),
    (ClaimStatus.SUBMITTED, 12),
    (ClaimStatus.ACCEPTED, 10),
    (ClaimStatus.PAID, 24),
    (ClaimStatus.PARTIALLY_PAID, 8),
    (ClaimStatus.DENIED, 6),
    (ClaimStatus.REJECTED, 5),
    (ClaimStatus.CLOSED, 7),
)


@dataclass
class SeedSummary:
    seed: int
    as_of: date
    counts: dict[str, int] = field(default_factory=dict)
    claims_by_status: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
            **self.counts,
            "claims_by_status": dict(sorted(self.claims_by_status.items())),
        }


class SyntheticPractice:
    """Generates the rows of one synthetic practice, table by table, in foreign-key order."""

    def __init__(self, seed: int, as_of: date | None = None, *, visit_scale: int = 1) -> None:
        if visit_scale < 1:
            raise DomainError("the visit scale must be at least 1")
        self.seed = seed
        # Multiplies each patient's visits (and so encounters, claims and claim lines); the benchmark uses it
        # to reach a million claim lines. At 1 the generated practice is the same as before for a seed.
        self.visit_scale = visit_scale
        self.as_of = as_of or date.today()
        self.rng = random.Random(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.rows: dict[Table, list[dict[str, Any]]] = {}
        self._npi_counter = 0
        self._payer_codes: dict[str, str] = {}  # payer row id -> clearinghouse payer id
        self._authorization_numbers: set[tuple[str, str]] = set()
        # Credentialing facts (staff birth dates, extra state licenses, payer enrollments) come from a generator
        # of their own, so adding them left every other row of a seed as it was.
        self._credentialing_rng = random.Random(f"{seed}|credentialing")

    # --- helpers ---------------------------------------------------------------------------------------

    def _id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _credentialing_id(self) -> str:
        return str(uuid.UUID(int=self._credentialing_rng.getrandbits(128), version=4))

    def _add(self, model: type[m.Base], row: dict[str, Any]) -> dict[str, Any]:
        self.rows.setdefault(model.__table__, []).append(row)  # type: ignore[arg-type]
        return row

    def _npi(self, entity_type: int) -> str:
        # 9-digit bases from a fixed synthetic block, made valid by the check digit.
        self._npi_counter += 1
        base = f"{entity_type}{(self.seed % 1000):03d}{self._npi_counter:05d}"
        return make_npi(base)

    def _at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=UTC)

    # --- the practice ----------------------------------------------------------------------------------

    def generate(self, patients: int) -> SyntheticPractice:
        if patients < 0:
            raise DomainError("the number of patients must not be negative")
        practice_id = self._id()
        self._add(
            m.Practice,
            {
                "id": practice_id,
                "name": "Riverbend Family Medicine (synthetic)",
                "npi": self._npi(1),
                "tax_id": f"9{self.rng.randrange(10**7, 10**8)}",
                "taxonomy": "207Q00000X",
                "address_line": self.fake.street_address(),
                "city": self.fake.city(),
                "state": "OR",
                "postal_code": self.fake.postcode(),
                "phone": self.fake.numerify("541555####"),
            },
        )
        locations = []
        for name, pos in (("Main Street Clinic", "11"), ("Westside Clinic", "11")):
            locations.append(
                self._add(
                    m.Location,
                    {
                        "id": self._id(),
                        "practice_id": practice_id,
                        "name": name,
                        "place_of_service": pos,
                        "address_line": self.fake.street_address(),
                        "city": self.fake.city(),
                        "state": "OR",
                        "postal_code": self.fake.postcode(),
                    },
                )
            )
        providers = self._staff_and_providers(practice_id)
        payers = [
            self._add(
                m.Payer,
                {
                    "id": self._id(),
                    "payer_id": p.payer_id,
                    "name": p.name,
                    "kind": p.kind.value,
                    "routing": p.routing.value,
                    "timely_filing_days": p.timely_filing_days,
                    "follow_up_days": p.follow_up_days,
                    "portal_variant": p.portal_variant,
                },
            )
            for p in PAYERS
        ]
        self._payer_codes = {row["id"]: row["payer_id"] for row in payers}
        self._enrollments(providers, [row for row, spec in zip(payers, PAYERS, strict=True) if spec.weight])
        insured = [(row, spec) for row, spec in zip(payers, PAYERS, strict=True) if spec.weight]
        for index in range(patients):
            self._patient(index, practice_id, locations, providers, insured)
        return self

    def _staff_and_providers(self, practice_id: str) -> list[dict[str, Any]]:
        providers: list[dict[str, Any]] = []
        roles = (
            [("physician", "MD", "207Q00000X")] * 3
            + [("physician", "DO", "207R00000X")]
            + [("nurse_practitioner", "NP", "363LF0000X"), ("nurse_practitioner", "NP", "363LF0000X")]
        )
        for index, (role, credential, taxonomy) in enumerate(roles):
            staff = self._staff_row(practice_id, role)
            provider = self._add(
                m.Provider,
                {
                    "id": self._id(),
                    "practice_id": practice_id,
                    "first_name": staff["first_name"],
                    "last_name": staff["last_name"],
                    "credential": credential,
                    "npi": self._npi(1),
                    "taxonomy": taxonomy,
                    "staff_id": staff["id"],
                },
            )
            providers.append(provider)
            staff["npi"] = provider["npi"]
            self._credentials(staff["id"], role)
            self._other_state_licenses(staff["id"], OTHER_STATE_LICENSES[index % len(OTHER_STATE_LICENSES)])
        for role in ["nurse", "nurse", "biller", "biller", "front_desk", "front_desk", "telehealth_coordinator"]:
            self._staff_row(practice_id, role)
        requirements = [
            self._add(
                m.TrainingRequirement,
                {
                    "id": self._id(),
                    "code": code,
                    "name": name,
                    "roles": roles_,
                    "renewal_days": days,
                },
            )
            for code, name, roles_, days in TRAINING
        ]
        for staff in self.rows[m.Staff.__table__]:  # type: ignore[index]
            for requirement in requirements:
                if requirement["roles"] and staff["role"] not in requirement["roles"]:
                    continue
                # Completed some time in the past renewal window; about one in five is overdue.
                completed = self.as_of - timedelta(days=self.rng.randrange(10, requirement["renewal_days"] + 90))
                self._add(
                    m.TrainingRecord,
                    {
                        "id": self._id(),
                        "staff_id": staff["id"],
                        "requirement_id": requirement["id"],
                        "completed_on": completed,
                        "expires_on": completed + timedelta(days=requirement["renewal_days"]),
                    },
                )
        return providers

    def _staff_row(self, practice_id: str, role: str) -> dict[str, Any]:
        first, last = self.fake.first_name(), self.fake.last_name()
        return self._add(
            m.Staff,
            {
                "id": self._id(),
                "practice_id": practice_id,
                "first_name": first,
                "last_name": last,
                "role": role,
                "email": f"{first.lower()}.{last.lower()}@riverbend.example",
                "active": True,
                "hired_on": self.as_of - timedelta(days=self.rng.randrange(60, 4000)),
                "birth_date": self.as_of - timedelta(days=self._credentialing_rng.randrange(26 * 365, 66 * 365)),
                "npi": None,  # a provider's individual NPI, set with the provider row
            },
        )

    def _credentials(self, staff_id: str, role: str) -> None:
        def expiring(kind: CredentialKind, issuer: str, number: str, life_days: int, state: str | None = None) -> None:
            # Spread expiries: some already expired, some within 30/60/90 days, most later.
            expires = self.as_of + timedelta(days=self.rng.choice([-20, 12, 25, 45, 75, 88, 200, 400, 700]))
            issued = expires - timedelta(days=life_days)
            self._add(
                m.Credential,
                {
                    "id": self._id(),
                    "staff_id": staff_id,
                    "kind": kind.value,
                    "number": number,
                    "issuer": issuer,
                    "issued_on": issued,
                    "expires_on": expires,
                    "verified_on": issued,
                    "status": "expired" if expires < self.as_of else "active",
                    "state": state,
                },
            )

        expiring(CredentialKind.STATE_LICENSE, "OR Medical Board", self.fake.bothify("MD######"), 730, "OR")
        if role == "physician" or self.rng.random() < 0.7:
            expiring(CredentialKind.DEA, "DEA", self.fake.bothify("B?#######").upper(), 1095)
        expiring(CredentialKind.BOARD_CERTIFICATION, "ABFM", self.fake.bothify("BC#####"), 3650)
        expiring(CredentialKind.CAQH, "CAQH", self.fake.numerify("########"), 120)
        screened = self.as_of - timedelta(days=self.rng.randrange(0, 45))
        self._add(
            m.Credential,
            {
                "id": self._id(),
                "staff_id": staff_id,
                "kind": CredentialKind.EXCLUSION_SCREENING.value,
                "number": "OIG-LEIE",
                "issuer": "OIG",
                "issued_on": screened,
                "expires_on": screened + timedelta(days=30),
                "verified_on": screened,
                "status": "active" if screened + timedelta(days=30) >= self.as_of else "expired",
                "state": None,
            },
        )
        for payer in PAYERS:
            if payer.routing is PayerRouting.NONE:
                continue
            expiring(CredentialKind.PAYER_ENROLLMENT, payer.payer_id, self.fake.bothify("ENR#######"), 1095)

    def _other_state_licenses(self, staff_id: str, states: tuple[str, ...]) -> None:
        """Licenses beyond Oregon (telehealth across state lines), valid for a year or two from ``as_of``."""
        rng = self._credentialing_rng
        for state in states:
            expires = self.as_of + timedelta(days=rng.randrange(300, 700))
            issued = expires - timedelta(days=730)
            self._add(
                m.Credential,
                {
                    "id": self._credentialing_id(),
                    "staff_id": staff_id,
                    "kind": CredentialKind.STATE_LICENSE.value,
                    "number": f"{state}{rng.randrange(10**5, 10**6)}",
                    "issuer": f"{state} Medical Board",
                    "issued_on": issued,
                    "expires_on": expires,
                    "verified_on": issued,
                    "status": "active",
                    "state": state,
                },
            )

    def _enrollments(self, providers: list[dict[str, Any]], payers: list[dict[str, Any]]) -> None:
        """Every provider enrolled (active, open-ended) with every insurer for years before ``as_of``."""
        rng = self._credentialing_rng
        for provider in providers:
            for payer in payers:
                enrollment_id = self._credentialing_id()
                effective_from = self.as_of - timedelta(days=rng.randrange(3 * 365, 6 * 365))
                # Recorded when the payer approved it, years ago: never later than an enrollment recorded today
                # (at 08:00 on the day of seeding it was in the future before 08:00 UTC).
                recorded_at = self._at(effective_from, 8)
                self._add(
                    m.PayerEnrollment,
                    {
                        "id": enrollment_id,
                        "provider_id": provider["id"],
                        "payer_id": payer["id"],
                        "status": "active",
                        "effective_from": effective_from,
                        "effective_to": None,
                        "number": f"{payer['payer_id'][-2:]}{rng.randrange(10**7, 10**8)}",
                        "created_at": recorded_at,
                        "updated_at": recorded_at,
                    },
                )

    # --- patients and their visits ---------------------------------------------------------------------

    def _patient(
        self,
        index: int,
        practice_id: str,
        locations: list[dict[str, Any]],
        providers: list[dict[str, Any]],
        insured: list[tuple[dict[str, Any], SyntheticPayer]],
    ) -> None:
        rng, fake = self.rng, self.fake
        sex = rng.choice("FM")
        first = fake.first_name_female() if sex == "F" else fake.first_name_male()
        last = fake.last_name()
        age = rng.choice([rng.randrange(1, 18), rng.randrange(18, 65), rng.randrange(18, 65), rng.randrange(65, 92)])
        birth = self.as_of - timedelta(days=age * 365 + rng.randrange(0, 365))
        address = {
            "address_line": fake.street_address(),
            "city": fake.city(),
            "state": fake.state_abbr(),
            "postal_code": fake.postcode(),
            "phone": fake.numerify("###555####"),
        }
        minor = age < 18
        guarantor_id = self._id()
        if minor:
            parent_first = fake.first_name()
            g_birth = birth - timedelta(days=rng.randrange(20 * 365, 40 * 365))
            self._add(
                m.Guarantor,
                {
                    "id": guarantor_id,
                    "account_number": f"G{index + 1:08d}",
                    "first_name": parent_first,
                    "last_name": last,
                    "birth_date": g_birth,
                    "email": None,
                    **address,
                },
            )
        else:
            g_birth = birth
            self._add(
                m.Guarantor,
                {
                    "id": guarantor_id,
                    "account_number": f"G{index + 1:08d}",
                    "first_name": first,
                    "last_name": last,
                    "birth_date": birth,
                    "email": f"{first.lower()}.{last.lower()}{index}@mail.example",
                    **address,
                },
            )
        patient_id = self._id()
        self._add(
            m.Patient,
            {
                "id": patient_id,
                "practice_id": practice_id,
                "account_number": f"P{index + 1:08d}",
                "first_name": first,
                "last_name": last,
                "birth_date": birth,
                "sex": sex,
                "email": None if minor else f"{first.lower()}.{last.lower()}{index}@mail.example",
                "guarantor_id": guarantor_id,
                "registered_at": self._at(self.as_of - timedelta(days=rng.randrange(30, 900)), 9),
                **address,
            },
        )
        coverages = self._coverages(patient_id, age, minor, last, g_birth, insured)
        self._visits(patient_id, locations, providers, coverages)

    def _coverages(
        self,
        patient_id: str,
        age: int,
        minor: bool,
        last: str,
        guarantor_birth: date,
        insured: list[tuple[dict[str, Any], SyntheticPayer]],
    ) -> list[dict[str, Any]]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.10:
            return []  # self-pay
        weights = [spec.weight * (3 if spec.kind is PayerKind.MEDICARE and age >= 65 else 1) for _, spec in insured]
        if age < 65:
            weights = [
                0 if spec.kind is PayerKind.MEDICARE else w for (_, spec), w in zip(insured, weights, strict=True)
            ]
        chosen = rng.choices(insured, weights=weights, k=2)
        coverages: list[dict[str, Any]] = []
        expired = roll < 0.18  # the only coverage ended before the visits
        start = self.as_of - timedelta(days=rng.randrange(400, 2000))
        end = self.as_of - timedelta(days=rng.randrange(200, 380)) if expired else None
        coverages.append(
            self._coverage_row(patient_id, chosen[0], CoverageRank.PRIMARY, minor, last, guarantor_birth, start, end)
        )
        if not expired and roll > 0.80 and chosen[1][1].payer_id != chosen[0][1].payer_id:
            coverages.append(
                self._coverage_row(
                    patient_id, chosen[1], CoverageRank.SECONDARY, minor, last, guarantor_birth, start, None
                )
            )
        return coverages

    def _coverage_row(
        self,
        patient_id: str,
        payer: tuple[dict[str, Any], SyntheticPayer],
        rank: CoverageRank,
        minor: bool,
        last: str,
        guarantor_birth: date,
        start: date,
        end: date | None,
    ) -> dict[str, Any]:
        relationship = (
            SubscriberRelationship.CHILD
            if minor
            else (SubscriberRelationship.SPOUSE if self.rng.random() < 0.15 else SubscriberRelationship.SELF)
        )
        self_sub = relationship is SubscriberRelationship.SELF
        return self._add(
            m.Coverage,
            {
                "id": self._id(),
                "patient_id": patient_id,
                "payer_id": payer[0]["id"],
                "rank": rank.value,
                "relationship_to_subscriber": relationship.value,
                "member_id": f"{payer[1].payer_id[-2:]}{self.rng.randrange(10**8, 10**9)}",
                "group_number": None
                if payer[1].kind in (PayerKind.MEDICARE, PayerKind.MEDICAID)
                else f"GRP{self.rng.randrange(10000, 99999)}",
                "subscriber_first_name": None if self_sub else self.fake.first_name(),
                "subscriber_last_name": None if self_sub else last,
                "subscriber_birth_date": None if self_sub else guarantor_birth,
                "effective_from": start,
                "effective_to": end,
                "eligibility_status": "unverified",
            },
        )

    def _visits(
        self,
        patient_id: str,
        locations: list[dict[str, Any]],
        providers: list[dict[str, Any]],
        coverages: list[dict[str, Any]],
    ) -> None:
        rng = self.rng
        for _ in range(rng.choice([1, 1, 2, 2, 3]) * self.visit_scale):
            days_ago = rng.randrange(-20, 150)  # negative: a future appointment
            day = self.as_of - timedelta(days=days_ago)
            telehealth = rng.random() < 0.2
            provider, location = rng.choice(providers), rng.choice(locations)
            if days_ago < 0:
                status = AppointmentStatus.SCHEDULED
            else:
                status = rng.choices(
                    [AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED],
                    weights=[85, 8, 7],
                )[0]
            appointment_id = self._id()
            self._add(
                m.Appointment,
                {
                    "id": appointment_id,
                    "patient_id": patient_id,
                    "provider_id": provider["id"],
                    "location_id": location["id"],
                    "kind": (AppointmentKind.TELEHEALTH if telehealth else AppointmentKind.IN_PERSON).value,
                    "status": status.value,
                    "starts_at": self._at(day, rng.randrange(8, 17), rng.choice([0, 20, 40])),
                    "duration_minutes": 20,
                    "visit_reason": None,
                },
            )
            if status is AppointmentStatus.COMPLETED:
                self._encounter(patient_id, appointment_id, provider, location, day, telehealth, coverages)

    def _encounter(
        self,
        patient_id: str,
        appointment_id: str,
        provider: dict[str, Any],
        location: dict[str, Any],
        day: date,
        telehealth: bool,
        coverages: list[dict[str, Any]],
    ) -> None:
        rng = self.rng
        coded = rng.random() < 0.92
        pos = rng.choice(["10", "02"]) if telehealth else location["place_of_service"]
        diagnoses = rng.sample(sorted(DIAGNOSES), k=rng.choice([1, 1, 2, 3])) if coded else []
        encounter_id = self._id()
        self._add(
            m.Encounter,
            {
                "id": encounter_id,
                "appointment_id": appointment_id,
                "patient_id": patient_id,
                "provider_id": provider["id"],
                "location_id": location["id"],
                "date_of_service": day,
                "place_of_service": pos,
                "diagnosis_codes": diagnoses,
                "coded": coded,
            },
        )
        if not coded:
            return
        codes = [rng.choice(EVALUATION_AND_MANAGEMENT)]
        if not telehealth:
            codes += rng.sample(ANCILLARY, k=rng.choice([0, 0, 1, 2]))
        # Behavioral-health visits (anxiety, depression) are now and then a psychiatric diagnostic evaluation
        # (90791) instead of an E/M visit. A separate generator decides, so the rest of the practice stays the
        # same for a seed.
        behavioral = random.Random(f"{self.seed}|behavioral|{encounter_id}")
        if set(diagnoses) & BEHAVIORAL_HEALTH_DIAGNOSES and behavioral.random() < 0.5:
            codes[0] = "90791"
        lines = []
        for number, code in enumerate(codes, start=1):
            procedure = PROCEDURES_BY_CODE[code]
            modifiers = ["95"] if telehealth else (["25"] if number == 1 and len(codes) > 1 else [])
            if code == "90791" and not telehealth:
                modifiers = []  # 25 is for an E/M visit
            pointers = list(range(1, min(len(diagnoses), 4) + 1)) if number == 1 else [1]
            lines.append(
                self._add(
                    m.ServiceLine,
                    {
                        "id": self._id(),
                        "encounter_id": encounter_id,
                        "line_number": number,
                        "procedure_code": code,
                        "modifiers": modifiers,
                        "units": 1,
                        "charge_cents": procedure.charge_cents,
                        "diagnosis_pointers": pointers,
                    },
                )
            )
        primary = next(
            (
                c
                for c in coverages
                if c["rank"] == CoverageRank.PRIMARY.value
                and c["effective_from"] <= day
                and (c["effective_to"] is None or day <= c["effective_to"])
            ),
            None,
        )
        if primary is None:
            return  # self-pay or lapsed coverage: billed to the patient, no claim
        self._prior_authorization(patient_id, primary, codes, day, behavioral)
        self._claim(patient_id, encounter_id, provider, day, primary, lines)

    def _prior_authorization(
        self, patient_id: str, coverage: dict[str, Any], codes: list[str], day: date, rng: random.Random
    ) -> None:
        """For a service the payer covers only with prior authorization: about half the patients have one that
        covers the visit, a quarter one that ended before it (the payer extends it when the biller asks), the
        rest none (the claim edit stops the claim)."""
        payer_code = self._payer_codes.get(coverage["payer_id"], "")
        needing = sorted({code for code in codes if requires_prior_authorization(payer_code, code)})
        if not needing:
            return
        roll = rng.random()
        if roll >= 0.75:
            return
        if roll < 0.5:
            valid_from, valid_to = day - timedelta(days=rng.randrange(1, 30)), day + timedelta(days=60)
        else:
            valid_from, valid_to = day - timedelta(days=120), day - timedelta(days=rng.randrange(1, 20))
        number = f"{payer_code}-PA{rng.randrange(10**7, 10**8)}"
        while (coverage["payer_id"], number) in self._authorization_numbers:
            number += "A"
        self._authorization_numbers.add((coverage["payer_id"], number))
        self._add(
            m.PriorAuthorization,
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "patient_id": patient_id,
                "payer_id": coverage["payer_id"],
                "number": number,
                "procedure_codes": needing,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "units_authorized": None,
                "created_at": self._at(valid_from, 9),
            },
        )

    def _claim(
        self,
        patient_id: str,
        encounter_id: str,
        provider: dict[str, Any],
        day: date,
        coverage: dict[str, Any],
        lines: list[dict[str, Any]],
    ) -> None:
        rng = self.rng
        age_days = (self.as_of - day).days
        status = rng.choices([s for s, _ in CLAIM_STATUS_MIX], weights=[w for _, w in CLAIM_STATUS_MIX])[0]
        if age_days < 7:
            status = rng.choice([ClaimStatus.DRAFT, ClaimStatus.READY])
        total = sum(line["charge_cents"] for line in lines)
        paid = responsibility = 0
        if status in (ClaimStatus.PAID, ClaimStatus.CLOSED):
            paid = total * rng.randrange(55, 80) // 100
            responsibility = total * rng.randrange(0, 15) // 100
        elif status is ClaimStatus.PARTIALLY_PAID:
            paid = total * rng.randrange(20, 45) // 100
            responsibility = total * rng.randrange(5, 25) // 100
        submitted = status not in (ClaimStatus.DRAFT, ClaimStatus.READY)
        claim_id = self._id()
        self._add(
            m.Claim,
            {
                "id": claim_id,
                "encounter_id": encounter_id,
                "patient_id": patient_id,
                "payer_id": coverage["payer_id"],
                "coverage_id": coverage["id"],
                "billing_provider_id": provider["id"],
                "rank": CoverageRank.PRIMARY.value,
                "status": status.value,
                "frequency_code": "1",
                "original_claim_id": None,
                "primary_claim_id": None,
                "total_charge_cents": total,
                "paid_cents": paid,
                "patient_responsibility_cents": responsibility,
                "payer_claim_control_number": f"PCN{rng.randrange(10**9, 10**10)}" if paid else None,
                "date_of_service": day,
                "created_at": self._at(day, 18),
                "submitted_at": self._at(day + timedelta(days=1), 6) if submitted else None,
                "adjudicated_at": self._at(day + timedelta(days=min(age_days, 21)), 6) if paid else None,
                "version_id": 1,
            },
        )
        remaining_paid = paid
        for line in lines:
            share = min(remaining_paid, line["charge_cents"] * paid // total if total else 0)
            if line is lines[-1]:
                share = min(remaining_paid, line["charge_cents"])
            remaining_paid -= share
            self._add(
                m.ClaimLine,
                {
                    "id": self._id(),
                    "claim_id": claim_id,
                    "service_line_id": line["id"],
                    "line_number": line["line_number"],
                    "procedure_code": line["procedure_code"],
                    "modifiers": line["modifiers"],
                    "units": line["units"],
                    "charge_cents": line["charge_cents"],
                    "diagnosis_pointers": line["diagnosis_pointers"],
                    "date_of_service": day,
                    "paid_cents": share,
                },
            )

    # --- output ----------------------------------------------------------------------------------------

    def claim_history(self) -> list[HistoricalClaim]:
        """Each seeded claim as the ledger must know it: charged, and adjudicated when the payer paid."""
        guarantors = {row["id"]: row["guarantor_id"] for row in self.rows.get(m.Patient.__table__, [])}  # type: ignore[call-overload]
        return [
            HistoricalClaim(
                claim_id=row["id"],
                patient_id=row["patient_id"],
                guarantor_id=guarantors[row["patient_id"]],
                payer_row_id=row["payer_id"],
                charge_cents=row["total_charge_cents"],
                charged_at=row["created_at"],
                paid_cents=row["paid_cents"],
                patient_responsibility_cents=row["patient_responsibility_cents"],
                adjudicated_at=row["adjudicated_at"],
            )
            for row in self.rows.get(m.Claim.__table__, [])  # type: ignore[call-overload]
        ]

    def tables(self) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
        for table in m.Base.metadata.sorted_tables:
            rows = self.rows.get(table)
            if rows:
                yield table, rows


def seed_practice(
    session: Session,
    *,
    patients: int,
    seed: int,
    as_of: date | None = None,
    batch_size: int = 5000,
    visit_scale: int = 1,
    ledger_history: bool = True,
) -> SeedSummary:
    """Insert a synthetic practice in the session's transaction; the caller commits.

    ``ledger_history`` False leaves the claims off the ledger: only for a caller that rewrites the seeded claims
    (status, payer, amounts) before charging them itself, as the posting benchmark does."""
    existing = session.execute(select(func.count()).select_from(m.Practice)).scalar_one()
    if existing:
        raise DomainError("the store already holds a practice: seed into a fresh store (a new CARECYCLE_HOME)")
    practice = SyntheticPractice(seed, as_of, visit_scale=visit_scale).generate(patients)
    summary = SeedSummary(seed=seed, as_of=practice.as_of)
    summary.counts.update(insert_practice(session, practice, batch_size=batch_size))
    # The claims' history on the ledger, through the ledger's own bulk path: charges, payments, contractual
    # adjustments and patient shares, so the ledger balances and AR aging covers the seeded claims.
    if ledger_history:
        history = post_claim_history(session, practice.claim_history(), batch=batch_size)
        summary.counts["journal_entries"] = history.entries_written
    claims = practice.rows.get(m.Claim.__table__, [])  # type: ignore[call-overload]
    summary.claims_by_status = dict(Counter(row["status"] for row in claims))
    return summary


def insert_practice(session: Session, practice: SyntheticPractice, *, batch_size: int = 5000) -> dict[str, int]:
    """The seeding path's inserts: each table's rows in bulk (executemany), in foreign-key order."""
    counts: dict[str, int] = {}
    for table, rows in practice.tables():
        for start in range(0, len(rows), batch_size):
            session.execute(insert(table), rows[start : start + batch_size])
        counts[table.name] = len(rows)
    return counts
