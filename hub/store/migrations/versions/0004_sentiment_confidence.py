"""feedback sentiment confidence and who set it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 07:51:31.516408
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sentiment_confidence", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("sentiment_by", sa.String(length=16), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("sentiment_by")
        batch_op.drop_column("sentiment_confidence")
