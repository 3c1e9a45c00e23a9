"""The trend pages through the ASGI app on both backends: numbers, filters, errors, escaping,
verbatims, CSV links and sign-in. Rollups fill through the real ingest and enrichment writes."""

import csv
import html
import io
import json
import math
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hub.cases.service import open_case
from hub.config import Settings
from hub.enrichment.claims import claim_batch, write_results, write_sentiments
from hub.feedback.service import ingest
from hub.routing.models import Priority, Strategy
from hub.store.engine import session_scope
from hub.topics.service import seed_topics, store_model_topics
from hub.users.models import Role
from tests.conftest import Database
from tests.factories import item
from tests.signin import sign_in

pytestmark = pytest.mark.anyio
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="alert(1)">'
WINDOW = {"from": "2026-10-05", "to": "2026-10-18", "interval": "week"}  # two ISO weeks
COMPLAINTS = 23
BILLING_ITEMS = COMPLAINTS + 2  # the complaints, the hostile one, an NPS detractor: > a page


def _nps_items() -> list[dict]:
    """Week 1: 3 promoters, 1 passive, 1 detractor (NPS 40); week 2: no NPS answers."""
    scores = [(10, "app", "ent"), (9, "app", "ent"), (9, "web", "smb"), (8, "web", "smb"),
              (3, "web", "smb")]  # fmt: skip
    return [
        item(score=score, source=source, created_at="2026-10-06T12:00:00Z",
             customer={"ref": f"n{n}", "segment": segment}, text=f"nps answer {n}")
        for n, (score, source, segment) in enumerate(scores)
    ]  # fmt: skip


def _other_items() -> list[dict]:
    """CSAT 5, 4, 2 in week 2 (CSAT 66.67); billing complaints; one hostile verbatim."""
    csat = [
        item(score_type="csat", score=score, source="web", created_at="2026-10-14T09:00:00Z",
             customer={"ref": f"c{n}", "segment": "smb"}, text=f"csat answer {n}")
        for n, score in enumerate([5, 4, 2])
    ]  # fmt: skip
    billing = [
        item(score_type=..., score=..., source="app", text=f"Charged twice, complaint {n}",
             created_at=f"2026-10-{13 + n % 5}T{10 + n % 10}:00:00Z",
             customer={"ref": f"b{n}", "name": f"Buyer {n}"})
        for n in range(COMPLAINTS)
    ]  # fmt: skip
    hostile = item(
        score_type=...,
        score=...,
        source="app",
        text=HOSTILE,
        title=HOSTILE,
        created_at="2026-10-18T23:00:00Z",
        customer={"ref": "evil", "name": HOSTILE},
    )
    return [*csat, *billing, hostile]


@pytest.fixture
def data(db: Database) -> dict[str, int]:
    """Feedback ingested and enriched through the real services; returns a few ids."""
    with session_scope(db.engine) as session:
        seed_topics(session)
        results = ingest(session, raw_items=[*_nps_items(), *_other_items()]).results
        ids = [result.id for result in results]
        assert all(ids)
    billing = {ids[4], *ids[8:]}  # the NPS detractor, the complaints and the hostile one
    with session_scope(db.engine) as session:
        claimed = [c.id for c in claim_batch(session, owner="w", size=100,
                                             lease=timedelta(minutes=5))]  # fmt: skip
        store_model_topics(session, assigned={
            i: [("billing", 0.9)] if i in billing else [("delivery", 0.8)] for i in claimed
        })  # fmt: skip
        write_sentiments(session, owner="w", sentiments={
            i: ("negative" if i in billing else "positive", -0.5, 0.9) for i in claimed
        })  # fmt: skip
        write_results(session, owner="w", model="t",
                      results={i: {"language": "en"} for i in claimed})  # fmt: skip
    with session_scope(db.engine) as session:
        case = open_case(
            session, settings=Settings(), feedback_id=ids[-1], team_id=None, assignee_id=None,
            strategy=Strategy.none, priority=Priority.high, sla_hours=48, rule_id=None,
            actor="system",
        )  # fmt: skip
        return {"hostile": ids[-1], "case": case.id or 0}


