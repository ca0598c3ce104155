"""Remittance trace keys: one payment is one row however a channel prints its check/EFT number

A payment was unique by payer and trace number exactly as received, so the 835's TRN02 ``000123456`` and the
portal EOB's ``CHK 123456`` of the same check were two payments (posted twice, or parked as
``exceeds_claim_balance``). Each row now carries ``trace_key`` (``domain.remittance.trace_key``, the one rule) and
the unique key is payer + trace key; ``trace_number`` stays as received, for display and audit.

Existing rows get their key from the same rule. Two stored rows of one payer whose traces share a key (the
duplicate this migration is about) cannot both hold it: the later one keeps its trace as received for its key, so
the upgrade never fails and nothing is merged behind a person's back (they stay two rows, as they were).

Revision ID: 0009_remittance_trace_key
Revises: 0008_api_rate_windows
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from domain.remittance import trace_key

revision = "0009_remittance_trace_key"
down_revision = "0008_api_rate_windows"
branch_labels = None
depends_on = None

_remittances = sa.table(
    "remittances",
    sa.column("id", sa.String),
    sa.column("payer_id", sa.String),
    sa.column("trace_number", sa.String),
    sa.column("trace_key", sa.String),
    sa.column("received_at", sa.DateTime),
)


def upgrade() -> None:
    with op.batch_alter_table("remittances") as batch:
        batch.add_column(sa.Column("trace_key", sa.String(length=50), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_remittances.c.id, _remittances.c.payer_id, _remittances.c.trace_number).order_by(
            _remittances.c.received_at, _remittances.c.id
        )
    ).all()
    taken: set[tuple[str, str]] = set()
    keys = []
    for row_id, payer_id, trace in rows:
        key = trace_key(trace)
        if (payer_id, key) in taken:  # a duplicate stored before the rule: kept apart, as it was
            key = trace.strip()[:50]
        if (payer_id, key) in taken:
            key = f"{trace.strip()[:40]}~{row_id[:8]}"
        taken.add((payer_id, key))
        keys.append({"row_id": row_id, "key": key})
    if keys:
        connection.execute(
            _remittances.update()
            .where(_remittances.c.id == sa.bindparam("row_id"))
            .values(trace_key=sa.bindparam("key")),
            keys,
        )
    with op.batch_alter_table("remittances") as batch:
        batch.alter_column("trace_key", existing_type=sa.String(length=50), nullable=False)
        batch.drop_constraint("uq_remittances_payer_trace", type_="unique")
        batch.create_unique_constraint("uq_remittances_payer_trace_key", ["payer_id", "trace_key"])


def downgrade() -> None:
    with op.batch_alter_table("remittances") as batch:
        batch.drop_constraint("uq_remittances_payer_trace_key", type_="unique")
        batch.create_unique_constraint("uq_remittances_payer_trace", ["payer_id", "trace_number"])
        batch.drop_column("trace_key")
