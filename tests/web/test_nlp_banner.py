"""The admins' "sentiment is off" banner on every page, and the enrichment admin page."""

import re

import httpx
import pytest

from hub.users.models import Role
from tests.conftest import Database
from tests.enrichment.states import WITH, WITHOUT, enrich, seed
from tests.signin import sign_in

pytestmark = pytest.mark.anyio
HOSTILE = '<img src=x onerror="window.__pwned=1">'
BANNER = re.compile(r'<div class="system-banner" role="status">(.*?)</div>', re.S)
PAGES = ["/feedback", "/dashboard", "/cases", "/sources", "/admin/rules", "/admin/nlp"]


def banner(html: str) -> str | None:
    """The banner's text (tags and spacing collapsed), or None without one."""
    found = BANNER.search(html)
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split()) if found else None


async def test_an_admin_sees_it_on_every_page(client: httpx.AsyncClient, db: Database) -> None:
    ids = seed(db, 4)
    enrich(db, ids[:1], WITH)
    enrich(db, ids[1:], WITHOUT)
    await sign_in(client, db.engine, Role.admin)
    for path in PAGES:
        page = await client.get(path)
        assert page.status_code == 200, path
        text = banner(page.text)
        assert text is not None, path
        assert text.startswith("Sentiment is off: the last 3 analysed items have no sentiment")
        assert f"(model: {WITHOUT})" in text and "README → Enrichment" in text
        # the link to the details, except on the details page itself
        linked = (
            'href="/admin/nlp"' in page.text.split('class="system-banner"')[1].split("</div>")[0]
        )
        assert linked == (path != "/admin/nlp"), path


async def test_the_model_string_is_escaped(client: httpx.AsyncClient, db: Database) -> None:
    [only] = seed(db, 1)
    enrich(db, [only], f"language=lingua;embedder={HOSTILE}")
    await sign_in(client, db.engine, Role.admin)
    page = await client.get("/feedback")
    assert HOSTILE not in page.text
    assert "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in page.text
    assert banner(page.text) is not None
    assert "the last analysed item has no sentiment model" in (banner(page.text) or "")


@pytest.mark.parametrize("role", [Role.lead, Role.agent, Role.viewer])
async def test_other_roles_never_see_it(
    client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    enrich(db, seed(db, 2), WITHOUT)
    await sign_in(client, db.engine, role)
    page = await client.get("/feedback")
    assert page.status_code == 200
    assert banner(page.text) is None and "Sentiment is off" not in page.text


@pytest.mark.parametrize("model", [WITH, "nothing analysed"])
async def test_no_banner_when_all_is_well_or_nothing_was_analysed(
    client: httpx.AsyncClient, db: Database, model: str
) -> None:
    ids = seed(db, 3)
    if model == WITH:
        enrich(db, ids[:1], WITHOUT)  # an older item without: sentiment is back since
        enrich(db, ids[1:], WITH)
    await sign_in(client, db.engine, Role.admin)
    page = await client.get("/feedback")
    assert banner(page.text) is None and "system-banner" not in page.text


async def test_the_enrichment_page_explains_and_gives_the_reprocess_date(
    client: httpx.AsyncClient, db: Database
) -> None:
    enrich(db, seed(db, 2, day=1), WITH)
    enrich(db, seed(db, 2, day=3), WITHOUT)
    seed(db, 1)  # waiting
    await sign_in(client, db.engine, Role.admin)
    page = await client.get("/admin/nlp")
    assert page.status_code == 200
    assert 'href="/admin/nlp" aria-current="page"' in page.text
    assert '<span class="status status-failing">off</span>' in page.text
    assert "The newest 2 enriched items were analysed without a sentiment model" in page.text
    assert "feedback-hub nlp reprocess --since 2026-11-03" in page.text
    assert re.search(r"<dt>Waiting</dt><dd>1</dd>", page.text)


async def test_the_enrichment_page_when_all_is_well(
    client: httpx.AsyncClient, db: Database
) -> None:
    enrich(db, seed(db, 2), WITH)
    await sign_in(client, db.engine, Role.admin)
    page = await client.get("/admin/nlp")
    assert '<span class="status status-ok">on</span>' in page.text
    assert "Bringing sentiment back" not in page.text


@pytest.mark.parametrize("role", [Role.lead, Role.agent, Role.viewer])
async def test_only_admins_open_the_enrichment_page(
    client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    await sign_in(client, db.engine, role)
    page = await client.get("/admin/nlp")
    assert page.status_code == 403
