"""X12 control numbers we send (ISA13, GS06, ST02): unique, persisted, safe for concurrent workers.

Each kind is one row of ``control_numbers``. Reserving is one ``UPDATE ... SET last_value = last_value + n
RETURNING last_value``: on PostgreSQL the UPDATE takes the row lock, so a concurrent worker waits for our
commit and then gets the next block; on SQLite the UPDATE takes the database's single writer lock. Either way
two files never share a number. Numbers are reserved in the caller's transaction (its unit of work commits):
if the file is not sent because the transaction rolls back, the numbers are not used up either.
"""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.models import ControlNumber
from domain.x12.envelope import ControlNumbers

MAX_CONTROL_NUMBER = 999_999_999  # ISA13 and GS06 are at most nine digits
INTERCHANGE = "isa13"
GROUP = "gs06"
TRANSACTION = "st02"


def reserve(session: Session, name: str, count: int = 1) -> int:
    """Reserve ``count`` consecutive numbers of kind ``name``; returns the first. Wraps to 1 after 999999999."""
    if count < 1:
        raise ValueError("count must be at least 1")
    last = _bump(session, name, count)
    if last is None:
        _create(session, name)
        last = _bump(session, name, count)
        assert last is not None
    if last > MAX_CONTROL_NUMBER:
        # Wrap around under the same row lock: the block starts again at 1.
        session.execute(update(ControlNumber).where(ControlNumber.name == name).values(last_value=count))
        return 1
    return last - count + 1


def _bump(session: Session, name: str, count: int) -> int | None:
    statement = (
        update(ControlNumber)
        .where(ControlNumber.name == name)
        .values(last_value=ControlNumber.last_value + count)
        .returning(ControlNumber.last_value)
    )
    return session.execute(statement).scalar_one_or_none()


def _create(session: Session, name: str) -> None:
    # Two workers may both find the row missing: one insert wins, the other's savepoint rolls back harmlessly.
    try:
        with session.begin_nested():
            session.execute(insert(ControlNumber).values(name=name, last_value=0))
    except IntegrityError:
        pass


def next_numbers(session: Session, *, transactions: int = 1, groups: int = 1) -> ControlNumbers:
    """ISA13, the first of ``groups`` GS06 numbers and the first of ``transactions`` ST02 numbers for one file."""
    interchange = reserve(session, INTERCHANGE)
    group = reserve(session, GROUP, groups)
    first_transaction = reserve(session, TRANSACTION, transactions)
    if first_transaction + transactions - 1 > 9999:
        # ST02 is written with at least four digits; keep it short by wrapping within the four-digit range.
        first_transaction = (first_transaction - 1) % (10_000 - transactions) + 1
    return ControlNumbers(interchange=interchange, group=group, first_transaction=first_transaction)
