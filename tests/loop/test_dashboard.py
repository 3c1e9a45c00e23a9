"""The loop dashboard through the ASGI app on both backends: numbers, drill-downs, who sees what."""

import re

import httpx
import pytest

from hub.users.models import Role
from tests.cases.test_api import signed_in
from tests.conftest import Database
from tests.loop.dataset import build

pytestmark = pytest.mark.anyio
WINDOW = "from=2026-11-01&to=2026-11-30"


def cells(html: str, row: str) -> str:
    """The table row whose header is ``row``."""
    found = re.search(rf'<th scope="row">{row}</th>(.*?)</tr>', html, re.S)
    assert found is not None, row
    return found.group(1)


async def test_a_lead_sees_cards_tables_and_drills_down(
    client: httpx.AsyncClient, db: Database
) -> None:
    await signed_in(client, db, Role.lead)
    loop = build(db.engine)
    page = await client.get(f"/cases/metrics?{WINDOW}")
    assert page.status_code == 200
    html = page.text
    assert "2026-11-01 \u2013 2026-11-30" in html
    assert ">2.5 h</a>" in html and "p90 3.7 h" in html  # first response, overall
    assert ">20.0 h</a>" in html and "p90 28.0 h" in html  # resolution
    assert ">67%</a>" in html and "95% CI 21\u201394%" in html  # CSAT 2 of 3
    assert ">50%</a>" in html and "1 awaiting" in html  # recovery
    care = cells(html, "Care")
    assert ">3</a>" in care and ">2.0 h</a>" in care and ">15.0 h</a>" in care
    assert "No team" not in html and ">Unassigned</th>" in html

    link = rf'href="(/cases/metrics/cases\?[^"]*team_id={loop.care}&amp;metric=recovered)"'
    drill = re.search(link, html)
    assert drill is not None
    recovered = await client.get(drill.group(1).replace("&amp;", "&"))
    assert recovered.status_code == 200 and "Recovered detractors" in recovered.text
    assert re.findall(r'data-id="(\d+)"', recovered.text) == [str(loop.cases[0])]
    awaiting = await client.get(f"/cases/metrics/cases?{WINDOW}&metric=awaiting_response")
    assert re.findall(r'data-id="(\d+)"', awaiting.text) == [str(loop.cases[4])]
    odd = await client.get("/cases/metrics/cases?metric=nope&from=9999-99-99&team_id=-1")
    assert odd.status_code == 200  # unknown choices fall back: all cases of the last 30 days
    presets = await client.get("/cases/metrics?days=7")
    assert presets.status_code == 200 and 'aria-current="page">7 days' in presets.text
    queue = await client.get("/cases")
    assert 'href="/cases/metrics"' in queue.text


async def test_an_agent_sees_only_their_row(client: httpx.AsyncClient, db: Database) -> None:
    _csrf, me = await signed_in(client, db, Role.agent)
    build(db.engine, bo=me)
    page = await client.get(f"/cases/metrics?{WINDOW}&assignee_id=1")
    assert page.status_code == 200 and "your cases" in page.text
    assert re.findall(r'<th scope="row">([^<]+)</th>', page.text) == [
        "Billing",
        "agent",
    ]  # the signed-in agent is Bo
    drill = await client.get(f"/cases/metrics/cases?{WINDOW}&metric=all")
    assert len(re.findall(r'data-id="(\d+)"', drill.text)) == 1


async def test_a_viewer_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    await signed_in(client, db, Role.viewer)
    assert (await client.get("/cases/metrics")).status_code == 403
