"""How the triage pages put things into words: timeline changes, actors, times and SLA dues."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.cases.models import EventPublic

EVENT_LABELS = {
    "created": "opened the case",
    "routed": "routed the case",
    "assigned": "changed the assignment",
    "status_changed": "changed the status",
    "priority_changed": "changed the priority",
    "commented": "added a note",
    "replied_to_customer": "replied to the customer",
    "sla_warning": "warned: SLA near breach",
    "sla_breached": "flagged: SLA breached",
}
FIELD_LABELS = {
    "status": "status",
    "assignee_id": "assignee",
    "team_id": "team",
    "priority": "priority",
    "due_at": "due",
}

Names = dict[str, dict[int, str]]  # "assignee_id" / "team_id" → id → name


@dataclass(frozen=True)
class Change:
    """One field of a timeline event: what it was and what it became."""

    field: str
    before: str | None  # None when the event only sets it (a new case)
    after: str


def changes(event: EventPublic, names: Names) -> list[Change]:
    """The fields an event changed, as words: "status: new → assigned"."""
    before, after = event.before or {}, event.after or {}
    if event.kind == "replied_to_customer":
        return []
    fields = [key for key in FIELD_LABELS if key in before or key in after]
    if event.before is None:  # a new case: only what it was given
        fields = [key for key in fields if after.get(key) is not None]
    return [
        Change(
            field=FIELD_LABELS[key],
            before=_value(key, before.get(key), names) if event.before is not None else None,
            after=_value(key, after.get(key), names),
        )
        for key in fields
    ]


def _value(key: str, value: Any, names: Names) -> str:
    """One field's value as words: a name, a time, a label, or a dash for none."""
    if key in names:
        empty = "nobody" if key == "assignee_id" else "no team"
        return names[key].get(value, f"#{value}") if value is not None else empty
    if key == "due_at" and value:
        try:
            return when(datetime.fromisoformat(value))
        except (TypeError, ValueError):
            return str(value)
    return label(value) if value else "—"


def event_label(kind: str) -> str:
    """What an event did, in words: "added a note"."""
    return EVENT_LABELS.get(kind, kind.replace("_", " "))


def actor(event: EventPublic) -> str:
    """Who did it, in words: a person's name, a routing rule, an API key or the system."""
    if event.actor_name:
        return event.actor_name
    kind, _, ident = event.actor.partition(":")
    return {"rule": f"routing rule #{ident}", "key": f"API key #{ident}"}.get(kind, event.actor)


def label(value: Any) -> str:
    """A status or state as words: in_progress → in progress."""
    return str(getattr(value, "value", value)).replace("_", " ")


def when(moment: datetime | None) -> str:
    """A time as the pages show it (UTC)."""
    return moment.strftime("%d %b %Y, %H:%M UTC") if moment else "—"


def due_text(due_at: datetime | None, sla_state: str, now: datetime) -> str:
    """How the SLA stands in words: "due in 5 h", "overdue by 2 d", "met"."""
    if due_at is None:
        return "no SLA"
    if sla_state in ("met", "missed"):
        return f"SLA {sla_state}"
    if due_at < now:
        return f"overdue by {_span(now - due_at)}"
    return f"due in {_span(due_at - now)}"


def age_text(moment: datetime | None, now: datetime) -> str:
    """How long ago, roughly: "3 h", "12 d"."""
    return _span(now - moment) if moment else "—"


def _span(delta: timedelta) -> str:
    """A duration, roughly: minutes under an hour, hours under two days, else days."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"
