"""The triage pages through the ASGI app: the queue, the case page, its actions and who may act."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import select

from hub.cases.models import Case, CaseEvent, Status
from hub.cases.service import open_case, transition
from hub.config import Settings
from hub.feedback.corrections import correct_sentiment
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.routing.models import Priority, Strategy
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.topics.service import correct_topics, seed_topics
from hub.users.models import Role, TeamCreate, User, UserCreate
from hub.users.service import create_team, create_user, set_members
from tests.conftest import Database
from tests.factories import item
from tests.signin import PASSWORD, sign_in

pytestmark = pytest.mark.anyio
HOSTILE = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">'
SETTINGS = Settings()


def make_case(
    engine: Engine,
    *,
    team_id: int | None = None,
    assignee_id: int | None = None,
    priority: Priority = Priority.normal,
    sla: str = "ok",
    status: Status | None = None,
    **fields: Any,
) -> int:
    """A stored feedback item and a case for it; ``sla`` ok, near_breach or breached."""
    with session_scope(engine) as session:
        [result] = ingest(session, raw_items=[item(**fields)]).results
        assert result.id is not None, result
        case = open_case(
            session,
            settings=SETTINGS,
            feedback_id=result.id,
            team_id=team_id,
            assignee_id=assignee_id,
            strategy=Strategy.none,
            priority=priority,
            sla_hours=48,
            rule_id=None,
            actor="system",
        )
        now = utcnow()
        if sla == "near_breach":
            case.due_at, case.sla_warn_at = now + timedelta(hours=2), now - timedelta(hours=1)
        elif sla == "breached":
            case.due_at, case.sla_warn_at = now - timedelta(hours=5), now - timedelta(hours=9)
        session.add(case)
        session.flush()
        if status is not None:
            transition(
                session, case_id=case.id or 0, status=status, resolution="done", actor="system",
                settings=SETTINGS,
            )  # fmt: skip
        assert case.id is not None
        return case.id


def user_id(engine: Engine, email: str) -> int:
    with session_scope(engine) as session:
        found = session.exec(select(User.id).where(User.email == email)).one()
        assert found is not None
        return found


def add_user(engine: Engine, role: Role, email: str, name: str) -> int:
    with session_scope(engine) as session:
        created = create_user(
            session, data=UserCreate(email=email, password=PASSWORD, role=role, name=name)
        )
        return created.id


def add_team(engine: Engine, name: str, members: list[int]) -> int:
    with session_scope(engine) as session:
        team = create_team(session, data=TeamCreate(name=name))
        set_members(session, team_id=team.id, user_ids=members)
        return team.id


def events(engine: Engine, case_id: int) -> list[CaseEvent]:
    with session_scope(engine) as session:
        found = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)  # type: ignore[arg-type]
        ).all()
        session.expunge_all()
        return list(found)


def get_case(engine: Engine, case_id: int) -> Case:
    with session_scope(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        session.expunge(case)
        return case


def row_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr class="case-row[^"]*" data-id="(\d+)"', html)]


@asynccontextmanager
async def signed_in_as(app: FastAPI, db: Database, role: Role) -> AsyncIterator[tuple[Any, str]]:
    """Another browser: a fresh client signed in with ``role``; yields it and its CSRF token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as other:
        yield other, await sign_in(other, db.engine, role)


# The queue ---------------------------------------------------------------------------------


async def test_the_queue_shows_sla_states_soonest_due_first_with_counts(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.lead)
    ok = make_case(db.engine, text="fine for now")
    near = make_case(db.engine, text="getting close", sla="near_breach", priority=Priority.high)
    late = make_case(db.engine, text="too late", sla="breached", priority=Priority.urgent)
    closed = make_case(db.engine, text="all done", status=Status.closed)
    page = await client.get("/cases")
    assert page.status_code == 200
    assert row_ids(page.text) == [late, near, ok]  # open cases, soonest due first
    assert closed not in row_ids(page.text)
    assert 'class="sla sla-breached">breached</span>' in page.text
    assert 'class="sla sla-near_breach">near breach</span>' in page.text
    assert "overdue by 5 h" in page.text and "due in 1 h" in page.text
    assert re.search(r"closed <b>1</b>", page.text) and re.search(r"new <b>3</b>", page.text)
    assert re.search(r"breached <b>1</b>", page.text)
    assert re.search(r"near breach <b>1</b>", page.text)
    by_priority = await client.get("/cases", params={"sort": "priority"})
    assert row_ids(by_priority.text) == [late, near, ok]
    newest = await client.get("/cases", params={"sort": "newest"})
    assert row_ids(newest.text) == [late, near, ok]
    oldest = await client.get("/cases", params={"sort": "oldest"})
    assert row_ids(oldest.text) == [ok, near, late]


