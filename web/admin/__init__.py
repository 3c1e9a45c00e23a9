"""Admin pages: routing rules, teams, users and topics (leads and admins); outbox, surveys,
enrichment and system (admins).

One module per page, all under ``/admin``: ``rules`` (with ``rule_form`` and ``rule_words``),
``teams``, ``users``, ``topics``, ``macros`` (reply templates), ``outbox``, ``surveys``,
``nlp`` and ``system``; ``common`` holds the role dependencies and page rendering.
Forms post with the session's CSRF token and redirect (303) on success; a refused form comes back
with the person's input and the reasons next to the fields.
"""

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse

from web.admin import macros, nlp, outbox, rules, surveys, system, teams, topics, users
from web.admin.common import Lead, redirect
from web.auth import page_user

# Every admin page needs a signed-in person; each route names the role it needs.
router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(page_user())])


@router.get("", include_in_schema=False)
def admin_home(_user: Lead) -> RedirectResponse:
    """The admin section starts at the routing rules."""
    return redirect("/admin/rules")


router.include_router(rules.router)
router.include_router(teams.router)
router.include_router(users.router)
router.include_router(topics.router)
router.include_router(macros.router)
router.include_router(outbox.router)
router.include_router(surveys.router)
router.include_router(nlp.router)
router.include_router(system.router)
