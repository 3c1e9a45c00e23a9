"""Commit-time hooks: what other slices do when a unit of work flushes, commits or rolls back.

Listed here, in one place, and installed by :func:`install` when an engine is made
(:func:`hub.store.engine.make_engine`), for every session of the process (services, CLI, pages):

- before a commit, the metric rollups' pending deltas are written (:mod:`hub.metrics.service`),
  and dropped on a rollback;
- a flush that touches a survey or a widget key is noted, and after the commit every widget
  cache reloads (:mod:`hub.surveys.cache`); a rollback forgets the note.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session


def hooks() -> list[tuple[str, Callable[..., Any]]]:
    """``(session event, function)`` pairs, in the order they run."""
    from hub.metrics.service import forget_pending, write_pending
    from hub.surveys.cache import (
        forget_widget_changes,
        invalidate_after_commit,
        note_widget_changes,
    )

    return [
        ("before_commit", write_pending),
        ("after_rollback", forget_pending),
        ("after_flush", note_widget_changes),
        ("after_commit", invalidate_after_commit),
        ("after_rollback", forget_widget_changes),
    ]


def install() -> None:
    """Attach every hook to all sessions; calling it again changes nothing."""
    for name, function in hooks():
        if not event.contains(Session, name, function):
            event.listen(Session, name, function)
