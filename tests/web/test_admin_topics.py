"""The topics admin page: who may curate, what it shows, its forms, and a merge in Chromium."""

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import update
from sqlmodel import Session, select

from hub.feedback.service import ingest
from hub.metrics.service import FEEDBACK
from hub.store.engine import make_engine, session_scope
from hub.store.types import utcnow
from hub.topics.models import FeedbackTopic, Topic, TopicOrigin
from hub.topics.service import correct_topics, seed_topics, store_model_topics
from hub.users.models import Role
from tests.conftest import Database
from tests.factories import item
from tests.live_server import LiveServer, live_server
from tests.metrics.test_rollups import assert_rollups_match_rebuild
from tests.signin import sign_in
from tests.web.conftest import SHOTS

pytestmark = pytest.mark.anyio
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
PARKING = [
    "There is never any parking near the pickup point",
    "Parking at the pickup point is a nightmare on Saturdays",
    HOSTILE,
]


def curated_world(engine: object) -> list[int]:
    """Seeded topics, a parking suggestion with a hostile verbatim, and three recent items
    (already enriched, so a worker leaves them be): two about pricing (one also billing), one
    about delivery. Returns the items' ids."""
    recent = (utcnow() - timedelta(days=2)).isoformat()
    with session_scope(engine) as session:  # type: ignore[arg-type]
        seed_topics(session)
        session.add(
            Topic(key="discovered_parking_pickup", name="parking · pickup", active=False,
                  origin=TopicOrigin.discovered, examples={"discovered": PARKING},
                  description="Suggested from 3 items of the last 30 days that fit no topic.")
        )  # fmt: skip
        summary = ingest(session, raw_items=[item(created_at=recent) for _ in range(3)])
        ids = [r.id for r in summary.results if r.id]
        session.execute(update(FEEDBACK).where(FEEDBACK.c.id.in_(ids)).values(nlp_state="done"))
        store_model_topics(session, assigned={
            ids[0]: [("pricing", 0.8)], ids[1]: [("pricing", 0.5), ("billing", 0.9)],
            ids[2]: [("delivery", 0.7)],
        })  # fmt: skip
    return ids


@pytest.fixture
def world(db: Database) -> list[int]:
    return curated_world(db.engine)


def keys_of(db: Database) -> set[str]:
    with Session(db.engine) as session:
        return set(session.exec(select(Topic.key)).all())


@pytest.mark.parametrize("role", list(Role))
async def test_leads_and_admins_curate_agents_and_viewers_may_not(
    client: httpx.AsyncClient, db: Database, world: list[int], role: Role
) -> None:
    csrf = await sign_in(client, db.engine, role)
    allowed = role.allows(Role.lead)
    calls = [
        ("GET", "/admin/topics", None, 200),
        ("POST", "/admin/topics/discovered_parking_pickup/rename",
         {"name": "Parking", "new_key": ""}, 303),
        ("POST", "/admin/topics/discovered_parking_pickup/accept",
         {"name": "Parking", "new_key": "parking"}, 303),
        ("POST", "/admin/topics/usability/rename", {"name": "Ease of use", "new_key": ""}, 303),
        ("POST", "/admin/topics/pricing/merge", {"into": "billing"}, 303),
        ("POST", "/admin/topics/onboarding/delete", {}, 303),
    ]  # fmt: skip
    for method, path, form, status in calls:
        data = None if form is None else {**form, "csrf_token": csrf}
        response = await client.request(method, path, data=data)
        assert response.status_code == (status if allowed else 403), (path, response.text[:300])
    expected = {"parking", "billing"} if allowed else {"discovered_parking_pickup", "pricing"}
    assert expected <= keys_of(db)
    assert ("onboarding" in keys_of(db)) != allowed


async def test_the_page_lists_taxonomy_counts_and_escaped_suggestions(
    client: httpx.AsyncClient, db: Database, world: list[int]
) -> None:
    await sign_in(client, db.engine, Role.lead)
    page = await client.get("/admin/topics")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/admin/topics" aria-current="page">Topics</a>' in html
    assert "<script>window.__pwned" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "parking · pickup" in html and "Suggested from 3 items" in html
    pricing = re.search(r'<tr id="topic-pricing".*?</tr>', html, re.S)
    assert pricing is not None
    assert re.search(r'class="count">2<', pricing.group(0))  # two items in the last 30 days
    assert "2 items carry this topic: merge it" in pricing.group(0)
    onboarding = re.search(r'<tr id="topic-onboarding".*?</tr>', html, re.S)
    assert onboarding is not None and 'class="count">0<' in onboarding.group(0)
    assert "/admin/topics/onboarding/delete" in onboarding.group(0)  # unused: may be deleted
    assert html.count('<option value="billing"') >= 2  # merge targets: active topics only
    assert '<option value="discovered_parking_pickup"' not in html


