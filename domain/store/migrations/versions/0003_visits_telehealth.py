"""visits and telehealth: appointments with FHIR statuses, virtual visits, consents, the messaging outbox

Revision ID: 0003_visits_telehealth
Revises: 0002_credentialing
Create Date: 2026-12-04

Appointment statuses take FHIR's values (scheduled -> booked, checked_in -> arrived, completed -> fulfilled,
no_show -> noshow).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_visits_telehealth"
down_revision = "0002_credentialing"
branch_labels = None
depends_on = None

STATUS_RENAMES = (("scheduled", "booked"), ("checked_in", "arrived"), ("completed", "fulfilled"), ("no_show", "noshow"))


def upgrade() -> None:
    op.create_table(
        "message_opt_outs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_message_opt_outs_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_opt_outs")),
        sa.UniqueConstraint("patient_id", "channel", name="uq_message_opt_outs_patient_channel"),
    )
    with op.batch_alter_table("message_opt_outs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_opt_outs_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("template", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=True),
        sa.Column("to_address", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=True),
        sa.Column("provider_message_id", sa.String(length=80), nullable=True),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"], name=op.f("fk_outbound_messages_appointment_id_appointments")
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_outbound_messages_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_messages")),
        sa.UniqueConstraint("key", name=op.f("uq_outbound_messages_key")),
    )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbound_messages_appointment_id"), ["appointment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbound_messages_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbound_messages_provider_message_id"), ["provider_message_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbound_messages_status"), ["status"], unique=False)

    op.create_table(
        "telehealth_consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=True),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("patient_state", sa.String(length=2), nullable=False),
        sa.Column("recorded_by", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"], name=op.f("fk_telehealth_consents_appointment_id_appointments")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_telehealth_consents_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telehealth_consents")),
    )
    with op.batch_alter_table("telehealth_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_telehealth_consents_appointment_id"), ["appointment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_telehealth_consents_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "virtual_visits",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("vendor", sa.String(length=20), nullable=False),
        sa.Column("room_name", sa.String(length=80), nullable=True),
        sa.Column("room_url", sa.String(length=255), nullable=True),
        sa.Column("provider_join_url", sa.String(length=2000), nullable=True),
        sa.Column("tokens_issued", sa.Integer(), nullable=False),
        sa.Column("room_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("patient_location", sa.String(length=10), nullable=True),
        sa.Column("patient_state", sa.String(length=2), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("patient_joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("audio_only", sa.Boolean(), nullable=False),
        sa.Column("audio_fallback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("blocked_reason", sa.String(length=40), nullable=True),
        sa.Column("invites_sent", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"], name=op.f("fk_virtual_visits_appointment_id_appointments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_virtual_visits")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_virtual_visits_appointment_id")),
    )
    with op.batch_alter_table("virtual_visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_virtual_visits_state"), ["state"], unique=False)

    # Plain ALTER TABLE ... ADD COLUMN on both databases: on SQLite a batch rebuild would drop the table, which its
    # foreign keys forbid once encounters point at it. Existing rows get server defaults, which stay in the schema
    # for that reason; new rows get their values from the models.
    epoch = sa.text("'1970-01-01 00:00:00+00:00'")
    op.add_column(
        "appointments", sa.Column("visit_type", sa.String(length=30), nullable=False, server_default="follow_up")
    )
    op.add_column("appointments", sa.Column("source", sa.String(length=20), nullable=False, server_default="seed"))
    op.add_column("appointments", sa.Column("cancel_reason", sa.String(length=40), nullable=True))
    op.add_column(
        "appointments", sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=epoch)
    )
    op.add_column(
        "appointments", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=epoch)
    )
    op.add_column("appointments", sa.Column("eligibility_status", sa.String(length=20), nullable=True))
    op.add_column("appointments", sa.Column("eligibility_checked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("appointments", sa.Column("eligibility_fingerprint", sa.String(length=64), nullable=True))
    op.add_column("appointments", sa.Column("version_id", sa.Integer(), nullable=False, server_default="1"))
    op.create_index("ix_appointments_provider_starts", "appointments", ["provider_id", "starts_at"], unique=False)
    appointments = sa.table(
        "appointments",
        sa.column("status", sa.String),
        sa.column("starts_at", sa.DateTime(timezone=True)),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.execute(appointments.update().values(created_at=appointments.c.starts_at, updated_at=appointments.c.starts_at))
    for old, new in STATUS_RENAMES:
        op.execute(appointments.update().where(appointments.c.status == old).values(status=new))
    op.add_column("encounters", sa.Column("telehealth_modifier", sa.String(length=2), nullable=True))
    op.add_column("encounters", sa.Column("duration_minutes", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.drop_column("duration_minutes")
        batch_op.drop_column("telehealth_modifier")

    appointments = sa.table("appointments", sa.column("status", sa.String))
    for old, new in STATUS_RENAMES:
        op.execute(appointments.update().where(appointments.c.status == new).values(status=old))
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_provider_starts")
        for name in (
            "version_id",
            "eligibility_fingerprint",
            "eligibility_checked_at",
            "eligibility_status",
            "updated_at",
            "created_at",
            "cancel_reason",
            "source",
            "visit_type",
        ):
            batch_op.drop_column(name)

    with op.batch_alter_table("virtual_visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_virtual_visits_state"))
    op.drop_table("virtual_visits")
    with op.batch_alter_table("telehealth_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telehealth_consents_patient_id"))
        batch_op.drop_index(batch_op.f("ix_telehealth_consents_appointment_id"))
    op.drop_table("telehealth_consents")
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_messages_status"))
        batch_op.drop_index(batch_op.f("ix_outbound_messages_provider_message_id"))
        batch_op.drop_index(batch_op.f("ix_outbound_messages_patient_id"))
        batch_op.drop_index(batch_op.f("ix_outbound_messages_appointment_id"))
    op.drop_table("outbound_messages")
    with op.batch_alter_table("message_opt_outs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_opt_outs_patient_id"))
    op.drop_table("message_opt_outs")
