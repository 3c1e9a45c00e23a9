"""The queue's query string: which parameters it keeps, the filters they mean, and links."""

from collections.abc import Mapping
from urllib.parse import urlencode

from hub.cases.models import OPEN_STATUSES, Status
from hub.cases.queries import SORTS, CaseFilters
from hub.routing.models import Priority
from hub.users.models import Role, User
from web.cases.common import SENTIMENTS

SCOPES = {"mine": "My cases", "team": "My teams", "all": "All cases"}
SLA_STATES = {"ok": "On track", "near_breach": "Near breach", "breached": "Breached"}
QUEUE_KEYS = (
    "scope",
    "status",
    "priority",
    "sla",
    "topic",
    "source",
    "sentiment",
    "language",
    "sort",
    "cursor",
)


def queue_query(params: Mapping[str, str]) -> dict[str, str]:
    """The queue's own parameters from a query string (anything else is dropped)."""
    return {key: params[key][:200] for key in QUEUE_KEYS if params.get(key)}


def with_default_scope(query: Mapping[str, str], user: User) -> dict[str, str]:
    """``query`` with a scope: agents start on their own cases, others on all."""
    return {"scope": "mine" if user.role == Role.agent.value else "all", **query}


def queue_filters(query: Mapping[str, str]) -> CaseFilters:
    """The queue's filters; unknown choices mean "any"."""
    status = query.get("status", "")
    statuses: tuple[Status, ...] = OPEN_STATUSES
    if status == "any":
        statuses = ()
    elif status in Status.__members__:
        statuses = (Status(status),)
    priority = query.get("priority", "")
    return CaseFilters(
        scope=query.get("scope", "all") if query.get("scope") in SCOPES else "all",
        statuses=statuses,
        priority=Priority(priority) if priority in Priority.__members__ else None,
        sla=query.get("sla") if query.get("sla") in SLA_STATES else None,
        topic=query.get("topic") or None,
        source=query.get("source") or None,
        sentiment=query.get("sentiment") if query.get("sentiment") in SENTIMENTS else None,
        language=query.get("language") or None,
        sort=query.get("sort", "due") if query.get("sort") in SORTS else "due",
    )


def queue_url(query: Mapping[str, str], **changes: str | None) -> str:
    """The queue with some parameters changed (None drops one); paging restarts."""
    merged = {key: value for key, value in query.items() if key != "cursor"}
    for key, value in changes.items():
        if value:
            merged[key] = value
        else:
            merged.pop(key, None)
    return f"/cases?{urlencode(merged)}"
