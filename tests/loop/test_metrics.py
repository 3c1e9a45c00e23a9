"""The loop metrics API on both backends, on a data set with known answers (tests/loop/dataset)."""

import httpx
import pytest

from hub.users.models import Role
from tests.cases.test_api import bearer, signed_in
from tests.conftest import Database
from tests.loop.dataset import WINDOW, build

pytestmark = pytest.mark.anyio
METRICS = "/api/v1/cases/metrics"


def spread(n: int, pending: int, median: float | None, p90: float | None) -> dict[str, object]:
    return {"n": n, "pending": pending, "median_hours": median, "p90_hours": p90}


async def test_medians_p90_csat_and_recovery_overall_by_team_and_by_agent(
    client: httpx.AsyncClient, db: Database
) -> None:
    loop = build(db.engine)
    answer = await client.get(METRICS, params=WINDOW, headers=bearer(db, "read"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    overall = body["overall"]
    assert overall["cases"] == 5  # the October case is outside the window
    assert overall["first_response"] == spread(4, 1, 2.5, 3.7)
    assert overall["resolution"] == spread(3, 2, 20.0, 28.0)
    assert (overall["csat"]["hits"], overall["csat"]["n"]) == (2, 3)
    assert overall["csat"]["rate"] == pytest.approx(2 / 3)
    assert overall["csat"]["ci_low"] == pytest.approx(0.2077, abs=1e-4)
    assert overall["csat"]["ci_high"] == pytest.approx(0.9385, abs=1e-4)
    assert (overall["recovery"]["hits"], overall["recovery"]["n"]) == (1, 2)
    assert overall["recovery"]["rate"] == 0.5 and overall["recovery_awaiting"] == 1

    teams = {row["name"]: row for row in body["by_team"]}
    assert list(teams) == ["Billing", "Care"]
    care, billing = teams["Care"], teams["Billing"]
    assert care["key"] == loop.care and care["cases"] == 3
    assert care["first_response"] == spread(3, 0, 2.0, 2.8)
    assert care["resolution"] == spread(2, 1, 15.0, 19.0)
    assert (care["csat"]["hits"], care["csat"]["n"], care["recovery"]["rate"]) == (1, 2, 0.5)
    assert billing["first_response"] == spread(1, 1, 4.0, 4.0)
    assert (billing["recovery"]["n"], billing["recovery_awaiting"]) == (0, 1)
    assert billing["recovery"]["rate"] is None and billing["csat"]["rate"] == 1.0

    agents = [(row["name"], row["key"], row["cases"]) for row in body["by_agent"]]
    assert agents == [("Ana Agent", loop.ana, 3), ("Bo Agent", loop.bo, 1), ("Unassigned", None, 1)]

    one_team = await client.get(METRICS, params={**WINDOW, "team_id": loop.billing},
                                headers=bearer(db, "read"))  # fmt: skip
    assert one_team.json()["overall"]["cases"] == 2
    one_agent = await client.get(METRICS, params={**WINDOW, "assignee_id": loop.ana},
                                 headers=bearer(db, "read"))  # fmt: skip
    assert one_agent.json()["overall"]["first_response"] == spread(3, 0, 2.0, 2.8)


async def test_an_agent_gets_their_own_cases(client: httpx.AsyncClient, db: Database) -> None:
    _csrf, me = await signed_in(client, db, Role.agent)
    loop = build(db.engine, bo=me)
    mine = await client.get(METRICS, params={**WINDOW, "assignee_id": loop.ana})
    assert mine.status_code == 200
    assert mine.json()["overall"]["cases"] == 1  # Bo's one case, whatever was asked
    assert [row["key"] for row in mine.json()["by_agent"]] == [me]


async def test_bad_windows_and_ids_are_422(client: httpx.AsyncClient, db: Database) -> None:
    headers = bearer(db, "read")
    for params in ({"from": "2026-12-01", "to": "2026-11-01"}, {"team_id": "0"},
                   {"assignee_id": "x"}, {"from": "1066-10-14"}, {"to": "not a day"}):  # fmt: skip
        refused = await client.get(METRICS, params=params, headers=headers)
        assert refused.status_code == 422, params
        assert refused.json()["error"]["code"] in ("validation_error", "invalid_input")
    empty = await client.get(METRICS, headers=headers)  # the last 30 days, no cases
    assert empty.status_code == 200
    assert empty.json()["overall"]["first_response"] == spread(0, 0, None, None)
    assert (await client.get(METRICS)).status_code == 401


async def test_a_viewer_gets_no_loop_metrics(client: httpx.AsyncClient, db: Database) -> None:
    await signed_in(client, db, Role.viewer)
    refused = await client.get(METRICS)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
