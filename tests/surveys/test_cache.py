"""The widget caches: a key's survey is read once, and forgotten when surveys or keys change."""

from hub.auth.service import create_key, revoke_key
from hub.store.engine import session_scope
from hub.surveys.cache import TTL_SECONDS, WidgetSurvey, WidgetSurveys, generation
from hub.surveys.models import SurveyType, SurveyUpdate
from hub.surveys.service import update_survey, widget_survey
from tests.conftest import Database
from tests.surveys.conftest import make_survey

SURVEY = WidgetSurvey(
    survey_id=1,
    survey_type=SurveyType.nps,
    active=True,
    allow_without_origin=False,
    key_id=1,
    revoked=False,
    allowed_origins=frozenset({"https://shop.example.com"}),
    rate_limit_per_minute=None,
    source_name="widget-pk_1",
)


class Loader:
    def __init__(self, survey: WidgetSurvey | None = SURVEY) -> None:
        self.survey = survey
        self.calls = 0

    def __call__(self, _key: str) -> WidgetSurvey | None:
        self.calls += 1
        return self.survey


def test_a_key_is_read_once_per_ttl() -> None:
    now = [0.0]
    cache = WidgetSurveys(clock=lambda: now[0])
    load = Loader()
    assert cache.cached("pk_1") is None
    assert cache.get("pk_1", load) == SURVEY
    assert cache.get("pk_1", load) == cache.cached("pk_1") == SURVEY
    assert load.calls == 1
    now[0] = TTL_SECONDS + 0.1
    assert cache.cached("pk_1") is None
    assert cache.get("pk_1", load) == SURVEY
    assert load.calls == 2


def test_unknown_keys_are_not_cached_and_entries_are_bounded() -> None:
    cache = WidgetSurveys(max_entries=2)
    unknown = Loader(None)
    assert cache.get("pk_nope", unknown) is None
    assert cache.get("pk_nope", unknown) is None
    assert unknown.calls == 2  # a survey made in another process is found at once
    load = Loader()
    for key in ("pk_1", "pk_2", "pk_3"):
        cache.get(key, load)
    assert cache.cached("pk_3") == SURVEY
    assert cache.cached("pk_1") is None  # full: the cache started over


def test_committed_changes_to_surveys_or_widget_keys_invalidate(db: Database) -> None:
    survey = make_survey(db)
    cache = WidgetSurveys()
    with session_scope(db.engine) as session:
        cache.get(survey.key, lambda key: widget_survey(session, public_key=key))
    assert cache.cached(survey.key) is not None
    before = generation()
    with session_scope(db.engine) as session:  # a bearer key is no widget key
        create_key(session, name="unrelated", scopes=["read"])
    assert generation() == before and cache.cached(survey.key) is not None
    try:
        with session_scope(db.engine) as session:
            revoke_key(session, key_id=survey.key_id)
            session.flush()
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert generation() == before and cache.cached(survey.key) is not None
    with session_scope(db.engine) as session:
        update_survey(
            session, survey_id=survey.id, data=SurveyUpdate(active=False), hub_url="https://h"
        )
    assert generation() != before and cache.cached(survey.key) is None
    with session_scope(db.engine) as session:
        reloaded = cache.get(survey.key, lambda key: widget_survey(session, public_key=key))
    assert reloaded is not None and not reloaded.active
