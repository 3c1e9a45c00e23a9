"""Routing rules name topics by key (in their ``conditions``): keep them true when a key goes.

A renamed key or a merged topic is written into every rule that named the old key, so no rule
silently stops matching; a topic that is removed outright is refused while a rule names it.
"""

from sqlmodel import Session, col, select

from hub.routing.models import RoutingRule
from hub.store.types import utcnow


def rules_naming(session: Session, key: str) -> list[RoutingRule]:
    """The rules whose topic condition names ``key``, in the order they are tried."""
    rules = session.exec(select(RoutingRule).order_by(col(RoutingRule.position))).all()
    return [rule for rule in rules if key in rule.conditions.get("topics", [])]


def replace_in_rules(session: Session, *, old: str, new: str) -> list[str]:
    """Rules naming ``old`` name ``new`` instead (once); returns the names of those changed."""
    changed = rules_naming(session, old)
    for rule in changed:
        topics = [new if key == old else key for key in rule.conditions["topics"]]
        rule.conditions = {**rule.conditions, "topics": list(dict.fromkeys(topics))}
        rule.updated_at = utcnow()
        session.add(rule)
    session.flush()
    return [rule.name for rule in changed]
