"""console access control and the hash-chained audit trail

Server-side console sessions, sign-in throttles keyed by address / typed name / device (the per-user lock
columns go), the audit chain's head and each audit event's sequence number and hashes. Existing audit events
are chained in the order they were written (occurred_at, id).

Revision ID: 0004_console_access_audit_chain
Revises: 0003_front_door, 0003_visits_telehealth (it also joins those two heads into one)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from domain.audit import GENESIS_HASH, row_hash

revision = "0004_console_access_audit_chain"
down_revision = ("0003_front_door", "0003_visits_telehealth")
branch_labels = None
depends_on = None

_EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.String(36)),
    sa.column("seq", sa.Integer()),
    sa.column("prev_hash", sa.String(64)),
    sa.column("row_hash", sa.String(64)),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String(60)),
    sa.column("action", sa.String(60)),
    sa.column("entity_type", sa.String(30)),
    sa.column("entity_id", sa.String(36)),
    sa.column("workflow_id", sa.String(120)),
    sa.column("details", sa.JSON()),
)


def _append_only(enable: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if enable and sqlite:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
    elif enable:
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )
    elif sqlite:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")


def _chain_existing_events() -> tuple[int, str]:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_EVENTS).order_by(_EVENTS.c.occurred_at, _EVENTS.c.id)).mappings().all()
    prev, seq = GENESIS_HASH, 0
    for row in rows:
        seq += 1
        digest = row_hash(
            prev,
            seq=seq,
            occurred_at=row["occurred_at"],
            actor=row["actor"],
            action=row["action"],
            entity_type=row["entity_type"],
            entity_id=row["entity_id"],
            workflow_id=row["workflow_id"],
            details=row["details"],
        )
        bind.execute(
            sa.update(_EVENTS).where(_EVENTS.c.id == row["id"]).values(seq=seq, prev_hash=prev, row_hash=digest)
        )
        prev = digest
    return seq, prev


def upgrade() -> None:
    with op.batch_alter_table("console_users", schema=None) as batch_op:
        batch_op.drop_column("failed_attempts")
        batch_op.drop_column("locked_until")
        batch_op.add_column(sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["console_users.id"], name=op.f("fk_console_sessions_user_id_console_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
    )
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_console_sessions_user_open", ["user_id", "ended_at"], unique=False)

    op.create_table(
        "sign_in_throttles",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttles")),
    )
    with op.batch_alter_table("sign_in_throttles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_throttles_locked_until"), ["locked_until"], unique=False)

    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain")),
    )

    _append_only(False)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
    last_seq, last_hash = _chain_existing_events()
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("row_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_seq"), ["seq"])
        batch_op.create_index("ix_audit_events_actor", ["actor", "occurred_at"], unique=False)
        batch_op.create_index("ix_audit_events_action", ["action", "occurred_at"], unique=False)
    _append_only(True)
    op.execute(
        sa.table("audit_chain", sa.column("id"), sa.column("last_seq"), sa.column("last_hash"))
        .insert()
        .values(id=1, last_seq=last_seq, last_hash=last_hash)
    )


def downgrade() -> None:
    _append_only(False)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_action")
        batch_op.drop_index("ix_audit_events_actor")
        batch_op.drop_constraint(batch_op.f("uq_audit_events_seq"), type_="unique")
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    _append_only(True)
    op.drop_table("audit_chain")
    with op.batch_alter_table("sign_in_throttles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_throttles_locked_until"))
    op.drop_table("sign_in_throttles")
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_console_sessions_user_open")
    op.drop_table("console_sessions")
    with op.batch_alter_table("console_users", schema=None) as batch_op:
        batch_op.drop_column("password_changed_at")
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"))
