"""JSON API for enrichment (admins): whether workers analyse with sentiment, and the queue."""

from fastapi import APIRouter

from hub.enrichment.status import NlpStatus, nlp_status
from hub.http.deps import AdminKey, SessionDep

router = APIRouter(prefix="/api/v1", tags=["enrichment"])


@router.get("/nlp/status", summary="Enrichment status")
def status(session: SessionDep, _who: AdminKey) -> NlpStatus:
    """Whether the newest enriched items have sentiment (`sentiment`: `idle`, `ok`, `off`,
    `partial`), how many of them lack it and since when, their models, and the queue."""
    return nlp_status(session)
