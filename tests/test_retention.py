"""Retention: each kind of row is pruned past its cutoff, kept before it, counted in a dry run."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, func
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner

from hub.auth.models import LoginAttempt, UserSession
from hub.cli import app as cli
from hub.config import Settings
from hub.feedback.service import ingest
from hub.notifications.models import OutboxMessage
from hub.notifications.tasks import Notifier
from hub.retention import prune
from hub.routing.models import RoutingDecision
from hub.sources.models import Source, SourceRun
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.users.models import User
from tests.conftest import Database
from tests.factories import item

NOW = utcnow()
#: What ``_seed`` leaves once the defaults have pruned it, by table.
KEPT = {"outbox_message": 3, "login_attempt": 1, "user_session": 2, "source_run": 2,
        "routing_decision": 2}  # fmt: skip
PRUNED = {"sent outbox messages": 5, "login attempts": 5, "expired sessions": 1,
          "source runs": 1, "routing decisions": 1}  # fmt: skip


def _ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def _outbox(status: str, sent_at: datetime | None, created_at: datetime) -> OutboxMessage:
    return OutboxMessage(channel="webhook", destination="http://hooks.test/in", body={},
                         event_type="case.created", status=status, sent_at=sent_at,
                         created_at=created_at, next_attempt_at=created_at)  # fmt: skip


def _seed(db: Database) -> None:
    """Rows on both sides of each default cutoff (30, 30, 7, 90 and 365 days)."""
    with session_scope(db.engine) as session:
        user = User(email="a@example.com", name="a", password_hash="x", role="agent")
        source = Source(kind="hackernews", name="hn")
        ids = [r.id or 0 for r in ingest(session, raw_items=[item() for _ in range(3)]).results]
        rows: list[SQLModel] = [user, source]
        rows += [_outbox("sent", _ago(31 + n), _ago(40)) for n in range(5)]  # pruned, 5 of them
        rows += [
            _outbox("sent", _ago(29), _ago(40)),
            _outbox("failed", None, _ago(400)),  # failed: kept for people to look at
            _outbox("pending", None, _ago(400)),
        ]
        rows += [LoginAttempt(email="a@example.com", ip="1.2.3.4", succeeded=False,
                              at=_ago(31 + n)) for n in range(5)]  # fmt: skip
        rows += [LoginAttempt(email="a@example.com", ip="1.2.3.4", succeeded=True, at=_ago(29))]
        session.add_all(rows)
        session.flush()
        assert user.id is not None and source.id is not None
        session.add_all([
            UserSession(token_hash="old", user_id=user.id, csrf_token="c", expires_at=_ago(8)),
            UserSession(token_hash="recent", user_id=user.id, csrf_token="c", expires_at=_ago(6)),
            UserSession(token_hash="live", user_id=user.id, csrf_token="c", expires_at=_ago(-9)),
            SourceRun(source_id=source.id, owner="w", started_at=_ago(92), finished_at=_ago(91)),
            SourceRun(source_id=source.id, owner="w", started_at=_ago(90), finished_at=_ago(89)),
            SourceRun(source_id=source.id, owner="w", started_at=_ago(200)),  # still running
            RoutingDecision(feedback_id=ids[0], reason="no rule matched", decided_at=_ago(366)),
            RoutingDecision(feedback_id=ids[1], reason="no rule matched", decided_at=_ago(364)),
            RoutingDecision(feedback_id=ids[2], reason="rule 1", case_id=7, decided_at=_ago(400)),
        ])  # fmt: skip


def _counts(db: Database) -> dict[str, int]:
    models: list[Any] = [OutboxMessage, LoginAttempt, UserSession, SourceRun, RoutingDecision]
    tables: list[Table] = [model.__table__ for model in models]
    with Session(db.engine) as session:
        return {t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
                for t in tables}  # fmt: skip


def test_prune_deletes_what_is_past_each_cutoff_in_batches(db: Database) -> None:
    _seed(db)
    before = _counts(db)
    settings = Settings(database_url=db.url)
    assert prune(db.engine, settings, dry_run=True, now=NOW) == PRUNED
    assert _counts(db) == before  # a dry run deletes nothing
    assert prune(db.engine, settings, batch_size=2, now=NOW) == PRUNED
    assert _counts(db) == KEPT
    assert prune(db.engine, settings, now=NOW) == dict.fromkeys(PRUNED, 0)
    with Session(db.engine) as session:
        tokens = session.exec(select(UserSession.token_hash)).all()
        runs = session.exec(select(SourceRun.finished_at)).all()
    assert sorted(tokens) == ["live", "recent"]
    assert sum(run is None for run in runs) == 1  # the running run stays


def test_zero_days_keeps_rows_forever(db: Database) -> None:
    _seed(db)
    before = _counts(db)
    kinds = ["sent_outbox", "login_attempts", "expired_sessions", "source_runs",
             "routing_decisions"]  # fmt: skip
    forever: dict[str, Any] = {f"retain_{kind}_days": 0 for kind in kinds}
    settings = Settings(database_url=db.url, **forever)
    assert prune(db.engine, settings, now=NOW) == dict.fromkeys(PRUNED, 0)
    assert _counts(db) == before


def test_the_prune_command_counts_then_deletes(db: Database, cli_env: object) -> None:
    _seed(db)
    dry = CliRunner().invoke(cli, ["prune", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete 5 sent outbox messages" in dry.output
    done = CliRunner().invoke(cli, ["prune"])
    assert done.exit_code == 0, done.output
    assert "deleted 5 login attempts" in done.output
    assert "deleted 1 routing decisions" in done.output
    assert _counts(db) == KEPT


def test_the_notifier_prunes_on_its_first_round_then_once_per_interval(db: Database) -> None:
    _seed(db)
    notifier = Notifier(db.engine, Settings(database_url=db.url, prune_interval_hours=24))
    pruned = notifier.prune_if_due()
    assert pruned is not None and pruned["login attempts"] == 5
    assert notifier.prune_if_due() is None  # not again for a day
    never = Notifier(db.engine, Settings(database_url=db.url, prune_interval_hours=0))
    assert never.prune_if_due() is None
