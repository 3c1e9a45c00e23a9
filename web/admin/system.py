"""The System page (admins): workers and their heartbeats, queue depths, recent collector runs,
and the database's backend and migration revision."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hub.http.deps import SessionDep, SettingsDep
from hub.observability.system import system_state
from web.admin.common import Admin, render

router = APIRouter()


@router.get("/system", response_class=HTMLResponse)
def system_page(
    request: Request, session: SessionDep, settings: SettingsDep, _user: Admin
) -> HTMLResponse:
    """What runs, what waits, and which schema the database has."""
    state = system_state(session, beat_seconds=settings.worker_heartbeat_seconds)
    return render(request, "admin_system.html", {"state": state})
