"""In-process caches for the widget's public routes: each key's survey, and the allowed origins.

Every widget post needs its key, survey and source rows, which change rarely; reading them once
per request was a third of the endpoint's database time. Changes committed in this process (any
ORM flush that touches a survey or a widget key, whoever makes it) show at once: they bump a
process-wide generation that every cached value is checked against. Changes made by another
process (the CLI, another API process) show within ``TTL_SECONDS``.
"""

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction

from hub.auth.models import ApiKey, Scope
from hub.surveys.models import Survey, SurveyType

TTL_SECONDS = 10.0
MAX_ENTRIES = 10_000
_CHANGED = "hub.widget_changed"  # session.info flag: this transaction changed widget rows

_generations = itertools.count(1)
_generation = 0


def generation() -> int:
    """The current generation; a value cached under an older one is stale."""
    return _generation


def invalidate_widget_caches() -> None:
    """Surveys or widget keys changed in this process: reload them on the next request."""
    global _generation
    _generation = next(_generations)  # atomic under the GIL: each call gets a new value


@dataclass(frozen=True, slots=True)
class WidgetSurvey:
    """What a widget post is checked and stored with: a key's survey, key and source."""

    survey_id: int
    survey_type: SurveyType
    active: bool
    allow_without_origin: bool
    key_id: int
    revoked: bool
    allowed_origins: frozenset[str]
    rate_limit_per_minute: int | None
    source_name: str


@dataclass(frozen=True, slots=True)
class _Entry:
    survey: WidgetSurvey
    loaded_at: float
    generation: int


class WidgetSurveys:
    """Widget key → its ``WidgetSurvey``, for ``ttl`` seconds; unknown keys are not cached.

    Thread-safe; at most ``max_entries`` keys (all are dropped when full: surveys are few).
    """

    def __init__(
        self,
        *,
        ttl: float = TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: dict[str, _Entry] = {}
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()

    def cached(self, public_key: str) -> WidgetSurvey | None:
        """The key's survey if cached and fresh (no database read), else None."""
        entry = self._entries.get(public_key)
        return entry.survey if entry is not None and self._fresh(entry) else None

    def get(
        self, public_key: str, load: Callable[[str], WidgetSurvey | None]
    ) -> WidgetSurvey | None:
        """The key's survey: cached if fresh, else ``load(public_key)`` (a database read)."""
        survey = self.cached(public_key)
        if survey is not None:
            return survey
        loaded_under = _generation  # read before loading: a change during the load wins
        survey = load(public_key)
        with self._lock:
            if survey is None:
                self._entries.pop(public_key, None)
                return None
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[public_key] = _Entry(survey, self._clock(), loaded_under)
        return survey

    def _fresh(self, entry: _Entry) -> bool:
        return entry.generation == _generation and self._clock() - entry.loaded_at < self._ttl


def note_widget_changes(session: OrmSession, _flush: UOWTransaction) -> None:
    """After a flush: remember whether it touched a survey or a widget key."""
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, Survey) or (
            isinstance(instance, ApiKey) and _maybe_widget_key(instance)
        ):
            session.info[_CHANGED] = True
            return


def _maybe_widget_key(key: ApiKey) -> bool:
    # vars(): never load an expired attribute in the middle of a flush (unknown: assume so).
    scopes = vars(key).get("scopes")
    return scopes is None or Scope.submit.value in scopes


def invalidate_after_commit(session: OrmSession) -> None:
    """After a commit that touched a survey or widget key: every widget cache reloads."""
    # After the commit, not the flush: a reload must not see the old rows under the new generation.
    if session.info.pop(_CHANGED, False):
        invalidate_widget_caches()


def forget_widget_changes(session: OrmSession, *_args: Any) -> None:
    """After a rollback: nothing changed."""
    session.info.pop(_CHANGED, None)
