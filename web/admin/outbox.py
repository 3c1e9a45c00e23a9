"""The outbox page (admins): how many notifications wait, went out or failed, and why; retry one.

Destinations are shown as the service masks them (a webhook or Slack URL only by its origin, since
its path can be the credential); message bodies, which hold customer text, are never shown.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from hub.http.deps import SessionDep
from hub.notifications.models import OutboxStatus
from hub.notifications.service import count_by_status, list_outbox, retry
from web.admin.common import Admin, Csrf, redirect, render
from web.auth import check_csrf

router = APIRouter()
SHOWN = 100  # the newest messages the page lists; the counts cover them all
MessageId = Annotated[str, Path(min_length=1, max_length=32)]


@router.get("/outbox", response_class=HTMLResponse)
def outbox_page(
    request: Request, session: SessionDep, _user: Admin, status: str = ""
) -> HTMLResponse:
    """Counts per status and the newest messages, optionally of one status."""
    chosen = _status(status)
    counts = count_by_status(session)
    context = {
        "counts": counts,
        "total": sum(counts.values()),
        "chosen": chosen,
        "messages": list_outbox(session, status=chosen, limit=SHOWN),
        "shown": SHOWN,
    }
    return render(request, "admin_outbox.html", context)


@router.post("/outbox/{message_id}/retry")
def retry_outbox_message(
    request: Request,
    session: SessionDep,
    _user: Admin,
    message_id: MessageId,
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Queue a failed message again, due now, with a fresh count of attempts."""
    check_csrf(request, csrf_token)
    retry(session, message_id=message_id)
    return redirect(f"/admin/outbox?done=retried#message-{message_id}")


def _status(text: str) -> OutboxStatus | None:
    """The status to filter by; one the page does not offer (a hand-edited URL) means all."""
    try:
        return OutboxStatus(text)
    except ValueError:
        return None
