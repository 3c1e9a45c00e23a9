"""Working cases in real headless Chromium: keyboard shortcuts, select-all with bulk changes,
reply templates and "close and next", at desktop width and on a 390 px phone."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from hub.cases.service import open_case
from hub.config import Settings
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.routing.models import Priority, Strategy
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.users.models import Role, TeamCreate, UserCreate
from hub.users.service import create_team, create_user, set_members
from tests.factories import item
from tests.live_server import LiveServer, seeded_server
from tests.web.conftest import SHOTS

pytestmark = pytest.mark.browser
# (text, language, customer, hours until due): a team's queue, soonest due first
QUEUE = [
    ("Me cobraron dos veces la suscripción este mes.", "es",
     {"ref": "cus_lu", "name": "Lucía Gómez", "segment": "enterprise"}, 2),
    ("The invoice PDF is empty when I download it.", "en",
     {"ref": "cus_tom", "name": "Tom Reed", "segment": "smb"}, 6),
    ("Entrega atrasada de novo, ninguém respondeu.", "pt", {"ref": "cus_rui"}, 10),
    ("Cannot change my billing address in settings.", "en",
     {"ref": "cus_kim", "name": "Kim Park", "segment": "enterprise"}, 14),
    ("Refund promised last week never arrived.", "en",
     {"ref": "cus_ola", "name": "Ola Berg", "segment": "smb"}, 18),
]  # fmt: skip


@dataclass
class Seeded:
    """The running hub and its cases, soonest due first."""

    server: LiveServer
    case_ids: list[int]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with seeded_server(tmp_path_factory.mktemp("live-work"), _seed) as (server, ids):
        yield Seeded(server, ids)


def _seed(engine) -> list[int]:  # type: ignore[no-untyped-def]
    settings = Settings(database_url=str(engine.url))
    with session_scope(engine) as session:
        agent = create_user(session, data=UserCreate(
            email="cy@cestia.example", password="agent-password-1", name="Cy Agent",
            role=Role.agent))  # fmt: skip
        team = create_team(session, data=TeamCreate(name="Billing"))
        set_members(session, team_id=team.id, user_ids=[agent.id])
        ids = []
        for n, (text, language, customer, due_in) in enumerate(QUEUE):
            [result] = ingest(session, raw_items=[item(
                text=text, customer=customer, channel="ticket" if n % 2 else "survey",
                created_at=f"2026-11-{n + 10}T09:30:00Z")]).results  # fmt: skip
            feedback = session.get(Feedback, result.id)
            assert feedback is not None
            feedback.language = language
            case = open_case(session, settings=settings, feedback_id=feedback.id or 0,
                             team_id=team.id, assignee_id=agent.id if n == 1 else None,
                             strategy=Strategy.none, priority=Priority.normal, sla_hours=48,
                             rule_id=None, actor="system")  # fmt: skip
            case.due_at = utcnow() + timedelta(hours=due_in)
            case.sla_warn_at = case.due_at - timedelta(hours=1)
            session.add(case)
            session.flush()
            ids.append(case.id or 0)
        return ids


def _signed_in(browser: Browser, seeded: Seeded, width: int, height: int) -> Page:
    """A tab of this size signed in as the admin, on the queue; console errors fail the test."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    server = seeded.server
    page.goto(f"{server.base_url}/cases")
    page.fill("input[name=email]", server.email)
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/cases")
    page.errors = errors  # type: ignore[attr-defined]  # checked when the tab closes
    return page


@pytest.fixture
def desk(browser: Browser, seeded: Seeded) -> Iterator[Page]:
    page = _signed_in(browser, seeded, 1280, 900)
    yield page
    errors = page.errors  # type: ignore[attr-defined]
    page.context.close()
    assert errors == []


