"""The FastAPI app factory: routers, middleware, error handlers and lifespan."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import hub
from hub.cases.api import router as cases_router
from hub.config import Settings, get_settings
from hub.customers.api import router as customers_router
from hub.enrichment.api import router as enrichment_router
from hub.enrichment.status import NlpStatusCache
from hub.feedback.api import router as feedback_router
from hub.feedback.models import FeedbackBatchIn, FeedbackIn
from hub.http.contract import operation_id
from hub.http.deps import SessionDep
from hub.http.docs import install_docs
from hub.http.errors import install_error_handlers
from hub.http.limits import BodySizeLimit
from hub.http.nul import RefuseNul
from hub.loop.api import router as loop_router
from hub.macros.api import router as macros_router
from hub.metrics.api import router as metrics_router
from hub.notifications.api import router as notifications_router
from hub.observability.api import router as observability_router
from hub.observability.logs import configure_logging
from hub.observability.metrics import RequestMetrics
from hub.observability.request_id import RequestId
from hub.routing.api import router as routing_router
from hub.sources.api import router as sources_router
from hub.store.engine import make_engine
from hub.surveys.api import router as surveys_router
from hub.surveys.api import widget_router
from hub.surveys.cors import WidgetCors
from hub.surveys.models import ResponseIn
from hub.topics.api import router as topics_router
from hub.users.api import router as users_router
from web.admin import router as web_admin_router
from web.auth import install_sign_in_redirect
from web.auth import router as web_auth_router
from web.cases import router as web_cases_router
from web.customers import router as web_customers_router
from web.feedback_page import router as web_feedback_router
from web.loop import router as web_loop_router
from web.routes import router as web_router
from web.security import SecurityHeaders
from web.templating import STATIC as WEB_STATIC
from web.trends import router as web_trends_router
from web.widget import router as web_widget_router

DESCRIPTION = """Collect, understand and act on customer feedback.

Authenticate with `Authorization: Bearer <key>`; create keys with `feedback-hub keys create`.
Every error has the body `{"error": {"code", "message", "details"}}`.
"""


@cache
def _freeze_startup_objects() -> None:
    """Once per process: what start-up made (modules, routes, ORM metadata) lives as long as
    the process, so keep it out of the collector's sight and full collections (pauses every
    request waits on) stay short while serving."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; ``settings`` and ``engine`` default to the environment's."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url, pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Here, not in `serve`: uvicorn's extra processes (--workers) start from the factory.
        configure_logging(level=settings.log_level, log_format=settings.log_format)
        _freeze_startup_objects()
        yield
        engine.dispose()

    app = FastAPI(
        title="Feedback Hub",
        version=hub.__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.nlp_status_cache = NlpStatusCache()  # the admin banner on every page
    app.add_middleware(RefuseNul)  # inside BodySizeLimit: it reads bodies the limit allowed
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(WidgetCors)  # outside BodySizeLimit: the widget's 16 KB limit comes first
    install_error_handlers(app)
    install_docs(app, extra_schemas=[FeedbackIn, FeedbackBatchIn, ResponseIn])
    app.include_router(feedback_router)
    app.include_router(metrics_router)  # before topics: /topics/trends is its route
    app.include_router(topics_router)
    app.include_router(sources_router)
    app.include_router(notifications_router)
    app.include_router(loop_router)  # before cases: /cases/metrics is not a case id
    app.include_router(cases_router)
    app.include_router(macros_router)
    app.include_router(customers_router)
    app.include_router(routing_router)
    app.include_router(users_router)
    app.include_router(enrichment_router)
    app.include_router(surveys_router)
    app.include_router(widget_router)
    app.include_router(web_auth_router)
    app.include_router(web_router)
    app.include_router(web_feedback_router)
    app.include_router(web_loop_router)  # before /cases/{case_id}
    app.include_router(web_cases_router)
    app.include_router(web_customers_router)
    app.include_router(web_admin_router)
    app.include_router(web_trends_router)
    app.include_router(web_widget_router)
    app.include_router(observability_router)
    install_sign_in_redirect(app)
    app.mount("/static", StaticFiles(directory=WEB_STATIC), name="static")
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics)
    app.add_middleware(RequestId)  # every line of the request carries its id
    if settings.forwarded_allow_ips:  # outermost: every part sees the client behind the proxy
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)

    @app.get("/healthz", tags=["ops"], summary="Health check")
    def healthz(session: SessionDep) -> dict[str, str]:
        """Liveness and database reachability."""
        session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        return {"status": "ok", "database": engine.dialect.name}

    return app
