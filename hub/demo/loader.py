"""Loads the demo data set through the real ingest path (idempotent: a re-load adds nothing)."""

import json
import secrets
from datetime import timedelta
from importlib import resources
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from hub.demo.closed_loop import add_closed_loop
from hub.demo.helpdesk import arrived_when_written, set_up_support
from hub.feedback.models import IngestSummary
from hub.feedback.service import ingest
from hub.loop.models import SOURCE_KIND, SOURCE_NAME
from hub.routing.service import DEFAULT_TEAM
from hub.sources.service import ensure_source
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.users.models import Role, Team, TeamCreate, TeamMember, User, UserCreate, UserUpdate
from hub.users.service import create_team, create_user, update_user

# Demo source name -> source kind (what a real install would have configured).
SOURCE_KINDS = {
    "Website NPS survey": "widget",
    "In-app CES survey": "widget",
    "Help center thumbs": "widget",
    "Support CSAT": "zendesk",
    "Support tickets": "zendesk",
    "App Store (iOS)": "app_store",
    "Google Play": "google_play",
    "Reddit": "reddit",
    "Mastodon": "mastodon",
    SOURCE_NAME: SOURCE_KIND,  # the answers to case follow-ups (hub.loop)
}
LANGUAGES = ("en", "es", "pt")


def demo_items() -> list[dict[str, Any]]:
    """The demo items in the API's item shape, dated relative to now."""
    data = resources.files("hub.demo") / "data"
    customers = {c["ref"]: c for c in json.loads((data / "customers.json").read_text("utf-8"))}
    now = utcnow()
    items = []
    for language in LANGUAGES:
        for line in (data / f"feedback_{language}.jsonl").read_text("utf-8").splitlines():
            record = json.loads(line)
            days_ago = record.pop("days_ago")
            ref = record.pop("customer")
            record["created_at"] = (now - timedelta(days=days_ago)).isoformat()
            record["customer"] = customers[ref] if ref else None
            items.append(record)
    return items


# The demo's support agents (who cannot sign in: their passwords are random and never shown).
DEMO_AGENTS = {"sam@cestia.example": "Sam Ortega", "rita@cestia.example": "Rita Alves"}


def load_demo(engine: Engine) -> IngestSummary:
    """Create the demo sources, Support (agents, hours, lead, rules), and ingest every demo
    item as if it had arrived when the customer wrote it."""
    with session_scope(engine) as session:
        for name, kind in SOURCE_KINDS.items():
            ensure_source(session, name=name, kind=kind)
        set_up_support(session, _ensure_agents(session))
        summary = ingest(session, raw_items=demo_items())
        created = [r.id for r in summary.results if r.status == "created" and r.id is not None]
        arrived_when_written(session, created)
        add_closed_loop(session)  # a few worked cases, so the loop dashboard has numbers
        return summary


def _ensure_agents(session: Session) -> int:
    """The Support team with the demo agents in it, so routed cases get assignees."""
    team = session.exec(select(Team).where(Team.name == DEFAULT_TEAM)).first()
    team_id = team.id if team else create_team(session, data=TeamCreate(name=DEFAULT_TEAM)).id
    assert team_id is not None
    for email, name in DEMO_AGENTS.items():
        user = session.exec(select(User).where(User.email == email)).first()
        if user is None:
            data = UserCreate(email=email, name=name, password=secrets.token_urlsafe(24))
            user_id = create_user(session, data=data).id
            session.add(TeamMember(team_id=team_id, user_id=user_id))
    session.flush()
    return team_id


DEMO_USER = "lead@cestia.example"


def reset_demo_user(engine: Engine) -> str:
    """Make the demo's sign-in (an admin) exist with a fresh random password; returns it."""
    password = secrets.token_urlsafe(12)
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.email == DEMO_USER)).first()
        if user is None:
            data = UserCreate(email=DEMO_USER, name="Lea Demo", password=password, role=Role.admin)
            create_user(session, data=data)
        else:
            update_user(session, user_id=user.id or 0, changes=UserUpdate(password=password))
    return password
