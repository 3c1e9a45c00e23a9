"""daily rollup: counts per day and score type, for trends without filters

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:00:00.000000

Filled, with the other rollups, by the same rebuild ``feedback-hub metrics rebuild`` runs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES = ["n", *(f"score_{value}" for value in range(11)), "negative", "neutral", "positive"]


def upgrade() -> None:
    op.create_table(
        "daily_rollup",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("score_type", sa.String(length=20), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in MEASURES),
        sa.PrimaryKeyConstraint("day", "score_type", name="pk_daily_rollup"),
    )
    _fill()


def _fill() -> None:
    """Roll up feedback stored before this revision (nothing on a new database)."""
    from sqlmodel import Session

    from hub.metrics.service import rebuild

    with Session(bind=op.get_bind()) as session:
        rebuild(session)


def downgrade() -> None:
    op.drop_table("daily_rollup")
