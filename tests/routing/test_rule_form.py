"""The rule form's numeric attributes and valuable-customer raise, through the ASGI app."""

import httpx
import pytest

from hub.users.models import Role
from tests.conftest import Database
from tests.signin import sign_in
from tests.web.test_admin_pages import World, rule_form, stored_rules, world  # noqa: F401

pytestmark = pytest.mark.anyio


async def test_ranges_and_the_raise_are_saved_shown_and_refused_precisely(
    client: httpx.AsyncClient,
    db: Database,
    world: World,  # noqa: F811
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    form = rule_form(csrf_token=csrf, team_id=str(world.team_id),
                     attributes="plan = pro, business\nseats 5-50",
                     raise_segments="enterprise", raise_attributes="mrr >= 1000",
                     raise_to="urgent")  # fmt: skip
    saved = await client.post("/admin/rules/new", data=form)
    assert saved.status_code == 303, saved.text
    rule = stored_rules(db)[-1]
    assert rule.conditions == {
        "attributes": {"plan": ["pro", "business"]},
        "attribute_ranges": {"seats": {"min": 5.0, "max": 50.0}},
    }
    assert rule.raise_priority_for == {
        "segments": ["enterprise"], "attribute_ranges": {"mrr": {"min": 1000.0}}, "to": "urgent",
    }  # fmt: skip
    listing = (await client.get("/admin/rules")).text
    assert "customer seats 5-50" in listing
    assert "priority to urgent for segment enterprise or mrr ≥ 1000" in listing
    edit = (await client.get(f"/admin/rules/{rule.id}")).text
    assert "seats 5-50</textarea>" in edit and "mrr &gt;= 1000</textarea>" in edit

    bad = rule_form(csrf_token=csrf, team_id=str(world.team_id), raise_attributes="mrr is big",
                    attributes="seats >= 9\nseats <= 2", days="0", intent="try")  # fmt: skip
    refused = (await client.post("/admin/rules/new", data=bad)).text
    assert "Raise priority for: write each as: name &gt;= number (not &#39;mrr is big&#39;)" in (
        refused
    )
    assert "Customer attributes: min is above max" in refused
    assert "Try on the last days: give a whole number of days from 1 to 365" in refused
    alone = rule_form(csrf_token=csrf, team_id=str(world.team_id), raise_to="high")
    assert (
        "name a segment or a customer attribute"
        in (await client.post("/admin/rules/new", data=alone)).text
    )
