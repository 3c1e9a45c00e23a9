"""topics and feedback topics

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 07:32:39.978609
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import hub.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "topic",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("owner_team", sa.String(length=100), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "examples",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("created_at", hub.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", hub.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["topic.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "feedback_topic",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "feedback_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("assigned_by", sa.String(length=16), nullable=False),
        sa.Column("created_at", hub.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["feedback_id"], ["feedback.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["topic_id"], ["topic.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("feedback_id", "topic_id", name="uq_feedback_topic"),
    )
    with op.batch_alter_table("feedback_topic", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_topic_topic_id"), ["topic_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("feedback_topic", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_topic_topic_id"))

    op.drop_table("feedback_topic")
    op.drop_table("topic")
