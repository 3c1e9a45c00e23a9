"""Triage pages: the case queue and one case with its actions (support leads and agents).

Everyone signed in reads; acting needs an agent on a case they may work (assigned to them or
to one of their teams) or a lead or admin on any case. Every action is a form post carrying the
session's CSRF token; success redirects (303) back with a fixed message, and a refused or
invalid action renders the page again with the reason (never a JSON body).

- ``queue``: GET /cases and POST /cases/assign (bulk assign); ``filters``: its query string.
- ``case_page``: GET /cases/{id}; ``case_actions``: the POST /cases/{id}/... actions.
- ``timeline``: events, actors, times and SLA dues in words; ``common``: shared rules and fields.
"""

from fastapi import APIRouter

from web.cases import case_actions, case_page, queue

router = APIRouter()
# The queue's fixed paths go before the case's /cases/{case_id} routes.
router.include_router(queue.router)
router.include_router(case_page.router)
router.include_router(case_actions.router)

__all__ = ["router"]
