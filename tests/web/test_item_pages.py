"""The item page, opening a case from pages, the inbox's filters, count and pages, and HTML 403s
(through the ASGI app, on both backends)."""

import re
from typing import Any

import httpx
import pytest
from sqlmodel import select

from hub.cases.models import Case, CaseEvent, Status
from hub.feedback.models import Feedback
from hub.store.engine import session_scope
from hub.users.models import Role
from tests.cases.test_service import Member, load_all, move, store, team_of
from tests.conftest import Database
from tests.factories import item
from tests.signin import sign_in

pytestmark = pytest.mark.anyio
HOSTILE = "<script>window.__pwned=1</script>"


def enriched(db: Database, feedback_id: int, **fields: Any) -> None:
    """Set enrichment columns as the worker would."""
    with session_scope(db.engine) as session:
        feedback = session.get(Feedback, feedback_id)
        assert feedback is not None
        for name, value in fields.items():
            setattr(feedback, name, value)
        session.add(feedback)


def csrf_of(html: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    return token.group(1)


async def test_the_item_page_shows_the_item_and_opens_a_case(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.agent)
    team, [bo] = team_of(db, "Billing", Member())
    ana = {"ref": "cus_9", "name": "Ana Lima", "email": "ana@x.example", "segment": "enterprise"}
    [feedback] = store(db, item(text=f"Charged twice {HOSTILE}", title="Escalate", customer=ana))
    enriched(db, feedback, language="en", sentiment="negative", sentiment_score=-0.8,
             sentiment_confidence=0.93, nlp_state="done")  # fmt: skip
    page = await client.get(f"/feedback/{feedback}")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Feedback #" in html and "Escalate" in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html and HOSTILE not in html
    assert "confidence 0.93" in html and "score -0.80" in html
    assert "<dt>Language</dt><dd>en</dd>" in html
    with session_scope(db.engine) as session:
        [customer_id] = session.exec(select(Feedback.customer_id)).all()
    assert f'<a href="/customers/{customer_id}">Ana Lima</a>' in html
    assert (
        f'<form method="post" action="/feedback/{feedback}/case" class="action" id="open-case">'
        in html
    )
    assert f'<option value="{bo}" >' in html and f'<option value="{team}" >' in html

    form = {"csrf_token": csrf_of(html), "team_id": str(team), "assignee_id": str(bo),
            "priority": "urgent", "note": "call back today"}  # fmt: skip
    opened = await client.post(f"/feedback/{feedback}/case", data=form)
    assert opened.status_code == 303
    [case] = load_all(db, Case)
    assert opened.headers["location"] == f"/cases/{case.id}?done=opened"
    assert (case.team_id, case.assignee_id, case.priority) == (team, bo, "urgent")
    kinds = [e.kind for e in load_all(db, CaseEvent)]
    assert kinds == ["created", "assigned", "commented"]
    assert "Case opened." in (await client.get(opened.headers["location"])).text

    again = await client.get(f"/feedback/{feedback}")
    assert f'href="/cases/{case.id}">Case #{case.id} · assigned</a>' in again.text
    assert 'id="open-case"' not in again.text
    twice = await client.post(f"/feedback/{feedback}/case", data=form)
    assert twice.status_code == 409
    assert f"already has an open case: #{case.id}" in twice.text

    move(db, case.id or 0, Status.closed, "refunded")
    closed = (await client.get(f"/feedback/{feedback}")).text
    assert "Reopen case</button>" in closed
    reopened = await client.post(
        f"/feedback/{feedback}/case", data={"csrf_token": form["csrf_token"]}
    )
    assert reopened.headers["location"] == f"/cases/{case.id}?done=opened"
    assert [e.kind for e in load_all(db, CaseEvent)][-2:] == ["status_changed", "assigned"]
    assert load_all(db, Case)[0].priority == "urgent"  # kept: the form named none


async def test_refused_and_invalid_forms_say_why_and_change_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.agent)
    [feedback] = store(db, item())
    url = f"/feedback/{feedback}/case"
    no_token = await client.post(url, data={"priority": "high"})
    assert no_token.status_code == 403 and "The form expired" in no_token.text
    assert "<h1>Feedback #" in no_token.text  # the page again, not JSON
    bad = await client.post(url, data={"csrf_token": csrf, "team_id": "9999"})
    assert bad.status_code == 422 and "No team with id 9999." in bad.text
    odd = await client.post(url, data={"csrf_token": csrf, "priority": "asap"})
    assert odd.status_code == 422 and "choose a priority" in odd.text.lower()
    missing = await client.post("/feedback/424242/case", data={"csrf_token": csrf})
    assert missing.status_code == 404
    assert load_all(db, Case) == []


async def test_viewers_see_no_open_case_and_unknown_items_get_a_404_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.viewer)
    [feedback] = store(db, item())
    page = await client.get(f"/feedback/{feedback}")
    assert (
        'id="open-case"' not in page.text and "Agents, leads and admins can open one" in page.text
    )
    inbox = await client.get("/feedback")
    assert "Open case" not in inbox.text and '<span class="no-case">no case</span>' in inbox.text
    refused = await client.post(f"/feedback/{feedback}/case", data={"csrf_token": csrf})
    assert refused.status_code == 403 and "Viewers can read cases" in refused.text
    missing = await client.get("/feedback/424242")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert "No feedback with id 424242." in missing.text


