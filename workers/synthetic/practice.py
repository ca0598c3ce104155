"""The synthetic practice: one generator that draws, from one seed, the practice, its people, payers and
patients with their visits and claims (the parts are the rows, staff, patients and visits modules)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Table

from domain import models as m
from domain.errors import DomainError
from domain.ledger.service import HistoricalClaim
from workers.synthetic.patients import _PatientRows
from workers.synthetic.reference import PAYERS
from workers.synthetic.staff import _StaffRows
from workers.synthetic.visits import _VisitRows


class SyntheticPractice(_StaffRows, _PatientRows, _VisitRows):
    """Generates the rows of one synthetic practice, table by table, in foreign-key order."""

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
            patient_id, coverages = self._patient(index, practice_id, insured)
            self._visits(patient_id, locations, providers, coverages)
        return self

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
