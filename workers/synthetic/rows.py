"""The generator's state (its seeded random generators, Faker, the rows so far) and the small helpers every
part of the synthetic practice draws ids, NPIs and times from."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time
from typing import Any

from faker import Faker
from sqlalchemy import Table

from domain import models as m
from domain.codes import make_npi
from domain.errors import DomainError


class _Rows:
    """The rows of one synthetic practice so far, by table, and the seeded generators they are drawn from."""

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