def _card(page: str, metric: str) -> str:
    start = page.index(f'id="card-{metric}"')
    return page[start : page.index("</article>", start)]


def _charts(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page)
    assert found, "no chart data on the page"
    return json.loads(found.group(1))


def _hrefs(page: str, text: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(rf'<a[^>]*href="([^"]+)"[^>]*>{text}</a>', page)]


async def test_pages_need_sign_in(client: httpx.AsyncClient, db: Database) -> None:
    for path in ("/dashboard", "/topics", "/topics/billing"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"


async def test_the_dashboard_shows_each_metric_by_its_definition(
    client: httpx.AsyncClient, db: Database, data: dict[str, int]
) -> None:
    await sign_in(client, db.engine, Role.viewer)  # every role reads the trend pages
    page = await client.get("/dashboard", params=WINDOW)
    assert page.status_code == 200, page.text
    text = page.text
    assert 'href="/dashboard" aria-current="page"' in text

    nps = _card(text, "nps")
    # 3 promoters, 1 passive, 1 detractor: NPS = 60% - 20% = 40, on 5 answers (a thin sample)
    assert '<span class="value">40</span>' in nps
    assert "5 responses" in nps and "thin sample" in nps
    p_pro, p_det = 0.6, 0.2
    half = 100 * 1.959963984540054 * math.sqrt((p_pro + p_det - (p_pro - p_det) ** 2) / 5)
    low, high = max(-100, 40 - half), min(100, 40 + half)
    assert f"95% interval {_shown(low)} to {_shown(high)}" in nps

    csat = _card(text, "csat")  # 5, 4 and 2: two of three satisfied
    assert '<span class="value">66.7%</span>' in csat and "3 responses" in csat
    for metric, name in (("thumbs", "Thumbs up"), ("stars", "Stars"), ("ces", "CES")):
        card = _card(text, metric)
        assert f"No {name} answers in this window." in card and "<canvas" not in card
    volume = _card(text, "sentiment")
    assert '<span class="value">32</span>' in volume  # every item
    assert "78.1% negative" in volume  # 25 of 32

    charts = _charts(text)
    assert set(charts) == {"nps", "csat", "sentiment"}
    line = charts["nps"]["series"][0]
    assert charts["nps"]["labels"] == ["5 Oct", "12 Oct"]
    assert line["values"] == [40.0, None]  # the empty week is a gap, not a zero
    assert line["low"][0] == round(low, 2) and line["high"][1] is None
    assert charts["sentiment"]["type"] == "stacked"
    assert [s["values"] for s in charts["sentiment"]["series"]] == [[1, 24], [0, 0], [4, 3]]
    assert '<script src="/static/vendor/chart.umd.min.js" defer></script>' in text
    assert 'aria-label="NPS per week: 5 Oct 40, 12 Oct —"' in text  # the text alternative


def _shown(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".").replace("-", "\u2212")


async def test_csv_links_carry_the_same_filters(
    client: httpx.AsyncClient, db: Database, data: dict[str, int]
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    page = await client.get("/dashboard", params=WINDOW | {"source": "app"})
    [nps_csv] = [h for h in _hrefs(page.text, "CSV") if "/metrics/nps" in h]
    parts = urlsplit(nps_csv)
    assert parts.path == "/api/v1/metrics/nps"
    assert parse_qs(parts.query) == {
        "from": ["2026-10-05"], "to": ["2026-10-18"], "interval": ["week"], "source": ["app"],
        "format": ["csv"],
    }  # fmt: skip
    exported = await client.get(nps_csv)  # the session cookie reads the API
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["period"], r["nps"], r["responses"]) for r in rows] == [
        ("2026-10-05", "100.0", "2"), ("2026-10-12", "", "0"),
    ]  # fmt: skip


