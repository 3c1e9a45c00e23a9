"""JSON API for the loop metrics: how fast cases are answered and solved, and what it achieves."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from hub.auth.models import Scope
from hub.http.deps import Principal, SessionDep, require_access
from hub.http.params import MAX_ID, QueryDate
from hub.loop.metrics import loop_metrics
from hub.loop.models import LoopMetrics
from hub.loop.window import day_window
from hub.users.models import Role, User

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
# A read key, or a signed-in agent, lead or admin (an agent sees only their own cases).
MetricsReader = Annotated[Principal, Depends(require_access(Scope.read, Role.agent))]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.get("/metrics", summary="Loop metrics")
def cases_metrics(
    session: SessionDep,
    who: MetricsReader,
    start: Annotated[QueryDate | None, Query(alias="from", description="First day (UTC)")] = None,
    end: Annotated[QueryDate | None, Query(alias="to", description="Last day, inclusive")] = None,
    team_id: QueryId = None,
    assignee_id: QueryId = None,
) -> LoopMetrics:
    """Cases opened in the window (default: the last 30 days): time to first response and to
    resolution (median, p90), follow-up CSAT and detractor recovery, overall, by team and by
    agent. An agent gets the metrics of their own cases only."""
    begin, finish = day_window(start, end)
    return loop_metrics(
        session, start=begin, end=finish, team_id=team_id,
        assignee_id=own_cases(who.user, assignee_id),
    )  # fmt: skip


def own_cases(user: User | None, assignee_id: int | None) -> int | None:
    """The assignee filter a caller gets: agents are held to their own cases."""
    if user is not None and not Role(user.role).allows(Role.lead):
        return user.id
    return assignee_id
