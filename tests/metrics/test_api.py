"""The metrics and topic-trends API: shapes, filters, groups, CSV, validation, scopes."""

import csv
import io
from datetime import timedelta

import httpx
import pytest

from hub.enrichment.claims import claim_batch, write_results, write_sentiments
from hub.feedback.service import ingest
from hub.store.engine import session_scope
from hub.topics.service import seed_topics, store_model_topics
from tests.conftest import Database
from tests.factories import item

pytestmark = pytest.mark.anyio
NPS = "/api/v1/metrics/nps"
WEEK = {"from": "2026-10-05", "to": "2026-10-18", "interval": "week"}  # two ISO weeks


@pytest.fixture
def data(db: Database) -> None:
    """NPS answers over two weeks from two sources; billing items in the second week."""
    scores = {"2026-10-06": [10, 9, 8, 3], "2026-10-13": [10, 10, 6, 0, 0, 9]}
    items = [
        item(source="app" if n % 2 else "web", score=score, created_at=f"{day}T12:00:00Z",
             customer={"ref": f"c{n}", "segment": "ent" if score >= 9 else "smb"})
        for day, values in scores.items() for n, score in enumerate(values)
    ]  # fmt: skip
    items.append(item(score_type="csat", score=5, created_at="2026-10-07T08:00:00Z"))
    with session_scope(db.engine) as session:
        seed_topics(session)
        ids = [r.id for r in ingest(session, raw_items=items).results]
        assert all(ids)
    with session_scope(db.engine) as session:
        claimed = [c.id for c in claim_batch(session, owner="w", size=50,
                                             lease=timedelta(minutes=5))]  # fmt: skip
        second_week = set(ids[4:10])
        store_model_topics(session, assigned={
            i: [("billing", 0.9)] if i in second_week else [("delivery", 0.8)] for i in claimed
        })  # fmt: skip
        write_sentiments(session, owner="w", sentiments={
            i: ("negative" if i in second_week else "positive", -0.5, 0.9) for i in claimed
        })  # fmt: skip
        write_results(
            session, owner="w", model="t", results={i: {"language": "en"} for i in claimed}
        )


async def test_nps_summary_and_weekly_series(
    client: httpx.AsyncClient, auth: dict, data: None
) -> None:
    response = await client.get(NPS, params=WEEK, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    # 10 answers: promoters 10,9,10,10,9 = 5; passives 8 = 1; detractors 3,6,0,0 = 4 → NPS 10
    assert (body["promoters"], body["passives"], body["detractors"]) == (5, 1, 4)
    assert body["responses"] == 10 and body["nps"] == 10.0 and body["thin"] is True
    assert body["ci_low"] < 10 < body["ci_high"]
    series = body["series"]
    assert [p["period"] for p in series] == ["2026-10-05", "2026-10-12"]
    assert [p["nps"] for p in series] == [25.0, 0.0]  # (2-1)/4 and (3-3)/6
    assert [p["responses"] for p in series] == [4, 6]


async def test_filters_and_groups(client: httpx.AsyncClient, auth: dict, data: None) -> None:
    by_source = (await client.get(NPS, params=WEEK | {"by": "source"}, headers=auth)).json()
    groups = {g["key"]: g["responses"] for g in by_source["groups"]}
    assert groups == {"app": 5, "web": 5}
    assert len(by_source["groups"][0]["series"]) == 2
    ent = (await client.get(NPS, params=WEEK | {"segment": "ent"}, headers=auth)).json()
    assert ent["responses"] == 5 and ent["nps"] == 100.0
    both = (await client.get(NPS, params=WEEK | {"source": ["app", "web"]}, headers=auth)).json()
    assert both["responses"] == 10
    billing = (await client.get(NPS, params=WEEK | {"topic": "billing"}, headers=auth)).json()
    assert billing["responses"] == 6 and billing["nps"] == 0.0
    by_topic = (await client.get(NPS, params=WEEK | {"by": "topic"}, headers=auth)).json()
    assert {g["key"]: g["responses"] for g in by_topic["groups"]} == {"billing": 6, "delivery": 4}
    daily = (await client.get(NPS, params=WEEK | {"interval": "day"}, headers=auth)).json()
    assert len(daily["series"]) == 14
    csat = (await client.get("/api/v1/metrics/csat", params=WEEK, headers=auth)).json()
    assert csat["csat"] == 100.0 and csat["responses"] == 1
    feeling = (await client.get("/api/v1/metrics/sentiment", params=WEEK, headers=auth)).json()
    assert feeling["volume"] == 11 and feeling["negative"] == 6


async def test_other_metrics_have_their_fields(
    client: httpx.AsyncClient, auth: dict, data: None
) -> None:
    for metric, field in (("ces", "ces"), ("thumbs", "ratio"), ("stars", "stars")):
        body = (await client.get(f"/api/v1/metrics/{metric}", params=WEEK, headers=auth)).json()
        assert body["metric"] == metric and body["responses"] == 0 and body[field] is None


async def test_csv_export(client: httpx.AsyncClient, auth: dict, data: None) -> None:
    response = await client.get(NPS, params=WEEK | {"format": "csv"}, headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["period"], r["nps"], r["responses"]) for r in rows] == [
        ("2026-10-05", "25.0", "4"), ("2026-10-12", "0.0", "6"),
    ]  # fmt: skip
    grouped = await client.get(
        NPS, params=WEEK | {"by": "source"}, headers=auth | {"Accept": "text/csv"}
    )
    rows = list(csv.DictReader(io.StringIO(grouped.text)))
    assert len(rows) == 4 and {r["group"] for r in rows} == {"app", "web"}
    stars = await client.get("/api/v1/metrics/stars", params=WEEK | {"format": "csv"}, headers=auth)
    assert "distribution_5" in stars.text.splitlines()[0]