def _shot(page: Page, name: str, *, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _selected(page: Page) -> str | None:
    return page.locator("tr.case-row.selected").get_attribute("data-id")


def test_shortcuts_move_open_and_never_fire_while_typing(desk: Page, seeded: Seeded) -> None:
    first, second, third, *_ = seeded.case_ids
    assert "enterprise" in desk.locator(f"tr[data-id='{first}'] td.customer").inner_text()
    desk.keyboard.press("?")
    expect(desk.locator("#shortcut-help")).to_be_visible()
    _shot(desk, "work-shortcut-help")
    desk.keyboard.press("Escape")
    expect(desk.locator("#shortcut-help")).to_be_hidden()
    desk.keyboard.press("j")
    assert _selected(desk) == str(first)
    desk.keyboard.press("j")
    desk.keyboard.press("j")
    desk.keyboard.press("k")
    assert _selected(desk) == str(second)
    desk.keyboard.press("x")
    assert desk.locator(f"tr[data-id='{second}'] input[name=case_id]").is_checked()
    desk.fill("#bulk-resolution", "jjk")  # typing in a field moves nothing
    assert _selected(desk) == str(second)
    desk.keyboard.press("Escape")
    _shot(desk, "work-queue")
    desk.keyboard.press("j")
    desk.keyboard.press("Enter")
    desk.wait_for_url(f"**/cases/{third}?q=*")
    desk.keyboard.press("r")
    reply = desk.locator("#reply textarea[name=body]")
    expect(reply).to_be_focused()
    desk.keyboard.type("careful: a c in a reply")
    expect(reply).to_be_focused()  # "c" typed, not "close"
    assert reply.input_value() == "careful: a c in a reply"
    desk.keyboard.press("Escape")
    desk.keyboard.press("c")
    expect(desk.locator("#close textarea[name=resolution]")).to_be_focused()
    desk.keyboard.press("Escape")
    desk.keyboard.press("a")
    desk.wait_for_url("**done=assigned*")
    assert "Ada Admin" in desk.locator(".case-head .owner").inner_text()


def test_select_all_and_bulk_priority_then_assign_to_me_from_the_queue(
    desk: Page, seeded: Seeded
) -> None:
    rows = desk.locator("tr.case-row")
    desk.check("thead input.select-all")
    assert all(box.is_checked() for box in rows.locator("input[name=case_id]").all())
    desk.locator("tr.case-row input[name=case_id]").first.uncheck()
    assert desk.locator("thead input.select-all").evaluate("e => e.indeterminate")
    desk.locator("tr.case-row input[name=case_id]").first.check()
    desk.select_option("#bulk select[name=priority]", "high")
    desk.click("#bulk button[value=priority]")
    desk.wait_for_url("**done=priority*")
    count = len(seeded.case_ids)
    assert desk.get_by_role("status").inner_text() == f"{count} reprioritised."
    assert desk.locator("tr.case-row .priority-high").count() == count
    desk.keyboard.press("j")
    desk.keyboard.press("a")
    desk.wait_for_url("**done=assigned*")
    assert desk.get_by_role("status").inner_text() == "1 assigned."
    first = desk.locator(f"tr[data-id='{seeded.case_ids[0]}'] td.owner").inner_text()
    assert "Ada Admin" in first


def test_a_template_in_the_customers_language_then_close_and_next(
    desk: Page, seeded: Seeded
) -> None:
    first, second, *_ = seeded.case_ids
    desk.click(f"tr[data-id='{first}'] td.case-id a")
    desk.wait_for_url(f"**/cases/{first}?q=*")
    picked = desk.locator("#macro-pick select option:checked").inner_text()
    assert picked.endswith("· es")  # the feedback's language comes first
    desk.select_option("#macro-pick select", label="Apology and offer · es")
    desk.click("#macro-pick button")
    desk.wait_for_url(f"**/cases/{first}?*macro=*")
    body = desk.locator("#reply textarea[name=body]").input_value()
    assert body.startswith("Hola, Lucía Gómez:") and "Ada Admin" in body
    assert f"(caso {first})" in desk.locator("#reply input[name=subject]").input_value()
    _shot(desk, "work-case", full_page=True)
    desk.fill("#close textarea[name=resolution]", "Refunded the second charge.")
    desk.click("#close button.close-next")
    desk.wait_for_url(f"**/cases/{second}?*done=closed-next*")
    assert desk.get_by_role("status").inner_text().startswith("Case closed.")
    desk.click(".crumbs a")
    desk.wait_for_url("**/cases?*")
    assert str(first) not in [r.get_attribute("data-id") for r in desk.locator("tr.case-row").all()]


def test_the_reply_templates_admin_page_refuses_an_unknown_placeholder(
    desk: Page, seeded: Seeded
) -> None:
    desk.goto(f"{seeded.server.base_url}/admin/macros")
    assert desk.locator(".macro-card").count() == 9  # seeded on first start
    desk.fill("#new-macro input[name=name]", "Voucher")
    desk.fill("#new-macro textarea[name=body]", "Hi {first_name}, here is your voucher.")
    desk.click("#new-macro button")
    expect(desk.locator("#new-macro .form-error")).to_contain_text("unknown placeholder")
    desk.errors.remove(  # type: ignore[attr-defined]  # the refused form's own 422
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    )
    desk.fill("#new-macro textarea[name=body]", "Hi {customer_name}, here is your voucher.")
    desk.click("#new-macro button")
    desk.wait_for_url("**done=macro")
    assert desk.locator(".macro-card").count() == 10
    _shot(desk, "work-admin-macros")


def test_on_a_phone_the_queue_bulk_bars_and_case_fit(browser: Browser, seeded: Seeded) -> None:
    phone = _signed_in(browser, seeded, 390, 844)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    expect(phone.locator("#bulk button[value=close]")).to_be_visible()
    phone.check(".select-all-phone input")  # the table's header is hidden on a phone
    boxes = phone.locator("tr.case-row input[name=case_id]").all()
    assert boxes and all(box.is_checked() for box in boxes)
    _shot(phone, "work-queue-phone", full_page=True)
    phone.locator("tr.case-row .summary a").first.click()
    phone.wait_for_url("**/cases/*?q=*")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    expect(phone.locator("#close button.close-next")).to_be_visible()
    _shot(phone, "work-case-phone", full_page=True)
    phone.keyboard.press("?")
    expect(phone.locator("#shortcut-help")).to_be_visible()
    _shot(phone, "work-help-phone")
    phone.goto(f"{seeded.server.base_url}/admin/macros")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(phone, "work-admin-macros-phone", full_page=True)
    errors = phone.errors  # type: ignore[attr-defined]
    phone.context.close()
    assert errors == []
