"""JSON API for the outbox: what was sent, what is waiting or failed and why; retry a failure."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.status import HTTP_202_ACCEPTED

from hub.http.deps import AdminKey, SessionDep
from hub.notifications.models import OutboxPublic, OutboxStatus
from hub.notifications.service import MAX_LIST, list_outbox, retry

router = APIRouter(prefix="/api/v1", tags=["notifications"])
MessageId = Annotated[str, Path(min_length=1, max_length=32)]


@router.get("/outbox", summary="List outbox messages")
def outbox(
    session: SessionDep,
    _key: AdminKey,
    status: OutboxStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100,
) -> list[OutboxPublic]:
    """Notifications newest first, with status, attempts, next attempt and last error."""
    return list_outbox(session, status=status, limit=limit)


@router.post(
    "/outbox/{message_id}/retry",
    summary="Retry a failed message",
    status_code=HTTP_202_ACCEPTED,
)
def retry_message(message_id: MessageId, session: SessionDep, _key: AdminKey) -> OutboxPublic:
    """Queue a failed message again, due now; a deliverer sends it within its poll interval."""
    return retry(session, message_id=message_id)