async def test_topic_trends(client: httpx.AsyncClient, auth: dict, data: None) -> None:
    params = {"from": "2026-10-12", "to": "2026-10-18", "interval": "day", "min_count": 3}
    response = await client.get("/api/v1/topics/trends", params=params, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["baseline_from"], body["baseline_to"]) == ("2026-10-05", "2026-10-11")
    assert body["volume"] == 6 and body["baseline_volume"] == 5
    billing = next(t for t in body["topics"] if t["key"] == "billing")
    assert billing["volume"] == 6 and billing["share"] == 100.0 and billing["baseline_volume"] == 0
    assert billing["trend"] == "rising" and billing["p"] < 0.05 and billing["z"] > 0
    assert body["rising"] == ["billing"]
    assert billing["negative"] == 6 and billing["net_sentiment"] == -100.0
    assert billing["nps"] == 0.0 and billing["nps_rest"] is None and billing["nps_impact"] is None
    assert len(billing["series"]) == 7 and billing["series"][1]["volume"] == 6
    delivery = next(t for t in body["topics"] if t["key"] == "delivery")
    assert delivery["trend"] == "falling" and delivery["volume"] == 0

    whole = await client.get("/api/v1/topics/trends", params=WEEK, headers=auth)
    billing = next(t for t in whole.json()["topics"] if t["key"] == "billing")
    # billing NPS 0 (6 answers) against the rest: 2 promoters, 1 passive, 1 detractor → 25
    assert (billing["nps"], billing["nps_rest"], billing["nps_impact"]) == (0.0, 25.0, -25.0)
    exported = await client.get(
        "/api/v1/topics/trends", params=params | {"format": "csv"}, headers=auth
    )
    assert exported.text.splitlines()[0].startswith("topic,period,volume")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (NPS, {"interval": "year"}),
        (NPS, {"from": "2026-13-01"}),
        (NPS, {"from": "2026-10-10", "to": "2026-10-01"}),
        (NPS, {"from": "2000-01-01", "to": "2026-01-01", "interval": "day"}),
        (NPS, {"by": "colour"}),
        (NPS, {"source": "nowhere"}),
        (NPS, {"topic": "nothing"}),
        (NPS, {"format": "xml"}),
        ("/api/v1/topics/trends", {"baseline_from": "2026-01-01"}),
        ("/api/v1/topics/trends", {"topic": "billing"}),
        ("/api/v1/topics/trends", {"min_count": 0}),
    ],
)
async def test_bad_parameters_are_422(
    client: httpx.AsyncClient, auth: dict, data: None, path: str, params: dict
) -> None:
    response = await client.get(path, params=params, headers=auth)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] in ("validation_error", "invalid_input")


async def test_read_scope_is_required(client: httpx.AsyncClient, db: Database) -> None:
    assert (await client.get(NPS)).status_code == 401
