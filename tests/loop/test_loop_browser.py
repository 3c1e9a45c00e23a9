"""The loop dashboard and the customer's follow-up page in real Chromium, desktop and 390 px."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine

from hub.config import Settings
from hub.loop import tokens
from hub.loop.models import Followup
from hub.store.engine import session_scope
from hub.store.types import utcnow
from tests.live_server import LiveServer, seeded_server
from tests.loop.dataset import Loop, build
from tests.web.conftest import SHOTS

pytestmark = pytest.mark.browser
WINDOW = "from=2026-11-01&to=2026-11-30"


@dataclass
class Seeded:
    server: LiveServer
    loop: Loop
    token: str


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with seeded_server(tmp_path_factory.mktemp("live-loop"), _seed) as (server, (loop, token)):
        yield Seeded(server, loop, token)


def _seed(engine: Engine) -> tuple[Loop, str]:
    loop = build(engine)
    with session_scope(engine) as session:  # case 3's customer is asked in Spanish, unanswered
        expires = utcnow() + timedelta(days=14)
        session.add(Followup(case_id=loop.cases[2], kind="csat", language="es",
                             sent_to="c3@example.com", expires_at=expires))  # fmt: skip
    secret = Settings().secret_key.get_secret_value()  # the server's: same environment
    return loop, tokens.sign(secret, case_id=loop.cases[2], ttl=timedelta(days=14))


def _signed_in(browser: Browser, server: LiveServer, width: int) -> Page:
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(f"{server.base_url}/login?next={quote(f'/cases/metrics?{WINDOW}')}")
    page.fill("input[name=email]", server.email)
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/cases/metrics?**")
    return page


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_the_dashboard_at_desktop_and_phone_width(browser: Browser, seeded: Seeded) -> None:
    desk = _signed_in(browser, seeded.server, 1280)
    cards = desk.locator(".loop-cards .card-value")
    assert cards.all_inner_texts() == ["5", "2.5 h", "20.0 h", "67%", "50%"]
    _shot(desk, "loop-metrics")
    assert "2026-11-01 \u2013 2026-11-30" in desk.inner_text("main")
    desk.click("table[aria-label='By team'] tr:has-text('Care') td[data-label=Recovery] a >> nth=0")
    desk.wait_for_url("**metric=recovered**")
    assert desk.locator("tr.case-row").count() == 1
    desk.click("tr.case-row a >> nth=0")
    desk.wait_for_url(f"**/cases/{seeded.loop.cases[0]}")
    desk.context.close()

    phone = _signed_in(browser, seeded.server, 390)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px)"
    assert (
        phone.locator("table.loop-table thead").first.evaluate("e => getComputedStyle(e).display")
        == "none"
    )
    _shot(phone, "loop-metrics-phone")
    phone.context.close()


def test_the_customer_answers_on_a_phone(browser: Browser, seeded: Seeded) -> None:
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{seeded.server.base_url}/followup/{seeded.token}")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(page, "followup-question-phone")
    page.click("a.followup-choice:has-text('Muy satisfecho')")
    page.wait_for_url("**score=5")
    assert "hemos guardado tu respuesta" in page.inner_text(".followup-thanks")
    page.fill("textarea[name=comment]", "Muy rápido, gracias <b>equipo</b>")
    _shot(page, "followup-answered-phone")
    page.click("button[type=submit]")
    assert "comentario" in page.inner_text("h1")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{seeded.server.base_url}/followup/{seeded.token}?score=4")
    assert page.locator("a.followup-choice.chosen").inner_text() == "Satisfecho"
    _shot(page, "followup-answered")
    page.goto(f"{seeded.server.base_url}/followup/{seeded.token}x?score=4")
    assert "no es válido" not in page.inner_text("h1")  # a forged link: no case, so English
    assert "This link is not valid" in page.inner_text("h1")
    page.context.close()
    assert errors == [] or all("404" in e for e in errors)
