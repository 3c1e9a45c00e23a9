"""The enrichment page (admins): whether workers analyse with sentiment, what to do if not.

The layout's banner links here. The page reads the status afresh (the banner's copy is a few
seconds old at most) and shows that one in the banner too, so the two never disagree.
"""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hub.enrichment.status import nlp_status
from hub.http.deps import SessionDep
from web.admin.common import Admin, render

router = APIRouter()


@router.get("/nlp", response_class=HTMLResponse)
def nlp_page(request: Request, session: SessionDep, _user: Admin) -> HTMLResponse:
    """The sentiment state of the newest enriched items, the queue, and how to fix it."""
    status = nlp_status(session)
    request.state.nlp_status = status
    return render(request, "admin_nlp.html", {"status": status})
