"""API rate windows: each client's calls per minute, counted in the store

The integration API's per-client limit was a token bucket in each API process's memory, so N processes behind the
load balancer let a client make N times its limit. The count now lives in the store (one row per client and
minute, added to by every process in the call's own transaction).

Revision ID: 0008_api_rate_windows
Revises: 0007_claim_submissions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_api_rate_windows"
down_revision = "0007_claim_submissions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_rate_windows",
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("window_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.id"], name=op.f("fk_api_rate_windows_client_id_api_clients")
        ),
        sa.PrimaryKeyConstraint("client_id", "window_start", name=op.f("pk_api_rate_windows")),
    )


def downgrade() -> None:
    op.drop_table("api_rate_windows")
