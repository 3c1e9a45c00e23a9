"""Working cases through the pages (ASGI app, both backends): the status menu, priority, sent
and drafted replies, reply templates on the case and their admin page, close and next, bulk
changes with their summary, and the queue's new columns."""

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlmodel import select

from hub.cases.models import Status
from hub.feedback.models import Feedback
from hub.macros.models import ReplyTemplate
from hub.macros.service import ensure_default_macros
from hub.routing.models import Priority
from hub.store.engine import session_scope
from hub.users.models import Role
from tests.conftest import Database
from tests.signin import sign_in
from tests.web.test_cases_pages import (
    HOSTILE,
    add_team,
    add_user,
    events,
    get_case,
    make_case,
    row_ids,
    user_id,
)

pytestmark = pytest.mark.anyio


def selected_status(html: str) -> tuple[list[str], str]:
    """The status menu's options and the preselected one."""
    form = html[html.index('id="status"') :]
    form = form[: form.index("</form>")]
    options = re.findall(r'<option value="([a-z_]+)"', form)
    chosen = re.search(r'<option value="([a-z_]+)" selected', form)
    return options, chosen.group(1) if chosen else ""


async def test_the_status_menu_preselects_the_next_step_and_reopen_is_explicit(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    me = user_id(db.engine, "lead@cestia.example")
    case_id = make_case(db.engine, assignee_id=me)
    page = await client.get(f"/cases/{case_id}")
    assert selected_status(page.text) == (
        ["in_progress", "waiting_on_customer", "resolved", "new"], "in_progress",
    )  # fmt: skip
    assert "new</option>" not in page.text.split('id="status"')[1].split("selected")[0]
    await client.post(f"/cases/{case_id}/status", data={"status": "closed", "resolution": "ok",
                                                       "csrf_token": csrf})  # fmt: skip
    closed = await client.get(f"/cases/{case_id}")
    assert selected_status(closed.text) == (["assigned"], "assigned")
    assert "Reopen case" in closed.text
    reopened = await client.post(f"/cases/{case_id}/status",
                                 data={"status": "assigned", "csrf_token": csrf})  # fmt: skip
    assert reopened.status_code == 303
    assert get_case(db.engine, case_id).status == "assigned"


async def test_priority_is_changed_on_the_case_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    case_id = make_case(db.engine)
    page = await client.get(f"/cases/{case_id}")
    assert '<option value="normal" selected>normal</option>' in page.text
    done = await client.post(f"/cases/{case_id}/priority",
                             data={"priority": "urgent", "csrf_token": csrf})  # fmt: skip
    assert done.headers["location"] == f"/cases/{case_id}?done=priority"
    assert "Priority changed." in (await client.get(done.headers["location"])).text
    assert get_case(db.engine, case_id).priority == "urgent"
    assert events(db.engine, case_id)[-1].after == {"priority": "urgent"}
    bad = await client.post(f"/cases/{case_id}/priority",
                            data={"priority": "asap", "csrf_token": csrf})  # fmt: skip
    assert bad.status_code == 422 and "Choose low, normal, high or urgent." in bad.text


async def test_a_reply_counts_as_sent_only_when_ticked(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    me = user_id(db.engine, "lead@cestia.example")
    case_id = make_case(db.engine, assignee_id=me)
    page = await client.get(f"/cases/{case_id}")
    assert "I sent this to the customer myself" in page.text
    draft = await client.post(f"/cases/{case_id}/reply", data={"body": "Draft", "csrf_token": csrf})
    assert draft.headers["location"].endswith("done=reply-manual")
    drafted = get_case(db.engine, case_id)
    assert (drafted.status, drafted.first_response_at) == ("assigned", None)
    sent = await client.post(
        f"/cases/{case_id}/reply", data={"body": "Called", "sent_by_hand": "1", "csrf_token": csrf}
    )
    assert sent.headers["location"].endswith("done=reply-by_hand")
    case = get_case(db.engine, case_id)
    assert case.status == "waiting_on_customer" and case.first_response_at is not None
    shown = (await client.get(sent.headers["location"])).text
    assert "Reply recorded as sent by you" in shown
    assert "Sent by hand to ana@example.com" in shown and "Draft recorded, not sent" in shown


async def test_a_template_is_picked_by_the_feedbacks_language_and_filled_in(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.agent)
    me = user_id(db.engine, "agent@cestia.example")
    with session_scope(db.engine) as session:
        ensure_default_macros(session)
        spanish = session.exec(
            select(ReplyTemplate.id).where(ReplyTemplate.language == "es")
            .order_by(ReplyTemplate.name)  # type: ignore[arg-type]
        ).first()  # fmt: skip
    case_id = make_case(db.engine, assignee_id=me, text="Me cobraron dos veces")
    with session_scope(db.engine) as session:
        feedback = session.get(Feedback, get_case(db.engine, case_id).feedback_id)
        assert feedback is not None
        feedback.language = "es"  # as the worker detects it
    page = await client.get(f"/cases/{case_id}")
    groups = re.findall(r'<optgroup label="([^"]+)">', page.text)
    assert groups == ["In the feedback&#39;s language (es)", "Other languages"]
    own = page.text.split("Other languages")[0]
    assert "Apology and offer · es" in own and "· en" not in own
    filled = await client.get(f"/cases/{case_id}", params={"macro": spanish})
    assert "Hola, Ana:" in filled.text and f"(caso {case_id})" in filled.text
    assert f'<option value="{spanish}" selected>' in filled.text


async def test_close_and_next_opens_the_next_case_of_the_same_queue(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    first = make_case(db.engine, text="first", priority=Priority.high, sla="breached")
    second = make_case(db.engine, text="second", priority=Priority.high, sla="near_breach")
    make_case(db.engine, text="other priority", sla="breached")
    queue = await client.get("/cases", params={"priority": "high"})
    link = re.search(rf'href="(/cases/{first}\?q=[^"]+)"', queue.text)
    assert link is not None
    opened = await client.get(link.group(1).replace("&amp;", "&"))
    action = re.search(r'action="(/cases/\d+/status\?q=[^"]+)" class="action" id="close"',
                       opened.text)  # fmt: skip
    assert action is not None
    closed = await client.post(action.group(1).replace("&amp;", "&"),
                               data={"status": "closed", "resolution": "Refunded", "then": "next",
                                     "csrf_token": csrf})  # fmt: skip
    assert closed.status_code == 303
    target = urlsplit(closed.headers["location"])
    assert target.path == f"/cases/{second}"
    assert parse_qs(target.query)["done"] == ["closed-next"]
    page = await client.get(closed.headers["location"])
    assert "Case closed. This is the next case of your queue." in page.text
    assert get_case(db.engine, first).status == "closed"
    queue = urlencode({"q": parse_qs(target.query)["q"][0]})
    last = await client.post(f"/cases/{second}/status?{queue}",
                             data={"status": "closed", "resolution": "Done", "then": "next",
                                   "csrf_token": csrf})  # fmt: skip
    assert urlsplit(last.headers["location"]).path == "/cases"
    assert (
        "There is no other open case in this queue."
        in (await client.get(last.headers["location"])).text
    )


async def test_bulk_close_says_how_many_were_closed_and_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.agent)
    me = user_id(db.engine, "agent@cestia.example")
    bo = add_user(db.engine, Role.agent, "bo@cestia.example", "Bo")
    care = add_team(db.engine, "Care", [me])
    mine = [make_case(db.engine, assignee_id=me, text=f"mine {n}") for n in range(2)]
    teams = make_case(db.engine, team_id=care, text="team's")
    theirs = make_case(db.engine, assignee_id=bo, text="Bo's")
    closed = await client.post("/cases/bulk", data={
        "case_id": [str(i) for i in [*mine, teams, theirs]], "action": "close",
        "resolution": "Refunded all", "back": "scope=all", "csrf_token": csrf,
    })  # fmt: skip
    assert closed.status_code == 303
    assert closed.headers["location"] == "/cases?scope=all&done=close&n=3&not_yours=1"
    page = await client.get(closed.headers["location"])
    assert "3 closed, 1 refused (not yours)." in page.text
    assert [get_case(db.engine, i).status for i in [*mine, teams, theirs]] == [
        "closed", "closed", "closed", "assigned",
    ]  # fmt: skip
    moved = await client.post("/cases/bulk", data={
        "case_id": [str(i) for i in mine], "action": "priority", "priority": "low",
        "back": "scope=all", "csrf_token": csrf,
    })  # fmt: skip
    assert "2 reprioritised." in (await client.get(moved.headers["location"])).text
    for form, says in (
        ({"action": "close", "resolution": " "}, "Write the resolution first."),
        ({"action": "status", "status": "closed"}, "Choose the status to move the ticked cases"),
        ({"action": "wipe"}, "Choose what to do with the ticked cases."),
    ):
        refused = await client.post("/cases/bulk", data={"case_id": str(theirs), **form,
                                                         "csrf_token": csrf})  # fmt: skip
        assert refused.status_code == 422 and says in refused.text, says
    no_token = await client.post("/cases/bulk", data={"case_id": str(theirs), "action": "close",
                                                      "resolution": "x"})  # fmt: skip
    assert no_token.status_code == 403
    assert get_case(db.engine, theirs).status == Status.assigned.value


async def test_the_queue_shows_customer_channel_age_and_last_activity(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.lead)
    customer = {"ref": "cus_9", "name": HOSTILE, "segment": "enterprise"}
    case_id = make_case(
        db.engine, channel="ticket", created_at="2026-11-01T10:00:00Z", customer=customer
    )
    page = await client.get("/cases")
    assert row_ids(page.text) == [case_id]
    row = page.text[page.text.index(f'data-id="{case_id}"') :].split("</tr>")[0]
    assert (
        '<span class="chip">enterprise</span>' in row and '<td class="channel">ticket</td>' in row
    )
    assert "<script>window.__pwned" not in row and "&lt;script&gt;" in row
    assert re.search(
        r'<td class="age"><time datetime="2026-11-01T10:00:00\+00:00"[^>]*>\d+ d ago', row
    )
    assert re.search(r'<td class="activity"><time [^>]*>1 min ago', row)
    assert 'class="select-all"' in page.text and "/static/shortcuts.js" in page.text


async def test_leads_keep_reply_templates_on_the_admin_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    form = {"name": "Thanks", "language": "pt", "subject": "", "body": "Obrigado {customer_name}",
            "csrf_token": csrf}  # fmt: skip
    created = await client.post("/admin/macros", data=form)
    assert created.headers["location"] == "/admin/macros?done=macro"
    page = await client.get(created.headers["location"])
    assert "Template created." in page.text and "Obrigado {customer_name}" in page.text
    with session_scope(db.engine) as session:
        [macro] = session.exec(select(ReplyTemplate)).all()
    bad = await client.post(f"/admin/macros/{macro.id}", data={**form, "body": "Oi {nome}"})
    assert bad.status_code == 422 and "unknown placeholder {nome}" in bad.text
    assert 'value="Thanks"' in bad.text and "Oi {nome}" in bad.text  # the input kept
    twice = await client.post("/admin/macros", data=form)
    assert twice.status_code == 409 and "exists already" in twice.text
    gone = await client.post(f"/admin/macros/{macro.id}/delete", data={"csrf_token": csrf})
    assert gone.headers["location"] == "/admin/macros?done=macro_deleted"
    with session_scope(db.engine) as session:
        assert session.exec(select(ReplyTemplate)).all() == []


async def test_agents_do_not_get_the_templates_admin_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.agent)
    page = await client.get("/admin/macros")
    assert page.status_code == 403
