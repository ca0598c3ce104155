"""hl7 messages: what the HL7 v2 listener took (sender, control id, sealed raw text, ACK)

Revision ID: 0005_hl7_messages
Revises: 0004_console_access_audit_chain
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_hl7_messages"
down_revision = "0004_console_access_audit_chain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hl7_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sender", sa.String(length=120), nullable=False),
        sa.Column("control_id", sa.String(length=199), nullable=False),
        sa.Column("message_type", sa.String(length=20), nullable=False),
        sa.Column("document_key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("ack_code", sa.String(length=2), nullable=True),
        sa.Column("ack_text", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=8), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('received', 'processed', 'failed')", name=op.f("ck_hl7_messages_status_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_messages")),
        sa.UniqueConstraint("sender", "control_id", name="uq_hl7_messages_sender_control_id"),
    )
    with op.batch_alter_table("hl7_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hl7_messages_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hl7_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hl7_messages_status"))
    op.drop_table("hl7_messages")
