"""The practice, its locations, its providers and its staff."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, uuid_pk


class Practice(Base):
    __tablename__ = "practices"
    id: Mapped[str] = uuid_pk()
    name: Mapped[str] = mapped_column(String(120))
    npi: Mapped[str] = mapped_column(String(10))  # group (type 2) NPI: the billing provider
    tax_id: Mapped[str] = mapped_column(String(9))
    taxonomy: Mapped[str] = mapped_column(String(10))
    address_line: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str] = mapped_column(String(20))


class Location(Base):
    __tablename__ = "locations"
    id: Mapped[str] = uuid_pk()
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    address_line: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(10))
    place_of_service: Mapped[str] = mapped_column(String(2), default="11")


class Provider(Base):
    __tablename__ = "providers"
    id: Mapped[str] = uuid_pk()
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    credential: Mapped[str] = mapped_column(String(10))  # MD, DO, NP, PA
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    taxonomy: Mapped[str] = mapped_column(String(10))
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"), default=None)


class Staff(Base):
    __tablename__ = "staff"
    __phi__ = ("email", "birth_date")
    id: Mapped[str] = uuid_pk()
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(40))  # physician, nurse, biller, front_desk, coordinator
    email: Mapped[str] = mapped_column(String(120))
    hired_on: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Exclusion screening matches a person by NPI, then by name and birth date (docs/staff.md).
    birth_date: Mapped[date | None] = mapped_column(Date, default=None)
    npi: Mapped[str | None] = mapped_column(String(10), index=True, default=None)  # individual (type 1) NPI
