"""The item page in real headless Chromium against a real server: opening a case at desktop
width and at 390 px, the inbox row's links; screenshots in artifacts/."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine
from sqlmodel import select

from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.store.engine import session_scope
from hub.users.models import Role, Team
from tests.factories import item
from tests.live_server import LiveServer, seeded_server
from tests.signin import PASSWORD, make_user
from tests.web.conftest import SHOTS

pytestmark = pytest.mark.browser
HOSTILE = '<img src=x onerror="window.__pwned=1">'
LONG = (
    "Charged twice AGAIN - please escalate. This is the third month in a row that my card was "
    "billed two times for the same subscription, and nobody answered my last two tickets. "
) * 2


@dataclass
class Seeded:
    """The running hub and the items the tests open cases for."""

    server: LiveServer
    desktop: int
    phone: int


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with seeded_server(tmp_path_factory.mktemp("live-item"), _seed) as (server, ids):
        yield Seeded(server, *ids)


def _seed(engine: Engine) -> tuple[int, int]:
    who = {"ref": "cus_ent", "name": f"Ent Corp {HOSTILE}", "email": "ops@ent.example",
           "segment": "enterprise"}  # fmt: skip
    items = [
        item(channel="social", score_type=None, score=None, text=LONG + HOSTILE, customer=who),
        item(channel="ticket", score_type=None, score=None, title="Refund please",
             text="I want my money back for the double charge.", customer=who),
    ]  # fmt: skip
    make_user(engine, Role.agent)
    with session_scope(engine) as session:
        session.add(Team(name="Billing"))
        ids = [r.id for r in ingest(session, raw_items=items).results]
        for feedback in session.exec(select(Feedback)).all():
            feedback.language, feedback.sentiment = "en", "negative"
            feedback.sentiment_confidence, feedback.nlp_state = 0.91, "done"
            session.add(feedback)
    assert all(ids)
    return ids[0], ids[1]  # type: ignore[return-value]


def _signed_in(
    browser: Browser, seeded: Seeded, width: int, height: int, path: str, *, agent: bool = False
) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    server = seeded.server
    page.goto(f"{server.base_url}{path}")
    page.fill("input[name=email]", "agent@cestia.example" if agent else server.email)
    page.fill("input[name=password]", PASSWORD if agent else server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}{path}")
    return page


def _watched(page: Page) -> list[str]:
    """Console errors (CSP violations among them) and uncaught exceptions."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _fits(page: Page) -> None:
    """Nothing wider than the viewport: no sideways scrolling."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def test_open_a_case_from_the_item_page_at_desktop_width(browser: Browser, seeded: Seeded) -> None:
    page = _signed_in(browser, seeded, 1280, 900, "/feedback")
    errors = _watched(page)
    row = page.locator(f'article.item[data-id="{seeded.desktop}"]')
    assert row.locator("button", has_text="Open case").count() == 1
    _shot(page, "inbox-open-case")
    row.locator("a.item-link").click()
    page.wait_for_url(f"**/feedback/{seeded.desktop}")
    assert page.locator("h1").inner_text() == f"Feedback #{seeded.desktop}"
    assert HOSTILE in page.locator(".case-item .text").inner_text()  # shown as text, not run
    assert page.evaluate("window.__pwned") is None
    assert "confidence 0.91" in page.locator(".facts").inner_text()
    _fits(page)
    _shot(page, "item-page-desktop")

    form = page.locator("#open-case")
    form.locator("select[name=team_id]").select_option(label="Billing")
    form.locator("select[name=assignee_id]").select_option(label="Ada Admin")
    form.locator("select[name=priority]").select_option("urgent")
    form.locator("textarea[name=note]").fill("Enterprise customer: call back today")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/cases/*?done=opened")
    assert "Case opened." in page.locator(".flash-done").inner_text()
    assert "urgent priority" in page.locator(".case-head").inner_text()
    assert "Enterprise customer: call back today" in page.locator("body").inner_text()

    page.goto(f"{seeded.server.base_url}/feedback/{seeded.desktop}")
    assert page.locator("a.item-case").inner_text().startswith("Case #")
    assert page.locator("#open-case").count() == 0
    assert errors == []
    page.context.close()


def test_open_a_case_on_a_phone(browser: Browser, seeded: Seeded) -> None:
    page = _signed_in(browser, seeded, 390, 844, f"/feedback/{seeded.phone}")
    errors = _watched(page)
    _fits(page)
    form = page.locator("#open-case")
    assert form.is_visible()
    box = form.bounding_box()
    assert box is not None and box["width"] <= 390
    _shot(page, "item-page-phone")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/cases/*?done=opened")
    page.goto(f"{seeded.server.base_url}/feedback")
    _shot(page, "inbox-phone")
    row = page.locator(f'article.item[data-id="{seeded.phone}"]')
    assert row.locator("a.case-link").inner_text().endswith("· new")
    _fits(page)
    assert errors == []
    page.context.close()


def test_an_agent_on_an_admin_page_gets_an_html_403_page(browser: Browser, seeded: Seeded) -> None:
    page = _signed_in(browser, seeded, 390, 844, "/admin/users", agent=True)
    assert page.locator("h1").inner_text() == "You need the admin role to open this page"
    assert "with the agent role" in page.locator("main").inner_text()
    assert page.locator("header.topbar nav a", has_text="Inbox").is_visible()  # the layout
    _fits(page)
    _shot(page, "forbidden-phone")
    page.context.close()
