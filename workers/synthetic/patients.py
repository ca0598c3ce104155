"""The synthetic practice's patients: each with a guarantor and coverages."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from domain import models as m
from domain.enums import CoverageRank, PayerKind, SubscriberRelationship
from workers.synthetic.reference import SyntheticPayer
from workers.synthetic.rows import _Rows


class _PatientRows(_Rows):
    """Patients, their guarantors and coverages."""

    def _patient(
        self,
        index: int,
        practice_id: str,
        insured: list[tuple[dict[str, Any], SyntheticPayer]],
    ) -> tuple[str, list[dict[str, Any]]]:
        """One patient, the guarantor and the coverages; returns the patient's id and coverages (its visits are
        drawn next, from the same generator)."""
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
        guarantor_id, g_birth = self._guarantor(index, first, last, birth, minor, address)
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
        return patient_id, self._coverages(patient_id, age, minor, last, g_birth, insured)

    def _guarantor(
        self, index: int, first: str, last: str, birth: date, minor: bool, address: dict[str, str]
    ) -> tuple[str, date]:
        """The person who pays: a parent for a minor (their own name and birth date), else the patient.
        Returns the guarantor's id and birth date."""
        rng, fake = self.rng, self.fake
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
        return guarantor_id, g_birth

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