async def test_a_merge_through_the_page_moves_items_and_keeps_rollups_exact(
    client: httpx.AsyncClient, db: Database, world: list[int]
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    response = await client.post(
        "/admin/topics/pricing/merge", data={"into": "billing", "csrf_token": csrf}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/topics?done=merged#topic-billing"
    assert "Topics merged" in (await client.get(response.headers["location"])).text
    with Session(db.engine) as session:
        billing = session.exec(select(Topic).where(Topic.key == "billing")).one()
        carried = session.exec(
            select(FeedbackTopic.feedback_id).where(FeedbackTopic.topic_id == billing.id)
        ).all()
    assert sorted(carried) == sorted(world[:2])
    assert_rollups_match_rebuild(db)


@pytest.mark.parametrize(
    ("path", "form", "status", "message", "kept"),
    [
        ("/admin/topics/pricing/merge", {"into": "pricing"}, 422, "into itself", None),
        ("/admin/topics/pricing/delete", {}, 409, "2 items carry topic", None),
        ("/admin/topics/usability/rename", {"name": "Ease of use", "new_key": "billing"}, 409,
         "exists already", 'value="Ease of use"'),
        ("/admin/topics/discovered_parking_pickup/accept",
         {"name": "Parking spots", "new_key": "Not A Key"}, 422, "pattern",
         'value="Parking spots"'),
    ],
)  # fmt: skip
async def test_refused_forms_say_why_and_keep_the_input(
    client: httpx.AsyncClient,
    db: Database,
    world: list[int],
    path: str,
    form: dict[str, str],
    status: int,
    message: str,
    kept: str | None,
) -> None:
    csrf = await sign_in(client, db.engine, Role.admin)
    before = keys_of(db)
    response = await client.post(path, data={**form, "csrf_token": csrf})
    assert response.status_code == status
    alert = re.search(r'<p class="form-error" role="alert" id="error-([a-z_]+)">(.*?)</p>',
                      response.text, re.S)  # fmt: skip
    assert alert is not None and alert.group(1) == path.split("/")[3]
    assert message in alert.group(2)
    if kept:
        assert kept in response.text
    assert keys_of(db) == before


async def test_posts_need_the_session_csrf_token(
    client: httpx.AsyncClient, db: Database, world: list[int]
) -> None:
    await sign_in(client, db.engine, Role.admin)
    response = await client.post(
        "/admin/topics/pricing/merge", data={"into": "billing", "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert "pricing" in keys_of(db)


async def test_a_person_assigned_suggestion_is_dismissed_through_the_rollups(
    client: httpx.AsyncClient, db: Database, world: list[int]
) -> None:
    with session_scope(db.engine) as session:
        correct_topics(session, feedback_id=world[2], keys=["discovered_parking_pickup"])
    csrf = await sign_in(client, db.engine, Role.lead)
    response = await client.post(
        "/admin/topics/discovered_parking_pickup/delete", data={"csrf_token": csrf}
    )
    assert response.headers["location"] == "/admin/topics?done=dismissed"
    assert "discovered_parking_pickup" not in keys_of(db)
    assert_rollups_match_rebuild(db)


# ---- in Chromium ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir: Path = tmp_path_factory.mktemp("live-topics")
    with live_server(workdir) as running:
        engine = make_engine(f"sqlite:///{workdir / 'hub.db'}")
        curated_world(engine)
        engine.dispose()
        yield running


def signed_in(browser: Browser, server: LiveServer, width: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{server.base_url}/admin/topics")
    page.fill("input[name=email]", server.email)
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/admin/topics")
    return page


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_merging_in_chromium(server: LiveServer, browser: Browser) -> None:
    phone = signed_in(browser, server, 390)
    phone.locator("#topic-pricing summary").click()
    shot(phone, "admin-topics-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    page = signed_in(browser, server, 1280)
    problems: list[str] = []  # CSP violations and script errors show up here
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    card = page.locator("#topic-discovered_parking_pickup")
    assert HOSTILE in card.locator(".verbatims").inner_text()  # shown as text, not run
    shot(page, "admin-topics")

    row = page.locator("#topic-pricing")
    row.locator("summary").click()
    row.locator("select[name=into]").select_option(label="Billing")
    shot(page, "admin-topics-edit")
    row.get_by_role("button", name="Merge").click()
    page.wait_for_url("**/admin/topics?done=merged#topic-billing")
    assert "Topics merged" in page.locator(".notice").inner_text()
    assert page.locator("#topic-pricing").count() == 0
    assert page.locator("#topic-billing .count").inner_text() == "2"

    card.locator("select[name=into]").select_option(label="Delivery")
    card.get_by_role("button", name="Merge").click()
    page.wait_for_url("**/admin/topics?done=merged#topic-delivery")
    assert page.locator(".suggestion-card").count() == 0
    assert "No suggestions waiting" in page.inner_text("main")
    assert page.evaluate("window.__pwned") is None
    assert problems == []
