"""credentialing: staff birth date and NPI, license state, payer enrollments, exclusion screenings and matches

Revision ID: 0002_credentialing
Revises: 0001
Create Date: 2026-12-04 20:30:45.540062

Existing rows are carried over so that nothing stops working at the upgrade: a staff member who is a provider
gets the provider's NPI; a state license gets the state its issuer names first ("OR Medical Board" -> OR); and
every ``payer_enrollment`` credential that is not revoked becomes an active enrollment with that payer from its
issue date (before this revision the credential was the only record of an enrollment; claims now need one).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002_credentialing"
down_revision = "0001"
branch_labels = None
depends_on = None

# The USPS codes as of this revision (a migration keeps its own copy: it must not change with the code).
_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP".split()
)


def upgrade() -> None:
    op.create_table(
        "exclusion_screenings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("screened_on", sa.Date(), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("staff_screened", sa.Integer(), nullable=False),
        sa.Column("matches_found", sa.Integer(), nullable=False),
        sa.Column("new_matches", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exclusion_screenings")),
    )
    with op.batch_alter_table("exclusion_screenings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exclusion_screenings_screened_on"), ["screened_on"], unique=False)

    op.create_table(
        "exclusion_matches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("list_key", sa.String(length=64), nullable=False),
        sa.Column("basis", sa.String(length=10), nullable=False),
        sa.Column("exclusion_type", sa.String(length=80), nullable=False),
        sa.Column("excluded_on", sa.Date(), nullable=False),
        sa.Column("reinstated_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("found_on", sa.Date(), nullable=False),
        sa.Column("screening_id", sa.String(length=36), nullable=True),
        sa.Column("decided_by", sa.String(length=60), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("basis IN ('npi', 'name_dob', 'name')", name=op.f("ck_exclusion_matches_basis_known")),
        sa.CheckConstraint(
            "status IN ('open', 'confirmed', 'cleared')", name=op.f("ck_exclusion_matches_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["screening_id"],
            ["exclusion_screenings.id"],
            name=op.f("fk_exclusion_matches_screening_id_exclusion_screenings"),
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_exclusion_matches_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exclusion_matches")),
        sa.UniqueConstraint("staff_id", "source", "list_key", name="uq_exclusion_matches_record"),
    )
    with op.batch_alter_table("exclusion_matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exclusion_matches_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "payer_enrollments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("provider_id", sa.String(length=36), nullable=False),
        sa.Column("payer_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("number", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status <> 'terminated' OR effective_to IS NOT NULL", name=op.f("ck_payer_enrollments_termination_dated")
        ),
        sa.CheckConstraint(
            "status = 'pending' OR effective_from IS NOT NULL", name=op.f("ck_payer_enrollments_effective_from_set")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'terminated')", name=op.f("ck_payer_enrollments_status_known")
        ),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_from IS NULL OR effective_to >= effective_from",
            name=op.f("ck_payer_enrollments_dates_ordered"),
        ),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_payer_enrollments_payer_id_payers")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_payer_enrollments_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payer_enrollments")),
    )
    with op.batch_alter_table("payer_enrollments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payer_enrollments_payer_id"), ["payer_id"], unique=False)
        batch_op.create_index("ix_payer_enrollments_provider_payer", ["provider_id", "payer_id"], unique=False)

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=2), nullable=True))

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("npi", sa.String(length=10), nullable=True))
        batch_op.create_index(batch_op.f("ix_staff_npi"), ["npi"], unique=False)

    _carry_over()


def _carry_over() -> None:
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "UPDATE staff SET npi = (SELECT MIN(p.npi) FROM providers p WHERE p.staff_id = staff.id) WHERE npi IS NULL"
        )
    )
    licenses = bind.execute(
        sa.text("SELECT id, issuer FROM credentials WHERE kind = 'state_license' AND state IS NULL")
    ).all()
    for credential_id, issuer in licenses:
        first = (issuer or "").strip().split(" ", 1)[0].upper()
        if first in _STATES:
            bind.execute(sa.text("UPDATE credentials SET state = :s WHERE id = :i"), {"s": first, "i": credential_id})
    enrollments = bind.execute(
        sa.text(
            "SELECT p.id, y.id, c.issued_on FROM credentials c "
            "JOIN providers p ON p.staff_id = c.staff_id JOIN payers y ON y.payer_id = c.issuer "
            "WHERE c.kind = 'payer_enrollment' AND c.status <> 'revoked'"
        )
    ).all()
    now = datetime.now(UTC)
    for provider_id, payer_row_id, issued_on in enrollments:
        bind.execute(
            sa.text(
                "INSERT INTO payer_enrollments (id, provider_id, payer_id, status, effective_from, created_at, "
                "updated_at) VALUES (:id, :provider, :payer, 'active', :start, :now, :now)"
            ),
            {"id": str(uuid.uuid4()), "provider": provider_id, "payer": payer_row_id, "start": issued_on, "now": now},
        )


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_npi"))
        batch_op.drop_column("npi")
        batch_op.drop_column("birth_date")

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("state")

    with op.batch_alter_table("payer_enrollments", schema=None) as batch_op:
        batch_op.drop_index("ix_payer_enrollments_provider_payer")
        batch_op.drop_index(batch_op.f("ix_payer_enrollments_payer_id"))
    op.drop_table("payer_enrollments")

    with op.batch_alter_table("exclusion_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exclusion_matches_staff_id"))
    op.drop_table("exclusion_matches")

    with op.batch_alter_table("exclusion_screenings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exclusion_screenings_screened_on"))
    op.drop_table("exclusion_screenings")
