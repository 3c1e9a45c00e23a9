"""Trend pages for product teams: the metrics dashboard, topic trends and one topic's detail.

Charts read only the rollup-backed queries of :mod:`hub.metrics.queries`; the one exception
is a topic's verbatims, which are feedback items. Every signed-in role may read them.

- ``dashboard``: GET /dashboard; ``topics``: GET /topics; ``topic``: GET /topics/{key}.
- ``filters``: the shared GET form (window, filters) and links; ``charts``: chart specs for
  web/static/charts.js and the tables of numbers beside them; ``pages``: router and renderer.
"""

from fastapi import APIRouter

from web.trends import dashboard, topic, topics

router = APIRouter()
router.include_router(dashboard.router)
router.include_router(topics.router)
router.include_router(topic.router)

__all__ = ["router"]
