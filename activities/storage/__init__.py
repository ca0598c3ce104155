"""The store's bulk writers per database, outside the domain (which defines the port: ``domain.store.bulk``)."""

from __future__ import annotations

from sqlalchemy import Engine

from activities.storage.postgres import PostgresCopyWriter
from domain.store.bulk import BulkWriter


def bulk_writer_for(engine: Engine) -> BulkWriter | None:
    """The fastest writer for the engine's database; None: the domain's portable writer is the one."""
    if engine.dialect.name == "postgresql":
        return PostgresCopyWriter()
    return None


__all__ = ["PostgresCopyWriter", "bulk_writer_for"]