async def test_filters_and_the_breakdown_narrow_the_numbers(
    client: httpx.AsyncClient, db: Database, data: dict[str, int]
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    web = (await client.get("/dashboard", params=WINDOW | {"source": "web"})).text
    nps = _card(web, "nps")  # web: 9, 8, 3 → (1 - 1) / 3 = 0
    assert '<span class="value">0</span>' in nps and "3 responses" in nps
    ent = (await client.get("/dashboard", params=WINDOW | {"segment": "ent"})).text
    assert '<span class="value">100</span>' in _card(ent, "nps")
    assert "No CSAT answers in this window with these filters." in _card(ent, "csat")

    by_source = (await client.get("/dashboard", params=WINDOW | {"by": "source"})).text
    table = by_source[by_source.index('id="breakdown-title"') :]
    rows = re.findall(r'<th scope="row">([^<]+)</th>\s*<td class="num"[^>]*>([\d,]+)</td>', table)
    assert rows == [("app", "26"), ("web", "6")]
    by_segment = (await client.get("/dashboard", params=WINDOW | {"by": "segment"})).text
    assert "By segment" in by_segment and "(no segment)" in by_segment


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"interval": "year"}, "the interval must be day, week or month"),
        ({"from": "2026-13-01"}, "`from` must be a date like 2026-10-05"),
        ({"from": "2026-10-10", "to": "2026-10-01"}, "`from` is after `to`"),
        ({"from": "2000-01-01", "to": "2026-01-01", "interval": "day"}, "more than 1000 periods"),
        ({"source": "nowhere"}, "no source named &#39;nowhere&#39;"),
        ({"by": "colour"}, "break down by source, channel, segment or language"),
    ],
)
async def test_bad_filters_say_what_is_wrong(
    client: httpx.AsyncClient, db: Database, data: dict[str, int], params: dict, message: str
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    page = await client.get("/dashboard", params=params)
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in page.text and message in page.text
    assert '<form class="filters trend-filters"' in page.text  # fix it right there


async def test_topic_trends_table(
    client: httpx.AsyncClient, db: Database, data: dict[str, int]
) -> None:
    await sign_in(client, db.engine, Role.agent)
    params = {"from": "2026-10-12", "to": "2026-10-18", "interval": "day"}
    page = await client.get("/topics", params=params)
    assert page.status_code == 200, page.text
    text = page.text
    assert 'href="/topics" aria-current="page"' in text
    billing = text[
        text.index('data-key="billing"') : text.index("</tr>", text.index('data-key="billing"'))
    ]
    # 24 billing items of 27 against 1 of 5 in the baseline week (5-11 Oct)
    assert 'data-label="Items">24</td>' in billing and "88.9%" in billing
    assert "▲ rising" in billing and "20% → 88.9% (+68.9 pts)" in billing
    assert 'class="num neg" data-label="Net sentiment">\u2212100</td>' in billing  # all negative
    assert (
        '<a href="/topics/billing?from=2026-10-12&amp;to=2026-10-18&amp;interval=day">' in billing
    )
    delivery = text[
        text.index('data-key="delivery"') : text.index("</tr>", text.index('data-key="delivery"'))
    ]
    # 4 of 5 before, 3 of 27 now: a big drop, but under 5 items either way, so not flagged
    assert "80% → 11.1%" in delivery and "trend-badge" not in delivery
    charts = _charts(text)
    assert charts["top-topics"]["series"][0]["label"] == "Billing"
    assert sum(charts["top-topics"]["series"][0]["values"]) == 24
    [trends_csv] = _hrefs(text, "CSV")
    assert parse_qs(urlsplit(trends_csv).query)["format"] == ["csv"]
    exported = await client.get(trends_csv)
    assert exported.status_code == 200 and exported.text.startswith("topic,period,volume")

    refused = await client.get("/topics", params=params | {"segment": "smb"})
    assert refused.status_code == 422
    assert "cannot be combined with a segment or language filter" in refused.text
    empty = await client.get("/topics", params={"from": "2025-01-01", "to": "2025-01-31"})
    assert "No feedback about any topic in this window." in empty.text


async def test_topic_page_charts_and_escaped_verbatims(
    client: httpx.AsyncClient, db: Database, data: dict[str, int]
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    page = await client.get("/topics/billing", params=WINDOW)
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>Billing</h1>" in text
    charts = _charts(text)
    assert [s["label"] for s in charts["topic-sentiment"]["series"]] == [
        "Negative",
        "Neutral",
        "Positive",
    ]
    assert charts["topic-sentiment"]["series"][0]["values"] == [1, 24]
    topic, rest = charts["topic-nps"]["series"]  # the detractor against 3 promoters and a passive
    assert topic["values"] == [-100.0, None] and rest["values"] == [75.0, None]
    assert topic["low"][0] is not None and rest.get("dashed") is True

    # newest first: the hostile item (18 Oct, 23:00) comes first, escaped everywhere
    ids = [int(i) for i in re.findall(r'<article class="item verbatim" data-id="(\d+)"', text)]
    assert ids[0] == data["hostile"] and len(ids) == 20
    assert "<script>window.__pwned" not in text and "<img src=x" not in text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in text
    assert f'<a class="case-link" href="/cases/{data["case"]}">Case #{data["case"]} · ' in text
    assert text.count('class="case-link"') == 1

    [older] = _hrefs(text, "Older →")
    second = (await client.get(older)).text
    rest = [int(i) for i in re.findall(r'<article class="item verbatim" data-id="(\d+)"', second)]
    assert len(rest) == BILLING_ITEMS - 20 and not set(rest) & set(ids)
    assert _hrefs(second, "Older →") == [] and _hrefs(second, "← Newest")

    [export] = _hrefs(text, "Export CSV")
    query = parse_qs(urlsplit(export).query)
    assert urlsplit(export).path == "/api/v1/feedback"
    assert query["topic"] == ["billing"] and query["format"] == ["csv"]
    assert query["since"] == ["2026-10-05T00:00:00+00:00"]
    assert query["until"] == ["2026-10-19T00:00:00+00:00"]
    exported = await client.get(export)  # every verbatim of the window, not just a page
    assert exported.status_code == 200, exported.text
    assert len(list(csv.DictReader(io.StringIO(exported.text)))) == BILLING_ITEMS


async def test_topic_page_filters_and_nps_against_the_rest(
    client: httpx.AsyncClient, db: Database, data: dict[str, int]
) -> None:
    await sign_in(client, db.engine, Role.viewer)
    delivery = (await client.get("/topics/delivery", params=WINDOW)).text
    topic, rest = _charts(delivery)["topic-nps"]["series"]
    assert topic["values"] == [75.0, None] and rest["values"] == [-100.0, None]
    assert "NPS: this topic vs the rest" in delivery
    later = await client.get("/topics/delivery", params={"from": "2026-10-12", "to": "2026-10-18"})
    assert "No NPS answers about this topic in this window." in later.text
    assert "topic-nps" not in _charts(later.text)  # said in words, not an empty chart
    positive = await client.get("/topics/billing", params=WINDOW | {"sentiment": "positive"})
    assert "No feedback about this topic matches these filters." in positive.text
    narrowed = await client.get(
        "/topics/billing", params={"from": "2026-10-17", "to": "2026-10-17", "interval": "day"}
    )
    ids = re.findall(r'<article class="item verbatim" data-id="(\d+)"', narrowed.text)
    assert len(ids) == 4  # 17 Oct: complaints 4, 9, 14 and 19
    bad = await client.get("/topics/billing", params={"sentiment": "angry"})
    assert bad.status_code == 422 and "sentiment is negative, neutral or positive" in bad.text
    missing = await client.get("/topics/no-such-topic")
    assert missing.status_code == 404 and "There is no topic with the key" in missing.text
