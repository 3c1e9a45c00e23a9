"""The survey widget script: its size budget, what it never does, and how the hub serves it."""

import re

import httpx
import pytest

from web.widget import WIDGET

pytestmark = pytest.mark.anyio
MAX_BYTES = 15 * 1024


def test_the_widget_stays_under_15_kb() -> None:
    size = len(WIDGET.read_bytes())
    assert size < MAX_BYTES, f"widget.js is {size} bytes; the budget is {MAX_BYTES}"


def test_the_widget_needs_nothing_a_strict_csp_blocks() -> None:
    source = WIDGET.read_text()
    # eval in any form, HTML parsing of strings, and inline style attributes
    forbidden = [r"\beval\(", r"new Function", r"innerHTML", r"outerHTML", r"insertAdjacentHTML",
                 r"document\.write", r"setTimeout\(['\"`]", r"\.style\b", r"\bstyle:",
                 r"cssText", r"import\("]  # fmt: skip
    for pattern in forbidden:
        assert not re.search(pattern, source), pattern
    assert "adoptedStyleSheets" in source and "replaceSync" in source
    assert source.lstrip().startswith("/*") and "(() => {" in source  # one IIFE, no globals


async def test_the_hub_serves_the_widget_for_any_site(client: httpx.AsyncClient) -> None:
    response = await client.get("/widget.js")
    assert response.status_code == 200
    assert response.content == WIDGET.read_bytes()
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in response.headers  # a script, not a page


async def test_the_widget_needs_no_sign_in_and_answers_head(client: httpx.AsyncClient) -> None:
    head = await client.head("/widget.js", headers={"Origin": "https://shop.example"})
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(WIDGET.read_bytes())
