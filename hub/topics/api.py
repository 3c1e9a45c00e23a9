"""JSON API for the taxonomy, and for people's corrections of an item's topics."""

from fastapi import APIRouter, status

from hub.http.deps import AdminKey, ReadKey, SessionDep
from hub.topics.models import AssignedTopic, TopicCorrection, TopicCreate, TopicPublic, TopicUpdate
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
    """Rename, describe, re-parent, (de)activate a topic or change its examples."""
    return update_topic(session, key=key, data=data)


@router.post("/feedback/{feedback_id}/topics", summary="Correct an item's topics")
def correct_topics_route(
    feedback_id: int, correction: TopicCorrection, session: SessionDep, _key: AdminKey
) -> list[AssignedTopic]:
    """Set what an item is about; its text becomes an example of those topics."""
    return correct_topics(session, feedback_id=feedback_id, keys=correction.topics)
