"""collections policy versions; patients by birth date

The practice's collections policy becomes configuration in the store, one row per version (the newest in
force); no row means the defaults of domain.collections_policy.CollectionsPolicy (version 0). Patients get an
index on their birth date: the duplicate-patient rule (domain.duplicates) looks candidates up by it.

Revision ID: 0006_collections_policy
Revises: 0005_hl7_messages
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_collections_policy"
down_revision = "0005_hl7_messages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collections_policy_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_collections_policy_versions")),
    )
    op.create_index(op.f("ix_patients_birth_date"), "patients", ["birth_date"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_patients_birth_date"), table_name="patients")
    op.drop_table("collections_policy_versions")
