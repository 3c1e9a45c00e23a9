"""HTML pages through the ASGI app: escaping, filters and the dev-only guard."""

import httpx
import pytest

from hub.app import create_app
from hub.config import Settings
from hub.users.models import Role
from tests.factories import item
from tests.signin import sign_in

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
async def signed_in(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    """Every page needs a signed-in person."""
    await sign_in(client, db.engine, Role.viewer)


async def test_inbox_escapes_and_filters(client: httpx.AsyncClient, auth: dict) -> None:
    items = [
        item(source="web", text="<b>bold</b> & <script>x()</script>"),
        item(source="app", channel="review", score_type="stars", score=4, text="fine"),
    ]
    await client.post("/api/v1/feedback", json={"items": items}, headers=auth)
    page = await client.get("/feedback")
    assert page.status_code == 200
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt;" in page.text
    assert "<script>x()" not in page.text
    filtered = await client.get("/feedback", params={"channel": "review", "score_type": ""})
    assert "fine" in filtered.text and "bold" not in filtered.text
    unknown_choice = await client.get("/feedback", params={"channel": "fax"})
    assert unknown_choice.status_code == 200 and "fine" in unknown_choice.text


async def test_home_redirects_to_the_inbox(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert (response.status_code, response.headers["location"]) == (303, "/feedback")


async def test_pages_send_strangers_to_sign_in_and_back(db) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(database_url=db.url, env="prod", secret_key="k" * 48)
    app = create_app(settings, engine=db.engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/feedback?channel=review")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/feedback%3Fchannel%3Dreview"
        assert (await c.get("/healthz")).status_code == 200
        await sign_in(c, db.engine, Role.agent)
        assert (await c.get("/feedback")).status_code == 200


async def test_the_older_link_keeps_the_filters(client: httpx.AsyncClient, auth: dict) -> None:
    items = [
        item(channel="review", score_type="stars", score=5, text=f"review {n}") for n in range(55)
    ]
    await client.post("/api/v1/feedback", json={"items": items}, headers=auth)
    page = await client.get("/feedback", params={"channel": "review", "q": "review"})
    assert 'option value="review" selected' in page.text
    pager = page.text.split('<nav class="pager" aria-label="Pages">')[1]
    link = pager.split('href="')[1].split('"')[0]
    assert link.startswith("/feedback?q=review&amp;channel=review&amp;cursor=")
    older = await client.get(link.replace("&amp;", "&"))
    assert older.text.count('<article class="item"') == 5


async def test_sources_page_shows_status_and_escapes_errors(
    client: httpx.AsyncClient,
    auth: dict,
    db,  # type: ignore[no-untyped-def]
) -> None:
    from sqlmodel import select

    from hub.sources.models import Source, SourceCreate
    from hub.sources.service import create_source
    from hub.store.engine import session_scope

    await client.post("/api/v1/feedback", json=item(source="website-nps"), headers=auth)
    with session_scope(db.engine) as session:
        create_source(
            session, data=SourceCreate(kind="hackernews", name="hn", config={"query": "x"})
        )
        row = session.exec(select(Source).where(Source.name == "hn")).one()
        row.consecutive_failures, row.last_error = 2, "malformed response: <script>x()</script>"
        session.add(row)
    page = await client.get("/sources")
    assert page.status_code == 200
    assert "failing" in page.text and "\u00d72" in page.text  # "times 2": failed twice in a row
    assert "&lt;script&gt;x()&lt;/script&gt;" in page.text and "<script>x()" not in page.text
    assert "website-nps" in page.text
