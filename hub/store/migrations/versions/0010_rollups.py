"""rollups for metrics and topic trends

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 09:00:00.000000

The tables start empty; revision 0011 fills them (with its own table) from existing feedback
through the same rebuild ``feedback-hub metrics rebuild`` runs, so an upgrade needs no extra step.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES = ["n", *(f"score_{value}" for value in range(11)), "negative", "neutral", "positive"]


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _dimensions(*, topic: bool = False) -> list[sa.Column[object]]:
    return [
        sa.Column("source_id", _id(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        *(() if topic else (
            sa.Column("language", sa.String(length=16), nullable=False),
            sa.Column("segment", sa.String(length=100), nullable=False),
        )),
        sa.Column("score_type", sa.String(length=20), nullable=False),
    ]  # fmt: skip


def _measures() -> list[sa.Column[object]]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in MEASURES]


def upgrade() -> None:
    op.create_table(
        "feedback_rollup",
        sa.Column("day", sa.Date(), nullable=False),
        *_dimensions(),
        *_measures(),
        sa.PrimaryKeyConstraint(
            "day", "source_id", "channel", "language", "segment", "score_type",
            name="pk_feedback_rollup",
        ),
    )  # fmt: skip
    op.create_table(
        "topic_rollup",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("topic_id", _id(), nullable=False),
        *_dimensions(topic=True),
        *_measures(),
        sa.PrimaryKeyConstraint(
            "day", "topic_id", "source_id", "channel", "score_type", name="pk_topic_rollup",
        ),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("topic_rollup")
    op.drop_table("feedback_rollup")
