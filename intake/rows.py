"""The rows of one intake unit: held for its life, new ones given their ids at once, bookkeeping written last.

A unit used to flush after every new row (to learn its id) and to look its patient and encounter up again for
every entry of a Bundle: about sixteen flushes and sixty statements for one new patient's visit. Here:

- **ids at once**: a new row gets its id when it is added, so nothing needs a flush to be referenced;
- **held rows**: every row the unit created or loaded is held (the session's identity map holds unchanged rows
  only weakly and pending ones not at all), so ``get`` answers without the store;
- **flushes only for order**: SQLAlchemy orders a flush by ``relationship()``s, not by foreign keys, so a new
  row that references another table's pending row flushes that first (``add``); the rest waits for the commit;
- **written last**: a visit's new rows (appointment, encounter, diagnoses and charges, service lines) and the
  bookkeeping (identifiers, accepted versions, queued starts) are inserted together when the unit ends, one
  statement per table in foreign-key order (``later``, ``write_later``): nothing in a unit reads them from the
  store without asking here first (``created_rows``), so a visit closed in the same unit is inserted closed
  (no UPDATE after the INSERT). A step that must see them in the store (a merge's bulk update) writes them out
  first. Patients, guarantors and coverages go through the session: the domain's rules query them.

Everything here lives in ``Session.info``: the unit's session lives exactly as long as the unit.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session, make_transient_to_detached

from domain import models as m

M = TypeVar("M", bound=m.Base)

_HELD = "intake_rows"
_CREATED = "intake_created"
_EXISTING = "intake_existing"
_LATER = "intake_later"


def _held(session: Session) -> dict[tuple[type[m.Base], Any], m.Base]:
    held: dict[tuple[type[m.Base], Any], m.Base] = session.info.setdefault(_HELD, {})
    return held


def keep(session: Session, row: m.Base) -> None:
    """Hold a row of the store for the unit's life, so ``get`` finds it without the store."""
    keep_row(session, row)


def keep_row(session: Session, row: M) -> M:
    """``keep``, returning the row."""
    held = _held(session).setdefault((type(row), row.id), row)  # type: ignore[attr-defined]
    return held  # type: ignore[return-value]


def get(session: Session, model: type[M], row_id: Any) -> M | None:
    """A row by primary key: one this unit holds, else from the session (and then held)."""
    held = _held(session).get((model, row_id))
    if held is not None:
        return held  # type: ignore[return-value]
    row = session.get(model, row_id)
    if row is not None:
        _held(session)[(model, row_id)] = row
    return row


# A visit's rows are written when the unit ends: no module reads them from the store inside a unit without
# asking this one first (``created_rows``), and the ones who reference each other are then inserted in order.
WRITTEN_LAST: tuple[type[m.Base], ...] = (m.Appointment, m.Encounter, m.ClinicalEntry, m.ServiceLine)


def add(session: Session, row: M) -> M:
    """A new row of this unit, its id given now. A visit's row (``WRITTEN_LAST``) is inserted when the unit ends;
    any other is added to the session, a pending row of a table it references flushed first (a flush orders
    tables by ``relationship()``s only)."""
    if getattr(row, "id", None) is None:
        row.id = m.new_id()  # type: ignore[attr-defined]
    if isinstance(row, WRITTEN_LAST):
        later(session, row)
    else:
        if session.new and _references_pending(session, type(row)):
            session.flush()
        session.add(row)
    _held(session)[(type(row), row.id)] = row  # type: ignore[attr-defined]
    session.info.setdefault(_CREATED, set()).add((type(row), row.id))  # type: ignore[attr-defined]
    return row


def _references_pending(session: Session, model: type[m.Base]) -> bool:
    referenced = {fk.column.table for fk in model.__table__.foreign_keys}
    return any(type(pending).__table__ in referenced for pending in session.new)


def created(session: Session, model: type[m.Base], row_id: str | None) -> bool:
    """Whether this unit created the row (then the store holds nothing that refers to it but this unit's rows)."""
    return row_id is not None and (model, row_id) in session.info.get(_CREATED, ())


def created_rows(session: Session, model: type[M]) -> list[M]:
    """The rows of ``model`` this unit created, in the order it created them."""
    mine = session.info.get(_CREATED, ())
    return [row for (kind, row_id), row in _held(session).items() if kind is model and (kind, row_id) in mine]  # type: ignore[misc]


def known_to_exist(session: Session, model: type[m.Base], row_id: str) -> None:
    """A row this unit wrote through another module (the domain's registration): it exists."""
    session.info.setdefault(_EXISTING, set()).add((model, row_id))


def exists(session: Session, model: type[m.Base], row_id: str) -> bool:
    return (model, row_id) in session.info.get(_EXISTING, ()) or get(session, model, row_id) is not None


def later(session: Session, row: m.Base) -> None:
    """A row to insert when the unit ends: a visit's row, or bookkeeping (an identifier, an accepted version, a
    queued start)."""
    session.info.setdefault(_LATER, []).append(row)


def forget_later(session: Session, model: type[m.Base], row_id: str) -> bool:
    """Drop a row kept for later (``later``) before it is written; False if it was not waiting (written already)."""
    pending: list[m.Base] = session.info.get(_LATER, [])
    kept = [row for row in pending if not (isinstance(row, model) and row.id == row_id)]  # type: ignore[attr-defined]
    dropped = len(kept) != len(pending)
    pending[:] = kept
    return dropped


def write_later(session: Session, *, keep_tracking: bool = False) -> None:
    """Insert the rows kept for later, in foreign-key order, one statement per table (and set of columns), after
    what the session has pending. Accepted versions (and with ``keep_tracking``, every row: a step in the middle of
    a unit that must see them in the store) join the session afterwards, so a later change of them is written."""
    pending: list[m.Base] = session.info.pop(_LATER, [])
    if not pending:
        return
    session.flush()
    groups: dict[tuple[Table, frozenset[str]], list[dict[str, Any]]] = {}
    for row in sorted(pending, key=lambda r: _ORDER[r.__table__]):  # type: ignore[index]  # stable: add order kept
        table: Table = row.__table__  # type: ignore[assignment]
        values = {c.key: row.__dict__[c.key] for c in table.columns if c.key in row.__dict__}
        groups.setdefault((table, frozenset(values)), []).append(values)
    connection = session.connection()
    for (table, _), values_list in groups.items():
        connection.execute(insert(table), values_list)
    for row in pending:
        if keep_tracking or isinstance(row, m.IntakeRecord):
            make_transient_to_detached(row)
            session.add(row)


_ORDER = {table: number for number, table in enumerate(m.Base.metadata.sorted_tables)}
