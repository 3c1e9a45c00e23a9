"""JSON API for the taxonomy, and for people's corrections of an item's topics."""

from fastapi import APIRouter, Response, status

from hub.http.deps import AdminKey, ReadKey, SessionDep
from hub.http.params import PathId
from hub.topics.curation import accept_topic, merge_topics, remove_topic
from hub.topics.models import (
    AssignedTopic,
    TopicAccept,
    TopicCorrection,
    TopicCreate,
    TopicMerge,
    TopicMerged,
    TopicPublic,
    TopicUpdate,
)
from hub.topics.service import correct_topics, create_topic, list_topics, update_topic

router = APIRouter(prefix="/api/v1", tags=["topics"])


@router.get("/topics", summary="List topics")
def list_topics_route(session: SessionDep, _key: ReadKey) -> list[TopicPublic]:
    """Every topic of the taxonomy, with its examples."""
    return list_topics(session)


@router.post("/topics", summary="Create a topic", status_code=status.HTTP_201_CREATED)
def create_topic_route(data: TopicCreate, session: SessionDep, _key: AdminKey) -> TopicPublic:
    """Add a curated topic; workers use it from their next batch."""
    return create_topic(session, data=data)


@router.patch("/topics/{key}", summary="Edit a topic")
def update_topic_route(
    key: str, data: TopicUpdate, session: SessionDep, _key: AdminKey
) -> TopicPublic:
    """Rename (also its key), describe, re-parent, (de)activate a topic or change its examples."""
    return update_topic(session, key=key, data=data)


@router.post("/topics/{key}/accept", summary="Accept a discovered topic")
def accept_topic_route(
    key: str, session: SessionDep, _key: AdminKey, data: TopicAccept | None = None
) -> TopicPublic:
    """Make a suggestion a curated, active topic (optionally with a new key, name, parent)."""
    return accept_topic(session, key=key, data=data or TopicAccept())


@router.post("/topics/{key}/merge", summary="Merge a topic into another")
def merge_topic_route(
    key: str, data: TopicMerge, session: SessionDep, _key: AdminKey
) -> TopicMerged:
    """Move the topic's items, examples, children and rules to ``into``, then delete it."""
    return merge_topics(session, key=key, into=data.into)


@router.delete(
    "/topics/{key}", summary="Dismiss or delete a topic", status_code=status.HTTP_204_NO_CONTENT
)
def delete_topic_route(key: str, session: SessionDep, _key: AdminKey) -> Response:
    """Dismiss a suggestion, or delete a topic no item carries (else 409: merge it instead)."""
    remove_topic(session, key=key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/feedback/{feedback_id}/topics", summary="Correct an item's topics")
def correct_topics_route(
    feedback_id: PathId, correction: TopicCorrection, session: SessionDep, _key: AdminKey
) -> list[AssignedTopic]:
    """Set what an item is about; its text becomes an example of those topics."""
    return correct_topics(session, feedback_id=feedback_id, keys=correction.topics)