async def test_the_queue_filters(client: httpx.AsyncClient, db: Database) -> None:
    await sign_in(client, db.engine, Role.viewer)
    plain = make_case(db.engine, text="plain one", source="web")
    urgent = make_case(db.engine, text="urgent one", priority=Priority.urgent, source="app")
    late = make_case(db.engine, text="late one", sla="breached", source="app")
    closed = make_case(db.engine, text="closed one", status=Status.closed, source="web")
    with session_scope(db.engine) as session:
        seed_topics(session)
        plain_feedback = session.get(Case, plain)
        assert plain_feedback is not None
        correct_topics(session, feedback_id=plain_feedback.feedback_id, keys=["billing"])
        correct_sentiment(session, feedback_id=plain_feedback.feedback_id, sentiment="positive")
        late_case = session.get(Case, late)
        assert late_case is not None
        feedback = session.get(Feedback, late_case.feedback_id)
        assert feedback is not None
        feedback.language = "pt"
        session.add(feedback)

    async def shown(**params: str) -> list[int]:
        page = await client.get("/cases", params=params)
        assert page.status_code == 200, page.text
        return sorted(row_ids(page.text))

    assert await shown() == sorted([plain, urgent, late])
    assert await shown(priority="urgent") == [urgent]
    assert await shown(sla="breached") == [late]
    assert await shown(sla="ok") == sorted([plain, urgent])
    assert await shown(status="closed") == [closed]
    assert await shown(status="any") == sorted([plain, urgent, late, closed])
    assert await shown(topic="billing") == [plain]
    assert await shown(source="app") == sorted([urgent, late])
    assert await shown(sentiment="positive") == [plain]
    assert await shown(language="pt") == [late]
    # unknown choices mean "any", a broken cursor starts over: never an error page
    assert await shown(priority="whenever", sla="soon", sort="random", cursor="%%%") == sorted(
        [plain, urgent, late]
    )
    page = await client.get("/cases", params={"priority": "urgent", "source": "app"})
    assert 'option value="urgent" selected' in page.text
    assert 'option value="app" selected' in page.text


async def test_tabs_show_my_cases_my_teams_and_all(client: httpx.AsyncClient, db: Database) -> None:
    await sign_in(client, db.engine, Role.agent)
    me = user_id(db.engine, "agent@cestia.example")
    other = add_user(db.engine, Role.agent, "bo@cestia.example", "Bo")
    team = add_team(db.engine, "Billing", [me, other])
    elsewhere = add_team(db.engine, "Shipping", [other])
    mine = make_case(db.engine, text="mine", assignee_id=me)
    teams = make_case(db.engine, text="my team's", team_id=team, assignee_id=other)
    theirs = make_case(db.engine, text="theirs", team_id=elsewhere)
    default = await client.get("/cases")  # agents start on their own cases
    assert row_ids(default.text) == [mine]
    assert 'href="/cases?scope=mine" aria-current="page"' in default.text
    team_page = await client.get("/cases", params={"scope": "team"})
    assert row_ids(team_page.text) == [teams]
    everything = await client.get("/cases", params={"scope": "all"})
    assert sorted(row_ids(everything.text)) == sorted([mine, teams, theirs])
    assert 'Bo <span class="muted">· Billing</span>' in team_page.text


async def test_the_queue_pages_with_a_cursor_and_keeps_filters(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.lead)
    for n in range(53):
        make_case(db.engine, text=f"case {n}", priority=Priority.high)
    make_case(db.engine, text="a low one", priority=Priority.low)
    first = await client.get("/cases", params={"priority": "high"})
    assert len(row_ids(first.text)) == 50
    link = re.search(r'<a href="(/cases\?[^"]+)">Next page', first.text)
    assert link is not None
    target = link.group(1).replace("&amp;", "&")
    assert "priority=high" in target and "cursor=" in target
    second = await client.get(target)
    assert len(row_ids(second.text)) == 3
    assert not set(row_ids(first.text)) & set(row_ids(second.text))
    assert "Next page" not in second.text and "First page" in second.text


