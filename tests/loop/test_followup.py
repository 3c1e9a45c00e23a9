"""The follow-up of a closed case on both backends: queued through the outbox on close, answered
on the public page by one click (idempotent), commented, refused when expired or forged."""

import itertools
import re
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from hub.cases.models import Status
from hub.config import Settings
from hub.feedback.models import Feedback
from hub.loop import tokens
from hub.loop.models import Followup
from hub.notifications.models import OutboxMessage
from hub.store.engine import session_scope
from hub.store.types import utcnow
from tests.cases.test_api import bearer, queued
from tests.cases.test_service import load_all, team_of, trail
from tests.conftest import Database

pytestmark = pytest.mark.anyio
TEAMS = itertools.count(1)
LINK = re.compile(r"https://hub\.example\.test(/followup/[^?\s]+)\?score=(\d)")


@pytest.fixture
def settings(db: Database) -> Settings:
    """Email set up (messages are queued, not sent), links on the hub's public URL."""
    return Settings(
        database_url=db.url,
        smtp_host="smtp.example.test",
        public_url="https://hub.example.test",
        followup_rate_limit_per_minute=20,
    )


async def close(client: httpx.AsyncClient, db: Database, case_id: int) -> None:
    headers = bearer(db, "admin")
    answer = await client.post(f"/api/v1/cases/{case_id}/transition", headers=headers,
                               json={"status": "closed", "resolution": "refunded"})  # fmt: skip
    assert answer.status_code == 200, answer.text


def a_closed_case_link(db: Database, **fields: object) -> tuple[int, int]:
    """A case in progress (closed by the test) for Ana, who has an email."""
    team, _ = team_of(db, f"Team {next(TEAMS)}")
    return queued(db, team=team, status=Status.in_progress, **fields), team  # type: ignore[arg-type]


async def test_closing_sends_one_followup_in_the_customers_language(
    client: httpx.AsyncClient, db: Database
) -> None:
    case_id, _team = a_closed_case_link(db, language="es")
    await close(client, db, case_id)
    [email] = [m for m in load_all(db, OutboxMessage) if m.event_type == "case.followup"]
    assert (email.channel, email.destination) == ("email", "ana@example.com")
    assert email.case_id == case_id
    assert email.subject == f"¿Cómo lo hicimos? (caso #{case_id})"
    assert "Hola Ana:" in email.body["text"]
    links = LINK.findall(email.body["text"])
    assert [score for _path, score in links] == ["1", "2", "3", "4", "5"]  # CSAT by default
    [followup] = load_all(db, Followup)
    assert (followup.case_id, followup.kind, followup.language) == (case_id, "csat", "es")
    assert followup.expires_at - followup.sent_at == timedelta(days=14)
    sent = [e for e in trail(db, case_id) if e.kind == "followup_sent"]
    assert len(sent) == 1 and sent[0].after and sent[0].after["to"] == "ana@example.com"
    # Reopened and closed again: not surveyed twice.
    headers = bearer(db, "admin")
    reopen = {"status": "new"}
    await client.post(f"/api/v1/cases/{case_id}/transition", headers=headers, json=reopen)
    await close(client, db, case_id)
    assert len(load_all(db, Followup)) == 1


async def test_no_followup_without_an_email_or_when_disabled(
    client: httpx.AsyncClient, db: Database, app: object
) -> None:
    no_email, _ = a_closed_case_link(db, customer={"ref": "cus_no_mail"})
    await close(client, db, no_email)
    app.state.settings = app.state.settings.model_copy(update={"followup_enabled": False})  # type: ignore[attr-defined]
    disabled, _ = a_closed_case_link(db)
    await close(client, db, disabled)
    assert load_all(db, Followup) == []
    assert not [m for m in load_all(db, OutboxMessage) if m.event_type == "case.followup"]


