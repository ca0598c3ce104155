"""The practice's reference data as intake reads it for every event: payers by their X12 payer id, providers by
NPI, locations, the practice itself. Plain values (no ORM rows), kept per store for ``REFERENCE_SECONDS``.

Every Bundle and HL7 message names the same few payers, providers and locations: looking them up each time was
five queries of a new patient's visit. What is kept, and why that is safe:

- only what was found (a payer, provider or location added a moment ago is found on its first use);
- for ``REFERENCE_SECONDS`` (30 s) at most, so a change (a provider's NPI corrected, a location added, a payer
  made self-pay) reaches intake within that time;
- rows the events then point at are checked by the store's foreign keys when the unit writes: a payer, provider
  or location deleted meanwhile makes the unit fail whole (nothing half-written), never a dangling reference.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from domain import models as m
from domain.enums import PayerKind

REFERENCE_SECONDS = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class PayerRef:
    id: str
    payer_id: str  # the X12 payer id
    kind: PayerKind


@dataclass(frozen=True)
class ProviderRef:
    id: str
    npi: str


@dataclass(frozen=True)
class LocationRef:
    id: str
    place_of_service: str


_PAYER = select(m.Payer.id, m.Payer.payer_id, m.Payer.kind).where(m.Payer.payer_id == bindparam("code"))
_PROVIDER = select(m.Provider.id, m.Provider.npi).where(m.Provider.npi == bindparam("npi"))
_LOCATION = select(m.Location.id, m.Location.place_of_service).where(m.Location.id == bindparam("id"))
_FIRST_LOCATION = select(m.Location.id, m.Location.place_of_service).order_by(m.Location.name, m.Location.id).limit(1)
_PRACTICE = select(m.Practice.id).limit(1)


class _Kept:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], tuple[float, Any]] = {}
        self.lock = threading.Lock()


_STORES: weakref.WeakKeyDictionary[Engine, _Kept] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def _kept(session: Session) -> _Kept | None:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else getattr(bind, "engine", None)
    if not isinstance(engine, Engine):
        return None
    with _GUARD:
        found = _STORES.get(engine)
        if found is None:
            found = _STORES[engine] = _Kept()
        return found


def _cached(session: Session, key: tuple[str, str], load: Callable[[], T | None]) -> T | None:
    kept = _kept(session)
    now = time.monotonic()
    if kept is not None:
        with kept.lock:
            hit = kept.values.get(key)
        if hit is not None and now - hit[0] < REFERENCE_SECONDS:
            value: T = hit[1]
            return value
    loaded = load()
    if loaded is not None and kept is not None:
        with kept.lock:
            kept.values[key] = (now, loaded)
    return loaded


def forget(session: Session) -> None:
    """Drop what is kept for this store (e.g. right after the practice's set-up changed)."""
    kept = _kept(session)
    if kept is not None:
        with kept.lock:
            kept.values.clear()


def payer(session: Session, code: str) -> PayerRef | None:
    def load() -> PayerRef | None:
        row = session.connection().execute(_PAYER, {"code": code}).first()
        return PayerRef(row.id, row.payer_id, PayerKind(row.kind)) if row is not None else None

    return _cached(session, ("payer", code), load)


def provider(session: Session, npi: str) -> ProviderRef | None:
    def load() -> ProviderRef | None:
        row = session.connection().execute(_PROVIDER, {"npi": npi}).first()
        return ProviderRef(row.id, row.npi) if row is not None else None

    return _cached(session, ("provider", npi), load)


def location(session: Session, location_id: str | None) -> LocationRef | None:
    """A location by id, or (``None``) the practice's first by name: the default of an event that names none."""

    def load() -> LocationRef | None:
        if location_id is None:
            row = session.connection().execute(_FIRST_LOCATION).first()
        else:
            row = session.connection().execute(_LOCATION, {"id": location_id}).first()
        return LocationRef(row.id, row.place_of_service) if row is not None else None

    return _cached(session, ("location", location_id or ""), load)


def practice_id(session: Session) -> str | None:
    def load() -> str | None:
        found: str | None = session.connection().execute(_PRACTICE).scalar()
        return found

    return _cached(session, ("practice", ""), load)
