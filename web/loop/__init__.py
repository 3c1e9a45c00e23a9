"""Loop pages: the customer's public follow-up page and the leads' loop dashboard.

- ``followup_page``: GET/POST /followup/{token} (no sign-in; the signed token is the key).
- ``dashboard``: GET /cases/metrics and its drill-down, GET /cases/metrics/cases.
"""

from fastapi import APIRouter

from web.loop import dashboard, followup_page

router = APIRouter()
router.include_router(followup_page.router)
router.include_router(dashboard.router)

__all__ = ["router"]
