"""The inbox's topic filter, and the "Export CSV" links of the inbox and the case queue: they
carry the page's filters and download every item the page lists, over all its pages."""

import csv
import html
import io
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine, update

from hub.app import create_app
from hub.config import Settings
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.routing.models import Priority
from hub.store.engine import session_scope
from hub.topics.service import seed_topics, store_model_topics
from hub.users.models import Role
from tests.conftest import Database
from tests.factories import item
from tests.live_server import LiveServer, seeded_server
from tests.signin import sign_in
from tests.web.conftest import SHOTS
from tests.web.test_cases_pages import add_user, make_case, row_ids, user_id

pytestmark = pytest.mark.anyio


def stored(engine: Engine, *items: dict, topics: list[str] | None = None) -> list[int]:
    """Ingest items (each gets ``topics``, as the NLP worker would give them); their ids."""
    with session_scope(engine) as session:
        seed_topics(session)
        ids = [r.id for r in ingest(session, raw_items=list(items)).results]
        assigned = {i: [(key, 0.9) for key in topics or []] for i in ids if i is not None}
        store_model_topics(session, assigned=assigned)
        return [i for i in ids if i is not None]


def export_href(page: str) -> str:
    found = re.search(r'<a class="export" href="([^"]+)"', page)
    assert found is not None, "no Export CSV link"
    return html.unescape(found.group(1))


def csv_ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return [int(row["id"]) for row in csv.DictReader(io.StringIO(response.text))]


def item_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'<article class="item" data-id="(\d+)"', page)]


# The inbox ----------------------------------------------------------------------------------


async def test_the_inbox_filters_by_topic(client: httpx.AsyncClient, db: Database) -> None:
    await sign_in(client, db.engine, Role.viewer)
    billing = stored(db.engine, item(text="Charged twice"), topics=["billing"])
    stored(db.engine, item(text="The app crashes"), topics=["app_bugs"])
    page = await client.get("/feedback", params={"topic": "billing"})
    assert item_ids(page.text) == billing
    assert '<option value="billing" selected>' in page.text
    everything = await client.get("/feedback", params={"topic": ""})
    assert len(item_ids(everything.text)) == 2
    unknown = await client.get("/feedback", params={"topic": "no_such_topic"})
    assert item_ids(unknown.text) == [] and "No feedback matches" in unknown.text


async def test_the_inbox_export_is_every_item_of_every_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    matching = [
        item(source="app", text=f"charged {n}", created_at=f"2026-10-{n % 28 + 1:02d}T09:00:00Z")
        for n in range(53)
    ]
    stored(db.engine, *matching, topics=["billing"])
    stored(db.engine, item(source="web", text="charged on the web"), topics=["billing"])
    stored(db.engine, item(source="app", text="charged, but about the app"), topics=["app_bugs"])
    first = await client.get(
        "/feedback", params={"source": "app", "topic": "billing", "q": "charged"}
    )
    href = export_href(first.text)
    assert urlsplit(href).path == "/api/v1/feedback"
    assert parse_qs(urlsplit(href).query) == {
        "source": ["app"], "topic": ["billing"], "q": ["charged"], "format": ["csv"],
    }  # fmt: skip
    older = re.search(r'<a href="(/feedback\?[^"]+)"[^>]*>Older feedback', first.text)
    assert older is not None
    second = await client.get(html.unescape(older.group(1)))
    shown = item_ids(first.text) + item_ids(second.text)
    assert len(shown) == 53
    assert csv_ids(await client.get(href)) == shown  # the viewer's own session cookie


async def test_the_inbox_export_leaves_out_choices_the_page_ignores(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.agent)
    stored(db.engine, item(text="one"), item(text="two"))
    page = await client.get("/feedback", params={"channel": "fax", "language": ""})
    href = export_href(page.text)
    assert parse_qs(urlsplit(href).query) == {"format": ["csv"]}
    assert sorted(csv_ids(await client.get(href))) == sorted(item_ids(page.text))


async def test_strangers_get_no_export(client: httpx.AsyncClient, db: Database) -> None:
    stored(db.engine, item(text="secret"))
    assert (await client.get("/api/v1/feedback?format=csv")).status_code == 401
    response = await client.get("/cases.csv")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


# The case queue -----------------------------------------------------------------------------


