"""Migration 0009 on SQLite and PostgreSQL: stored remittances get the trace key of the one rule, the unique key is
payer + trace key, and two rows stored before the rule whose traces share a key stay two rows (the upgrade never
fails on them)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import models as m
from domain.store.migrate import upgrade


def _insert(engine: Engine, row_id: str, trace: str, received_at: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO remittances (id, payer_id, trace_number, payment_method, payment_amount_cents, source,"
                " received_at) VALUES (:id, 'py', :trace, 'ACH', 100, '835', :at)"
            ),
            {"id": row_id, "trace": trace, "at": received_at},
        )


def test_stored_remittances_get_their_trace_keys(engine_at_revision: Callable[[str], Engine]) -> None:
    old_engine = engine_at_revision("0008_api_rate_windows")
    with old_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO payers (id, payer_id, name, kind, routing, timely_filing_days, follow_up_days) "
                "VALUES ('py', 'SBXBM', 'Blue', 'commercial', 'clearinghouse', 180, 30)"
            )
        )
    _insert(old_engine, "r1", "000123456", "2026-01-01 10:00:00")
    _insert(old_engine, "r2", "123456", "2026-01-02 10:00:00")  # the same check by another channel, stored twice
    _insert(old_engine, "r3", "EFT4242", "2026-01-03 10:00:00")
    upgrade(old_engine)
    with old_engine.connect() as conn:
        keys = {row[0]: row[1] for row in conn.execute(text("SELECT id, trace_key FROM remittances"))}
        traces = {row[0]: row[1] for row in conn.execute(text("SELECT id, trace_number FROM remittances"))}
    # r2 was stored before the rule as a payment of its own: it stays one, under a key of its own.
    assert keys == {"r1": "123456", "r2": "123456~r2", "r3": "EFT4242"}
    assert traces == {"r1": "000123456", "r2": "123456", "r3": "EFT4242"}  # as received
    with pytest.raises(IntegrityError):
        with old_engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO remittances (id, payer_id, trace_number, trace_key, payment_method,"
                    " payment_amount_cents, source, received_at)"
                    " VALUES ('r4', 'py', 'CHK 123456', '123456', 'CHK', 100, 'eob_pdf', '2026-01-04 10:00:00')"
                )
            )


def test_a_row_written_without_its_key_gets_the_rules(engine: Engine) -> None:
    """A script or a test that writes a remittance row itself (not through posting) gets the trace key of the rule."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO payers (id, payer_id, name, kind, routing, timely_filing_days, follow_up_days) "
                "VALUES ('py', 'SBXBM', 'Blue', 'commercial', 'clearinghouse', 180, 30)"
            )
        )
    with Session(engine) as session:
        session.add(
            m.Remittance(payer_id="py", trace_number="CHK 000777", payment_method="CHK", payment_amount_cents=1)
        )
        session.commit()
        assert session.execute(select(m.Remittance.trace_key)).scalar_one() == "777"