async def test_an_empty_queue_says_so(client: httpx.AsyncClient, db: Database) -> None:
    await sign_in(client, db.engine, Role.lead)
    page = await client.get("/cases")
    assert page.status_code == 200
    assert "No cases here." in page.text and "<table" not in page.text
    mine = await client.get("/cases", params={"scope": "mine"})
    assert "Nothing is assigned to you" in mine.text


async def test_feedback_text_is_escaped_in_the_queue_and_on_the_case(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    case_id = make_case(
        db.engine,
        text=HOSTILE,
        title=HOSTILE,
        author=HOSTILE,
        customer={"ref": "cus_x", "name": HOSTILE, "email": "x@example.com"},
    )
    await client.post(f"/cases/{case_id}/notes", data={"body": HOSTILE, "csrf_token": csrf})
    for path in ("/cases", f"/cases/{case_id}"):
        page = await client.get(path)
        assert "<script>window.__pwned" not in page.text
        assert "<img src=x" not in page.text
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")


# The case page -----------------------------------------------------------------------------


async def test_the_case_page_shows_the_feedback_history_and_timeline(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.lead)
    customer = {"ref": "cus_9", "name": "Ana Lima", "email": "ana@example.com", "segment": "smb"}
    make_case(
        db.engine,
        text="An older complaint about refunds",
        customer=customer,
        created_at="2026-10-01T10:00:00Z",
    )
    case_id = make_case(
        db.engine,
        text="The app crashes when I pay",
        title="Crash at checkout",
        score_type="nps",
        score=2,
        customer=customer,
        source="app-store",
    )
    with session_scope(db.engine) as session:
        seed_topics(session)
        case = session.get(Case, case_id)
        assert case is not None
        feedback = session.get(Feedback, case.feedback_id)
        assert feedback is not None
        feedback.sentiment, feedback.sentiment_confidence = "negative", 0.87
        feedback.language = "en"
        session.add(feedback)
        correct_topics(session, feedback_id=case.feedback_id, keys=["app_bugs"])
    page = await client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    text = page.text
    for shown in (
        "Crash at checkout",
        "The app crashes when I pay",
        "(NPS)",
        "confidence 0.87",
        "App bugs",
        "app-store",
        "Ana Lima",
        "ana@example.com",
        "cus_9",
        "An older complaint about refunds",
        "opened the case",
    ):
        assert shown in text, shown
    assert "<dt>Language</dt><dd>en</dd>" in text
    assert "Will be recorded on the case for you to send by hand" in text  # no SMTP here
    # only the moves a new case allows, "assigned" only once someone is
    status_form = text.split('id="status"')[1].split("</form>")[0]
    assert re.findall(r'option value="(\w+)"', status_form) == ["in_progress", "resolved"]


async def test_a_missing_case_is_a_page_not_json(client: httpx.AsyncClient, db: Database) -> None:
    await sign_in(client, db.engine, Role.viewer)
    page = await client.get("/cases/999")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "No case with id 999" in page.text


async def test_a_lead_works_a_case_from_start_to_close(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    agent = add_user(db.engine, Role.agent, "cy@cestia.example", "Cy Agent")
    team = add_team(db.engine, "Care", [agent])
    case_id = make_case(db.engine, text="Where is my parcel?")
    base = f"/cases/{case_id}"

    async def post(action: str, **data: str) -> httpx.Response:
        response = await client.post(f"{base}/{action}", data={**data, "csrf_token": csrf})
        assert response.status_code == 303, response.text
        return response

    done = await post("assign", assignee_id=str(agent), team_id=str(team))
    assert done.headers["location"] == f"{base}?done=assigned"
    page = await client.get(done.headers["location"])
    assert "Assignment saved." in page.text
    assert '<span class="before">nobody</span> → <span class="after">Cy Agent</span>' in page.text
    assert '<span class="before">no team</span> → <span class="after">Care</span>' in page.text
    await post("status", status="in_progress")
    await post("notes", body="Called the carrier.\nThey will check.")
    replied = await post("reply", body="We are on it.", subject="Your parcel")
    assert replied.headers["location"].endswith("done=reply-manual")
    app.state.settings = app.state.settings.model_copy(update={"smtp_host": "mail.test"})
    emailed = await post("reply", body="Found it!")
    assert emailed.headers["location"].endswith("done=reply-email")
    closed = await post("status", status="closed", resolution="Parcel re-sent.")
    assert closed.headers["location"].endswith("done=closed")
    page = await client.get(closed.headers["location"])
    assert "Case closed." in page.text
    for shown in (
        "changed the status",
        'assigned</span> → <span class="after">in progress',
        "Called the carrier.\nThey will check.",
        "added a note",
        "Draft recorded, not sent (for ana@example.com) · “Your parcel”",
        "Emailed to ana@example.com",
        "Found it!",
        "Parcel re-sent.",
    ):
        assert shown in page.text, shown
    assert 'id="close"' not in page.text  # already closed
    kinds = [event.kind for event in events(db.engine, case_id)]
    assert kinds == [
        "created",
        "assigned",
        "assigned",
        "status_changed",
        "commented",
        "replied_to_customer",
        "replied_to_customer",
        "status_changed",  # the emailed reply: waiting on the customer
        "status_changed",
        "followup_sent",  # closed: Ana has an email, so she gets the follow-up survey
    ]
    assert get_case(db.engine, case_id).resolution == "Parcel re-sent."


async def test_invalid_actions_show_the_reason_on_the_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    viewer = add_user(db.engine, Role.viewer, "vi@cestia.example", "Vi")
    case_id = make_case(db.engine, text="Broken")
    base = f"/cases/{case_id}"
    cases = [
        ("notes", {"body": "   "}, "Write the note first."),
        ("reply", {"body": ""}, "Write the reply first."),
        ("status", {"status": "closed", "resolution": " "}, "Write the resolution first."),
        ("status", {"status": "waiting_on_customer"}, "A new case can move to"),
        ("status", {"status": "assigned"}, "Assign the case to someone first."),
        ("status", {"status": "sleeping"}, "Choose the status to move the case to."),
        ("assign", {"assignee_id": str(viewer)}, "cannot take cases"),
        ("assign", {"assignee_id": "bob"}, "Choose a person from the list."),
        ("sentiment", {"sentiment": "angry"}, "Choose negative, neutral or positive."),
        ("topics", {"topic": "no-such-topic"}, "No topic with key"),
    ]
    for action, data, message in cases:
        response = await client.post(f"{base}/{action}", data={**data, "csrf_token": csrf})
        assert response.status_code in (404, 422), (action, response.text)
        assert response.headers["content-type"].startswith("text/html")
        assert message in response.text, (action, message)
        assert 'role="alert"' in response.text
    kept = await client.post(f"{base}/notes", data={"body": "x" * 10_001, "csrf_token": csrf})
    assert "longer than 10,000 characters" in kept.text
    assert "x" * 10_001 in kept.text  # what was typed is not lost
    assert [event.kind for event in events(db.engine, case_id)] == ["created"]


async def test_posts_without_the_csrf_token_are_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.admin)
    case_id = make_case(db.engine, text="Forged?")
    for token in (None, "not-the-token"):
        data = {"body": "sneaky"} | ({"csrf_token": token} if token else {})
        response = await client.post(f"/cases/{case_id}/notes", data=data)
        assert response.status_code == 403
        assert "the form expired" in response.text.lower()
        bulk = await client.post("/cases/assign", data={"case_id": str(case_id), "team_id": "1"})
        assert bulk.status_code == 403
    assert [event.kind for event in events(db.engine, case_id)] == ["created"]


async def test_viewers_read_but_cannot_act(client: httpx.AsyncClient, db: Database) -> None:
    csrf = await sign_in(client, db.engine, Role.viewer)
    case_id = make_case(db.engine, text="Look only")
    queue = await client.get("/cases")
    assert row_ids(queue.text) == [case_id]
    assert 'name="case_id"' not in queue.text and "/cases/assign" not in queue.text
    page = await client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert 'action="/cases/' not in page.text
    assert "changing it needs the agent role" in page.text
    for action, data in (
        ("notes", {"body": "hi"}),
        ("assign", {"team_id": ""}),
        ("status", {"status": "resolved"}),
        ("reply", {"body": "hi"}),
        ("sentiment", {"sentiment": "positive"}),
    ):
        response = await client.post(
            f"/cases/{case_id}/{action}", data={**data, "csrf_token": csrf}
        )
        assert response.status_code == 403, action
        assert "Viewers can read cases but not change them." in response.text
    bulk = await client.post("/cases/assign", data={"case_id": str(case_id), "csrf_token": csrf})
    assert bulk.status_code == 403
    assert [event.kind for event in events(db.engine, case_id)] == ["created"]


async def test_agents_act_only_on_cases_they_may_work(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.agent)
    me = user_id(db.engine, "agent@cestia.example")
    other = add_user(db.engine, Role.agent, "bo@cestia.example", "Bo")
    team = add_team(db.engine, "Care", [me])
    mine = make_case(db.engine, text="mine", assignee_id=me)
    teams = make_case(db.engine, text="my team's", team_id=team)
    theirs = make_case(db.engine, text="theirs", assignee_id=other)
    page = await client.get(f"/cases/{theirs}")
    assert "not assigned to you or to one of your teams" in page.text
    assert 'action="/cases/' not in page.text
    refused = await client.post(f"/cases/{theirs}/notes", data={"body": "x", "csrf_token": csrf})
    assert refused.status_code == 403
    assert f"Case #{theirs} is not assigned to you" in refused.text
    for case_id in (mine, teams):
        done = await client.post(f"/cases/{case_id}/notes", data={"body": "ok", "csrf_token": csrf})
        assert done.status_code == 303
    bulk = await client.post(
        "/cases/assign",
        data={"case_id": [str(mine), str(theirs)], "assignee_id": str(me), "csrf_token": csrf},
    )
    assert bulk.headers["location"] == "/cases?done=assigned&n=1&not_yours=1"
    assert "1 assigned, 1 refused (not yours)." in (await client.get(bulk.headers["location"])).text
    assert get_case(db.engine, theirs).assignee_id == other  # each case checked on its own


async def test_bulk_assign_gives_ticked_cases_to_a_person_or_team(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    agent = add_user(db.engine, Role.agent, "cy@cestia.example", "Cy")
    care = add_team(db.engine, "Care", [agent])
    billing = add_team(db.engine, "Billing", [])
    first = make_case(db.engine, text="one", team_id=billing)
    second = make_case(db.engine, text="two")
    untouched = make_case(db.engine, text="three")
    queue = await client.get("/cases", params={"priority": "normal"})
    assert f'name="case_id" value="{first}"' in queue.text
    back = re.search(r'name="back" value="([^"]+)"', queue.text)
    assert back is not None
    response = await client.post(
        "/cases/assign",
        data={
            "case_id": [str(first), str(second)],
            "assignee_id": str(agent),
            "team_id": "",
            "back": back.group(1).replace("&amp;", "&"),
            "csrf_token": csrf,
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/cases?scope=all&priority=normal&done=assigned&n=2"
    page = await client.get(response.headers["location"])
    assert "2 assigned." in page.text
    assert (get_case(db.engine, first).assignee_id, get_case(db.engine, first).team_id) == (
        agent,
        billing,  # a blank team keeps the case's own
    )
    assert get_case(db.engine, second).status == "assigned"
    assert get_case(db.engine, untouched).assignee_id is None
    by_team = await client.post(
        "/cases/assign", data={"case_id": str(untouched), "team_id": str(care), "csrf_token": csrf}
    )
    assert by_team.status_code == 303
    assert get_case(db.engine, untouched).team_id == care
    for data, message in (
        ({"team_id": str(care)}, "Tick the cases first."),
        ({"case_id": str(first)}, "Choose a person or a team"),
    ):
        refused = await client.post("/cases/assign", data={**data, "csrf_token": csrf})
        assert refused.status_code == 422 and message in refused.text
        assert row_ids(refused.text)  # the queue again, with the reason


async def test_sentiment_and_topics_can_be_corrected_on_the_case(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    case_id = make_case(db.engine, text="I was charged twice")
    with session_scope(db.engine) as session:
        seed_topics(session)
    done = await client.post(
        f"/cases/{case_id}/sentiment", data={"sentiment": "negative", "csrf_token": csrf}
    )
    assert done.headers["location"].endswith("done=sentiment")
    done = await client.post(
        f"/cases/{case_id}/topics",
        data={"topic": ["billing", "refunds_returns"], "csrf_token": csrf},
    )
    assert done.headers["location"].endswith("done=topics")
    page = await client.get(done.headers["location"])
    assert "Topics corrected." in page.text
    assert "set by a person" in page.text
    assert 'value="billing" checked' in page.text and 'value="refunds_returns" checked' in page.text
    with session_scope(db.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        feedback = session.get(Feedback, case.feedback_id)
        assert feedback is not None
        assert (feedback.sentiment, feedback.sentiment_by) == ("negative", "person")


async def test_a_second_signed_in_person_sees_the_same_case(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    case_id = make_case(db.engine, text="Shared")
    await client.post(f"/cases/{case_id}/notes", data={"body": "seen by all", "csrf_token": csrf})
    async with signed_in_as(app, db, Role.viewer) as (viewer, _csrf):
        page = await viewer.get(f"/cases/{case_id}")
        assert "seen by all" in page.text and "lead" in page.text