async def test_the_queue_export_is_what_the_queue_lists_over_all_its_pages(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("web.cases.queue.PAGE_SIZE", 2)
    await sign_in(client, db.engine, Role.lead)
    for n in range(5):
        make_case(
            db.engine, text=f"high {n}", priority=Priority.high, sla="breached" if n else "ok"
        )
    make_case(db.engine, text="low", priority=Priority.low)
    query = {"priority": "high", "status": "any", "sort": "priority"}
    page = await client.get("/cases", params=query)
    href = export_href(page.text)
    assert urlsplit(href).path == "/cases.csv"
    assert parse_qs(urlsplit(href).query) == {
        "scope": ["all"], "priority": ["high"], "status": ["any"], "sort": ["priority"],
    }  # fmt: skip
    shown = row_ids(page.text)
    while (more := re.search(r'href="([^"]+)">Next page', page.text)) is not None:
        page = await client.get(html.unescape(more.group(1)))
        shown += row_ids(page.text)
    assert len(shown) == 5
    assert csv_ids(await client.get(href)) == shown
    breached = await client.get("/cases", params={**query, "sla": "breached"})
    exported = csv_ids(await client.get(export_href(breached.text)))
    assert len(exported) == 4 and exported[:2] == row_ids(breached.text)  # page one of two


async def test_an_agents_export_is_their_own_queue(client: httpx.AsyncClient, db: Database) -> None:
    await sign_in(client, db.engine, Role.agent)
    lee = add_user(db.engine, Role.lead, "lee@cestia.example", "Lee")
    mine = make_case(db.engine, text="mine", assignee_id=user_id(db.engine, "agent@cestia.example"))
    make_case(db.engine, text="theirs", assignee_id=lee)
    make_case(db.engine, text="nobody's")
    page = await client.get("/cases")
    assert row_ids(page.text) == [mine]
    href = export_href(page.text)
    assert parse_qs(urlsplit(href).query) == {"scope": ["mine"]}
    assert csv_ids(await client.get(href)) == [mine]
    assert csv_ids(await client.get("/cases.csv")) == [mine]  # no scope: the page's default
    every = await client.get("/cases", params={"scope": "all"})
    assert sorted(csv_ids(await client.get(export_href(every.text)))) == sorted(row_ids(every.text))


async def test_a_viewer_exports_the_queue_they_read(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    ids = [make_case(db.engine, text=f"case {n}") for n in range(3)]
    page = await client.get("/cases")
    assert parse_qs(urlsplit(export_href(page.text)).query) == {"scope": ["all"]}
    assert sorted(csv_ids(await client.get(export_href(page.text)))) == sorted(ids)


async def test_a_queue_longer_than_the_cap_shows_the_page_with_the_reason(
    db: Database,
) -> None:
    app = create_app(Settings(database_url=db.url, export_max_rows=2), engine=db.engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        await sign_in(c, db.engine, Role.lead)
        for n in range(3):
            make_case(db.engine, text=f"case {n}")
        response = await c.get("/cases.csv?scope=all")
        assert response.status_code == 422
        assert "text/html" in response.headers["content-type"]
        assert "3 rows match, and a CSV export holds at most 2" in response.text
        assert len(row_ids(response.text)) == 3


# In Chromium ---------------------------------------------------------------------------------

REVIEWS = [
    ("La entrega llegó tarde y nadie me avisó.", "es", ["delivery"]),
    ("Cobraram duas vezes no meu cartão.", "pt", ["billing"]),
    ('=HYPERLINK("http://evil.example") charged twice', "en", ["billing"]),
    ("The app logs me out every day.", "en", ["app_bugs"]),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A hub without its worker, with reviews in three languages, each with a case."""
    workdir = tmp_path_factory.mktemp("live-exports")
    with seeded_server(workdir, _seed) as (running, _):
        yield running


def _seed(engine: Engine) -> None:
    with session_scope(engine) as session:
        seed_topics(session)
    for n, (text, language, topics) in enumerate(REVIEWS):
        fields = {"text": text, "created_at": f"2026-11-0{n + 1}T09:00:00Z"}
        [feedback_id] = stored(engine, item(**fields), topics=topics)
        with session_scope(engine) as session:
            session.execute(
                update(Feedback).where(Feedback.id == feedback_id).values(language=language)
            )
        make_case(engine, text=f"case {n}", priority=Priority.high)


def signed_in_page(browser: Browser, server: LiveServer, path: str, width: int) -> Page:
    page = browser.new_context(
        viewport={"width": width, "height": 900}, accept_downloads=True
    ).new_page()
    page.goto(f"{server.base_url}{path}")
    page.fill("input[name=email]", server.email)
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}{path}")
    return page


def downloaded_rows(page: Page) -> list[dict[str, str]]:
    with page.expect_download() as started:
        page.click("a.export")
    download = started.value
    assert download.suggested_filename.endswith(".csv")
    return list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_the_inbox_export_downloads_what_the_inbox_shows(
    browser: Browser, server: LiveServer, width: int
) -> None:
    page = signed_in_page(browser, server, "/feedback?topic=billing", width)
    shown = page.locator("article.item").evaluate_all(
        "items => items.map(i => Number(i.dataset.id))"
    )
    assert len(shown) == 2
    assert page.locator("a.export").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"exports-inbox-{width}.png"))
    rows = downloaded_rows(page)
    assert [int(row["id"]) for row in rows] == shown
    assert {row["topics"] for row in rows} == {"billing"}
    assert "Cobraram duas vezes no meu cartão." in {row["text"] for row in rows}
    assert any(row["text"].startswith("'=HYPERLINK") for row in rows)
    page.context.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_the_queue_export_downloads_what_the_queue_shows(
    browser: Browser, server: LiveServer, width: int
) -> None:
    page = signed_in_page(browser, server, "/cases?priority=high", width)
    shown = page.locator("tr.case-row").evaluate_all("rows => rows.map(r => Number(r.dataset.id))")
    assert len(shown) == len(REVIEWS)
    assert page.locator("a.export").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"exports-cases-{width}.png"))
    assert [int(row["id"]) for row in downloaded_rows(page)] == shown
    page.context.close()