async def test_inbox_rows_link_and_open_cases(client: httpx.AsyncClient, db: Database) -> None:
    csrf = await sign_in(client, db.engine, Role.agent)
    first, second = store(db, item(text="first"), item(text="second"))
    html = (await client.get("/feedback")).text
    assert f'<a class="item-link" href="/feedback/{first}">' in html
    assert f'action="/feedback/{second}/case"' in html
    with session_scope(db.engine) as session:
        [customer_id] = set(session.exec(select(Feedback.customer_id)).all())
    assert f'<a class="who" href="/customers/{customer_id}">' in html
    opened = await client.post(f"/feedback/{first}/case", data={"csrf_token": csrf})
    assert opened.status_code == 303
    [case] = load_all(db, Case)
    html = (await client.get("/feedback")).text
    assert f'<a class="case-link" href="/cases/{case.id}">Case #{case.id} · new</a>' in html
    assert f'action="/feedback/{first}/case"' not in html
    customer = (await client.get(f"/customers/{customer_id}")).text
    assert f'href="/cases/{case.id}">Case #{case.id}' in customer
    assert f'action="/feedback/{second}/case"' in customer


async def test_inbox_filters_count_and_customer_search(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    ids = store(
        db,
        item(text="ana old", created_at="2026-10-01T10:00:00Z",
             customer={"ref": "CUS_ANA", "name": "Ana Lima", "email": "ana@shop.example"}),
        item(text="ana new", created_at="2026-11-15T10:00:00Z",
             customer={"ref": "CUS_ANA", "name": "Ana Lima", "email": "ana@shop.example"}),
        item(text="bo", created_at="2026-11-20T10:00:00Z",
             customer={"ref": "ref-bo-7", "name": "Bo Jensen", "email": "bo@corp.example"}),
    )  # fmt: skip
    enriched(db, ids[1], sentiment="negative")
    enriched(db, ids[2], sentiment="positive")

    async def texts(**params: str) -> tuple[list[str], str]:
        html = (await client.get("/feedback", params=params)).text
        return re.findall(r'<p class="text">(.*?)</p>', html), html

    shown, html = await texts()
    assert shown == ["bo", "ana new", "ana old"] and "3 items" in html
    for query, expected in (("LIMA", ["ana new", "ana old"]), ("Corp.Example", ["bo"]),
                            ("bo-7", ["bo"]), ("cus_ana", ["ana new", "ana old"]),
                            ("%", [])):  # fmt: skip
        assert (await texts(customer=query))[0] == expected, query
    assert (await texts(sentiment="negative"))[0] == ["ana new"]
    shown, html = await texts(**{"from": "2026-11-01", "to": "2026-11-15"})
    assert shown == ["ana new"] and "1 item<" in html
    assert 'name="from" value="2026-11-01"' in html
    export = re.search(r'class="export" href="([^"]+)"', html)
    assert export is not None and "since=2026-11-01" in export.group(1)
    bad, html = await texts(**{"from": "yesterday" * 20})
    assert bad == ["bo", "ana new", "ana old"] and "From must be a date like" in html
    # the API's filters match the page's
    key = {"Authorization": f"Bearer {_read_key(db)}"}
    api = await client.get("/api/v1/feedback", params={"customer": "lima"}, headers=key)
    assert [i["text"] for i in api.json()["items"]] == ["ana new", "ana old"]


def _read_key(db: Database) -> str:
    from hub.auth.service import create_key

    with session_scope(db.engine) as session:
        return create_key(session, name="read", scopes=["read"]).key


async def test_newer_and_older_pages(client: httpx.AsyncClient, db: Database) -> None:
    await sign_in(client, db.engine, Role.viewer)
    store(db, *(item(text=f"n{n}", created_at=f"2026-11-{1 + n // 24:02d}T{n % 24:02d}:00:00Z")
                for n in range(120)))  # fmt: skip

    async def visit(url: str) -> tuple[list[str], dict[str, str]]:
        html = (await client.get(url)).text
        shown = re.findall(r'<p class="text">(.*?)</p>', html)
        pager = html.split('<nav class="pager" aria-label="Pages">')[1].split("</nav>")[0]
        found = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', pager)
        links = {name: href.replace("&amp;", "&") for href, name in found}
        return shown, links

    first, links = await visit("/feedback?q=n")
    assert (
        first[0] == "n119"
        and len(first) == 50
        and "120 items" in (await client.get("/feedback")).text
    )
    assert set(links) == {"Older feedback →"}
    second, links = await visit(links["Older feedback →"])
    assert second[0] == "n69" and set(links) == {"« Newest", "← Newer feedback", "Older feedback →"}
    third, links = await visit(links["Older feedback →"])
    assert third == [f"n{n}" for n in range(19, -1, -1)]
    assert "Older feedback →" not in links
    back, links = await visit(links["← Newer feedback"])
    assert back == second
    top, links = await visit(links["← Newer feedback"])
    assert top == first and set(links) == {"Older feedback →"}
    assert links["Older feedback →"].startswith("/feedback?q=n&cursor=")
    stale = (await client.get("/feedback", params={"newer": "nonsense"})).text
    assert "That page link is out of date" in stale


@pytest.mark.parametrize("role", [Role.agent, Role.viewer])
async def test_admin_pages_refuse_other_roles_with_an_html_page(
    client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    await sign_in(client, db.engine, role)
    for path in ("/admin/users", "/admin/rules"):
        page = await client.get(path)
        assert page.status_code == 403
        assert page.headers["content-type"].startswith("text/html")
        assert "You need the" in page.text and f"<strong>{role.value}</strong> role" in page.text
        assert '<a class="brand" href="/">Feedback Hub</a>' in page.text  # the layout
    api = await client.get("/api/v1/users")
    assert api.status_code == 403 and api.json()["error"]["code"] == "forbidden"
