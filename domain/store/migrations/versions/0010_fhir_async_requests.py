"""fhir async requests: transaction Bundles accepted with Prefer: respond-async, journaled sealed, applied later

Revision ID: 0010_fhir_async_requests
Revises: 0009_remittance_trace_key
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_fhir_async_requests"
down_revision = "0009_remittance_trace_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fhir_async_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("sealed_body", sa.LargeBinary(), nullable=True),
        sa.Column("base_url", sa.String(length=255), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=60), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'done', 'failed', 'cancelled')", name=op.f("ck_fhir_async_requests_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.id"], name=op.f("fk_fhir_async_requests_client_id_api_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_async_requests")),
    )
    op.create_index(
        "ix_fhir_async_requests_status_received_at", "fhir_async_requests", ["status", "received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_fhir_async_requests_status_received_at", table_name="fhir_async_requests")
    op.drop_table("fhir_async_requests")
