"""Two notifiers checking SLAs at once raise one alert per case: one event, one notification."""

import threading
from collections import Counter
from datetime import timedelta

from sqlmodel import col, select

from hub.cases.models import CaseEvent
from hub.cases.service import open_case
from hub.cases.tasks import check_slas
from hub.config import Settings
from hub.feedback.service import ingest
from hub.notifications.models import OutboxMessage
from hub.routing.models import Priority, Strategy
from hub.store.engine import make_engine, session_scope
from hub.store.types import utcnow
from tests.conftest import Database
from tests.factories import item

CASES = 12
CHECKERS = 2
ROUNDS = 3


def _open_cases(db: Database, settings: Settings, *, overdue: bool) -> list[int]:
    ids = []
    with session_scope(db.engine) as session:
        for _ in range(CASES):
            [result] = ingest(session, raw_items=[item(text="checkout fails")]).results
            assert result.id is not None
            case = open_case(
                session, settings=settings, feedback_id=result.id, team_id=None,
                assignee_id=None, strategy=Strategy.none, priority=Priority.high, sla_hours=10,
                rule_id=None, actor="test",
            )  # fmt: skip
            case.sla_warn_at = utcnow() - timedelta(minutes=10)
            if overdue:
                case.due_at = utcnow() - timedelta(minutes=5)
            session.flush()
            assert case.id is not None
            ids.append(case.id)
    return ids


def _check_at_once(db: Database, settings: Settings) -> list[int]:
    """``CHECKERS`` threads, each on an engine (connections) of its own, start together."""
    start = threading.Barrier(CHECKERS)
    raised: list[int] = []
    errors: list[BaseException] = []

    def check() -> None:
        engine = make_engine(db.url)
        try:
            start.wait()
            with session_scope(engine) as session:
                raised.append(check_slas(session, settings=settings))
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=check) for _ in range(CHECKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return raised


def test_two_checkers_at_once_raise_one_alert_per_case(db: Database) -> None:
    settings = Settings(
        database_url=db.url, webhook_urls="http://hooks.test/in", webhook_secret="s"
    )
    for round_ in range(ROUNDS):
        breaching = _open_cases(db, settings, overdue=True)
        warned = _open_cases(db, settings, overdue=False)
        raised = _check_at_once(db, settings)
        assert sum(raised) == 2 * CASES, f"round {round_}: {raised}"
        with session_scope(db.engine) as session:
            events = Counter(
                session.exec(
                    select(CaseEvent.case_id, CaseEvent.kind).where(
                        col(CaseEvent.kind).in_(["sla_breached", "sla_warning"])
                    )
                ).all()
            )
            messages = Counter(
                session.exec(
                    select(OutboxMessage.case_id, OutboxMessage.event_type).where(
                        col(OutboxMessage.event_type).like("case.sla_%")
                    )
                ).all()
            )
        for case_id in breaching:
            assert events[(case_id, "sla_breached")] == 1
            assert events[(case_id, "sla_warning")] == 0
            assert messages[(case_id, "case.sla_breached")] == 1
        for case_id in warned:
            assert events[(case_id, "sla_warning")] == 1
            assert messages[(case_id, "case.sla_warning")] == 1
