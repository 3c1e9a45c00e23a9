"""collector runs, schedules and leases

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:11:14.756248
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "source_run",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("started_at", hub.store.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", hub.store.types.UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("duplicate", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sample", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["source.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("source_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_source_run_source_started", ["source_id", "started_at"], unique=False
        )

    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("interval_seconds", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("last_success_at", hub.store.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("next_run_at", hub.store.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", hub.store.types.UTCDateTime(), nullable=True))
        batch_op.drop_column("schedule")


def downgrade() -> None:
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule", sa.VARCHAR(length=100), nullable=True))
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("next_run_at")
        batch_op.drop_column("last_success_at")
        batch_op.drop_column("interval_seconds")

    with op.batch_alter_table("source_run", schema=None) as batch_op:
        batch_op.drop_index("ix_source_run_source_started")

    op.drop_table("source_run")
