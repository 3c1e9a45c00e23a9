"""SLA: a rule's clock, a team's time zone, opening hours, lead and escalation on breach

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("routing_rule", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sla_clock", sa.String(length=10), nullable=False, server_default="customer")
        )
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timezone", sa.String(length=64), nullable=False, server_default="UTC")
        )
        batch_op.add_column(
            sa.Column(
                "business_hours",
                sa.JSON(none_as_null=True).with_variant(
                    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
                ),
                nullable=True,
            )
        )
        lead_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
        batch_op.add_column(sa.Column("lead_id", lead_id, nullable=True))
        batch_op.add_column(
            sa.Column("escalate_on_breach", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.create_foreign_key(
            "fk_team_lead_id_user_account", "user_account", ["lead_id"], ["id"],
            ondelete="SET NULL",
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_constraint("fk_team_lead_id_user_account", type_="foreignkey")
        batch_op.drop_column("escalate_on_breach")
        batch_op.drop_column("lead_id")
        batch_op.drop_column("business_hours")
        batch_op.drop_column("timezone")
    with op.batch_alter_table("routing_rule", schema=None) as batch_op:
        batch_op.drop_column("sla_clock")
