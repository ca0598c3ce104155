"""claim submissions: each 837P interchange a claim was sent in

Claim submit builds and records the 837P in one transaction, calls the clearinghouse outside it and records the
outcome in another, keyed by the interchange control number. Claims sent before this revision keep their record in
the audit trail (``claim.submitted``), which a retried submit still reads.

Revision ID: 0007_claim_submissions
Revises: 0006_collections_policy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_claim_submissions"
down_revision = "0006_collections_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claim_submissions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("interchange_control_number", sa.Integer(), nullable=False),
        sa.Column("group_control_number", sa.Integer(), nullable=False),
        sa.Column("frequency_code", sa.String(length=1), nullable=False),
        sa.Column("claim_version", sa.Integer(), nullable=False),
        sa.Column("x12", sa.Text(), nullable=False),
        sa.Column("document_key", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("batch_id", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_claim_submissions_claim_id_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_submissions")),
        sa.UniqueConstraint("interchange_control_number", name="uq_claim_submissions_interchange"),
    )
    op.create_index("ix_claim_submissions_claim_state", "claim_submissions", ["claim_id", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_claim_submissions_claim_state", table_name="claim_submissions")
    op.drop_table("claim_submissions")
