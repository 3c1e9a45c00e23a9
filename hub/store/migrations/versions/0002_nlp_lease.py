"""feedback: NLP error and worker lease

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 07:27:41.891083
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nlp_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("nlp_lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("nlp_lease_until", hub.store.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("nlp_lease_until")
        batch_op.drop_column("nlp_lease_owner")
        batch_op.drop_column("nlp_error")
