"""The customer pages through the ASGI app: at-risk list, one customer, escaping, sign-in."""

import json
import re
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from hub.customers.models import Customer
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.users.models import Role
from tests.conftest import Database
from tests.customers.builders import add, add_case
from tests.signin import sign_in

pytestmark = pytest.mark.anyio
HOSTILE = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">'


@pytest.fixture
def seeded(db: Database) -> dict[str, int]:
    """A hostile customer at risk with a case, and a calm one; ids by ref, and the case id."""
    now = utcnow()
    add(db.engine, "evil", at=now - timedelta(days=4), score=("nps", 2), name=HOSTILE,
        text=HOSTILE, segment="smb", topics=("billing",))  # fmt: skip
    upset = add(db.engine, "evil", at=now - timedelta(days=1), score=("csat", 1),
                sentiment="negative", topics=("billing",), text="Charged twice.")  # fmt: skip
    case_id = add_case(db.engine, upset, due_at=now - timedelta(hours=5))
    add(db.engine, "calm", at=now - timedelta(days=2), score=("nps", 10), name="Calm Carla",
        segment="enterprise")  # fmt: skip
    with session_scope(db.engine) as session:
        ids = dict(session.exec(select(Customer.external_ref, Customer.id)).all())
    return {**ids, "case": case_id}


async def test_pages_need_sign_in(client: httpx.AsyncClient, seeded: dict[str, int]) -> None:
    for path in ("/customers/at-risk", f"/customers/{seeded['evil']}"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"


async def test_the_at_risk_list_shows_reasons_in_words(
    client: httpx.AsyncClient, db: Database, seeded: dict[str, int]
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    page = await client.get("/customers/at-risk")
    assert page.status_code == 200
    html = page.text
    assert 'aria-current="page">At risk</a>' in html
    cards = re.findall(r'data-customer-id="(\d+)"', html)
    assert cards == [str(seeded["evil"])]  # the calm customer is not at risk
    assert f'href="/customers/{seeded["evil"]}"' in html
    assert "2 detractor scores in the last 30 days (1 NPS 0-6, 1 CSAT 1-2)" in html
    assert "Complained about Billing 2 times" in html
    assert f"1 open case past the SLA (#{seeded['case']})" in html
    assert '<span class="weight">+4</span>' in html
    assert 'href="/api/v1/customers/at-risk?days=30&amp;format=csv"' in html
    assert '<option value="enterprise"' in html and '<option value="smb"' in html


async def test_filters_and_a_bad_window(
    client: httpx.AsyncClient, db: Database, seeded: dict[str, int]
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    other = await client.get("/customers/at-risk", params={"segment": "enterprise"})
    assert "data-customer-id" not in other.text
    assert "Nobody is at risk over this window" in other.text
    assert "segment=enterprise&amp;format=csv" in other.text
    narrow = await client.get("/customers/at-risk", params={"days": "2"})
    assert "in the last 2 days" in narrow.text
    assert '<option value="2" selected>last 2 days</option>' in narrow.text
    bad = await client.get("/customers/at-risk", params={"days": "9999"})
    assert bad.status_code == 200
    assert "Days must be a whole number from 1 to 365." in bad.text
    assert "in the last 30 days" in bad.text


async def test_hostile_names_and_text_are_escaped(
    client: httpx.AsyncClient, db: Database, seeded: dict[str, int]
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    escaped = "&lt;script&gt;window.__pwned=1&lt;/script&gt;"
    for path in ("/customers/at-risk", f"/customers/{seeded['evil']}"):
        html = (await client.get(path)).text
        assert "<script>window.__pwned" not in html
        assert "<img src=x" not in html
        assert escaped in html
    case_page = (await client.get(f"/cases/{seeded['case']}")).text
    assert f'<a href="/customers/{seeded["evil"]}">{escaped}' in case_page


async def test_the_customer_page_has_the_whole_history(
    client: httpx.AsyncClient, db: Database, seeded: dict[str, int]
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    response = await client.get(f"/customers/{seeded['evil']}")
    assert response.status_code == 200
    html = response.text
    assert "<dt>Reference</dt><dd>evil</dd>" in html and "<dt>Segment</dt><dd>smb</dd>" in html
    assert "risk 17" in html  # 3+3 detractors, 2 sentiment, 3 repeated, 2 Billing twice, 4 case
    assert "Complained about Billing 2 times" in html
    # the chart's data and its text fallback
    data = re.search(r'<script type="application/json" id="score-data">(.*?)</script>', html)
    assert data is not None
    points = json.loads(data.group(1))
    assert [(p["type"], p["score"], p["pct"]) for p in points] == [("nps", 2, 20), ("csat", 1, 0)]
    assert '<script src="/static/vendor/chart.umd.min.js" defer></script>' in html
    assert "<td>NPS</td><td>2</td><td>20</td>" in html
    assert 'aria-label="2 scores from' in html
    # every item, newest first, with its case; the cases with their SLA
    texts = re.findall(r'<p class="text">(.*?)</p>', html)
    assert texts == ["Charged twice.", HOSTILE.replace("<", "&lt;").replace(">", "&gt;")
                     .replace('"', "&#34;")]  # fmt: skip
    assert (
        f'<a class="case-link" href="/cases/{seeded["case"]}">Case #{seeded["case"]} · new</a>'
        in html
    )
    assert '<span class="sla sla-breached">SLA breached</span>' in html
    assert "overdue by 5 h" in html
    assert '<li class="topic model">Billing</li>' in html
    assert '<span class="chip sentiment-negative">negative</span>' in html


async def test_a_calm_customer_and_an_unknown_one(
    client: httpx.AsyncClient, db: Database, seeded: dict[str, int]
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    calm = (await client.get(f"/customers/{seeded['calm']}")).text
    assert "No negative signals" in calm and "risk 0" in calm
    assert "No cases." in calm
    missing = await client.get("/customers/999999")
    assert missing.status_code == 404
    assert "no customer with id 999999" in missing.text
