"""What the trend pages share: a router for signed-in people and the page renderer."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from web.auth import page_user
from web.templating import templates


def pages_router() -> APIRouter:
    """A router for trend pages: every signed-in role reads them; kept out of the API docs."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(page_user())])


def render(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """A trend page; ``context["charts"]`` (a list of :class:`Chart`) feed charts.js."""
    charts = context.setdefault("charts", [])
    context["chart_specs"] = {chart.name: chart.spec for chart in charts}
    return templates.TemplateResponse(request, template, context, status_code=status_code)
