"""The triage pages in real headless Chromium against a real server; screenshots in artifacts/."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page

from hub.cases.service import open_case
from hub.config import Settings
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.routing.models import Priority, Strategy
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.topics.service import store_model_topics
from hub.users.models import Role, TeamCreate, UserCreate
from hub.users.service import create_team, create_user, set_members
from tests.factories import item
from tests.live_server import LiveServer, seeded_server
from tests.web.conftest import SHOTS

pytestmark = pytest.mark.browser
HOSTILE = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">'
ANA = {"ref": "cus_ana", "name": "Ana Lima", "email": "ana@example.com", "segment": "smb"}
# (text, priority, SLA state, sentiment, topics): a queue a support lead might open on a Monday
CASES = [
    (
        "My order arrived two weeks late and support never answered my emails.",
        Priority.urgent,
        "breached",
        "negative",
        [("delivery", 0.93), ("customer_support", 0.71)],
    ),
    (
        "I was charged twice for the same subscription this month.",
        Priority.high,
        "near_breach",
        "negative",
        [("billing", 0.95), ("subscription", 0.64)],
    ),
    (
        "The app logs me out every time I switch to another app.",
        Priority.normal,
        "ok",
        "negative",
        [("account_login", 0.88), ("app_bugs", 0.52)],
    ),
    (HOSTILE, Priority.high, "ok", "neutral", []),
    (
        "Refund still not processed after returning the jacket.",
        Priority.low,
        "ok",
        "negative",
        [("refunds_returns", 0.9)],
    ),
]


@dataclass
class Seeded:
    """The running hub and what the tests put in it."""

    server: LiveServer
    case_ids: list[int]
    hostile_id: int


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A hub without its worker (nothing re-routes or re-scores behind the test's back)."""
    workdir = tmp_path_factory.mktemp("live-cases")
    with seeded_server(workdir, _seed) as (server, ids):
        yield Seeded(server, ids, ids[3])


def _seed(engine) -> list[int]:  # type: ignore[no-untyped-def]
    settings = Settings(database_url=str(engine.url))
    with session_scope(engine) as session:
        agent = create_user(
            session,
            data=UserCreate(
                email="cy@cestia.example",
                password="agent-password-1",
                name="Cy Agent",
                role=Role.agent,
            ),
        )
        team = create_team(session, data=TeamCreate(name="Care"))
        set_members(session, team_id=team.id, user_ids=[agent.id])
        ingest(
            session,
            raw_items=[
                item(
                    text="Loved the new checkout, much faster.",
                    customer=ANA,
                    score=9,
                    created_at="2026-09-01T10:00:00Z",
                )
            ],
        )
        ids = []
        for n, (text, priority, sla, sentiment, topics) in enumerate(CASES):
            fields = {"text": text, "customer": ANA, "created_at": f"2026-11-0{n + 1}T09:30:00Z"}
            if text == HOSTILE:
                fields |= {"title": HOSTILE, "author": HOSTILE, "customer": {"ref": "cus_x"}}
            [result] = ingest(session, raw_items=[item(**fields)]).results
            assert result.id is not None
            feedback = session.get(Feedback, result.id)
            assert feedback is not None
            feedback.sentiment, feedback.sentiment_confidence = sentiment, 0.8 + n / 50
            feedback.sentiment_by, feedback.language = "model", "en"
            session.add(feedback)
            store_model_topics(session, assigned={result.id: topics})
            case = open_case(
                session,
                settings=settings,
                feedback_id=result.id,
                team_id=team.id if n % 2 else None,
                assignee_id=agent.id if n == 2 else None,
                strategy=Strategy.none,
                priority=priority,
                sla_hours=48,
                rule_id=None,
                actor="system",
            )
            now = utcnow()
            if sla == "near_breach":
                case.due_at, case.sla_warn_at = now + timedelta(hours=3), now - timedelta(hours=6)
            elif sla == "breached":
                case.due_at, case.sla_warn_at = now - timedelta(hours=7), now - timedelta(hours=9)
            else:
                case.due_at = now + timedelta(hours=20 + 4 * n)
            session.add(case)
            session.flush()
            assert case.id is not None
            ids.append(case.id)
        return ids


