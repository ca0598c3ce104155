"""The synthetic practice's people: staff and providers, their credentials and other states' licenses, and
the providers' payer enrollments (drawn from the credentialing generator where a seed must stay as it was)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain import models as m
from domain.enums import CredentialKind, PayerRouting
from workers.synthetic.reference import OTHER_STATE_LICENSES, PAYERS, TRAINING
from workers.synthetic.rows import _Rows


class _StaffRows(_Rows):
    """Staff, providers, credentials, licenses and payer enrollments."""

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
