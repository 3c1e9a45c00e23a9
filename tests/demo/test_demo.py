"""The demo data set: realistic, multilingual, spread over 90 days, idempotent to load."""

from collections import Counter
from datetime import timedelta
from pathlib import Path
from threading import Event

from sqlmodel import col, func, select
from typer.testing import CliRunner

from hub.cases.models import Case, CaseEvent
from hub.cases.service import sla_state
from hub.cases.tasks import check_slas
from hub.cli import app
from hub.config import Settings
from hub.customers.models import Customer
from hub.demo import closed_loop
from hub.demo.helpdesk import DEMO_LEAD
from hub.demo.loader import DEMO_AGENTS, SOURCE_KINDS, demo_items, load_demo
from hub.enrichment.worker import Worker
from hub.feedback.models import Feedback
from hub.sources.models import Source
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.users.models import Team, TeamMember, User
from nlp.language import LinguaDetector
from nlp.pipeline import Pipeline


def test_the_data_set_is_broad_enough() -> None:
    items = demo_items()
    assert len(items) >= 300
    languages = Counter(i["external_id"].split("-")[1] for i in items)
    assert set(languages) == {"en", "es", "pt"}
    assert min(languages.values()) >= 80
    assert set(Counter(i["channel"] for i in items)) == {
        "survey",
        "rating",
        "review",
        "social",
        "ticket",
    }
    assert set(Counter(i["score_type"] for i in items)) == {
        "nps",
        "csat",
        "ces",
        "stars",
        "thumbs",
        None,
    }
    refs = {i["customer"]["ref"] for i in items if i["customer"]}
    assert len(refs) >= 36
    substantial = [i["text"] for i in items if i["text"] and len(i["text"]) > 5]
    assert len(set(substantial)) == len(substantial)  # hand-written, no templates


def test_load_twice_gives_the_same_count(db) -> None:  # type: ignore[no-untyped-def]
    first = load_demo(db.engine)
    second = load_demo(db.engine)
    assert first.rejected == 0
    assert first.created == len(demo_items())
    assert (second.created, second.duplicate) == (0, first.created)
    with session_scope(db.engine) as session:
        stored = session.exec(select(func.count()).select_from(Feedback)).one()
        assert stored == first.created + closed_loop.ITEMS  # and the worked cases' items
        assert session.exec(select(func.count()).select_from(Customer)).one() >= 36
        kinds = {s.name: s.kind for s in session.exec(select(Source))}
        oldest = session.exec(select(func.min(Feedback.created_at))).one()
        newest = session.exec(select(func.max(Feedback.created_at))).one()
        support = session.exec(
            select(User.email).join(TeamMember, col(TeamMember.user_id) == col(User.id))
            .join(Team, col(Team.id) == col(TeamMember.team_id)).where(Team.name == "Support")
        ).all()  # fmt: skip
    assert sorted(support) == sorted(DEMO_AGENTS)  # once, though loaded twice
    assert kinds == SOURCE_KINDS
    now = utcnow()
    assert now - timedelta(days=91) < oldest.replace(tzinfo=now.tzinfo) < now - timedelta(days=80)
    assert newest.replace(tzinfo=now.tzinfo) > now - timedelta(days=2)


def test_demo_command(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    first = runner.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    assert f"{len(demo_items())} created, 0 duplicate, 0 rejected" in first.output
    assert "0 created" in runner.invoke(app, ["demo"]).output


def test_demo_cases_are_a_realistic_mix(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    """After `feedback-hub demo` and a worker pass (language only: no sentiment model here),
    the cases' priorities and SLA states follow from when each customer wrote."""
    assert CliRunner().invoke(app, ["demo"]).exit_code == 0
    settings = Settings(database_url=db.url, worker_batch_size=1000)
    pipeline = Pipeline(language=LinguaDetector(settings.language_codes))
    Worker(db.engine, settings, lambda _session: pipeline).run_until_drained(Event())
    with session_scope(db.engine) as session:
        check_slas(session, settings=settings)
    now = utcnow()
    with session_scope(db.engine) as session:
        cases = session.exec(select(Case)).all()
        states = Counter(sla_state(case, now=now) for case in cases)
        priorities = Counter(case.priority for case in cases)
        escalated = session.exec(
            select(CaseEvent.case_id).where(CaseEvent.kind == "priority_changed",
                                            CaseEvent.actor == "system")
        ).all()  # fmt: skip
        lead = session.exec(select(User.id).where(User.email == DEMO_LEAD)).one()
        breached = [case for case in cases if sla_state(case, now=now) == "breached"]
    assert set(priorities) == {"low", "normal", "high", "urgent"}, priorities
    assert states["breached"] > 0 and states["near_breach"] > 0 and states["ok"] > 0, states
    # Breaches escalate: one step up (urgent stays urgent), to Support's lead.
    assert {case.assignee_id for case in breached} == {lead}
    assert 0 < len(escalated) <= len(breached)