def _page(browser: Browser, seeded: Seeded, width: int, height: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    server = seeded.server
    page.goto(f"{server.base_url}/cases")
    assert "/login?next=/cases" in page.url
    page.fill("input[name=email]", server.email)
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/cases")
    return page


@pytest.fixture
def page(browser: Browser, seeded: Seeded) -> Iterator[Page]:
    """A laptop-sized tab signed in as the admin, on the queue; console errors fail the test."""
    opened = _page(browser, seeded, 1280, 900)
    errors: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield opened
    opened.context.close()
    assert errors == []


def _shot(page: Page, name: str, *, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def test_the_queue_shows_sla_at_a_glance(seeded: Seeded, page: Page) -> None:
    rows = page.locator("tr.case-row")
    assert rows.count() == len(CASES)
    first = rows.first  # soonest due: the breached one
    assert first.get_attribute("data-id") == str(seeded.case_ids[0])
    badge = first.locator(".sla")
    assert badge.inner_text() == "breached"
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(192, 57, 43)"
    assert "overdue by 7 h" in first.locator(".sla-cell time").inner_text()
    assert rows.nth(1).locator(".sla").inner_text() == "near breach"
    _shot(page, "cases-queue")
    page.click("a.sla-breached")
    page.wait_for_url("**sla=breached**")
    assert page.locator("tr.case-row").count() == 1


def test_the_queue_is_stacked_cards_on_a_phone(browser: Browser, seeded: Seeded) -> None:
    phone = _page(browser, seeded, 390, 844)
    row = phone.locator("tr.case-row").first
    assert row.evaluate("e => getComputedStyle(e).display") == "flex"
    assert phone.locator("table.cases thead").evaluate("e => getComputedStyle(e).display") == "none"
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px)"
    _shot(phone, "cases-queue-phone")
    phone.click(f"a[href^='/cases/{seeded.case_ids[1]}?'] >> nth=0")  # ?q=: the queue it is in
    phone.wait_for_url(f"**/cases/{seeded.case_ids[1]}?*")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(phone, "case-phone", full_page=True)
    phone.context.close()


def test_a_lead_assigns_notes_replies_and_closes_a_case(seeded: Seeded, page: Page) -> None:
    case_id = seeded.case_ids[0]
    page.click(f"tr.case-row[data-id='{case_id}'] .summary a")
    page.wait_for_url(f"**/cases/{case_id}?*")
    assert "two weeks late" in page.locator(".case-item .text").inner_text()
    assert "Ana Lima" in page.locator(".customer").inner_text()
    assert "Loved the new checkout" in page.locator(".case-history").inner_text()

    page.select_option("#assign select[name=assignee_id]", label="Cy Agent")
    page.select_option("#assign select[name=team_id]", label="Care")
    page.click("#assign button")
    page.wait_for_url("**done=assigned")
    assert page.get_by_role("status").inner_text() == "Assignment saved."
    timeline = page.locator(".timeline")
    assert "nobody → Cy Agent" in timeline.inner_text()
    assert "no team → Care" in timeline.inner_text()

    page.fill("#note textarea[name=body]", "Asked the carrier for the tracking history.")
    page.click("#note button")
    page.wait_for_url("**done=note")
    assert "Asked the carrier" in timeline.locator(".event-commented").inner_text()

    assert "send by hand" in page.locator("#reply .delivery").inner_text()
    page.fill("#reply input[name=subject]", "Your late order")
    page.fill("#reply textarea[name=body]", "Sorry! A new parcel is on its way.")
    page.click("#reply button")
    page.wait_for_url("**done=reply-manual")
    reply = timeline.locator(".event-replied_to_customer")
    assert "Draft recorded, not sent (for ana@example.com)" in reply.inner_text()
    assert "A new parcel is on its way." in reply.inner_text()

    page.select_option("#status select", "in_progress")
    page.click("#status button")
    page.wait_for_url("**done=status")
    page.fill("#close textarea[name=resolution]", "Re-sent the order with express shipping.")
    page.click("#close button")
    page.wait_for_url("**done=closed")
    assert page.get_by_role("status").inner_text() == "Case closed."
    assert page.locator(".case-head .status").inner_text() == "closed"
    assert "Re-sent the order" in timeline.locator(".event-status_changed").last.inner_text()
    assert timeline.locator(".event").count() == 7
    _shot(page, "case", full_page=True)


def test_hostile_feedback_is_literal_text_and_never_runs(seeded: Seeded, page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    assert HOSTILE in page.locator(f"tr.case-row[data-id='{seeded.hostile_id}']").inner_text()
    assert page.evaluate("window.__pwned") is None
    page.goto(f"{seeded.server.base_url}/cases/{seeded.hostile_id}")
    page.fill("#note textarea[name=body]", HOSTILE)
    page.click("#note button")
    page.wait_for_url("**done=note")
    assert page.locator(".case-item .text").inner_text() == HOSTILE
    assert page.locator(".case-item .fb-title").inner_text() == HOSTILE
    assert page.locator(".event-commented .event-body").inner_text() == HOSTILE
    assert page.locator("main script, main img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    _shot(page, "case-hostile")
