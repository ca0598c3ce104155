"""The synthetic practice's visits: appointments, encounters with their service lines, prior authorizations
and the claims of the visits that were billed."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

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
from domain.enums import AppointmentKind, AppointmentStatus, CoverageRank
from workers.synthetic.reference import CLAIM_STATUS_MIX
from workers.synthetic.rows import _Rows


class _VisitRows(_Rows):
    """Appointments, encounters, service lines, prior authorizations and claims."""

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
        # Behavioral-health visits (anxiety, depression) are now and then a psychiatric diagnostic evaluation
        # (90791) instead of an E/M visit. A separate generator decides, so the rest of the practice stays the
        # same for a seed.
        behavioral = random.Random(f"{self.seed}|behavioral|{encounter_id}")
        codes = self._procedure_codes(diagnoses, telehealth, behavioral)
        lines = self._service_lines(encounter_id, codes, diagnoses, telehealth)
        primary = _primary_on(coverages, day)
        if primary is None:
            return  # self-pay or lapsed coverage: billed to the patient, no claim
        self._prior_authorization(patient_id, primary, codes, day, behavioral)
        self._claim(patient_id, encounter_id, provider, day, primary, lines)

    def _procedure_codes(self, diagnoses: list[str], telehealth: bool, behavioral: random.Random) -> list[str]:
        """An E/M visit, in person now and then with ancillary services; 90791 for some behavioral-health visits."""
        rng = self.rng
        codes = [rng.choice(EVALUATION_AND_MANAGEMENT)]
        if not telehealth:
            codes += rng.sample(ANCILLARY, k=rng.choice([0, 0, 1, 2]))
        if set(diagnoses) & BEHAVIORAL_HEALTH_DIAGNOSES and behavioral.random() < 0.5:
            codes[0] = "90791"
        return codes

    def _service_lines(
        self, encounter_id: str, codes: list[str], diagnoses: list[str], telehealth: bool
    ) -> list[dict[str, Any]]:
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
        return lines

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
        self._claim_lines(claim_id, lines, day, paid, total)

    def _claim_lines(self, claim_id: str, lines: list[dict[str, Any]], day: date, paid: int, total: int) -> None:
        """The claim's lines, one per service line; the payment spread over them by charge (the last takes what
        is left, up to its charge)."""
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


def _primary_on(coverages: list[dict[str, Any]], day: date) -> dict[str, Any] | None:
    return next(
        (
            c
            for c in coverages
            if c["rank"] == CoverageRank.PRIMARY.value
            and c["effective_from"] <= day
            and (c["effective_to"] is None or day <= c["effective_to"])
        ),
        None,
    )
