"""The customer pages in real headless Chromium against a real server; screenshots in artifacts/."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine
from sqlmodel import select

from hub.customers.models import Customer
from hub.store.engine import session_scope
from hub.store.types import utcnow
from tests.customers.builders import add, add_case
from tests.live_server import LiveServer, seeded_server
from tests.web.conftest import SHOTS

pytestmark = pytest.mark.browser
HOSTILE = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">'
# (days ago, score type, score, sentiment, topics, text): Ana's last three months
ANA_HISTORY = [
    (80, "nps", 9, "positive", (), "Loved the new checkout, much faster."),
    (62, "csat", 5, "positive", (), "Support sorted my address in minutes."),
    (45, "nps", 8, None, (), "Fine overall."),
    (20, "stars", 2, "negative", ("delivery",), "Second late delivery this month."),
    (12, "nps", 3, "negative", ("delivery", "customer_support"),
     "My order arrived two weeks late and support never answered my emails."),
    (5, "csat", 1, "negative", ("billing",), "I was charged twice for the same subscription."),
    (2, "ces", 2, None, ("billing",), "Getting a refund took four calls."),
]  # fmt: skip


@dataclass
class Seeded:
    """The running hub and the customers the tests look at."""

    server: LiveServer
    ana: int
    hostile: int


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A hub without its worker, so nothing re-scores the seeded feedback behind the test."""
    workdir = tmp_path_factory.mktemp("live-customers")
    with seeded_server(workdir, _seed) as (server, ids):
        yield Seeded(server, ids["cus_ana"], ids["cus_x"])


def _seed(engine: Engine) -> dict[str, int]:
    now = utcnow()
    ana = {"name": "Ana Lima", "segment": "smb"}
    last = 0
    for days, kind, score, sentiment, topics, text in ANA_HISTORY:
        last = add(engine, "cus_ana", at=now - timedelta(days=days), score=(kind, score),
                   sentiment=sentiment, topics=topics, text=text, **ana)  # fmt: skip
    add_case(engine, last, due_at=now - timedelta(hours=7))
    add(engine, "cus_x", at=now - timedelta(days=3), score=("thumbs", 0), name=HOSTILE,
        text=HOSTILE, segment="enterprise")  # fmt: skip
    add(engine, "cus_bo", at=now - timedelta(days=8), score=("nps", 6), name="Bo Jensen",
        segment="enterprise", sentiment="negative", text="Prices went up again.")  # fmt: skip
    add(engine, "cus_happy", at=now - timedelta(days=1), score=("nps", 10), name="Happy Hal")
    with session_scope(engine) as session:
        return dict(session.exec(select(Customer.external_ref, Customer.id)).all())


def _signed_in(browser: Browser, seeded: Seeded, width: int, height: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    server = seeded.server
    page.goto(f"{server.base_url}/customers/at-risk")
    assert "/login?next=/customers/at-risk" in page.url
    page.fill("input[name=email]", server.email)
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/customers/at-risk")
    return page


def _watched(page: Page) -> list[str]:
    """Console errors (CSP violations among them) and uncaught exceptions, as they happen."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _shot(page: Page, name: str, *, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


@pytest.fixture
def page(browser: Browser, seeded: Seeded) -> Iterator[Page]:
    """A laptop-sized tab signed in as the admin, on the at-risk list."""
    opened = _signed_in(browser, seeded, 1280, 900)
    yield opened
    opened.context.close()


def test_from_the_at_risk_list_to_the_customer_page(seeded: Seeded, page: Page) -> None:
    errors = _watched(page)
    page.reload()
    cards = page.locator(".risk-card")
    assert cards.count() == 3  # Happy Hal is not at risk
    first = cards.first
    assert first.get_attribute("data-customer-id") == str(seeded.ana)
    assert "1 open case past the SLA" in first.inner_text()
    assert "Complained about Billing 2 times" in first.inner_text()
    _shot(page, "customers-at-risk", full_page=True)

    first.locator("a.risk-name").click()
    page.wait_for_url(f"**/customers/{seeded.ana}")
    assert page.locator("h1").inner_text() == "Ana Lima"
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('score-chart'))"
    )
    chart = page.evaluate(
        """() => { const c = Chart.getChart(document.getElementById('score-chart'));
                   return {sets: c.data.datasets.map(d => [d.label, d.data.length]),
                           width: c.width, height: c.height}; }"""
    )
    assert sorted(chart["sets"]) == [["CES", 1], ["CSAT", 2], ["NPS", 3], ["STARS", 1]]
    assert chart["width"] > 600 and chart["height"] > 200
    assert page.locator(".customer-feedback article.item").count() == len(ANA_HISTORY)
    assert "Case #1" in page.locator(".customer-cases").inner_text()
    _shot(page, "customer", full_page=True)

    page.locator("a.case-link").first.click()
    page.wait_for_url("**/cases/1")
    page.click(".customer a")
    page.wait_for_url(f"**/customers/{seeded.ana}")
    assert errors == []


def test_hostile_names_never_run(seeded: Seeded, page: Page) -> None:
    errors = _watched(page)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.reload()
    card = page.locator(f".risk-card[data-customer-id='{seeded.hostile}']")
    assert card.locator("a.risk-name").inner_text() == HOSTILE
    card.locator("a.risk-name").click()
    page.wait_for_url(f"**/customers/{seeded.hostile}")
    assert page.locator("h1").inner_text() == HOSTILE
    assert page.locator(".customer-feedback .text").inner_text() == HOSTILE
    assert page.locator("main img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert dialogs == [] and errors == []


def test_a_phone_never_scrolls_sideways(browser: Browser, seeded: Seeded) -> None:
    phone = _signed_in(browser, seeded, 390, 844)
    errors = _watched(phone)
    phone.reload()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(phone, "customers-at-risk-phone", full_page=True)
    for customer_id, name in (
        (seeded.ana, "customer-phone"),
        (seeded.hostile, "customer-hostile-phone"),
    ):
        phone.goto(f"{seeded.server.base_url}/customers/{customer_id}")
        phone.wait_for_load_state("load")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} scrolls sideways ({width}px)"
        _shot(phone, name, full_page=True)
    phone.context.close()
    assert errors == []
