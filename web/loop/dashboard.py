"""The loop dashboard: response and resolution times, follow-up CSAT and detractor recovery.

Leads and admins see every team and agent; an agent sees the row of their own cases. Every
number links to the cases behind it (``/cases/metrics/cases``, which lists them with links to
each case).
"""

from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select

from hub.cases.models import Case
from hub.cases.queries import publics
from hub.http.deps import SessionDep
from hub.loop.api import own_cases
from hub.loop.metrics import DRILLS, case_facts, drill, loop_metrics
from hub.loop.window import day_window
from hub.store.storable import EARLIEST, LATEST
from hub.store.types import utcnow
from hub.users.models import Role, User
from web.auth import page_user
from web.cases.common import pages_router
from web.cases.timeline import label, when
from web.templating import templates

router = pages_router()
AgentDep = Annotated[User, Depends(page_user(Role.agent))]
PRESETS = (7, 30, 90)
DRILL_TITLES = {
    "all": "All cases", "responded": "Cases with a first response",
    "awaiting_response": "Cases awaiting a first response", "resolved": "Resolved cases",
    "unresolved": "Cases not resolved yet", "csat": "Closed cases with a follow-up answer",
    "satisfied": "Closed cases whose customer was satisfied",
    "recovery": "Closed detractor cases with a later NPS", "recovered": "Recovered detractors",
    "recovery_awaiting": "Closed detractor cases awaiting a later NPS",
}  # fmt: skip
MAX_DRILL = 500


@router.get("/cases/metrics", response_class=HTMLResponse)
def metrics_page(request: Request, session: SessionDep, user: AgentDep) -> HTMLResponse:
    """Cards and by-team / by-agent tables for the chosen window (7, 30 or 90 days)."""
    view = _View.of(request.query_params, user)
    begin, end = day_window(view.start, view.end)
    report = loop_metrics(
        session, start=begin, end=end, team_id=view.team_id, assignee_id=view.assignee_id
    )
    context = {
        "report": report, "view": view, "presets": PRESETS, "lead": view.lead,
        "drill": view.drill_url, "first_day": view.start, "last_day": view.end,
        "row_link": view.row_url,
    }  # fmt: skip
    return templates.TemplateResponse(request, "loop_metrics.html", context)


@router.get("/cases/metrics/cases", response_class=HTMLResponse)
def drill_page(request: Request, session: SessionDep, user: AgentDep) -> HTMLResponse:
    """The cases behind one number of the dashboard."""
    view = _View.of(request.query_params, user)
    metric = request.query_params.get("metric", "all")
    if metric not in DRILLS:
        metric = "all"
    begin, end = day_window(view.start, view.end)
    facts = case_facts(
        session, start=begin, end=end, team_id=view.team_id, assignee_id=view.assignee_id
    )
    ids = drill(facts, metric)
    cases = _cases(session, ids[:MAX_DRILL])
    context = {
        "title": DRILL_TITLES[metric], "cases": publics(session, cases), "total": len(ids),
        "shown": min(len(ids), MAX_DRILL), "back": view.page_url(), "view": view,
        "label": label, "when": when,
    }  # fmt: skip
    return templates.TemplateResponse(request, "loop_drill.html", context)


class _View:
    """The dashboard's query: window (preset days or from/to) and team/agent filter."""

    def __init__(self, start: date, end: date, team_id: int | None, assignee_id: int | None,
                 days: int | None, lead: bool) -> None:  # fmt: skip
        self.start, self.end, self.days, self.lead = start, end, days, lead
        self.team_id, self.assignee_id = team_id, assignee_id

    @classmethod
    def of(cls, params: Any, user: User) -> "_View":
        today = utcnow().date()
        days = _number(params.get("days"))
        start, end = _day(params.get("from")), _day(params.get("to"))
        if start is None and end is None:
            days = days if days in PRESETS else 30
            start, end = today - timedelta(days=days - 1), today
        else:
            days = None
            end = end or today
            start = start if start is not None and start <= end else end - timedelta(days=29)
        lead = Role(user.role).allows(Role.lead)
        assignee = own_cases(user, _number(params.get("assignee_id")))
        return cls(start, end, _number(params.get("team_id")), assignee, days, lead)

    def query(self, **changes: Any) -> dict[str, str]:
        base: dict[str, Any] = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.days:
            base = {"days": self.days}
        base |= {"team_id": self.team_id, "assignee_id": self.assignee_id if self.lead else None}
        base |= changes
        return {key: str(value) for key, value in base.items() if value is not None}

    def page_url(self, **changes: Any) -> str:
        return f"/cases/metrics?{urlencode(self.query(**changes))}"

    def preset_url(self, days: int) -> str:
        return f"/cases/metrics?{urlencode(self.query(days=days, **{'from': None, 'to': None}))}"

    def drill_url(self, metric: str, **changes: Any) -> str:
        return f"/cases/metrics/cases?{urlencode(self.query(metric=metric, **changes))}"

    def row_url(self, key: str, value: int | None, metric: str) -> str | None:
        """A team's or agent's drill-down; none for the "no team" and "unassigned" rows."""
        return self.drill_url(metric, **{key: value}) if value is not None else None


def _cases(session: Session, ids: list[int]) -> list[Case]:
    if not ids:
        return []
    rows = session.exec(select(Case).where(col(Case.id).in_(ids))).all()
    order = {case_id: index for index, case_id in enumerate(ids)}
    return sorted(rows, key=lambda case: order.get(case.id or 0, 0))


def _number(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and 0 < int(value) < 2**63 else None


def _day(value: str | None) -> date | None:
    try:
        found = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return found if found is not None and EARLIEST <= found < LATEST else None
