"""routing rules raise priority for valuable customers; existing installs get "Urgent words"

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 22:30:00.000000

A hub that already has rules gets the "Urgent words" default rule once, here, tried first and
sent where its "Negative sentiment" default rule sends (else to the Support team). A fresh hub has
no rules yet: it gets every default rule on first start (hub.routing.defaults). A lead who later
edits or deletes the rule never sees it come back: this runs once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.store.types
from hub.routing.defaults import URGENT_RULE, URGENT_WORDS
from hub.store.types import utcnow

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

rule = sa.table(
    "routing_rule",
    sa.column("id", sa.BigInteger()),
    sa.column("name", sa.String()),
    sa.column("position", sa.Integer()),
    sa.column("enabled", sa.Boolean()),
    sa.column("conditions", hub.store.types.JsonValue),
    sa.column("team_id", sa.BigInteger()),
    sa.column("strategy", sa.String()),
    sa.column("priority", sa.String()),
    sa.column("sla_hours", sa.Float()),
    sa.column("raise_priority_for", hub.store.types.JsonValue),
    sa.column("created_at", hub.store.types.UTCDateTime()),
    sa.column("updated_at", hub.store.types.UTCDateTime()),
)
team = sa.table("team", sa.column("id", sa.BigInteger()), sa.column("name", sa.String()))


def upgrade() -> None:
    with op.batch_alter_table("routing_rule", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("raise_priority_for", hub.store.types.JsonValue, nullable=True)
        )
    _add_urgent_words(op.get_bind())


def _add_urgent_words(db: sa.Connection) -> None:
    first = db.execute(sa.select(sa.func.min(rule.c.position))).scalar()
    if first is None or db.execute(sa.select(rule.c.id).where(rule.c.name == URGENT_RULE)).first():
        return  # a fresh hub (defaults come on first start), or a rule of that name exists
    team_id = (
        db.execute(sa.select(rule.c.team_id).where(rule.c.name == "Negative sentiment")).scalar()
        or db.execute(sa.select(team.c.id).where(team.c.name == "Support")).scalar()
    )
    if team_id is None:
        return
    now = utcnow()
    db.execute(
        rule.insert().values(
            name=URGENT_RULE, position=first - 1, enabled=True,
            conditions={"keywords": URGENT_WORDS}, team_id=team_id, strategy="least_loaded",
            priority="urgent", sla_hours=48.0, created_at=now, updated_at=now,
        )
    )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("routing_rule", schema=None) as batch_op:
        batch_op.drop_column("raise_priority_for")