async def test_the_customer_answers_changes_it_and_comments(
    client: httpx.AsyncClient, db: Database
) -> None:
    case_id, _team = a_closed_case_link(db, language="pt")
    await close(client, db, case_id)
    [email] = [m for m in load_all(db, OutboxMessage) if m.event_type == "case.followup"]
    path = LINK.findall(email.body["text"])[0][0]

    asked = await client.get(path)  # no score: the question
    assert asked.status_code == 200 and 'lang="pt"' in asked.text
    assert "Resolvemos bem o seu problema?" in asked.text
    first = await client.get(f"{path}?score=2")
    assert first.status_code == 200
    assert "a sua resposta foi guardada" in first.text and 'name="comment"' in first.text
    again = await client.get(f"{path}?score=5")  # a second click changes the same answer
    assert again.status_code == 200
    [answer] = [f for f in load_all(db, Feedback) if f.score_type == "csat"]
    with session_scope(db.engine) as session:
        source = session.exec(select(Feedback).where(Feedback.id == answer.id)).one()
        assert source.customer_id is not None
    assert (answer.score, answer.channel, answer.external_id) == (5, "survey", f"case-{case_id}")
    [followup] = load_all(db, Followup)
    assert followup.feedback_id == answer.id and followup.answered_at is not None

    too_long = await client.post(path, data={"comment": "x" * 5001})
    assert too_long.status_code == 422 and "1 to 5,000 characters" in too_long.text
    evil = "<script>alert(1)</script> Ótimo atendimento"
    commented = await client.post(path, data={"comment": evil})
    assert commented.status_code == 200 and "comentário foi guardado" in commented.text
    assert "<script>alert" not in commented.text
    [answer] = [f for f in load_all(db, Feedback) if f.score_type == "csat"]
    assert (answer.text, answer.score, answer.nlp_state) == (evil, 5, "pending")
    answered = [e for e in trail(db, case_id) if e.kind == "followup_answered"]
    assert [e.after for e in answered] == [
        {"score": 2, "kind": "csat", "feedback_id": answer.id},
        {"score": 5, "kind": "csat", "feedback_id": answer.id},
        {"comment": True},
    ]
    assert answered[1].before == {"score": 2} and answered[2].body == evil


async def test_bad_answers_and_bad_links_get_clear_pages(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    case_id, _team = a_closed_case_link(db)
    await close(client, db, case_id)
    secret = settings.secret_key.get_secret_value()
    token = tokens.sign(secret, case_id=case_id, ttl=timedelta(days=1))
    for score in ("0", "6", "-1", "abc", "99999999999999999999"):
        refused = await client.get(f"/followup/{token}?score={score}")
        assert refused.status_code == 422 and "Please choose one of the answers" in refused.text
    early = await client.post(f"/followup/{token}", data={"comment": "before answering"})
    assert early.status_code == 404
    assert [f for f in load_all(db, Feedback) if f.score_type == "csat"] == []

    expired = tokens.sign(secret, case_id=case_id, ttl=timedelta(days=1),
                          now=utcnow() - timedelta(days=2))  # fmt: skip
    gone = await client.get(f"/followup/{expired}?score=5")
    assert gone.status_code == 410 and "This link has expired" in gone.text
    assert (await client.post(f"/followup/{expired}", data={"comment": "x"})).status_code == 410
    forged = tokens.sign("not the hub's secret", case_id=case_id, ttl=timedelta(days=1))
    tampered = token.replace(f"{case_id}.", "999.", 1)
    for bad in (forged, f"{token}x", "nonsense", tampered, "9" * 5000, "1.2.a%20b"):
        missing = await client.get(f"/followup/{bad}?score=5")
        assert missing.status_code == 404 and "This link is not valid" in missing.text
    no_case = tokens.sign(secret, case_id=case_id + 1000, ttl=timedelta(days=1))
    assert (await client.get(f"/followup/{no_case}?score=5")).status_code == 404
    assert [f for f in load_all(db, Feedback) if f.score_type == "csat"] == []


async def test_the_public_page_is_rate_limited(client: httpx.AsyncClient) -> None:
    codes = [(await client.get("/followup/nonsense")).status_code for _ in range(21)]
    assert codes == [404] * 20 + [429]


async def test_a_thumbs_followup_in_english(
    client: httpx.AsyncClient, db: Database, app: object
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"followup_kind": "thumbs"})  # type: ignore[attr-defined]
    case_id, _team = a_closed_case_link(db, language="de")  # not en/es/pt: English
    await close(client, db, case_id)
    [email] = [m for m in load_all(db, OutboxMessage) if m.event_type == "case.followup"]
    assert email.subject == f"How did we do? (case #{case_id})"
    links = LINK.findall(email.body["text"])
    assert [score for _path, score in links] == ["1", "0"]
    path = links[0][0]
    assert (await client.get(f"{path}?score=2")).status_code == 422
    down = await client.get(f"{path}?score=0")
    assert down.status_code == 200 and "your answer is saved" in down.text
    [answer] = [f for f in load_all(db, Feedback) if f.score_type == "thumbs"]
    assert answer.score == 0
