"""worker heartbeat: one row per running worker process

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.store.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeat",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("roles", sa.String(length=100), nullable=False),
        sa.Column("started_at", hub.store.types.UTCDateTime(), nullable=False),
        sa.Column("beat_at", hub.store.types.UTCDateTime(), nullable=False),
        sa.Column("last_batch_at", hub.store.types.UTCDateTime(), nullable=True),
        sa.Column("last_batch_items", sa.Integer(), nullable=True),
        sa.Column("last_batch_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner"),
    )
    with op.batch_alter_table("worker_heartbeat", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_worker_heartbeat_hostname"), ["hostname"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("worker_heartbeat", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_heartbeat_hostname"))
    op.drop_table("worker_heartbeat")
