"""JSON API for sources: collectors on offer, sources with their status, webhook deliveries."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from starlette.concurrency import run_in_threadpool

from collectors.registry import is_inbound, registered
from hub.http.deps import AdminKey, ReadKey, SessionDep
from hub.sources.inbound import Delivery, receive_delivery
from hub.sources.models import SourceCreate, SourceDetail, SourcePublic, SourceUpdate
from hub.sources.service import (
    create_source,
    get_source,
    list_sources,
    request_run,
    update_source,
)

router = APIRouter(prefix="/api/v1", tags=["sources"])
SourceName = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/collectors", summary="List collectors")
def collectors_on_offer(_key: ReadKey) -> list[dict[str, Any]]:
    """Every installed collector: its kind, whether it is pulled or pushed, its config schema."""
    return [
        {
            "kind": kind,
            "title": collector.title,
            "inbound": is_inbound(collector),
            "config_schema": collector.Config.model_json_schema(),
        }
        for kind, collector in registered().items()
    ]


@router.get("/sources", summary="List sources")
def sources(session: SessionDep, _key: ReadKey) -> list[SourcePublic]:
    """Every source with its status: last run, items, last error, next run (no secrets)."""
    return list_sources(session)


@router.get("/sources/{name}", summary="Get a source")
def source(name: SourceName, session: SessionDep, _key: ReadKey) -> SourceDetail:
    """One source and its recent runs."""
    return get_source(session, name=name)


@router.post("/sources", summary="Add a source", status_code=status.HTTP_201_CREATED)
def add_source(data: SourceCreate, session: SessionDep, _key: AdminKey) -> SourcePublic:
    """Add a collected source; its config is checked against the collector's schema."""
    return create_source(session, data=data)


@router.patch("/sources/{name}", summary="Change a source")
def change_source(
    name: SourceName, changes: SourceUpdate, session: SessionDep, _key: AdminKey
) -> SourcePublic:
    """Enable, disable, re-configure or re-schedule a source."""
    return update_source(session, name=name, changes=changes)


@router.post(
    "/sources/{name}/run", summary="Run a source now", status_code=status.HTTP_202_ACCEPTED
)
def run_now(name: SourceName, session: SessionDep, _key: AdminKey) -> SourcePublic:
    """Make a pulled source due now; a scheduler starts it within its poll interval."""
    return request_run(session, name=name)


@router.post("/webhooks/{name}", summary="Receive a webhook delivery")
async def webhook(name: SourceName, request: Request, session: SessionDep) -> Delivery:
    """A delivery from a pushing source, verified by its signature (no API key)."""
    body = await request.body()
    return await run_in_threadpool(
        receive_delivery, session, name=name, headers=request.headers, body=body
    )
