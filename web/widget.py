"""The survey widget script, served for other sites to embed with one script tag."""

from fastapi import APIRouter
from fastapi.responses import FileResponse

from web.templating import STATIC

router = APIRouter(include_in_schema=False)
WIDGET = STATIC / "widget.js"
# Any site may load the script; which sites may *post* is decided per key by the API.
HEADERS = {
    "Cache-Control": "public, max-age=300",
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


@router.api_route("/widget.js", methods=["GET", "HEAD"])
def widget_js() -> FileResponse:
    """The embeddable survey widget (plain JavaScript, no dependencies)."""
    return FileResponse(WIDGET, media_type="text/javascript", headers=HEADERS)
