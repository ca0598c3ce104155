"""The declarative base every entity of :mod:`domain.models` maps on: one ``MetaData`` with the naming convention.

Entities are plain declarative classes; the rules that act on them live beside them as functions and
methods that need no database. PHI columns are named in each class's ``__phi__``, so that a ``repr`` of a row
never shows them.

Primary keys are UUID strings (:func:`uuid_pk`): workflows carry them as opaque business keys.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[str]: JSON, list[int]: JSON}

    # Columns named here are PHI: never shown by repr, never put in logs or workflow payloads.
    __phi__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        shown = []
        for column in self.__table__.columns:
            if column.key in self.__phi__:
                continue
            shown.append(f"{column.key}={getattr(self, column.key, None)!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


def uuid_pk() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_id)
